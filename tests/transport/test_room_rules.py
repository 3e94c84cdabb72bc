"""Room rules kept by the server: stored as they change, dropped with the last of a room's history."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from pathlib import Path

from chinwag.core.events import Join, Part, Register
from chinwag.core.roomstate import RoomState
from chinwag.storage.memory import MemoryStore
from chinwag.storage.sqlite import SqliteStore
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config


async def irc(srv: Server, nick: str) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick)
    return c


async def sync(c: IrcClient, *lines: str) -> list[str]:
    await c.send(*lines, "PING :sync")
    return (await c.lines_until_cmd("PONG"))[:-1]


async def test_rules_without_members_or_history_are_forgotten_at_prune(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "chinwag.db")
    srv = Server(make_config(), store=store)
    await srv.start()
    assert srv._pruner is not None
    srv._pruner.cancel()  # this test prunes itself
    try:
        owner = await irc(srv, "owner")
        await sync(owner, "JOIN #quiet", "MODE #quiet +i", "JOIN #spoken", "MODE #spoken +i",
                   "PRIVMSG #spoken :kept", "JOIN #live", "TOPIC #live :still here",
                   "PART #quiet", "PART #spoken")
        await store.flush()
        # (#lobby: registered by the server, kept whatever happens)
        assert sorted(s.name for s in await store.load_rooms()) == ["#live", "#lobby", "#quiet", "#spoken"]
        await srv._forget_idle_rules()
        # #quiet had nobody and nothing said: its rules go; #live has its owner in it
        assert sorted(srv.hub.saved) == ["#live", "#lobby", "#spoken"]
        await store.flush()
        assert sorted(s.name for s in await store.load_rooms()) == ["#live", "#lobby", "#spoken"]
        # once pruning takes #spoken's last message, its rules go too
        await store.prune(0, 1, srv.hub.clock() + 2 * 86400)
        await srv._forget_idle_rules()
        assert sorted(srv.hub.saved) == ["#live", "#lobby"]
        stranger = await irc(srv, "stranger")
        lines = await sync(stranger, "JOIN #spoken", "JOIN #quiet")
        assert ":chinwag 353 stranger = #spoken @stranger" in lines  # a fresh room, and theirs
        assert ":chinwag 353 stranger = #quiet @stranger" in lines
        await stranger.close()
        await owner.close()
    finally:
        await srv.shutdown()
    again = SqliteStore(tmp_path / "chinwag.db")
    await again.start()
    try:
        live, lobby = await again.load_rooms()
        assert (lobby.name, lobby.founder) == ("#lobby", "") and lobby.registered
        assert (live.name, live.topic, live.topic_by) == ("#live", "still here", "owner")
    finally:
        await again.close()


async def test_a_room_re_created_during_the_check_keeps_its_rules() -> None:
    store = MemoryStore()
    srv = Server(make_config(), store=store)
    await srv.start()
    assert srv._pruner is not None
    srv._pruner.cancel()  # this test runs the check itself
    try:
        hub, sid = srv.hub, 10_000
        hub.load_rooms([RoomState("#vault", 1.0, "int")])
        hub.connect(sid)
        hub.handle(sid, Register("root", ()))
        hub.sessions[sid].oper = "root"  # (an empty +i room lets a server operator in)
        asked = srv.store.has_history

        async def has_history(keys: Collection[str]) -> set[str]:
            hub.handle(sid, Join("#vault"))  # re-created while the store is asked
            hub.handle(sid, Part("#vault"))
            return await asked(keys)

        srv.store.has_history = has_history  # type: ignore[method-assign]
        await srv._forget_idle_rules()
        assert "#vault" in hub.saved  # it may have history now: not forgotten this time
        srv.store.has_history = asked  # type: ignore[method-assign]
        await srv._forget_idle_rules()
        assert "#vault" not in hub.saved
    finally:
        await srv.shutdown()
