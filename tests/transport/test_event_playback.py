"""IRCv3 draft/event-playback over real sockets: a room's joins, parts, quits
(a KILL as its victim's), kicks, nick, topic and mode changes come back from CHATHISTORY, merged with its
messages, to clients that enabled it; others get the messages only.

The hub's clock is set by each step, so every time tag is exact.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chinwag.core.auth import Auth, hash_password
from chinwag.core.hub import Hub
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.bystander import Bystander
from tests.transport.test_chathistory import T0, Clock, batch, stamp

EVENTS = ("batch", "server-time", "draft/chathistory", "draft/event-playback")
PLAIN = ("batch", "server-time", "draft/chathistory")

@pytest.fixture
async def start() -> AsyncIterator[Callable[..., object]]:
    servers: list[Server] = []

    async def _start(db: str = ":memory:", *, postgres: str = "", operators: dict[str, str] | None = None,
                     **limits: int) -> tuple[Server, Clock]:
        clock = Clock()
        cfg = dataclasses.replace(make_config(**limits), db=db, postgres=postgres, operators=operators or {})
        srv = Server(cfg, hub=Hub(cfg.limits, auth=Auth(operators=dict(cfg.operators)), clock=clock))
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


async def test_in_a_big_room_only_kicks_topics_and_modes_are_kept(start: Callable[..., object]) -> None:
    srv, clock = await start(crowd_size=3)  # type: ignore[operator]
    alice = await connect(srv, "alice", EVENTS)
    await step(alice, clock, 0, "JOIN #big")
    others = [await connect(srv, f"u{i}") for i in range(3)]
    for i, c in enumerate(others):
        await step(c, clock, 1 + i, "JOIN #big")  # a join is kept if the room is below 3 after it
    await step(alice, clock, 5, "TOPIC #big :still kept", "KICK #big u2 :and this", "MODE #big +v u1")
    await step(others[0], clock, 6, "PART #big")  # leaves 2 (u2 was kicked): below the crowd again
    _, found = await batch(alice, "CHATHISTORY LATEST #big * 50")
    assert found == [  # (u1's and u2's joins made the room 3 and 4 strong: not kept)
        f"@time={stamp(0)} :{who('alice')} JOIN #big",
        f"@time={stamp(1)} :{who('u0')} JOIN #big",
        f"@time={stamp(5)} :{who('alice')} TOPIC #big :still kept",
        f"@time={stamp(5)} :{who('alice')} KICK #big u2 :and this",
        f"@time={stamp(5)} :{who('alice')} MODE #big +v u1",
        f"@time={stamp(6)} :{who('u0')} PART #big",
    ]
    for c in (alice, *others):
        await c.close()


@pytest.mark.parametrize("store", ["memory", "sqlite", "postgres"])
async def test_room_mode_changes_and_a_kill_are_replayed_as_the_room_saw_them(
        start: Callable[..., object], store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db = ":memory:" if store == "memory" else str(tmp_path / "chinwag.db")
    pg = request.getfixturevalue("pg_url") if store == "postgres" else ""
    srv, clock = await start(db, postgres=pg, operators={"root": hash_password("hunter2", iterations=1000)})  # type: ignore[operator]
    b = await Bystander.join(srv.port("irc"))
    b.start()
    alice = await connect(srv, "alice", EVENTS)
    await step(alice, clock, 0, "JOIN #dev")
    bob = await connect(srv, "bob")
    await step(bob, clock, 1, "JOIN #dev", "MODE bob +w")  # (a user mode: not the room's)
    await step(alice, clock, 1, "MODE #dev")
    start_live = len(alice.seen)
    await step(alice, clock, 2, "MODE #dev +o bob")
    await step(alice, clock, 3, "MODE #dev +mk-o secret bob")
    await step(bob, clock, 4, "PRIVMSG #dev :hi")  # (voiceless in +m: refused)
    carol = await connect(srv, "carol")
    await step(carol, clock, 5, "OPER root hunter2")
    await step(carol, clock, 6, "KILL bob :spamming")
    await bob.closed()
    await step(alice, clock, 7)
    live = [line for line in alice.seen[start_live:] if " PONG " not in line]
    _, found = await batch(alice, "CHATHISTORY LATEST #dev * 50")
    assert found == [
        f"@time={stamp(0)} :{who('alice')} JOIN #dev",
        f"@time={stamp(1)} :{who('bob')} JOIN #dev",
        f"@time={stamp(2)} :{who('alice')} MODE #dev +o bob",
        f"@time={stamp(3)} :{who('alice')} MODE #dev +mk-o secret bob",
        f"@time={stamp(6)} :{who('bob')} QUIT :Killed (carol (spamming))",
    ]
    assert live == [line.split(" ", 1)[1] for line in found[2:]]  # as alice saw them then
    # Without draft/event-playback: nothing of it (no message was said).
    erin = await connect(srv, "erin", PLAIN)
    await step(erin, clock, 8, "JOIN #dev secret")
    _, plain = await batch(erin, "CHATHISTORY LATEST #dev * 50")
    assert plain == []
    rtt = await b.stop()
    rtt.assert_served()
    await b.close()
    for c in (alice, bob, carol, erin):
        await c.close()
