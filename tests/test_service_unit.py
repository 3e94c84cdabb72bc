"""docs/chinwag.service: the options README promises, and an ExecStart chinwag accepts."""

from __future__ import annotations

import shlex
from pathlib import Path

from chinwag.cli import _parser

UNIT = Path(__file__).resolve().parents[1] / "docs" / "chinwag.service"


def settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_runs_chinwag_serve_with_its_database_in_the_state_directory() -> None:
    s = settings()
    (exec_start,) = s["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0].endswith("/chinwag")
    args = _parser().parse_args(argv[1:])  # every flag exists
    assert args.cmd == "serve" and args.db == "/var/lib/chinwag/chinwag.db"
    assert s["StateDirectory"] == ["chinwag"]
    assert s["DynamicUser"] == ["yes"]
    assert s["Restart"] == ["on-failure"]
    assert s["RestartPreventExitStatus"] == ["2"]  # what `serve` exits with when it cannot start
    for hardening in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "RestrictSUIDSGID"):
        assert s[hardening] == ["yes"], hardening
    assert s["ProtectSystem"] == ["strict"]
