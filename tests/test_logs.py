"""Log formats of `chinwag serve`: text with the connection id, JSON lines for log shippers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from typing import Any

from tests.conftest import SPAWNED
from tests.test_cli import FLOOD_ENV, LISTENING, STARTUP, named


async def run_and_log(*args: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    """A server; alice connects, joins #lobby and leaves; return its whole log and alice's port."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chinwag", "serve", "--text-port", "0", "--irc-port", "0", "--web-port", "0",
        "--db", ":memory:", *args,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **FLOOD_ENV, **(env or {})},
    )
    SPAWNED.append(proc)
    assert proc.stderr is not None
    head = b""
    while not (m := LISTENING.search(head)):
        line = await asyncio.wait_for(proc.stderr.readline(), STARTUP)
        assert line, "server exited before listening"
        head += line
    port = int(m.group(2))
    alice = await named(port, "alice")
    sock = alice.writer.get_extra_info("sockname")
    await alice.send("/quit")
    await alice.closed()
    await alice.close()
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    return (head + await proc.stderr.read()).decode(), sock[1]


async def test_text_log_shows_the_connection_id() -> None:
    log, alice_port = await run_and_log("--log-level", "debug")
    registered = next(line for line in log.splitlines() if " is alice" in line)
    conn = re.search(r"\[conn (\d+)\]: conn (\d+) from 127\.0\.0\.1:(\d+) is alice$", registered)
    assert conn, registered
    assert conn.group(1) == conn.group(2) and int(conn.group(3)) == alice_port
    assert re.search(
        rf" DEBUG chinwag\.conn \[conn {conn.group(1)}\]: connected from 127\.0\.0\.1:{alice_port} \(text\)$", log,
        re.M,
    )
    assert re.search(rf" INFO chinwag\.server \[conn {conn.group(1)}\]: alice joined #lobby$", log, re.M)
    assert re.search(r" INFO chinwag\.server: text listener on 127\.0\.0\.1:\d+$", log, re.M)  # no connection


async def check_json(log: str, alice_port: int) -> None:
    records: list[dict[str, Any]] = [json.loads(line) for line in log.splitlines()]  # every line is one object
    for r in records:
        assert {"time", "level", "logger", "message"} <= r.keys(), r
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", r["time"]), r
    joined = next(r for r in records if r["message"] == "alice joined #lobby")
    assert joined["level"] == "INFO" and joined["logger"] == "chinwag.server"
    assert isinstance(joined["conn"], int) and joined["peer"] == f"127.0.0.1:{alice_port}"
    listener = next(r for r in records if r["message"].startswith("text listener on 127.0.0.1:"))
    assert "conn" not in listener and "peer" not in listener
    assert records[-1]["message"] == "stopped"


async def test_json_log_is_one_object_per_line_with_conn_and_peer() -> None:
    log, alice_port = await run_and_log("--log-format", "json", "--log-level", "debug")
    await check_json(log, alice_port)
    connected = [json.loads(line) for line in log.splitlines() if "connected from" in line]
    assert [(r["logger"], r["level"], r["peer"]) for r in connected] == [
        ("chinwag.conn", "DEBUG", f"127.0.0.1:{alice_port}")
    ]


async def test_json_log_from_the_environment() -> None:
    log, alice_port = await run_and_log(env={"CHINWAG_LOG_FORMAT": "json"})
    await check_json(log, alice_port)


def test_a_traceback_stays_inside_its_one_json_line() -> None:
    import io
    import logging

    from chinwag.logs import JsonFormatter

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("chinwag.test_logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            logging.LoggerAdapter(logger, {"conn": 3, "peer": "127.0.0.1:9"}).exception("error while handling input")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "error while handling input" and record["level"] == "ERROR"
    assert (record["conn"], record["peer"]) == (3, "127.0.0.1:9")
    assert record["exc"].startswith("Traceback") and "ValueError: bad\nthing" in record["exc"]
