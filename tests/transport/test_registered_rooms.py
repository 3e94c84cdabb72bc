"""Registered rooms over real sockets: ChanServ and REGISTER #room on IRC,
/register #room and the moderation commands on the text protocol; what a
registered room keeps across a restart (SQLite) and across being emptied; op
on join only for the accounts that hold it; account bans; server operators;
mute. Hashing runs at argon2's cheapest cost here (accounts are not the subject)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path

from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config

CHEAP = {"argon2_memory_kib": 8, "argon2_time_cost": 1}
PASSWORD = "correct-horse-battery"
CS = ":ChanServ!ChanServ@services NOTICE"


@contextlib.asynccontextmanager
async def serving(db: str = ":memory:", operators: tuple[str, ...] = (), **limits: int) -> AsyncIterator[Server]:
    cfg = dataclasses.replace(make_config(**{**CHEAP, **limits}), db=db)
    if operators:
        cfg = dataclasses.replace(cfg, server_operators=operators)
    srv = Server(cfg)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


async def text(srv: Server, name: str) -> LineClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
    c = LineClient(r, w)
    await c.expect("What is your name?")
    await c.send(name)
    await c.expect("* in #lobby")
    return c


async def text_account(srv: Server, name: str, login: bool = False) -> LineClient:
    """A text user with account ``name``: registered now, or (``login``) logged in to it."""
    c = await text(srv, name)
    if login:
        await c.send(f"/login {name} {PASSWORD}")
        assert await c.expect("* you are now") == f"* you are now logged in as {name}"
    else:
        await c.send(f"/register {PASSWORD}")
        assert await c.expect("* account") == f"* account {name} registered; you are now logged in as {name}"
    return c


async def irc(srv: Server, nick: str, account: str = "", register: bool = False) -> IrcClient:
    """An IRC user; with ``account``: registered (``register``) or identified to it through NickServ."""
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick)
    if account:
        verb = f"REGISTER {PASSWORD}" if register else f"IDENTIFY {account} {PASSWORD}"
        lines = await sync(c, f"PRIVMSG NickServ :{verb}")
        assert lines[0].startswith(f":chinwag 900 {nick} "), lines
    return c


async def sync(c: IrcClient, *lines: str) -> list[str]:
    """Send ``lines``; every line that answered them (up to a PONG)."""
    await c.send(*lines, "PING :sync")
    return (await c.lines_until_cmd("PONG"))[:-1]


async def close(*clients: LineClient) -> None:
    for c in clients:
        await c.close()


# --- IRC: ChanServ, restart ---------------------------------------------------------------------


async def test_irc_registered_room_keeps_topic_key_bans_and_ops_across_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "chinwag.db")
    async with serving(db) as srv:
        alice = await irc(srv, "alice", "alice", register=True)
        carol = await irc(srv, "carol", "carol", register=True)
        assert await sync(alice, "JOIN #den") == [
            ":alice!~alice@chinwag JOIN #den", ":chinwag 353 alice = #den @alice",
            ":chinwag 366 alice #den :End of /NAMES list"]
        assert await sync(alice, "PRIVMSG ChanServ :REGISTER #den") == [
            f"{CS} alice :#den is now registered to your account alice: its topic, modes, key and bans are kept,"
            " and op goes to its founder and op list on join"]
        lines = await sync(alice, "TOPIC #den :alice's den", "MODE #den +k sesame", "MODE #den +b ~a:mallory",
                           "MODE #den +b troll", "PRIVMSG ChanServ :OP #den carol")
        assert lines[-1] == f"{CS} alice :carol is on the op list of #den: op on join"
        await close(alice, carol)
    async with serving(db) as srv:  # the same database, a new server
        bob = await irc(srv, "bob")
        lines = await sync(bob, "JOIN #den sesame", "MODE #den b")
        assert lines == [
            ":bob!~bob@chinwag JOIN #den",
            ":chinwag 332 bob #den :alice's den",
            *[line for line in lines if line.startswith(":chinwag 333 bob #den alice ")],
            ":chinwag 353 bob = #den bob",  # the first one in, and no op: the room is registered
            ":chinwag 366 bob #den :End of /NAMES list",
            *[line for line in lines if line.startswith(":chinwag 367 bob #den ~a:mallory alice ")],
            *[line for line in lines if line.startswith(":chinwag 367 bob #den troll!*@* alice ")],
            ":chinwag 368 bob #den :End of channel ban list",
        ]
        assert await sync(bob, "MODE #den") == [":chinwag 324 bob #den +ntk sesame", bob.seen[-2]]
        assert await sync(bob, "TOPIC #den :bob's now") == [":chinwag 482 bob #den :you are not a room operator"]
        alice = await irc(srv, "alice", "alice")
        assert await sync(alice, "JOIN #den") == [  # no key needed: she founded it
            ":alice!~alice@chinwag JOIN #den",
            ":ChanServ!ChanServ@chinwag MODE #den +o alice",
            ":chinwag 332 alice #den :alice's den",
            alice.seen[-4],
            ":chinwag 353 alice = #den :bob @alice",
            ":chinwag 366 alice #den :End of /NAMES list"]
        assert await bob.expect_cmd("MODE") == ":ChanServ!ChanServ@chinwag MODE #den +o alice"
        carol = await irc(srv, "carol")
        await sync(carol, "JOIN #den sesame")
        assert await sync(carol, "PRIVMSG NickServ :IDENTIFY carol " + PASSWORD) == [
            ":chinwag 900 carol carol!~carol@chinwag carol :You are now logged in as carol",
            ":NickServ!NickServ@services NOTICE carol :You are now identified for carol",
            ":ChanServ!ChanServ@chinwag MODE #den +o carol"]  # op as she logs in, inside
        lines = await sync(bob, "PRIVMSG ChanServ :INFO #den")
        assert lines[:2] == [":carol!~carol@chinwag JOIN #den", ":ChanServ!ChanServ@chinwag MODE #den +o carol"]
        assert lines[2:4] == [f"{CS} bob :Information on #den:", f"{CS} bob :Founder    : alice"]
        assert re.fullmatch(rf"{CS} bob :Registered : 20\d\d-\d\d-\d\d \d\d:\d\d UTC", lines[4]), lines
        assert lines[5:] == [f"{CS} bob :Op list    : carol"]
        await close(alice, bob, carol)


async def test_irc_register_verb_cs_verb_and_refusals() -> None:
    async with serving() as srv:
        alice = await irc(srv, "alice", "alice", register=True)
        bob = await irc(srv, "bob")
        await sync(alice, "JOIN #den")
        await sync(bob, "JOIN #den")
        assert await sync(bob, "REGISTER #den") == [
            f"{CS} bob :You must be logged in to an account first (/register PASSWORD or /login NAME PASSWORD):"
            " #den"]
        await sync(bob, f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        assert await sync(bob, "CS REGISTER #den") == [f"{CS} bob :You are not a room operator: #den"]
        assert (await sync(alice, "REGISTER #den"))[-1].startswith(f"{CS} alice :#den is now registered")
        assert await sync(bob, "CHANSERV DROP #den") == [
            f"{CS} bob :Only the room's founder (or a server operator) can do that: #den"]
        assert await sync(alice, "PRIVMSG ChanServ :REGISTER #den") == [
            f"{CS} alice :#den is already registered (founder: alice): #den"]
        assert await sync(alice, "PRIVMSG ChanServ :OP #den nobody") == [
            f"{CS} alice :Nobody is logged in to that account now (they must be online and logged in to be added):"
            " nobody"]
        assert await sync(alice, "PRIVMSG ChanServ :OP #den") == [f"{CS} alice :Usage: OP #room ACCOUNT"]
        assert (await sync(alice, "PRIVMSG ChanServ :HELP"))[0] == (
            f"{CS} alice :ChanServ commands (you must be logged in to an account):")
        assert await sync(alice, "PRIVMSG ChanServ :DROP #den") == [f"{CS} alice :#den is no longer registered"]
        assert await sync(alice, "PRIVMSG ChanServ :INFO #den") == [f"{CS} alice :#den is not registered"]
        # account registration still works through REGISTER (no #)
        carol = await irc(srv, "carol")
        assert (await sync(carol, f"REGISTER * * {PASSWORD}"))[-1] == (
            ":chinwag REGISTER SUCCESS carol :Account created")
        await close(alice, bob, carol)


# --- text: register, empty and refill, moderation ---------------------------------------------


async def test_text_registered_room_emptied_and_refilled_gives_op_to_the_founder_only() -> None:
    async with serving() as srv:
        alice = await text_account(srv, "alice")
        await alice.send("/join #den")
        await alice.expect("* in #den:")
        await alice.send("/register #den")
        assert await alice.expect("* ChanServ:") == (
            "* ChanServ: #den is now registered to your account alice: its topic, modes, key and bans are kept,"
            " and op goes to its founder and op list on join")
        await alice.send("/topic Den rules")
        assert await alice.expect("topic") == "* alice set the topic of #den to: Den rules"
        await alice.send("/ban troll")
        assert await alice.expect("sets mode") == "* alice sets mode +b troll!*@* on #den"
        await alice.send("/part #den")
        await alice.expect("* you left #den")  # the room is empty now
        bob = await text(srv, "bob")
        await bob.send("/join #den")
        assert await bob.expect("* topic of #den") == "* topic of #den: Den rules (set by alice)"
        await bob.send("/topic hijacked")
        assert await bob.expect("error") == "error: you are not a room operator: #den"
        await bob.send("/kick alice")
        assert await bob.expect("error") == "error: you are not a room operator: #den"
        await bob.send("/ban alice")
        assert await bob.expect("error") == "error: you are not a room operator: #den"
        await alice.send("/join #den")
        assert await bob.expect("ChanServ") == "* ChanServ sets mode +o alice on #den"
        await alice.send("/kick bob enough")
        assert await bob.expect("kicked") == "* you were kicked from #den by alice (enough)"
        troll = await text(srv, "troll")
        await troll.send("/join #den")
        assert await troll.expect("error") == "error: cannot join room (+b): you are banned: #den"
        await alice.send("/unban troll")
        assert await alice.expect("sets mode -b") == "* alice sets mode -b troll!*@* on #den"
        await troll.send("/join #den")
        await troll.expect("* in #den:")
        await close(alice, bob, troll)


async def test_an_account_ban_keeps_a_logged_in_user_out_under_any_nick() -> None:
    async with serving() as srv:
        mallory = await text_account(srv, "mallory")
        alice = await text(srv, "alice")
        await alice.send("/join #den")
        await alice.expect("* in #den:")
        await alice.send("/ban ~a:mallory")
        assert await alice.expect("sets mode") == "* alice sets mode +b ~a:mallory on #den"
        await mallory.send("/nick innocent", "/join #den")
        assert await mallory.expect("error") == "error: cannot join room (+b): you are banned: #den"
        # The same account from IRC under another nick: with multiclient it joins mallory's
        # user, now called innocent; banned all the same.
        other = await irc(srv, "someone", "mallory")
        assert await sync(other, "JOIN #den") == [
            ":chinwag 474 innocent #den :cannot join room (+b): you are banned"]
        await mallory.send("/logout", "/join #den")  # logged out, she is just a nick
        await mallory.expect("* in #den:")
        await close(alice, mallory, other)


async def test_mute_by_quiet_list_and_by_moderated_room() -> None:
    async with serving() as srv:
        alice = await text(srv, "alice")
        await alice.send("/join #den")
        await alice.expect("* in #den:")
        bob = await text(srv, "bob")
        await bob.send("/join #den")
        await bob.expect("* in #den:")
        ian = await irc(srv, "ian")
        await sync(ian, "JOIN #den")
        await alice.send("/mute bob")
        assert await bob.expect("sets mode") == "* alice sets mode +q bob!*@* on #den"
        await bob.send("hello?")
        assert await bob.expect("error") == "error: cannot send to room: you are muted in this room (+q): #den"
        lines = await sync(ian, "MODE #den q")
        assert lines[-2].startswith(":chinwag 728 ian #den q bob!*@* alice "), lines
        assert lines[-1] == ":chinwag 729 ian #den q :End of channel quiet list"
        await alice.send("/unmute bob")
        await bob.expect("sets mode -q")
        await bob.send("back")
        assert (await ian.expect_cmd("PRIVMSG")).endswith(":bob!~bob@chinwag PRIVMSG #den :back")
        await alice.send("/cs help")
        await alice.expect("* ChanServ: HELP")
        await sync(ian, "PRIVMSG #den :fine")
        # +m: only ops and voiced users speak
        assert (await sync(ian, "PART #den", "JOIN #den", "MODE #den +m"))[-1] == (
            ":chinwag 482 ian #den :you are not a room operator")
        await alice.send("/topic")  # (a text user sees the topic on demand)
        assert await alice.expect("has no topic") == "* #den has no topic"
        await alice.send("/msg ChanServ INFO #den")
        assert await alice.expect("* ChanServ") == "* ChanServ: #den is not registered"
        await close(alice, bob, ian)


async def test_irc_moderated_room_refuses_with_404_until_voiced() -> None:
    async with serving() as srv:
        alice = await irc(srv, "alice")
        bob = await irc(srv, "bob")
        await sync(alice, "JOIN #den", "MODE #den +m")
        await sync(bob, "JOIN #den")
        assert await sync(bob, "PRIVMSG #den :hi") == [
            ":chinwag 404 bob #den :cannot send to room: the room is moderated (+m)"]
        await sync(alice, "MODE #den +v bob")
        assert await sync(bob, "PRIVMSG #den :hi") == [":alice!~alice@chinwag MODE #den +v bob"]
        assert await alice.expect_cmd("PRIVMSG") == ":bob!~bob@chinwag PRIVMSG #den :hi"
        await close(alice, bob)


# --- the default room and server operators ----------------------------------------------------


async def test_server_operator_account_gets_op_in_the_lobby_and_sets_its_topic() -> None:
    async with serving(operators=("root",)) as srv:
        first = await text(srv, "first")  # first into #lobby: no op, it is registered by the server
        await first.send("/topic mine")
        assert await first.expect("error") == "error: you are not a room operator: #lobby"
        root = await text(srv, "root")
        await root.send(f"/register {PASSWORD}")  # the configured account: a server operator from now
        assert await first.expect("ChanServ") == "* ChanServ sets mode +o root on #lobby"
        await root.send("/topic Welcome to chinwag")
        assert await first.expect("topic") == "* root set the topic of #lobby to: Welcome to chinwag"
        await root.send("/kick first behave")
        assert await first.expect("kicked") == "* you were kicked from #lobby by root (behave)"
        ian = await irc(srv, "ian")
        lines = await sync(ian, "PRIVMSG ChanServ :INFO #lobby")
        assert lines[:2] == [f"{CS} ian :Information on #lobby:",
                             f"{CS} ian :Founder    : the server (server operators hold op)"]
        assert lines[2].startswith(f"{CS} ian :Registered : 20"), lines
        assert lines[3:] == [f"{CS} ian :Op list    : (empty)"]
        await close(first, root, ian)


async def test_oper_gets_op_in_registered_rooms_it_is_in() -> None:
    cfg_ops = {"admin": "secret-pass"}
    cfg = dataclasses.replace(make_config(**CHEAP), operators=cfg_ops)
    srv = Server(cfg)
    await srv.start()
    try:
        ian = await irc(srv, "ian")
        await sync(ian, "JOIN #lobby")
        assert await sync(ian, "MODE #lobby +m") == [":chinwag 482 ian #lobby :you are not a room operator"]
        lines = await sync(ian, "OPER admin secret-pass")
        assert ":ChanServ!ChanServ@chinwag MODE #lobby +o ian" in lines
        assert await sync(ian, "MODE #lobby +m") == [":ian!~ian@chinwag MODE #lobby +m"]
        await ian.close()
    finally:
        await srv.shutdown()


async def test_a_server_operator_logged_in_by_sasl_before_registering_gets_op_in_the_lobby() -> None:
    async with serving(operators=("root",)) as srv:
        made = await text_account(srv, "root")
        await made.close()
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        root = IrcClient(r, w)
        plain = base64.b64encode(f"\0root\0{PASSWORD}".encode()).decode()
        await root.send("CAP LS 302", "NICK boss", "USER boss 0 * :boss", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
        await root.expect_cmd("AUTHENTICATE")
        await root.send(f"AUTHENTICATE {plain}")
        await root.expect_cmd("903")
        await root.send("CAP END")
        burst = await root.lines_until_cmd("422")
        assert ":chinwag 381 boss :You are now an IRC operator" in burst
        assert (await sync(root, "JOIN #lobby"))[:2] == [
            ":boss!~boss@chinwag JOIN #lobby", ":chinwag 353 boss = #lobby @boss"]
        await root.close()
