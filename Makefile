# Two commands on a fresh machine: `make run` and `make test`.
# `make run` installs only what the server needs; `make test` adds the dev extra
# (pytest, ruff, mypy, playwright...) to the same .venv. Separate stamps, so
# either order works and each installs once per change of pyproject.toml.
VENV      := .venv
PY        := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench-smoke clean

$(RUN_STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(DEV_STAMP): $(RUN_STAMP)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: $(RUN_STAMP)
	$(VENV)/bin/chinwag serve $(ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy --strict src

test: $(DEV_STAMP) lint
	sh scripts/test-deps.sh
	$(VENV)/bin/pytest
	$(PY) -m benchmarks --smoke
	$(PY) -m benchmarks --smoke --protocol irc
	$(PY) -m benchmarks --smoke --protocol ws
	$(PY) -m benchmarks.chaos --duration 5 --good 10
	$(PY) -m benchmarks.connections --connections 500 --hold 0.5
	$(PY) -m benchmarks.masks --smoke
	$(PY) -m benchmarks.names --smoke
	$(PY) -m benchmarks.fuzz --smoke
	$(PY) -m benchmarks.bigroom --smoke
	$(PY) -m benchmarks.connections --connections 200 --tls --hold 1
	$(PY) -m benchmarks.connections --protocol text --connections 200 --hold 0.5
	$(PY) -m benchmarks.connections --protocol text --connections 50 --hold 0.5 --tracemalloc 5
	$(PY) -m benchmarks --compare ngircd --smoke
	$(PY) -m benchmarks.fanout --members 20 --messages 50
	$(PY) -m benchmarks.fanout --ws --members 20 --batch 10 --messages 100
	$(PY) -m benchmarks.storage_ab --rounds 1 -- --smoke
	$(PY) -m benchmarks.bus --messages 2000 --rounds 1
	$(PY) -m benchmarks.ghosts --smoke
	$(PY) -m benchmarks.marks --smoke
	$(PY) -m benchmarks.cluster --smoke
	$(PY) -m benchmarks.cluster --reuse-port --smoke
	$(PY) -m benchmarks.storetail --rounds 1 --seconds 2
	$(PY) -m benchmarks --smoke --db tmp --stages $$(mktemp)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
