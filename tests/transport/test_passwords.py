"""Password checks in the transport: order, labels and waits, over real sockets."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from chinwag.core.auth import hash_password
from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config


def make_server() -> Server:
    return Server(dataclasses.replace(
        make_config(auth_delay_ms=50, auth_delay_max_ms=1000),
        password=hash_password("letmein", iterations=1000),
        operators={"admin": hash_password("hunter2", iterations=1000)},
    ))


@pytest.fixture
async def srv() -> AsyncIterator[Server]:
    server = make_server()
    await server.start()
    yield server
    await server.shutdown()


async def irc_user(srv: Server, nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.send("PASS letmein")
    await c.register(nick, caps)
    return c


async def test_lines_after_a_password_check_wait_behind_it(srv: Server) -> None:
    alice = await irc_user(srv, "alice")
    await alice.send("OPER admin wrong", "PING :after-first", "OPER admin hunter2", "PING :after-second")
    assert await alice.line() == ":chinwag 464 alice :password incorrect"
    assert await alice.line() == ":chinwag PONG chinwag after-first"
    assert await alice.line() == ":chinwag 381 alice :You are now an IRC operator"
    assert await alice.line() == ":alice MODE alice +o"
    assert await alice.line() == ":chinwag PONG chinwag after-second"
    await alice.close()


async def test_a_labeled_oper_carries_only_its_own_answer(srv: Server) -> None:
    """While a labeled OPER waits for its check, others' messages reach the
    user as usual, not inside the label's answer."""
    alice = await irc_user(srv, "alice", ("labeled-response", "batch", "message-tags"))
    bob = await irc_user(srv, "bob")
    for c in (alice, bob):
        await c.send("JOIN #room")
        await c.expect_cmd("366")
    await alice.expect(":bob!~bob@chinwag JOIN #room")
    await alice.send("OPER admin wrong1")
    assert await alice.line() == ":chinwag 464 alice :password incorrect"
    srv.passwords.per_ip.fail("ip 127.0.0.1")  # make the next check wait (a second failure: 0.1 s)
    srv.passwords.per_ip.fail("ip 127.0.0.1")  # (a third: 0.2 s)
    await alice.send("@label=L1 OPER admin wrong2")
    await bob.send("PRIVMSG #room :while you wait")
    lines = [await alice.line(), await alice.line()]
    assert "@label=L1 :chinwag 464 alice :password incorrect" in lines
    [during] = [line for line in lines if "while you wait" in line]
    assert "label=" not in during and "batch=" not in during
    await alice.close()
    await bob.close()


async def test_a_right_password_after_wrong_ones_waits_then_gets_in(srv: Server) -> None:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
    tess = LineClient(r, w)
    await tess.send("tess", "guess")
    await tess.expect("Password?")
    assert await tess.line() == "* wrong password (next try in 0.05 s). Password?"
    await tess.send("letmein")
    assert await tess.line() == "Welcome to chinwag, tess! Type /help for commands."
    await tess.close()


async def test_shutdown_does_not_wait_for_a_delayed_check() -> None:
    srv = make_server()
    await srv.start()
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
    tess = LineClient(r, w)
    for _ in range(8):
        srv.passwords.per_ip.fail("ip 127.0.0.1")  # the next check waits 1 s (the cap)
    await tess.send("tess", "guess")
    await tess.expect("Password?")
    await srv.shutdown()
    assert (await tess.closed())[-1] == "* server is shutting down"
    assert not srv.passwords._running
    await tess.close()
