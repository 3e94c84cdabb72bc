"""chinwag on a real PostgreSQL: the database going away mid-conversation, and
a whole server (``chinwag serve --postgres``) restarted with its history.

PostgreSQL down is a full disk to the server: senders are told "not sent",
nothing unstored is delivered, the server keeps answering, and the next message
after PostgreSQL is back is delivered and in history (the pool reconnects).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import signal
from collections.abc import AsyncIterator

import pytest

from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_failures import NOT_SENT, healthz, irc_in_lobby
from tests.hostile.test_hostile import text_client
from tests.services import Postgres, free_port
from tests.test_cli import named, start
from tests.transport.test_chathistory import batch

HISTORY_CAPS = ("batch", "server-time", "message-tags", "draft/chathistory")


@pytest.fixture
async def own_postgres() -> AsyncIterator[Postgres]:
    """A PostgreSQL of this test's own, which it may stop and start."""
    pg = Postgres()
    await asyncio.to_thread(pg.start)
    try:
        yield pg
    finally:
        await asyncio.to_thread(pg.close)


async def test_postgres_stopped_senders_told_not_sent_then_it_returns_and_chat_resumes(
    own_postgres: Postgres,
) -> None:
    pg = own_postgres
    cfg = dataclasses.replace(make_config(store_timeout=1), postgres=pg.database())
    srv = Server(cfg)
    await srv.start()
    try:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        tom = await text_client(srv, "tom")
        bob = await irc_in_lobby(srv, "bob", ("standard-replies",))
        await tom.send("before PostgreSQL stopped")
        assert (await bob.expect_cmd("PRIVMSG")).endswith("PRIVMSG #lobby :before PostgreSQL stopped")
        assert await healthz(srv) == (200, "ok")

        await asyncio.to_thread(pg.stop)
        await tom.send("said while PostgreSQL was down")
        assert await tom.expect("not sent") == NOT_SENT
        await bob.send("PRIVMSG #lobby :bob too", "PING :alive")
        got = await bob.lines_until_cmd("FAIL")
        assert got == [":chinwag PONG chinwag alive",
                       ":chinwag FAIL PRIVMSG TEMPORARILY_UNAVAILABLE #lobby :Message not sent: history store "
                       "unavailable (disk full?)"]
        status, body = await healthz(srv)
        assert status == 503
        assert body.startswith("history store unavailable: PostgreSQL unreachable: ")
        assert body.endswith("\nmessages are not being sent")

        await asyncio.to_thread(pg.start)
        await tom.send("PostgreSQL is back")
        # The next PRIVMSG bob sees is this one: nothing said while it was down was delivered.
        assert (await bob.expect_cmd("PRIVMSG")).endswith("PRIVMSG #lobby :PostgreSQL is back")
        await tom.send("/history 10")
        got = await tom.lines_until("--- end of history ---")
        assert [line.split("] ", 1)[-1] for line in got if ": " in line and "history" not in line] == [
            "tom: before PostgreSQL stopped", "tom: PostgreSQL is back"]
        assert await healthz(srv) == (200, "ok")
        rtt = await b.stop()
        rtt.assert_served()
        for c in (tom, bob):
            await c.close()
        await b.close()
    finally:
        await srv.shutdown()


async def _serve(url: str, irc_port: int) -> tuple[asyncio.subprocess.Process, int]:
    return await start("--text-port", "0", "--irc-port", str(irc_port), "--postgres", url,
                       "--db", "/nonexistent/never-used.db")


async def _irc(port: int, nick: str) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    c = IrcClient(r, w)
    await c.register(nick, HISTORY_CAPS)
    await c.send("JOIN #lobby")
    await c.expect_cmd("366")
    return c


async def _stop(proc: asyncio.subprocess.Process, *clients: LineClient) -> None:
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    for c in clients:
        await c.close()


async def test_a_whole_server_on_postgres_keeps_history_across_a_restart(pg_url: str) -> None:
    """``chinwag serve --postgres URL`` (the SQLite path given does not even
    exist): text and IRC users chat; the server restarts; an IRC client's
    CHATHISTORY and a text user's join show the conversation, and room rules
    (the topic) and accounts are still there."""
    irc_port = free_port()
    proc, port = await _serve(pg_url, irc_port)
    b = await Bystander.join(irc_port)
    b.start()
    alice = await named(port, "alice")
    bob = await _irc(irc_port, "bob")
    await alice.send("/register alicepassword")
    await alice.expect("* account alice registered")
    await alice.send("hello from the terminal")
    assert (await bob.expect_cmd("PRIVMSG")).endswith(":alice!~alice@chinwag PRIVMSG #lobby :hello from the terminal")
    await bob.send("PRIVMSG #lobby :hello from IRC", "JOIN #kept", "TOPIC #kept :kept in PostgreSQL",
                   "PRIVMSG #kept :a room's rules last as long as its history")
    await alice.expect("bob: hello from IRC")
    assert (await bob.expect_cmd("TOPIC")).endswith(" TOPIC #kept :kept in PostgreSQL")
    (await b.stop()).assert_served()
    await b.close()
    await _stop(proc, alice, bob)

    proc, port = await _serve(pg_url, irc_port)
    b = await Bystander.join(irc_port)
    b.start()
    carol = await _irc(irc_port, "carol")
    await carol.send("JOIN #kept")
    assert await carol.expect_cmd("332") == ":chinwag 332 carol #kept :kept in PostgreSQL"
    _, lines = await batch(carol, "CHATHISTORY LATEST #lobby * 10")
    said = [re.sub(r"^@\S+ ", "", line) for line in lines]
    assert said == [":alice!~alice@chinwag PRIVMSG #lobby :hello from the terminal",
                    ":bob!~bob@chinwag PRIVMSG #lobby :hello from IRC"]
    dave = await named(port, "dave")  # the text protocol shows recent history on joining
    await dave.send("/history 10")
    got = await dave.lines_until("--- end of history ---")
    assert [line.split("] ", 1)[-1] for line in got if ": hello" in line] == [
        "alice: hello from the terminal", "bob: hello from IRC"]
    await dave.send("/login alice alicepassword")
    await dave.expect("you are now logged in as alice")
    (await b.stop()).assert_served()
    await b.close()
    await _stop(proc, carol, dave)
