"""IRCv3 draft/read-marker over real sockets: one read position per account and
target, kept in the store, synced to every connection of the account, sent
with each JOIN. The hub's clock is fixed, so every timestamp is exact."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from chinwag.core.hub import Hub
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.test_accounts import FAST, PASSWORD
from tests.hostile.test_accounts_irc import b64
from tests.transport.test_chathistory import Clock
from tests.transport.test_ircv3_multiline import sent, until_pong

SRC = "chinwag"
RM = ("draft/read-marker",)
NOW = "timestamp=2023-11-14T22:13:20.000Z"  # T0, the hub's clock


@asynccontextmanager
async def serving(db: str = ":memory:", *, postgres: str = "", **limits: int) -> AsyncIterator[Server]:
    # Each device its own user (multiclient off): markers are per account either way; with
    # multiclient the devices are one user (tests/transport/test_multiclient.py).
    cfg = dataclasses.replace(make_config(**{**FAST, **limits}), db=db, postgres=postgres, multiclient=False)
    srv = Server(cfg, hub=Hub(cfg.limits, clock=Clock(), multiclient=False))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


async def conn(srv: Server) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    return IrcClient(r, w)


async def owner(srv: Server, nick: str, caps: tuple[str, ...] = RM) -> IrcClient:
    """A new account ``nick``, logged in on this connection (NickServ REGISTER)."""
    c = await conn(srv)
    await c.register(nick, caps)
    await c.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    await c.expect_cmd("900")
    await until_pong(c, "registered")
    return c


async def device(srv: Server, nick: str, account: str, caps: tuple[str, ...] = RM) -> IrcClient:
    """Another connection logged in to ``account`` (SASL PLAIN), under ``nick``."""
    c = await conn(srv)
    await c.send("CAP LS 302", f"NICK {nick}", f"USER {account} 0 * :{account}",
                 f"CAP REQ :{' '.join(('sasl', *caps))}", "AUTHENTICATE PLAIN")
    await c.expect_cmd("AUTHENTICATE")
    await c.send("AUTHENTICATE " + b64(f"\0{account}\0{PASSWORD}"))
    await c.expect_cmd("903")
    await c.send("CAP END")
    await c.expect_cmd("422")
    c.nick = nick
    return c


def marker(target: str, value: str) -> str:
    return f":{SRC} MARKREAD {target} {value}"


async def test_a_marker_is_kept_per_account_synced_to_its_devices_and_sent_on_join() -> None:
    async with serving() as srv:
        laptop = await owner(srv, "alice")
        phone = await device(srv, "alicephone", "alice")
        bob = await conn(srv)
        await bob.register("bob", RM)
        await laptop.send("MARKREAD #dev timestamp=2023-11-14T22:13:19.000Z")
        assert await until_pong(laptop, "1") == [marker("#dev", "timestamp=2023-11-14T22:13:19.000Z")]
        await sent(laptop)
        assert await until_pong(phone, "1") == [marker("#dev", "timestamp=2023-11-14T22:13:19.000Z")]
        assert await until_pong(bob, "1") == []  # never to another user
        # Older: the stored value, to the asker only. Later than now: now.
        await laptop.send("MARKREAD #dev timestamp=2023-11-14T22:00:00.000Z")
        assert await until_pong(laptop, "2") == [marker("#dev", "timestamp=2023-11-14T22:13:19.000Z")]
        assert await until_pong(phone, "2") == []
        await phone.send("MARKREAD #DEV timestamp=2100-01-01T00:00:00.000Z", "MARKREAD #Dev", "MARKREAD carol")
        assert await until_pong(phone, "3") == [marker("#DEV", NOW), marker("#Dev", NOW), marker("carol", "*")]
        assert await until_pong(laptop, "3") == [marker("#DEV", NOW)]
        # On JOIN, between the JOIN and the names.
        await phone.send("JOIN #dev")
        assert await phone.lines_until_cmd("366") == [
            ":alicephone!~alice@chinwag JOIN #dev", marker("#dev", NOW),
            f":{SRC} 353 alicephone = #dev @alicephone", f":{SRC} 366 alicephone #dev :End of /NAMES list"]
        await bob.send("JOIN #dev")
        assert (await bob.lines_until_cmd("366"))[:2] == [":bob!~bob@chinwag JOIN #dev", marker("#dev", "*")]
        await bob.send("MARKREAD #dev " + NOW)
        assert await until_pong(bob, "4") == [
            f":{SRC} FAIL MARKREAD ACCOUNT_REQUIRED #dev :Read markers are kept for accounts: log in"]
        # Without the cap: no MARKREAD with the JOIN.
        carol = await device(srv, "carol", "alice", caps=())
        await carol.send("JOIN #dev")
        assert (await carol.lines_until_cmd("366"))[:2] == [
            ":carol!~alice@chinwag JOIN #dev", f":{SRC} 353 carol = #dev :@alicephone bob carol"]
        for c in (laptop, phone, bob, carol):
            await c.close()


async def test_markread_errors_are_the_specs() -> None:
    async with serving() as srv:
        alice = await owner(srv, "alice")
        await alice.send("MARKREAD", "MARKREAD #dev *", "MARKREAD #dev msgid=0123456789abcdef",
                         "MARKREAD #dev timestamp=yesterday", "MARKREAD a,b " + NOW, "MARKREAD #a:b")
        assert await until_pong(alice, "e") == [
            f":{SRC} FAIL MARKREAD NEED_MORE_PARAMS :Missing parameters",
            f":{SRC} FAIL MARKREAD INVALID_PARAMS * :Invalid parameters",
            f":{SRC} FAIL MARKREAD INVALID_PARAMS msgid=0123456789abcdef :Invalid parameters",
            f":{SRC} FAIL MARKREAD INVALID_PARAMS timestamp=yesterday :Invalid parameters",
            f":{SRC} FAIL MARKREAD INVALID_PARAMS a,b :Invalid parameters",
            f":{SRC} FAIL MARKREAD INVALID_PARAMS #a:b :Invalid parameters",
        ]
        await alice.close()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_markers_outlive_a_restart_of_the_server(store: str, tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    db = str(tmp_path / "chinwag.db")
    pg = request.getfixturevalue("pg_url") if store == "postgres" else ""
    async with serving(db, postgres=pg) as srv:
        alice = await owner(srv, "alice")
        await alice.send("MARKREAD #dev timestamp=2023-11-14T22:13:19.500Z")
        assert await until_pong(alice, "1") == [marker("#dev", "timestamp=2023-11-14T22:13:19.500Z")]
        await alice.close()
    async with serving(db, postgres=pg) as srv:
        phone = await device(srv, "phone", "alice")
        await phone.send("MARKREAD #DEV")
        assert await until_pong(phone, "2") == [marker("#DEV", "timestamp=2023-11-14T22:13:19.500Z")]
        await phone.close()

