"""Accounts over real sockets: register, log in, wrong passwords (rate-limited,
hashing in threads, the bystander served), /who marks, password change.

argon2id runs with the real default cost (19 MiB, 2 passes: tens of
milliseconds per hash, see benchmarks/accounts.py) so a stalled loop would show; auth delays are shortened to tens
of milliseconds so the doubling waits fit in a test (shown by the replies,
never timed here).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.transport.server import Server
from tests.conftest import LineClient, make_config
from tests.hostile.bystander import Bystander

FAST = {"auth_delay_ms": 50, "auth_delay_max_ms": 400}
NOTE = "* note: this connection is not encrypted; use TLS (port 2627) if others can see your network"
PASSWORD = "correct-horse-battery"


@contextlib.asynccontextmanager
async def serving(db: str = ":memory:", **limits: int) -> AsyncIterator[Server]:
    srv = Server(dataclasses.replace(make_config(**{**FAST, **limits}), db=db))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


async def text_client(srv: Server, name: str, source: str = "127.0.0.1") -> LineClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"), local_addr=(source, 0))
    c = LineClient(r, w)
    await c.expect("What is your name?")
    await c.send(name)
    await c.expect("* in #lobby")
    return c


async def registered(srv: Server, name: str, password: str = PASSWORD) -> LineClient:
    c = await text_client(srv, name)
    await c.send(f"/register {password}")
    assert await c.expect("* account") == f"* account {name} registered; you are now logged in as {name}"
    return c


async def test_register_then_log_in_from_another_connection_and_who_marks_it() -> None:
    async with serving() as srv:
        alice = await text_client(srv, "alice")
        await alice.send(f"/register {PASSWORD}")
        lines = await alice.lines_until("* account")
        assert lines[-2:] == [NOTE, "* account alice registered; you are now logged in as alice"]
        assert not any(PASSWORD in line for line in lines)
        bob = await text_client(srv, "bob")
        await bob.send("/who")
        assert await bob.expect("* in #lobby:") == "* in #lobby: alice (logged in), bob (2)"
        await alice.send("/logout")
        assert await alice.expect("* you are now") == "* you are now logged out"
        await bob.send(f"/login ALICE {PASSWORD}")
        assert await bob.expect("* you are now") == "* you are now logged in as alice"
        # Logged out, alice holds a registered nick not hers: bob's login takes it
        # back at once (nick protection, core/handlers/users.py).
        assert await bob.expect("* you are now known as") == "* you are now known as alice"
        await bob.send("/who")
        assert await bob.expect("* in #lobby:") == "* in #lobby: Guest1, alice (logged in) (2)"
        assert await alice.expect("* you are now known as") == "* you are now known as Guest1"
        await alice.close()
        await bob.close()


async def test_a_taken_name_a_short_password_and_logout_when_out_are_refused() -> None:
    async with serving() as srv:
        alice = await registered(srv, "alice")
        await alice.send("/nick Alice2")
        await alice.expect("* you are now known as")
        await alice.send("/logout")
        await alice.expect("* you are now logged out")
        await alice.send("/logout")
        assert await alice.expect("error:") == "error: you are not logged in"
        await alice.send("/nick ALICE")
        await alice.expect("* you are now known as")
        await alice.send(f"/register {PASSWORD}")
        assert await alice.expect("error:") == "error: an account with that name already exists"
        mallory = await text_client(srv, "mallory")
        await mallory.send("/register short")
        assert await mallory.expect("error:") == "error: a password must have 8 to 256 characters"
        await mallory.send(f"/login alice {PASSWORD}")
        await mallory.expect("* you are now logged in as alice")
        await mallory.send(f"/login alice {PASSWORD}")
        assert await mallory.expect("error:") == "error: you are already logged in"
        await alice.close()
        await mallory.close()


async def test_wrong_passwords_are_delayed_then_the_guesser_is_closed_and_a_bystander_is_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "chinwag")
    async with serving() as srv:
        owner = await registered(srv, "owner")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        guesser = await text_client(srv, "guesser")
        await guesser.send(*[f"/login owner guess-number-{i}" for i in range(8)])
        replies = [line for line in await guesser.closed() if line.startswith(("error:", "* disconnected"))]
        await guesser.close()
        rtt = await b.stop()
        assert replies == [
            "error: invalid account name or password (next try in 0.05 s)",
            "error: invalid account name or password (next try in 0.1 s)",
            "error: invalid account name or password (next try in 0.2 s)",
            "error: invalid account name or password (next try in 0.4 s)",
            "error: invalid account name or password",
            "* disconnected: too many failed passwords",
        ]
        rtt.assert_served()
        # The owner still gets in (after the account's own delay), and no log line holds a password.
        again = await text_client(srv, "owner2")
        await again.send(f"/login owner {PASSWORD}")
        assert await again.expect("* you are now") == "* you are now logged in as owner"
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert "guess-number" not in text and PASSWORD not in text
        assert "wrong password for account 'owner' from 127.0.0.1" in text
        await b.close()
        await owner.close()
        await again.close()


async def test_an_account_under_attack_from_many_addresses_refuses_logins_for_a_while() -> None:
    async with serving(account_failures=3, auth_window=3600) as srv:
        owner = await registered(srv, "owner")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        for n in range(3):
            guesser = await text_client(srv, f"g{n}", source=f"127.0.0.{n + 2}")
            await guesser.send("/login owner wrong-password")
            assert (await guesser.expect("error:")).startswith("error: invalid account name or password")
            await guesser.close()
        late = await text_client(srv, "late", source="127.0.0.9")
        await late.send(f"/login owner {PASSWORD}")  # even the right one, until the failures drain
        assert (await late.expect("error:")).startswith("error: too many failed logins to this account")
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        await owner.close()
        await late.close()


async def test_password_change_needs_the_old_one_and_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "chinwag.db")
    async with serving(db) as srv:
        alice = await registered(srv, "alice")
        await alice.send("/password wrong-old-one new-password-here")
        assert (await alice.expect("error:")).startswith("error: invalid account name or password")
        await alice.send(f"/password {PASSWORD} new-password-here")
        assert await alice.expect("* password") == "* password of account alice changed"
        await alice.close()
    async with serving(db) as srv:
        bob = await text_client(srv, "bob")
        await bob.send(f"/login alice {PASSWORD}")
        assert (await bob.expect("error:")).startswith("error: invalid account name or password")
        await bob.send("/login alice new-password-here")
        assert await bob.expect("* you are now") == "* you are now logged in as alice"
        await bob.close()


async def test_nobody_can_be_called_nickserv() -> None:
    async with serving() as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
        c = LineClient(r, w)
        await c.expect("What is your name?")
        await c.send("nickserv")
        assert await c.expect("invalid name") == (
            "invalid name: ‘nickserv’ is reserved for the server's services. What is your name?")
        await c.send("eve")
        await c.expect("* in #lobby")
        await c.send("/nick NickServ")
        assert await c.expect("error:") == "error: invalid name: ‘NickServ’ is reserved for the server's services"
        await c.close()
