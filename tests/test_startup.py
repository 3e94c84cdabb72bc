"""`chinwag serve` that cannot start: one line saying what to change, status 2, nothing half-started."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import SPAWNED
from tests.test_cli import named, start


async def refused(*args: str) -> str:
    """Run ``chinwag serve ARGS`` to its end; assert status 2; return its stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chinwag", "serve", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")},
    )
    SPAWNED.append(proc)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2, err
    assert out == b""
    return err.decode()


@pytest.mark.parametrize(
    ("flag", "what", "key"),
    [("--text-port", "telnet/netcat", "text_port"), ("--irc-port", "IRC", "irc_port"),
     ("--web-port", "the web client", "web_port")],
)
async def test_a_taken_port_is_one_line_and_exit_2(flag: str, what: str, key: str) -> None:
    first, taken = await start("--text-port", "0", "--db", ":memory:")
    ports = {"--text-port": "0", "--irc-port": "0", "--web-port": "0", flag: str(taken)}
    err = await refused(*(arg for pair in ports.items() for arg in pair), "--db", ":memory:")
    # The whole of stderr: no traceback, no listener announced as started.
    assert err == (
        f"chinwag: cannot listen for {what} on 127.0.0.1:{taken}: address already in use"
        f" (change {flag} / {key})\n"
    )
    alice = await named(taken, "alice")  # the first server is untouched
    await alice.close()
    first.terminate()
    assert await asyncio.wait_for(first.wait(), 10) == 0
    assert first.stderr is not None
    await first.stderr.read()


async def test_a_database_in_a_missing_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "chinwag.db"
    err = await refused("--text-port", "0", "--irc-port", "0", "--web-port", "0", "--db", str(db))
    assert err == (
        f"chinwag: cannot create history database '{db}': directory '{db.parent}' does not exist"
        " (change --db / db)\n"
    )


async def test_a_file_that_is_not_a_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("shopping list\n" * 200)
    err = await refused("--text-port", "0", "--irc-port", "0", "--web-port", "0", "--db", str(db))
    assert err == f"chinwag: cannot use history database '{db}': file is not a database (change --db / db)\n"
    assert db.read_text() == "shopping list\n" * 200


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"text_port = \n", "bad TOML: Invalid value (at line 1, column 13)"),
        (b'name = "caf\xe9"\n', "not UTF-8 text"),
        (b"colour = 3\n", None),
        (b'text_port = "2626"\n', None),
        (None, "Is a directory"),
    ],
)
async def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path: Path, content: bytes | None,
                                                        reason: str | None) -> None:
    cfg = tmp_path / "chinwag.toml"
    if content is None:
        cfg.mkdir()
    else:
        cfg.write_bytes(content)
    err = await refused("--config", str(cfg))
    if content == b"colour = 3\n":
        assert err == f"chinwag: unknown key 'colour' in {cfg}\n"
    elif reason is None:
        assert err == f"chinwag: text_port in {cfg} must be a whole number, got '2626'\n"
    else:
        assert err == f"chinwag: cannot read config {cfg}: {reason}\n"


async def test_an_address_that_is_not_this_machines_is_one_line_and_exit_2() -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): no machine has it, so bind() fails; nothing is sent.
    err = await refused("--host", "192.0.2.1", "--text-port", "0", "--irc-port", "0", "--web-port", "0",
                        "--db", ":memory:")
    assert err == (
        "chinwag: cannot listen for telnet/netcat on 192.0.2.1:0: cannot assign requested address"
        " (change --host / host)\n"
    )
