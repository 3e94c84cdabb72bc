# Two commands on a fresh machine: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench-smoke clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/chinwag serve $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy --strict src

test: $(STAMP) lint
	sh scripts/test-deps.sh
	$(VENV)/bin/pytest
	$(PY) -m benchmarks --smoke
	$(PY) -m benchmarks --smoke --protocol irc
	$(PY) -m benchmarks --smoke --protocol ws
	$(PY) -m benchmarks.chaos --duration 5 --good 10
	$(PY) -m benchmarks.connections --connections 500 --hold 0.5

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
