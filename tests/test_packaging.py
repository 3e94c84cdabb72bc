"""`make run` installs what the server needs and nothing of the dev toolchain."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def make_rules() -> dict[str, tuple[list[str], list[str]]]:
    """Makefile target -> (prerequisites, recipe lines), variables expanded."""
    text = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^(\w+)\s*:=\s*(.*?)\s*$", text, re.M))
    for _ in range(3):
        text = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), text)
    rules: dict[str, tuple[list[str], list[str]]] = {}
    target = None
    for line in text.splitlines():
        if line.startswith("\t") and target is not None:
            rules[target][1].append(line.strip().replace("$@", target))
        elif m := re.match(r"^([^\s:#=]+)\s*:(?!=)\s*(.*)$", line):
            target = m.group(1)
            rules[target] = (m.group(2).split(), [])
        else:
            target = None
    return rules


def pip_installs(recipe: list[str]) -> list[list[str]]:
    """The package arguments of each `pip install` in a recipe."""
    out = []
    for line in recipe:
        if " pip install " in line:
            args = line.split(" pip install ", 1)[1].split()
            out.append([a.strip("'\"") for a in args if not a.startswith("-") or a == "-e"])
    return out


def test_make_run_installs_the_package_without_the_dev_extra() -> None:
    rules = make_rules()
    (stamp,) = rules["run"][0]
    installs = pip_installs(rules[stamp][1])
    assert ["-e", "."] in installs
    assert not [a for args in installs for a in args if "[" in a], installs  # no extra at all
    for target in ("test", "lint"):
        dev_stamp = next(p for p in rules[target][0] if p in rules)
        assert ["-e", ".[dev]"] in pip_installs(rules[dev_stamp][1])
        assert stamp in rules[dev_stamp][0]  # built on the runtime install: `make run` then `make test` works
    assert dev_stamp != stamp  # separate stamps: `make run` never installs the dev tools


def test_runtime_install_set_is_the_runtime_dependencies_and_what_they_need(tmp_path: Path) -> None:
    """What pip would install for `make run`'s line, into an empty environment: the
    runtime dependencies and their own requirements, nothing of the dev extra."""
    rules = make_rules()
    (stamp,) = rules["run"][0]
    args = next(a for a in pip_installs(rules[stamp][1]) if a[-1].startswith("."))  # this project, as make run has it
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--report", str(report), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "deprecated" not in run.stdout + run.stderr  # setuptools' license box, for one
    items = json.loads(report.read_text())["install"]
    installed = {canonicalize_name(i["metadata"]["name"]): i["metadata"].get("requires_dist") or [] for i in items}
    project = pyproject()["project"]
    assert isinstance(project, dict)
    runtime = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]
               if Requirement(r).marker is None or Requirement(r).marker.evaluate()}
    dev = {canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["dev"]}
    assert runtime <= installed.keys()
    assert not dev & installed.keys(), dev & installed.keys()
    # Everything else is needed by something in the set (markers for this Python),
    # with the extras asked for (redis[hiredis] brings hiredis).
    reachable: set[tuple[str, str]] = set()
    todo: list[tuple[str, str]] = [("chinwag", "")]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in reachable or name not in installed:
            continue
        reachable.add((name, extra))
        for spec in installed[name]:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo += [(canonicalize_name(req.name), e) for e in ("", *sorted(req.extras))]
    reached = {name for name, _ in reachable}
    assert installed.keys() == reached, installed.keys() - reached


def test_license_is_an_spdx_string_and_setuptools_can_read_it() -> None:
    data = pyproject()
    project = data["project"]
    assert isinstance(project, dict) and project["license"] == "MIT"  # not the deprecated {text = ...} table
    build = data["build-system"]
    assert isinstance(build, dict)
    (setuptools,) = (Requirement(r) for r in build["requires"] if Requirement(r).name == "setuptools")
    assert not setuptools.specifier.contains("76.9")  # 77 reads `license = "MIT"`
