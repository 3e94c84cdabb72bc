"""`chinwag serve` as a person runs it: a real process, signals, log lines."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from tests.conftest import SPAWNED, TEST_FLOOD, LineClient

FLOOD_ENV = {f"CHINWAG_LIMITS__{k.upper()}": str(v) for k, v in TEST_FLOOD.items()}

LISTENING = re.compile(rb"text listener on ([\d.]+):(\d+)")
# A spawned server's start-up lines (Python starting, imports, binding): seconds on a
# loaded machine (over 10 once); only reached when something is wrong, and a server
# that exits instead ends its stderr at once.
STARTUP = 30.0


async def start(*args: str, env: dict[str, str] | None = None) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chinwag", "serve", "--irc-port", "0", "--web-port", "0", *args,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **FLOOD_ENV, **(env or {})},
    )
    SPAWNED.append(proc)
    assert proc.stderr is not None
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), STARTUP)
        assert line, "server exited before listening"
        if m := LISTENING.search(line):
            return proc, int(m.group(2))


async def named(port: int, name: str) -> LineClient:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    c = LineClient(r, w)
    await c.send(name)
    await c.expect("* in #lobby")
    return c


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_tells_clients_and_exits_zero(sig: signal.Signals) -> None:
    proc, port = await start("--text-port", "0", "--db", ":memory:")
    alice, bob = await named(port, "alice"), await named(port, "bob")
    await alice.send("hello")
    await bob.expect("alice: hello")
    proc.send_signal(sig)
    for c in (alice, bob):
        assert "* server is shutting down" in await c.closed()
        await c.close()
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    assert proc.stderr is not None
    log = (await proc.stderr.read()).decode()
    assert "stopped" in log


async def test_log_levels_joins_at_info_dialog_at_debug(tmp_path: Path) -> None:
    for level, dialog_logged in (("INFO", False), ("DEBUG", True)):
        proc, port = await start("--text-port", "0", "--log-level", level.lower())
        alice, bob = await named(port, "alice"), await named(port, "bob")
        await alice.send("/nick al", "secret words")
        await bob.expect("secret words")
        await alice.close()
        await bob.expect("al has left")
        await bob.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        assert proc.stderr is not None
        log = (await proc.stderr.read()).decode()
        assert "alice joined #lobby" in log
        assert "alice is now known as al" in log
        assert "al left (connection closed)" in log
        assert ("secret words" in log) is dialog_logged


async def test_config_file_env_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "chinwag.toml"
    cfg.write_text('default_room = "#class"\ntext_port = 1\n[limits]\nnick_len = 5\n')
    # env beats the file's port; the flag beats env for the host.
    proc, port = await start("--config", str(cfg), "--host", "127.0.0.1",
                             env={"CHINWAG_TEXT_PORT": "0", "CHINWAG_HOST": "10.255.255.1"})
    r, w = await asyncio.open_connection("127.0.0.1", port)
    c = LineClient(r, w)
    await c.send("toolong")
    assert (await c.expect("invalid name")).startswith("invalid name: longer than 5")
    await c.send("ok")
    assert await c.expect("* in") == "* in #class: ok (1)"
    await c.close()
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_bad_config_exits_2_with_a_reason(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[limits]\nmax_line = 0\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chinwag", "serve", "--config", str(cfg),
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2
    assert b"limits.max_line must be a positive integer" in err


def test_bench_passes_its_options_to_the_load_generator() -> None:
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "chinwag", "bench", "--help"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0
    assert "--senders" in out.stdout and "--smoke" in out.stdout


def test_serve_help_shows_the_cluster_flags() -> None:
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "chinwag", "serve", "--help"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0
    for flag in ("--redis URL", "--node-name NAME", "--cluster-name NAME"):
        assert flag in out.stdout, flag


async def test_redis_without_postgres_exits_2_saying_a_cluster_needs_it() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chinwag", "serve", "--redis", "redis://127.0.0.1:1/0",
        stderr=asyncio.subprocess.PIPE, env={k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")},
    )
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2
    assert err.decode().strip() == (
        "chinwag: redis is set but postgres is not: a cluster needs PostgreSQL (set postgres too)")
