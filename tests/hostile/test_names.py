"""Names in every script over real sockets: telnet, IRC and IRC over WebSocket.

``Вася``, ``Nguyễn`` and ``Zoë`` register and chat from each protocol and are
shown alike to all three; a look-alike of a name in use, a name mixing Latin and
Cyrillic, and the services' names are refused with the reason; a ban on
``вася!*@*`` keeps out ``ВАСЯ``. Each test keeps a bystander pinging. On the
code before core/names.py's PRECIS folding every one of them failed: ``Вася``
was refused ("must start with a letter"), ``NickServ`` and look-alikes were
accepted, and ISUPPORT said ``CASEMAPPING=rfc1459``.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata

import aiohttp

from chinwag.transport.server import Server
from tests.conftest import IrcClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving, text_client
from tests.web.conftest import WsIrc, web_url

NFD_NGUYEN = unicodedata.normalize("NFD", "Nguyễn")
ALICE_IN_CYRILLIC = "\u0430\u04c0\u0456\u0441\u0435"  # а Ӏ і с е: every letter Cyrillic
ALICE_MIXED = "\u0430lice"  # a Cyrillic а, then Latin letters
RESERVED = "is reserved for the server's services"
SAMPLES = 20  # bystander round trips to collect while an attack repeats
ROUNDS = 300  # at most this many repetitions of an attack


async def ws_client(srv: Server, nick: str) -> WsIrc:
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(web_url(srv, "/irc"), protocols=("text.ircv3.net",))
    client = WsIrc(session, ws)
    await client.register(nick)
    return client


def stamped(line: str) -> str:
    """A text-protocol line without its ``[HH:MM] `` time."""
    m = re.fullmatch(r"\[\d\d:\d\d\] (.*)", line)
    assert m, line
    return m.group(1)


async def test_vasya_nguyen_and_zoe_chat_from_telnet_irc_and_websocket() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        vasya = await text_client(srv, "Вася")  # UTF-8 from a terminal
        nguyen = await irc_client(srv, NFD_NGUYEN)  # typed decomposed: shown composed
        isupport = " ".join(line for line in nguyen.seen if " 005 " in line).split(" ")
        assert "CASEMAPPING=rfc8265" in isupport and "UTF8ONLY" in isupport
        # (the username is an ident: ASCII letters of what USER gave, with "~")
        assert nguyen.seen[0] == ":chinwag 001 Nguyễn :Welcome to the chinwag IRC Network Nguyễn!~Nguyen@chinwag"
        await nguyen.send("JOIN #lobby")
        assert await nguyen.expect_cmd("353") == ":chinwag 353 Nguyễn = #lobby :Вася Nguyễn"
        await nguyen.expect_cmd("366")
        assert await vasya.line() == "* Nguyễn has joined #lobby"
        zoe = await ws_client(srv, "Zoë")
        await zoe.send("JOIN #lobby")
        assert await zoe.expect_cmd("353") == ":chinwag 353 Zoë = #lobby :Вася Nguyễn Zoë"
        await zoe.expect_cmd("366")
        assert await vasya.line() == "* Zoë has joined #lobby"
        assert await nguyen.line() == ":Zoë!~Zo@chinwag JOIN #lobby"  # USER's username: ASCII, as idents are

        await vasya.send("привет всем")
        assert await nguyen.line() == ":Вася!~Вася@chinwag PRIVMSG #lobby :привет всем"
        assert await zoe.line() == ":Вася!~Вася@chinwag PRIVMSG #lobby :привет всем"
        await nguyen.send("PRIVMSG #lobby :xin chào")
        assert stamped(await vasya.line()) == "Nguyễn: xin chào"
        assert await zoe.line() == ":Nguyễn!~Nguyen@chinwag PRIVMSG #lobby :xin chào"
        await zoe.send("PRIVMSG #lobby :salut")
        assert stamped(await vasya.line()) == "Zoë: salut"
        assert await nguyen.line() == ":Zoë!~Zo@chinwag PRIVMSG #lobby :salut"
        # Private messages find a name in any case and either normal form.
        await zoe.send("PRIVMSG ВАСЯ :ты тут?", f"PRIVMSG {NFD_NGUYEN.upper()} :bạn ở đây?")
        assert stamped(await vasya.line()) == "*Zoë* ты тут?"
        assert await nguyen.line() == ":Zoë!~Zo@chinwag PRIVMSG Nguyễn :bạn ở đây?"
        # One name in any case: a change of case is a nick change, a clash is refused.
        await vasya.send("/nick ВАСЯ")
        assert await vasya.line() == "* you are now known as ВАСЯ"
        assert await nguyen.line() == ":Вася!~Вася@chinwag NICK ВАСЯ"
        assert await zoe.line() == ":Вася!~Вася@chinwag NICK ВАСЯ"
        await zoe.send("NICK nguyễn")
        assert await zoe.line() == ":chinwag 433 Zoë nguyễn :name taken"

        rtt = await b.stop()
        rtt.assert_served()
        await zoe.close()
        for c in (vasya, nguyen, b.client):
            await c.close()


async def test_a_lookalike_of_a_name_in_use_is_refused_until_it_is_free() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        alice = await irc_client(srv, "alice")
        mallory = await irc_client(srv, "mallory")
        await mallory.send(f"NICK {ALICE_IN_CYRILLIC}")
        assert await mallory.line() == (
            f":chinwag 433 mallory {ALICE_IN_CYRILLIC} :name taken: "
            f"‘{ALICE_IN_CYRILLIC}’ looks like ‘alice’, who is online")
        await mallory.send(f"NICK {ALICE_MIXED}")
        assert await mallory.line() == (
            f":chinwag 432 mallory {ALICE_MIXED} :invalid name: mixes Latin and Cyrillic letters, "
            "which can pass for each other; use one alphabet")
        await mallory.send("NICK ALICE")
        assert await mallory.line() == ":chinwag 433 mallory ALICE :name taken"
        # Hammering: look-alikes, and long decomposed names that are new every
        # time (no cache helps), as fast as the flood limit lets them through.
        me = "mallory"
        for n in range(ROUNDS):
            fresh = "".join("е\u0308" if int(d) % 2 else "и\u0306" for d in f"{n:031b}") + "ж"  # ё/й typed as NFD
            composed = unicodedata.normalize("NFC", fresh)
            await mallory.send(f"NICK ＡＬＩＣＥ{n}", f"NICK {ALICE_IN_CYRILLIC}", f"NICK {fresh}")
            assert await mallory.line() == f":{me}!~mallory@chinwag NICK ALICE{n}"  # (the username stays)
            assert await mallory.line() == f":chinwag 433 ALICE{n} {ALICE_IN_CYRILLIC} :name taken: " \
                f"‘{ALICE_IN_CYRILLIC}’ looks like ‘alice’, who is online"
            assert await mallory.line() == f":ALICE{n}!~mallory@chinwag NICK {composed}"
            me = composed
            if len(b.rtt.samples) >= SAMPLES:
                break
        await mallory.send("NICK mallory")
        assert await mallory.line() == f":{me}!~mallory@chinwag NICK mallory"
        # From telnet, registering: the reason, a free name to try, and another go.
        t = await text_client(srv)
        await t.send(ALICE_IN_CYRILLIC)
        assert await t.line() == (
            f"name taken: ‘{ALICE_IN_CYRILLIC}’ looks like ‘alice’, who is online; "
            f"try {ALICE_IN_CYRILLIC}2. What is your name?")
        await t.send("pаypal")  # Cyrillic а: refused whoever is online
        assert await t.line() == (
            "invalid name: mixes Latin and Cyrillic letters, which can pass for each other; use one alphabet. "
            "What is your name?")
        # Once alice has gone, her look-alike is free (she had no account to keep it).
        await alice.send("QUIT :bye")
        await alice.closed()
        await mallory.send("PING sync")
        await mallory.expect("PONG")  # a round trip after alice is gone
        await mallory.send(f"NICK {ALICE_IN_CYRILLIC}")
        assert await mallory.line() == f":mallory!~mallory@chinwag NICK {ALICE_IN_CYRILLIC}"
        rtt = await b.stop()
        rtt.assert_served()
        for c in (alice, mallory, t, b.client):
            await c.close()


async def test_service_names_and_the_server_name_are_refused_saying_why() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        c = IrcClient(r, w)
        await c.send("NICK NickServ", "USER x 0 * :x")
        assert await c.line() == f":chinwag 432 * NickServ :invalid name: ‘NickServ’ {RESERVED}"
        await c.send("NICK chinwag")
        assert await c.line() == f":chinwag 432 * chinwag :invalid name: ‘chinwag’ {RESERVED}"
        await c.send("NICK bob")
        await c.expect_cmd("422")
        await c.send("NICK HostServ")
        assert await c.line() == f":chinwag 432 bob HostServ :invalid name: ‘HostServ’ {RESERVED}"
        t = await text_client(srv, "carol")
        await t.send("/nick ChanServ")
        assert await t.line() == "error: invalid name: ‘ChanServ’ is reserved for the server's services"
        await t.send("/nick Вася@home")
        assert await t.line() == (
            "error: invalid name: ‘@’ is not allowed in a name (it separates nick!user@host): Вася@home")
        rtt = await b.stop()
        rtt.assert_served()
        for x in (c, t, b.client):
            await x.close()


async def test_a_ban_on_vasya_keeps_out_VASYA() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        op = await irc_client(srv, "op")
        await op.send("JOIN #кафе", "MODE #КАФЕ +b вася!*@*")
        assert await op.expect_cmd("MODE") == ":op!~op@chinwag MODE #кафе +b вася!*@*"
        vasya = await irc_client(srv, "ВАСЯ")
        await vasya.send("JOIN #Кафе")
        assert await vasya.line() == ":chinwag 474 ВАСЯ #кафе :cannot join room (+b): you are banned"
        await vasya.send("NICK Вася2")
        assert await vasya.line() == ":ВАСЯ!~ВАСЯ@chinwag NICK Вася2"
        await vasya.send("JOIN #КАФЕ")
        assert await vasya.line() == ":Вася2!~ВАСЯ@chinwag JOIN #кафе"  # the username is the first nick's
        rtt = await b.stop()
        rtt.assert_served()
        for x in (op, vasya, b.client):
            await x.close()
