"""Hostile use of what issue 12's modern-client IRCv3 added (ircv3b): a flood of
+typing notifications, a SETNAME storm, oversized real names; a bystander stays
served throughout (docs/reliability.md quotes the figures, ``-s`` prints them)."""

from __future__ import annotations

import asyncio

from chinwag.transport.server import Server
from tests.conftest import IrcClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import serving


async def client(srv: Server, nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick, caps)
    return c


async def in_room(room: str, *clients: IrcClient) -> None:
    for c in clients:
        await c.send(f"JOIN {room}")
        await c.expect_cmd("366")


async def test_typing_costs_its_tag_bytes_so_big_tagmsgs_are_throttled() -> None:
    # Lines are plentiful here: only the bytes of the tags can hold a TAGMSG back.
    async with serving(flood_burst=1000, flood_rate=1000, flood_backlog=1000, flood_burst_bytes=4096,
                       flood_rate_bytes=16384) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        typist = await client(srv, "typist", ("message-tags",))
        watcher = await client(srv, "watcher", ("message-tags",))
        await in_room("#dev", typist, watcher)
        pad = "x" * 3000
        typist.writer.write(b"".join(f"@+typing=active;+example.org/pad={pad}{i} TAGMSG #dev\r\n".encode()
                                     for i in range(8)))
        for i in range(8):  # all of them arrive, in order, only later
            got = await watcher.expect_cmd("TAGMSG")
            assert got.startswith("@msgid=") and f";+typing=active;+example.org/pad={pad}{i} " in got, got[:80]
        assert srv.metrics.flood_throttles >= 1  # 8 x 3 KB > the 4 KB burst: some waited
        rtt = await b.stop()
        rtt.assert_served()
        for c in (typist, watcher, b.client):
            await c.close()


async def test_typing_flood_is_cut_off_as_any_flood_and_the_room_hears_it() -> None:
    async with serving(flood_burst=20, flood_rate=5, flood_backlog=200) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        typist = await client(srv, "typist", ("message-tags",))
        watcher = await client(srv, "watcher", ("message-tags",))
        await in_room("#dev", typist, watcher)
        typist.writer.write(b"@+typing=active TAGMSG #dev\r\n" * 2000)
        rest = await typist.closed()
        assert rest[-1].startswith("ERROR :Closing Link: typist (excess flood)")
        assert await watcher.expect_cmd("QUIT") == ":typist!~typist@chinwag QUIT :excess flood"
        assert sum(" TAGMSG " in line for line in watcher.seen) <= 25  # the burst, no more
        rtt = await b.stop()
        rtt.assert_served()
        for c in (typist, watcher, b.client):
            await c.close()


async def test_setname_storm_and_oversized_names_leave_the_room_served() -> None:
    async with serving(flood_burst=20, flood_rate=5, flood_backlog=200) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        renamer = await client(srv, "renamer", ("setname",))
        watcher = await client(srv, "watcher", ("setname",))
        await in_room("#dev", renamer, watcher)
        await renamer.send(f"SETNAME :{'n' * 400}")
        assert await renamer.expect_cmd("FAIL") == ":chinwag FAIL SETNAME INVALID_REALNAME :Realname is not valid"
        renamer.writer.write(b"".join(f"SETNAME :name {i}\r\n".encode() for i in range(2000)))
        rest = await renamer.closed()
        assert rest[-1].startswith("ERROR :Closing Link: renamer (excess flood)")
        assert await watcher.expect_cmd("QUIT") == ":renamer!~renamer@chinwag QUIT :excess flood"
        assert sum(" SETNAME " in line for line in watcher.seen) <= 25  # the burst at most
        rtt = await b.stop()
        rtt.assert_served()
        for c in (renamer, watcher, b.client):
            await c.close()
