"""Password guessing over real sockets: checks run in threads, rate-limited.

Hashes use the real default iterations (tens of milliseconds each), as a
config made with ``chinwag hash-password`` does. Delays are shortened (tens of
milliseconds instead of seconds) so that the growing waits fit in a test; the
waits are shown by the replies and the WARNING log, never timed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
import threading

import pytest

from chinwag.core import auth
from chinwag.core.auth import hash_password
from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import serving_config

OPER_PASSWORD = "correct-horse-battery"
SERVER_PASSWORD = "letmein"
FAST = {"auth_delay_ms": 50, "auth_delay_max_ms": 400}  # 0.05 s doubling to 0.4 s


@functools.cache
def hashed(password: str) -> str:
    return hash_password(password)  # the real default iterations


def serving(password: str = "", **limits: int) -> contextlib.AbstractAsyncContextManager[Server]:
    return serving_config(dataclasses.replace(
        make_config(**{**FAST, **limits}),
        password=hashed(password) if password else "",
        operators={"admin": hashed(OPER_PASSWORD)},
    ))


async def irc_from(srv: Server, source: str = "127.0.0.1") -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"), local_addr=(source, 0))
    return IrcClient(r, w)


async def text_from(srv: Server) -> LineClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
    c = LineClient(r, w)
    await c.expect("What is your name?")
    return c


def waits(caplog: pytest.LogCaptureFixture, kind: str) -> list[str]:
    """What each WARNING about a wrong ``kind`` said would happen next."""
    return [
        r.getMessage().rsplit("; ", 1)[1]
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage().startswith(f"wrong {kind}")
    ]


async def test_ten_connections_guessing_oper_leave_a_bystander_served(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten guessers from ten addresses, each pipelining guesses as fast as it
    likes: every check runs in a worker thread, each connection is closed after
    auth_failures, and the bystander's PING stays served."""
    threads: list[str] = []
    real_verify = auth.verify_password

    def recording_verify(stored: str, given: str) -> bool:
        threads.append(threading.current_thread().name)
        return real_verify(stored, given)

    monkeypatch.setattr(auth, "verify_password", recording_verify)
    async with serving(auth_failures=5, auth_failures_per_ip=1000) as srv:
        b = await Bystander.join(srv.port("irc"))
        guessers = []
        for i in range(10):
            g = await irc_from(srv, f"127.0.0.{i + 2}")
            await g.register(f"guesser{i}")
            guessers.append(g)
        b.start()
        for i, g in enumerate(guessers):
            await g.send(*(f"OPER admin guess{i}-{n}" for n in range(10)))
        for i, g in enumerate(guessers):
            for _ in range(5):
                assert await g.line(timeout=30) == f":chinwag 464 guesser{i} :password incorrect"
        rtt = await b.stop()
        rtt.assert_served()
        for i, g in enumerate(guessers):
            assert await g.closed() == [f"ERROR :Closing Link: guesser{i} (too many failed passwords)"]
        assert len(threads) == 50
        assert all(name.startswith("chinwag-auth") for name in threads), set(threads)
        await b.close()
        for g in guessers:
            await g.close()


async def test_oper_guesses_from_one_address_wait_longer_then_are_refused(caplog: pytest.LogCaptureFixture) -> None:
    """One address: each failure doubles the wait before the next check of any
    connection from it; the right password still gets in after the wait; past
    auth_failures_per_ip its checks are refused and the connection closed, but
    a password accepted before still gets in. One connection alone is closed
    after auth_failures."""
    caplog.set_level(logging.WARNING, logger="chinwag.auth")
    async with serving(auth_failures=3, auth_failures_per_ip=6) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        clients: list[IrcClient] = []

        async def guesser(nick: str, source: str = "127.0.0.1") -> IrcClient:
            c = await irc_from(srv, source)
            await c.register(nick)
            clients.append(c)
            return c

        a, bob = await guesser("a"), await guesser("bob")
        await a.send("OPER admin one", "OPER admin two")
        await bob.send("OPER nobody three", "OPER admin four")  # an unknown name answers the same
        for c in (a, a, bob, bob):
            assert await c.line() == f":chinwag 464 {c.nick} :password incorrect"
        await a.send(f"OPER admin {OPER_PASSWORD}")  # waits 0.4 s, then is checked
        assert await a.line() == ":chinwag 381 a :You are now an IRC operator"
        c = await guesser("c")
        await c.send("OPER admin five", "OPER admin six", "OPER admin seven")
        assert await c.line() == ":chinwag 464 c :password incorrect"
        assert await c.line() == ":chinwag 464 c :password incorrect"
        assert await c.closed() == ["ERROR :Closing Link: c (too many failed passwords from 127.0.0.1)"]
        d = await guesser("d")
        await d.send("OPER admin eight")
        assert await d.closed() == ["ERROR :Closing Link: d (too many failed passwords from 127.0.0.1)"]
        e = await guesser("e")
        await e.send(f"OPER admin {OPER_PASSWORD}")  # accepted before: let in, refused address or not
        assert await e.line() == ":chinwag 381 e :You are now an IRC operator"
        f = await guesser("f", "127.0.0.2")  # another address: only its own connection limit
        await f.send("OPER admin x", "OPER admin y", "OPER admin z", "OPER admin never-checked")
        assert await f.closed() == [":chinwag 464 f :password incorrect"] * 3 + [
            "ERROR :Closing Link: f (too many failed passwords)"
        ]
        rtt = await b.stop()
        rtt.assert_served()
        assert waits(caplog, "operator password") == [
            "next try in 0.05 s", "next try in 0.1 s", "next try in 0.2 s", "next try in 0.4 s",
            "next try in 0.4 s", "closing it",  # 127.0.0.1: the sixth failure
            "next try in 0.05 s", "next try in 0.1 s", "closing it",  # 127.0.0.2: the third on one connection
        ]
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert re.fullmatch(r"wrong operator password for 'admin' from 127\.0\.0\.1 \(conn \d+; failures: "
                            r"1 on this connection, 1 from this address\); next try in 0\.05 s", warnings[0])
        assert any(re.fullmatch(r"refusing operator password check from 127\.0\.0\.1 \(conn \d+\): "
                                r"6 recent failures from this address", w) for w in warnings), warnings
        assert "'nobody'" in "".join(warnings) and OPER_PASSWORD not in "".join(warnings)
        await b.close()
        for c in clients:
            await c.close()


async def test_server_password_guesses_on_irc_and_the_text_prompt(caplog: pytest.LogCaptureFixture) -> None:
    """PASS and the text protocol's password prompt share the limits of their
    address: the text prompt asks again with the growing wait, a connection is
    closed after auth_failures, an address refused after auth_failures_per_ip."""
    caplog.set_level(logging.WARNING, logger="chinwag.auth")
    async with serving(SERVER_PASSWORD, auth_failures=3, auth_failures_per_ip=5) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        client = IrcClient(r, w)
        await client.send(f"PASS {SERVER_PASSWORD}")
        await client.register("bystander")
        b = Bystander(client)
        b.start()
        tess = await text_from(srv)
        await tess.send("tess", "guess1")
        assert await tess.line() == "This server has a password. Password?"
        assert await tess.line() == "* wrong password (next try in 0.05 s). Password?"
        await tess.send("guess2")
        assert await tess.line() == "* wrong password (next try in 0.1 s). Password?"
        await tess.send("guess3")
        assert await tess.closed() == ["* wrong password.", "* disconnected: too many failed passwords"]
        irc1 = await irc_from(srv)
        await irc1.send("PASS nope", "NICK irc1", "USER irc1 0 * :x")
        assert await irc1.closed() == [":chinwag 464 * :password incorrect", "ERROR :Closing Link: * (Bad Password)"]
        irc2 = await irc_from(srv)
        await irc2.send("PASS nope", "NICK irc2", "USER irc2 0 * :x")
        assert await irc2.closed() == [
            ":chinwag 464 * :password incorrect",
            "ERROR :Closing Link: * (too many failed passwords from 127.0.0.1)",
        ]
        irc3 = await irc_from(srv)
        await irc3.send(f"PASS {SERVER_PASSWORD}x", "NICK irc3", "USER irc3 0 * :x")
        assert await irc3.closed() == ["ERROR :Closing Link: * (too many failed passwords from 127.0.0.1)"]
        tom = await text_from(srv)
        await tom.send("tom", "guess")
        assert await tom.closed() == [
            "This server has a password. Password?",
            "* disconnected: too many failed passwords from 127.0.0.1",
        ]
        ok = await irc_from(srv)  # the right password, accepted before: let in
        await ok.send(f"PASS {SERVER_PASSWORD}")
        await ok.register("ok")
        rtt = await b.stop()
        rtt.assert_served()
        assert waits(caplog, "server password") == [
            "next try in 0.05 s", "next try in 0.1 s", "closing it",  # tess: three on one connection
            "next try in 0.4 s", "closing it",  # irc1, then irc2: the fifth from the address
        ]
        assert all(" from 127.0.0.1 (conn " in m for m in caplog.messages if "server password" in m)
        await b.close()
        for c in (tess, irc1, irc2, irc3, tom, ok):
            await c.close()
