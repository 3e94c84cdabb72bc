"""IRCv3 draft/event-playback over real sockets: a room's joins, parts, quits,
kicks, nick and topic changes come back from CHATHISTORY, merged with its
messages, to clients that enabled it; others get the messages only.

The hub's clock is set by each step, so every time tag is exact.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chinwag.core.hub import Hub
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.transport.test_chathistory import T0, Clock, batch, stamp

EVENTS = ("batch", "server-time", "draft/chathistory", "draft/event-playback")
PLAIN = ("batch", "server-time", "draft/chathistory")

@pytest.fixture
async def start() -> AsyncIterator[Callable[..., object]]:
    servers: list[Server] = []

    async def _start(db: str = ":memory:", *, postgres: str = "", **limits: int) -> tuple[Server, Clock]:
        clock = Clock()
        cfg = dataclasses.replace(make_config(**limits), db=db, postgres=postgres)
        srv = Server(cfg, hub=Hub(cfg.limits, clock=clock))
        await srv.start()
        servers.append(srv)
        return srv, clock

    yield _start
    for s in servers:
        await s.shutdown()


async def connect(srv: Server, nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick, caps)
    return c


async def step(c: IrcClient, clock: Clock, at: float, *lines: str) -> None:
    """Send ``lines`` at hub time T0 + ``at``; return once the server has handled them."""
    clock.now = T0 + at
    await c.send(*lines, f"PING :{at}")
    await c.expect_cmd("PONG")


def who(nick: str) -> str:
    return f"{nick}!~{nick}@chinwag"


@pytest.mark.parametrize("store", ["memory", "sqlite", "postgres"])
async def test_event_playback_replays_joins_parts_quits_kicks_nicks_and_topics(
        start: Callable[..., object], store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db = ":memory:" if store == "memory" else str(tmp_path / "chinwag.db")
    pg = request.getfixturevalue("pg_url") if store == "postgres" else ""
    srv, clock = await start(db, postgres=pg)  # type: ignore[operator]
    alice = await connect(srv, "alice", EVENTS)
    await step(alice, clock, 0, "JOIN #dev")
    bob = await connect(srv, "bob")
    await step(bob, clock, 1, "JOIN #dev")
    await step(bob, clock, 2, "PRIVMSG #dev :hi")
    await step(alice, clock, 3, "TOPIC #dev :plans for today")
    await step(bob, clock, 4, "NICK robert")
    await step(alice, clock, 5, "KICK #dev robert enough")
    carol = await connect(srv, "carol")
    await step(carol, clock, 6, "JOIN #dev")
    await step(carol, clock, 7, "PART #dev later")
    dave = await connect(srv, "dave")
    await step(dave, clock, 8, "JOIN #dev")
    clock.now = T0 + 9
    await dave.send("QUIT :gone")
    await dave.closed()
    await alice.expect_cmd("QUIT")
    _, found = await batch(alice, "CHATHISTORY LATEST #dev * 50")
    assert found == [
        f"@time={stamp(0)} :{who('alice')} JOIN #dev",
        f"@time={stamp(1)} :{who('bob')} JOIN #dev",
        f"@time={stamp(2)} :{who('bob')} PRIVMSG #dev :hi",
        f"@time={stamp(3)} :{who('alice')} TOPIC #dev :plans for today",
        f"@time={stamp(4)} :{who('bob')} NICK robert",
        f"@time={stamp(5)} :{who('alice')} KICK #dev robert enough",
        f"@time={stamp(6)} :{who('carol')} JOIN #dev",
        f"@time={stamp(7)} :{who('carol')} PART #dev later",
        f"@time={stamp(8)} :{who('dave')} JOIN #dev",
        f"@time={stamp(9)} :{who('dave')} QUIT gone",
    ]
    # The limit counts events too, from the end the query counts from.
    _, newest = await batch(alice, "CHATHISTORY LATEST #dev * 2")
    assert newest == found[-2:]
    _, after = await batch(alice, f"CHATHISTORY AFTER #dev timestamp={stamp(1)} 2")
    assert after == found[2:4]
    # Without draft/event-playback: the messages only, as before.
    erin = await connect(srv, "erin", PLAIN)
    await step(erin, clock, 10, "JOIN #dev")
    _, plain = await batch(erin, "CHATHISTORY LATEST #dev * 50")
    assert plain == [f"@time={stamp(2)} :{who('bob')} PRIVMSG #dev :hi"]
    for c in (alice, bob, carol, dave, erin):
        await c.close()


async def test_in_a_big_room_only_kicks_and_topics_are_kept(start: Callable[..., object]) -> None:
    srv, clock = await start(crowd_size=3)  # type: ignore[operator]
    alice = await connect(srv, "alice", EVENTS)
    await step(alice, clock, 0, "JOIN #big")
    others = [await connect(srv, f"u{i}") for i in range(3)]
    for i, c in enumerate(others):
        await step(c, clock, 1 + i, "JOIN #big")  # a join is kept if the room is below 3 after it
    await step(alice, clock, 5, "TOPIC #big :still kept", "KICK #big u2 :and this")
    await step(others[0], clock, 6, "PART #big")  # leaves 2 (u2 was kicked): below the crowd again
    _, found = await batch(alice, "CHATHISTORY LATEST #big * 50")
    assert found == [  # (u1's and u2's joins made the room 3 and 4 strong: not kept)
        f"@time={stamp(0)} :{who('alice')} JOIN #big",
        f"@time={stamp(1)} :{who('u0')} JOIN #big",
        f"@time={stamp(5)} :{who('alice')} TOPIC #big :still kept",
        f"@time={stamp(5)} :{who('alice')} KICK #big u2 :and this",
        f"@time={stamp(6)} :{who('u0')} PART #big",
    ]
    for c in (alice, *others):
        await c.close()
