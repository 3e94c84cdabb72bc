"""Registered rooms under attack, over real sockets, a bystander pinging throughout:
a hoarder registering room after room, ban evasion by changing nicks under an
account ban, a non-founder hammering the room service. Each is refused with a
clear answer; the bystander's round trips go to docs/reliability.md."""

from __future__ import annotations

import asyncio

from chinwag.transport.server import Server
from tests.conftest import IrcClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import serving

PASSWORD = "correct-horse-battery"
CS = ":ChanServ!ChanServ@services NOTICE"


async def account(srv: Server, nick: str) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick)
    await c.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    await c.expect_cmd("900")
    return c


async def sync(c: IrcClient, *lines: str) -> list[str]:
    await c.send(*lines, "PING :sync")
    return (await c.lines_until_cmd("PONG"))[:-1]


async def test_hoarding_rooms_stops_at_rooms_per_account_and_the_bystander_is_served() -> None:
    async with serving(rooms_per_account=20) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        hoarder = await account(srv, "hoarder")
        lines = await sync(hoarder, *[f"JOIN #h{i}" for i in range(30)],
                           *[f"PRIVMSG ChanServ :REGISTER #h{i}" for i in range(30)])
        notices = [line for line in lines if line.startswith(CS)]
        assert notices[:20] == [
            f"{CS} hoarder :#h{i} is now registered to your account hoarder: its topic, modes, key and bans are"
            " kept, and op goes to its founder and op list on join" for i in range(20)]
        assert notices[20:] == [
            f"{CS} hoarder :You already founded 20 rooms (the most one account may): #h{i}" for i in range(20, 30)]
        rtt = await b.stop()
        print(f"\nhoarding 30 rooms: {rtt}")
        rtt.assert_served()
        await hoarder.close()
        await b.close()


async def test_ban_evasion_by_nick_changes_under_an_account_ban_and_the_bystander_is_served() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        alice = await account(srv, "alice")
        await sync(alice, "JOIN #den", "PRIVMSG ChanServ :REGISTER #den", "MODE #den +b ~a:mallory")
        mallory = await account(srv, "mallory")
        tries = 100
        lines = await sync(mallory, *[line for i in range(tries) for line in (f"NICK m{i}", "JOIN #den")])
        refusals = [line for line in lines if " 474 " in line]
        assert refusals == [f":chinwag 474 m{i} #den :cannot join room (+b): you are banned" for i in range(tries)]
        # and the room service will not help: she is not its founder
        lines = await sync(mallory, *[f"PRIVMSG ChanServ :{verb} #den" for verb in ("DROP", "OP #den m99") * 50])
        assert set(lines) == {
            f"{CS} m99 :Only the room's founder (or a server operator) can do that: #den"}, set(lines)
        assert len(lines) == 100
        rtt = await b.stop()
        print(f"\nban evasion, {tries} nicks + 100 service commands: {rtt}")
        rtt.assert_served()
        await alice.close()
        await mallory.close()
        await b.close()
