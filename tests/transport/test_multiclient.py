"""Several connections, one account, one user (multiclient), over real sockets.

A second connection logging in to an account whose user is online becomes that
user: the same nick (no 433), the same rooms; what is said to the nick reaches
every connection, what one sends is echoed on the others, a nick change or a
PART from one is one change for everyone else; a connection that quits only
detaches, and the user quits (seen once) with its last connection.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re

import pytest

from chinwag.config import Config
from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving_config, text_client
from tests.transport.test_nick_protection import FAST_HASH, PASSWORD, SRC, config, sync

NS = ":NickServ!NickServ@services NOTICE"


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


async def registered_irc(srv: Server, nick: str, *rooms: str) -> IrcClient:
    c = await irc_client(srv, nick)
    await c.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    assert await c.expect_cmd("900") == (
        f":{SRC} 900 {nick} {nick}!~{nick}@chinwag {nick} :You are now logged in as {nick}")
    for room in rooms:
        await c.send(f"JOIN {room}")
        await c.expect_cmd("366")
    return c


async def sasl_irc(srv: Server, nick: str, account: str) -> tuple[IrcClient, list[str]]:
    """A connection that logs in with SASL PLAIN before registering as ``nick``;
    the lines from CAP END to the end of the MOTD."""
    c = await irc_client_raw(srv)
    await c.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
    await c.expect_cmd("AUTHENTICATE")
    await c.send("AUTHENTICATE " + b64(f"\0{account}\0{PASSWORD}"))
    await c.expect_cmd("903")
    start = len(c.seen)
    await c.send("CAP END")
    await c.expect_cmd("422")
    return c, c.seen[start:]


async def irc_client_raw(srv: Server) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    return IrcClient(r, w)


async def served(b: Bystander, *clients: LineClient) -> None:
    """The bystander was answered throughout (its RTT printed); then everyone goes."""
    rtt = await b.stop()
    rtt.assert_served()
    await b.close()
    for c in clients:
        await c.close()


async def test_two_irc_connections_one_account_share_the_nick_rooms_and_messages() -> None:
    async with serving_config(config()) as srv:
        laptop = await registered_irc(srv, "alice", "#lobby", "#dev")
        carol = await irc_client(srv, "carol")
        await carol.send("JOIN #lobby", "JOIN #dev")
        await carol.expect_cmd("366")
        await carol.expect_cmd("366")
        await sync(laptop, "joined")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        phone, welcome = await sasl_irc(srv, "aphone", "alice")
        # The same nick (no 433), in the same rooms: JOIN, names, after the welcome.
        assert welcome[0] == f":{SRC} 001 alice :Welcome to the chinwag IRC Network alice!~aphone@chinwag"
        assert not any(" 433 " in line for line in welcome)
        rest = await sync(phone, "attached")
        assert [line for line in welcome + rest if " JOIN " in line or " 353 " in line] == [
            ":alice!~alice@chinwag JOIN #lobby",
            f":{SRC} 353 alice = #lobby :alice carol",  # (#lobby is registered: no op by arrival)
            ":alice!~alice@chinwag JOIN #dev",
            f":{SRC} 353 alice = #dev :@alice carol",
        ]
        assert await sync(carol, "nothing") == []  # the user did not change: carol sees nothing
        # To the nick, and to a room: both connections.
        await carol.send("PRIVMSG alice :hi alice", "PRIVMSG #lobby :hi all")
        for c in (laptop, phone):
            assert await c.line() == ":carol!~carol@chinwag PRIVMSG alice :hi alice"
            assert await c.line() == ":carol!~carol@chinwag PRIVMSG #lobby :hi all"
        # From one: carol once; the other shows it as its own (echo).
        await phone.send("PRIVMSG #lobby :from my phone", "PRIVMSG carol :psst")
        assert await carol.line() == ":alice!~alice@chinwag PRIVMSG #lobby :from my phone"
        assert await carol.line() == ":alice!~alice@chinwag PRIVMSG carol :psst"
        assert await laptop.line() == ":alice!~alice@chinwag PRIVMSG #lobby :from my phone"
        assert await laptop.line() == ":alice!~alice@chinwag PRIVMSG carol :psst"
        assert await sync(phone, "no-echo") == []  # (no echo-message: its own lines are not sent back)
        # A nick change from one: both, and carol once.
        await phone.send("NICK alice_")
        assert await phone.line() == ":alice!~alice@chinwag NICK alice_"
        assert await laptop.line() == ":alice!~alice@chinwag NICK alice_"
        assert await sync(carol, "nick") == [":alice!~alice@chinwag NICK alice_"]
        # A PART from one parts the user.
        await laptop.send("PART #dev :bye dev")
        for c in (laptop, phone, carol):
            assert await c.line() == ":alice_!~alice@chinwag PART #dev :bye dev"
        # Away is the user's.
        await phone.send("AWAY :lunch")
        await carol.send("WHOIS alice_")
        assert await carol.expect_cmd("301") == f":{SRC} 301 carol alice_ lunch"
        await carol.expect_cmd("318")
        # One quits: nobody sees a QUIT; the other goes on.
        await phone.send("QUIT :phone off")
        await phone.closed()
        await laptop.send("PRIVMSG #lobby :still here")
        assert await carol.line() == ":alice_!~alice@chinwag PRIVMSG #lobby :still here"
        assert await sync(carol, "one-left") == []
        # The last one quits: the QUIT, once.
        await laptop.send("QUIT :done")
        await laptop.closed()
        assert await sync(carol, "all-left") == [":alice_!~alice@chinwag QUIT done"]
        await served(b, carol, phone, laptop)


async def test_irc_and_text_connections_one_account_and_the_first_one_leaving_first() -> None:
    async with serving_config(config()) as srv:
        laptop = await registered_irc(srv, "alice", "#lobby")
        carol = await irc_client(srv, "carol")
        await carol.send("JOIN #lobby")
        await carol.expect_cmd("366")
        await sync(laptop, "joined")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        telnet = await text_client(srv, "alicetext")
        assert await carol.expect_cmd("JOIN") == ":alicetext!~alicetext@chinwag JOIN #lobby"
        await telnet.send(f"/login alice {PASSWORD}")
        start = len(telnet.seen)
        await telnet.expect("* you are alice on")
        assert [line for line in telnet.seen[start:] if not line.startswith("* note:")] == [
            "* you are now logged in as alice",
            "* you left #lobby",
            "* you are now known as alice",
            "* you are alice on 2 connections; rooms: #lobby (2); current room is #lobby",
        ]
        # Its own name quits; alice did not change.
        assert await sync(carol, "attached") == [
            ":alicetext!~alicetext@chinwag QUIT :logged in as alice on another connection"]
        assert await sync(laptop, "attached") == [
            ":alicetext!~alicetext@chinwag JOIN #lobby",
            ":alicetext!~alicetext@chinwag QUIT :logged in as alice on another connection"]
        await carol.send("PRIVMSG #lobby :hello alice")
        assert (await telnet.line()).endswith("] carol: hello alice")
        assert await laptop.line() == ":carol!~carol@chinwag PRIVMSG #lobby :hello alice"
        await telnet.send("hello from telnet")
        assert await carol.line() == ":alice!~alice@chinwag PRIVMSG #lobby :hello from telnet"
        assert await laptop.line() == ":alice!~alice@chinwag PRIVMSG #lobby :hello from telnet"
        await laptop.send("PRIVMSG #lobby :and from irc")
        assert await carol.line() == ":alice!~alice@chinwag PRIVMSG #lobby :and from irc"
        assert (await telnet.line()).endswith("] alice: and from irc")
        await laptop.send("NICK alice2")
        assert await telnet.line() == "* you are now known as alice2"
        assert await sync(carol, "nick") == [":alice!~alice@chinwag NICK alice2"]
        # The first connection (whose id the user has) goes first: nobody sees it.
        await laptop.send("QUIT :laptop off")
        await laptop.closed()
        assert await sync(carol, "laptop-gone") == []
        await telnet.send("still here")
        assert await carol.line() == ":alice2!~alice@chinwag PRIVMSG #lobby :still here"
        await telnet.send("/quit")
        await telnet.closed()
        assert await sync(carol, "all-gone") == [":alice2!~alice@chinwag QUIT quit"]
        await served(b, carol, telnet, laptop)


async def test_with_multiclient_off_the_second_connection_keeps_a_nick_of_its_own() -> None:
    cfg = dataclasses.replace(make_config(**FAST_HASH), multiclient=False)
    async with serving_config(cfg) as srv:
        laptop = await registered_irc(srv, "alice", "#lobby")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        phone, welcome = await sasl_irc(srv, "aphone", "alice")
        assert welcome[0] == f":{SRC} 001 aphone :Welcome to the chinwag IRC Network aphone!~aphone@chinwag"
        assert not any(" JOIN " in line for line in welcome)
        assert await sync(laptop, "separate") == []
        await served(b, phone, laptop)


# --- what an attached connection is shown: the account's playback, its read markers ----------


def playback_config() -> Config:
    """The server replays 20 messages on join (IRC clients without draft/chathistory)."""
    return dataclasses.replace(config(), irc_history_on_join=20)


async def phone_with(srv: Server, nick: str, caps: tuple[str, ...]) -> IrcClient:
    c = await irc_client_raw(srv)
    await c.register(nick, caps)
    return c


async def login(srv: Server, how: str, nick: str, account: str, caps: tuple[str, ...]) -> tuple[IrcClient, list[str]]:
    """A connection logging in to ``account``, by NickServ IDENTIFY once registered as
    ``nick`` or with SASL PLAIN before registering; every line from the login on."""
    if how == "sasl":
        c = await irc_client_raw(srv)
        await c.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick}",
                     f"CAP REQ :{' '.join(('sasl', *caps))}", "AUTHENTICATE PLAIN")
        await c.expect_cmd("AUTHENTICATE")
        await c.send("AUTHENTICATE " + b64(f"\0{account}\0{PASSWORD}"))
        await c.expect_cmd("903")
        start = len(c.seen)
        await c.send("CAP END")
    else:
        c = await phone_with(srv, nick, caps)
        start = len(c.seen)
        await c.send(f"PRIVMSG NickServ :IDENTIFY {account} {PASSWORD}")
    await sync(c, "attached")
    return c, [re.sub(r"^@time=\S+ ", "", line) for line in c.seen[start:-1]]


@pytest.mark.parametrize(("setting", "replayed"), [
    ("off", []),
    ("2", [":chinwag NOTICE #dev :*** Replaying the last 2 messages of #dev",
           ":alice!~alice@chinwag PRIVMSG #dev :two", ":alice!~alice@chinwag PRIVMSG #dev :three",
           ":chinwag NOTICE #dev :*** End of replay"]),
])
async def test_a_phone_attaching_is_replayed_its_rooms_by_the_accounts_playback(
        setting: str, replayed: list[str]) -> None:
    async with serving_config(playback_config()) as srv:
        laptop = await registered_irc(srv, "alice", "#dev")
        await laptop.send("PRIVMSG #dev :one", "PRIVMSG #dev :two", "PRIVMSG #dev :three",
                          f"PRIVMSG NickServ :SET PLAYBACK {setting}")
        what = "off" if setting == "off" else f"{setting} messages"
        assert (await sync(laptop, "set"))[-1] == f"{NS} alice :PLAYBACK is now {what}: replayed when you join a room"
        b = await Bystander.join(srv.port("irc"))
        b.start()
        # A phone without draft/chathistory (server-time: no [HH:MM] in the replayed text) identifies.
        phone, lines = await login(srv, "identify", "aphone", "alice", ("server-time",))
        assert [line for line in lines if "#dev" in line] == [
            ":alice!~alice@chinwag JOIN #dev",
            f":{SRC} 353 alice = #dev @alice",
            f":{SRC} 366 alice #dev :End of /NAMES list",
            *replayed,
        ]
        await served(b, phone, laptop)


@pytest.mark.parametrize("how", ["identify", "sasl"])
async def test_a_phone_with_read_markers_attaching_gets_each_rooms_markread_with_its_join(how: str) -> None:
    async with serving_config(config()) as srv:
        laptop = await phone_with(srv, "alice", ("draft/read-marker",))
        await laptop.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        await laptop.expect_cmd("900")
        await laptop.send("JOIN #dev", "JOIN #ops", "MARKREAD #dev timestamp=2023-11-14T22:13:19.000Z")
        assert (await sync(laptop, "marked"))[-1] == f":{SRC} MARKREAD #dev timestamp=2023-11-14T22:13:19.000Z"
        b = await Bystander.join(srv.port("irc"))
        b.start()
        phone, lines = await login(srv, how, "aphone", "alice", ("draft/read-marker",))
        # Each room as after a JOIN of its own: the JOIN, its MARKREAD, then the names.
        assert [line for line in lines if "#dev" in line or "#ops" in line] == [
            ":alice!~alice@chinwag JOIN #dev",
            f":{SRC} MARKREAD #dev timestamp=2023-11-14T22:13:19.000Z",
            f":{SRC} 353 alice = #dev @alice",
            f":{SRC} 366 alice #dev :End of /NAMES list",
            ":alice!~alice@chinwag JOIN #ops",
            f":{SRC} MARKREAD #ops *",
            f":{SRC} 353 alice = #ops @alice",
            f":{SRC} 366 alice #ops :End of /NAMES list",
        ]
        await served(b, phone, laptop)


@pytest.mark.parametrize(("rounds", "ops_marker"), [(3, "timestamp=2023-11-14T22:13:18.000Z"), (1, "*")])
async def test_a_room_joined_while_an_attaching_phones_markers_are_read_is_read_in_the_next_round(
        rounds: int, ops_marker: str) -> None:
    async with serving_config(config(attach_marker_rounds=rounds)) as srv:
        laptop = await phone_with(srv, "alice", ("draft/read-marker",))
        await laptop.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        await laptop.expect_cmd("900")
        await laptop.send("JOIN #dev", "MARKREAD #dev timestamp=2023-11-14T22:13:19.000Z",
                          "MARKREAD #ops timestamp=2023-11-14T22:13:18.000Z")
        await sync(laptop, "marked")
        # The phone's first lookup waits until the laptop has joined #ops meanwhile.
        entered, release = asyncio.Event(), asyncio.Event()
        read_marker = srv.store.read_marker

        async def gated(account: str, target: str) -> int | None:
            if not entered.is_set():
                entered.set()
                await release.wait()
            return await read_marker(account, target)

        srv.store.read_marker = gated  # type: ignore[method-assign]
        b = await Bystander.join(srv.port("irc"))
        b.start()
        phone = asyncio.create_task(login(srv, "identify", "aphone", "alice", ("draft/read-marker",)))
        await entered.wait()
        await laptop.send("JOIN #ops")
        await laptop.expect_cmd("366")
        release.set()
        c, lines = await phone
        assert [line for line in lines if "MARKREAD" in line] == [
            f":{SRC} MARKREAD #dev timestamp=2023-11-14T22:13:19.000Z", f":{SRC} MARKREAD #ops {ops_marker}"]
        await served(b, c, laptop)


async def test_a_room_the_other_connection_joins_comes_to_an_attached_phone_with_its_stored_markread() -> None:
    async with serving_config(config()) as srv:
        laptop = await phone_with(srv, "alice", ("draft/read-marker",))
        await laptop.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        await laptop.expect_cmd("900")
        phone, _ = await login(srv, "sasl", "aphone", "alice", ("draft/read-marker",))
        await laptop.send("MARKREAD #r timestamp=2023-11-14T22:13:19.000Z")
        stored = f":{SRC} MARKREAD #r timestamp=2023-11-14T22:13:19.000Z"
        assert (await sync(laptop, "marked"))[-1] == stored
        assert await sync(phone, "marked") == [stored]  # (a marker that moved: every connection)
        b = await Bystander.join(srv.port("irc"))
        b.start()
        await laptop.send("JOIN #r", "JOIN #new")
        # Each JOIN as the joining connection sees it: its MARKREAD before the names.
        expected = [
            ":alice!~alice@chinwag JOIN #r",
            stored,
            f":{SRC} 353 alice = #r @alice",
            f":{SRC} 366 alice #r :End of /NAMES list",
            ":alice!~alice@chinwag JOIN #new",
            f":{SRC} MARKREAD #new *",
            f":{SRC} 353 alice = #new @alice",
            f":{SRC} 366 alice #new :End of /NAMES list",
        ]
        assert [line for line in await sync(laptop, "joined") if "#" in line] == expected
        assert [line for line in await sync(phone, "joined") if "#" in line] == expected
        # The phone's own MARKREAD is the account's too (before: an attached connection's was dropped).
        await phone.send("MARKREAD #r timestamp=2023-11-14T22:13:20.000Z")
        moved = f":{SRC} MARKREAD #r timestamp=2023-11-14T22:13:20.000Z"
        assert await sync(phone, "moved") == [moved]
        assert await sync(laptop, "moved") == [moved]
        await served(b, phone, laptop)


async def test_a_telnet_connection_attaching_is_replayed_its_current_room_by_the_accounts_playback() -> None:
    async with serving_config(config()) as srv:  # (text history on join: 20 by default)
        laptop = await registered_irc(srv, "alice", "#dev")
        await laptop.send("PRIVMSG #dev :one", "PRIVMSG #dev :two", "PRIVMSG #dev :three",
                          "PRIVMSG NickServ :SET PLAYBACK 2")
        assert (await sync(laptop, "set"))[-1] == (
            f"{NS} alice :PLAYBACK is now 2 messages: replayed when you join a room")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        telnet = await text_client(srv, "alicetext")
        await telnet.send(f"/login alice {PASSWORD}")
        start = len(telnet.seen)
        await telnet.expect("--- end of history ---")
        assert [re.sub(r"^\[\d\d:\d\d\] ", "[hh:mm] ", line) for line in telnet.seen[start:]
                if not line.startswith("* note:")] == [
            "* you are now logged in as alice",
            "* you left #lobby",
            "* you are now known as alice",
            "* you are alice on 2 connections; rooms: #dev (1); current room is #dev",
            "--- history of #dev ---",
            "[hh:mm] alice: two",
            "[hh:mm] alice: three",
            "--- end of history ---",
        ]
        await served(b, telnet, laptop)
