"""A history answer is history as it stood when it was asked for (``Capped``).

Under load the store may answer a query only after messages sent later were
stored. Those later messages reach the asker live, after the answer; the answer
must stop where the query began, or it would show them as history and leave the
older ones it skipped to follow live, out of order (seen under load in
tests/hostile/test_p99.py). Here the store's answer is held back on purpose
until later messages are stored and delivered to everyone else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config
from tests.hostile.test_hostile import serving_config, text_client
from tests.hostile.test_speed import irc_member
from tests.transport.test_chathistory import batch

EARLY = [f"early {i}" for i in range(5)]
LATE = [f"late {i}" for i in range(30)]


class HeldFlush:
    """Once armed, the store's next flush (a history query's first step) waits for ``go``."""

    def __init__(self, srv: Server, monkeypatch: pytest.MonkeyPatch) -> None:
        self.original = srv.store.flush
        self.armed = False
        self.started = asyncio.Event()
        self.go = asyncio.Event()
        monkeypatch.setattr(srv.store, "flush", self)

    async def __call__(self) -> None:
        if self.armed:
            self.armed = False
            self.started.set()
            await self.go.wait()
        await self.original()


@pytest.fixture
async def srv() -> AsyncIterator[Server]:
    async with serving_config(make_config()) as server:
        yield server


async def text_in(srv: Server, name: str, room: str) -> LineClient:
    c = await text_client(srv, name)
    await c.send(f"/join {room}")
    await c.expect(f"in {room}")
    return c


def said(line: str) -> str:
    return line.split(" PRIVMSG #side :", 1)[1]


async def stored_and_delivered(alice: LineClient | IrcClient, carol: LineClient, lines: list[str]) -> None:
    """Alice says ``lines`` in #side; carol (a member all along) has them all:
    stored, since delivery waits for the store."""
    if isinstance(alice, IrcClient):
        await alice.send(*(f"PRIVMSG #side :{t}" for t in lines))
    else:
        await alice.send(*lines)
    for t in lines:
        await carol.expect(t)


async def test_text_join_history_stops_where_the_join_was_and_later_lines_follow_live_in_order(
    srv: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldFlush(srv, monkeypatch)
    alice = await text_in(srv, "alice", "#side")
    carol = await text_in(srv, "carol", "#side")
    await stored_and_delivered(alice, carol, EARLY)
    bob = await text_client(srv, "bob")
    held.armed = True
    await bob.send("/join #side")
    await asyncio.wait_for(held.started.wait(), 10)  # bob is in #side; his join history is being asked for
    await stored_and_delivered(alice, carol, LATE)
    held.go.set()
    shown = await bob.lines_until("--- end of history ---")
    start = next(i for i, line in enumerate(shown) if "--- history of #side ---" in line)
    assert [line.split(": ", 1)[1] for line in shown[start + 1 : -1]] == EARLY  # nothing said after the join
    live = [(await bob.expect("alice: ")).split(": ", 1)[1] for _ in LATE]
    assert live == LATE  # every later line once, in the order said
    for c in (alice, carol, bob):
        await c.close()


async def test_chathistory_latest_stops_where_it_was_asked_and_later_lines_follow_live_in_order(
    srv: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldFlush(srv, monkeypatch)
    alice = await irc_member(srv, "alice", "#side")
    carol = await text_in(srv, "carol", "#side")
    bob = await irc_member(srv, "bob", "#side", ("batch", "draft/chathistory", "message-tags"))
    await stored_and_delivered(alice, carol, EARLY)
    for t in EARLY:
        await bob.expect(f"PRIVMSG #side :{t}")
    held.armed = True
    answer = asyncio.create_task(batch(bob, "CHATHISTORY LATEST #side * 10"))
    await asyncio.wait_for(held.started.wait(), 10)
    await stored_and_delivered(alice, carol, LATE)
    held.go.set()
    _, body = await answer
    assert [said(line) for line in body] == EARLY, body  # as #side stood when asked
    live = [said(await bob.expect_cmd("PRIVMSG")) for _ in LATE]
    assert live == LATE
    for c in (alice, carol, bob):
        await c.close()
