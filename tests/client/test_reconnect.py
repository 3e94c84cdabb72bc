"""Reconnect after a chinwag restart: backoff, the typed line kept, rooms rejoined,
and (with draft/chathistory) every missed message shown exactly once."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from chinwag.client.connection import Backoff
from chinwag.transport.server import Server
from tests.client.conftest import MakeHeadless
from tests.conftest import make_config

Restart = Callable[[], Awaitable[Server]]


@pytest.fixture
async def restartable(tmp_path: Path) -> AsyncIterator[tuple[Server, Restart]]:
    """A chinwag server with history on disk that can be stopped and started again
    on the same IRC port."""
    config = dataclasses.replace(make_config(), db=str(tmp_path / "chat.db"), shutdown_grace=0.5)
    servers = [Server(config)]
    await servers[0].start()

    async def restart() -> Server:
        old = servers[-1]
        if not old.stopping:
            await old.shutdown()
        again = Server(dataclasses.replace(config, irc_port=old.port("irc")))
        await again.start()
        servers.append(again)
        return again

    yield servers[0], restart
    if not servers[-1].stopping:
        await servers[-1].shutdown()


async def test_reconnect_keeps_the_typed_line_and_rejoins(
    restartable: tuple[Server, Restart], headless: MakeHeadless
) -> None:
    first, restart = restartable
    port = first.port("irc")
    alice = await headless(port, "alice", ["#lobby", "#dev"])
    alice.type("half typed")
    await alice.typed("half typed")
    start = alice.mark()
    await first.shutdown()
    await alice.expect("connection lost: closed by the server (Closing Link: alice (server is shutting down))", start)
    await alice.expect(f"reconnecting to 127.0.0.1:{port} in ", start)
    assert alice.text == "half typed"
    alice.type("\r")  # Enter while offline: refused, and the line comes back
    await alice.expect("not connected: your line is kept", start)
    await alice.typed("half typed")

    await restart()
    await alice.expect("connected as alice", start)
    await alice.expect(f"reconnected to 127.0.0.1:{port}", start)
    await alice.expect("now talking in #lobby", start)
    await alice.expect("you joined #dev", start)
    assert alice.chat.current == "#lobby"
    bob = await headless(port, "bob")
    alice.type(", now sent\r")
    await bob.expect("alice: half typed, now sent")


async def test_catch_up_after_restart_shows_each_missed_message_once(
    restartable: tuple[Server, Restart], headless: MakeHeadless
) -> None:
    first, restart = restartable
    port = first.port("irc")
    # alice waits a long backoff, so she is away until we call retry_now().
    alice = await headless(port, "alice", backoff=Backoff(initial=60.0, maximum=60.0, jitter=0.0))
    proto = alice.chat.conn.protocol if alice.chat.conn else None
    assert proto is not None
    assert "draft/chathistory" in proto.offered  # catch-up needs it
    bob = await headless(port, "bob")
    bob.type("before the restart\r")
    await alice.expect("bob: before the restart")
    start, bob_start = alice.mark(), bob.mark()

    await restart()
    await alice.expect("reconnecting to ", start)
    await bob.expect("now talking in #lobby", bob_start)
    for i in range(1, 4):
        bob.type(f"missed {i}\r")
    await bob.expect("bob: missed 3")  # echoed: stored and sent
    assert alice.chat.conn is not None
    alice.chat.conn.retry_now()
    await alice.expect("bob: missed 3", start)
    await alice.chat.conn.roundtrip()  # anything else in flight has arrived
    shown = alice.ui.transcript
    assert sum("bob: before the restart" in line for line in shown) == 1
    for i in range(1, 4):
        assert sum(f"bob: missed {i}" in line for line in shown) == 1, shown
