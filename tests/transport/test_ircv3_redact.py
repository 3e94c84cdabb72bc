"""IRCv3 draft/message-redaction over real sockets: authors and room operators
remove a message everywhere, history included; clients without the cap get
nothing, text users a line. Whole lines are compared."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config
from tests.transport.test_ircv3_multiline import sent, until_pong, without_tag

SRC = "chinwag"
RED = ("message-tags", "echo-message", "draft/message-redaction")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def srv(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    db = ":memory:" if request.param == "memory" else str(tmp_path / "history.db")
    pg = request.getfixturevalue("pg_url") if request.param == "postgres" else ""
    server = Server(dataclasses.replace(make_config(), db=db, postgres=pg))
    await server.start()
    yield server
    await server.shutdown()


async def irc(srv: Server, nick: str, caps: tuple[str, ...] = (), room: str | None = "#dev") -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick, caps)
    if room:
        await c.send(f"JOIN {room}")
        await c.expect_cmd("366")
    return c


async def text(srv: Server, name: str) -> LineClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
    c = LineClient(r, w)
    await c.send(name, "/join #dev")
    await c.expect("* in #dev")
    # Input waits while the join's history is read (a slower store may read
    # what is said meanwhile): answered, so what follows is live.
    await c.send("/rooms")
    await c.expect("* rooms: ")
    return c


async def say(c: IrcClient, target: str, words: str) -> str:
    """Send a message (``c`` has echo-message); return its msgid."""
    await c.send(f"PRIVMSG {target} :{words}")
    echo = await c.expect_cmd("PRIVMSG")
    line, msgid = without_tag(echo, "msgid")
    assert line == f":{c.nick}!~{c.nick}@chinwag PRIVMSG {target} :{words}", echo
    return msgid


async def history(c: IrcClient, target: str) -> list[str]:
    await c.send(f"CHATHISTORY LATEST {target} * 10")
    await c.expect_cmd("BATCH")
    body = await c.lines_until_cmd("BATCH")
    return [re.sub(r"^@batch=[^; ]+;?", "@", b).removeprefix("@ ") for b in body[:-1]]


async def test_the_author_redacts_everywhere_history_included(srv: Server) -> None:
    alice = await irc(srv, "alice", (*RED, "batch", "draft/chathistory"))
    bob = await irc(srv, "bob", RED)
    carol = await irc(srv, "carol")
    dave = await text(srv, "dave")
    for c in (alice, bob, carol):
        await until_pong(c, "joins")
    kept = await say(alice, "#dev", "kept")
    oops = await say(alice, "#dev", "oops, my password is hunter2")
    await alice.send(f"REDACT #dev {oops} typo")
    line, rid = without_tag(await alice.expect_cmd("REDACT"), "msgid")
    assert line == f":alice!~alice@chinwag REDACT #dev {oops} typo" and rid not in (kept, oops)
    await sent(alice)
    assert [without_tag(x, "msgid")[0] for x in await until_pong(bob, "b")] == [
        ":alice!~alice@chinwag PRIVMSG #dev :kept", ":alice!~alice@chinwag PRIVMSG #dev :oops, my password is hunter2",
        f":alice!~alice@chinwag REDACT #dev {oops} typo"]
    assert await until_pong(carol, "c") == [  # without the cap: nothing more
        ":alice!~alice@chinwag PRIVMSG #dev :kept", ":alice!~alice@chinwag PRIVMSG #dev :oops, my password is hunter2"]
    await dave.expect("alice: oops")
    assert await dave.line() == "* alice removed a message (typo)"
    assert [m.msgid for m in await srv.store.latest("#dev", 10)] == [kept]
    assert await history(alice, "#dev") == [f"@msgid={kept} :alice!~alice@chinwag PRIVMSG #dev :kept"]
    for c in (alice, bob, carol, dave):
        await c.close()


async def test_only_the_author_and_room_operators_may_redact(srv: Server) -> None:
    op = await irc(srv, "op", RED)  # the room's creator: its operator
    alice = await irc(srv, "alice", RED)
    bob = await irc(srv, "bob", RED)
    dave = await text(srv, "dave")
    for c in (op, alice, bob):
        await until_pong(c, "joins")
    first = await say(alice, "#dev", "first")
    await sent(alice)
    await bob.send(f"REDACT #dev {first} :not yours")
    assert await bob.expect_cmd("FAIL") == (
        f":{SRC} FAIL REDACT REDACT_FORBIDDEN #dev {first} :You are not authorised to delete this message")
    await op.expect_cmd("PRIVMSG")
    await op.send(f"REDACT #dev {first} spam")
    assert without_tag(await op.expect_cmd("REDACT"), "msgid")[0] == f":op!~op@chinwag REDACT #dev {first} spam"
    for c in (alice, bob):
        assert without_tag(await c.expect_cmd("REDACT"), "msgid")[0] == f":op!~op@chinwag REDACT #dev {first} spam"
    assert await dave.expect("removed") == "* op removed a message from alice (spam)"
    # Gone: a second try finds nothing.
    await alice.send(f"REDACT #dev {first}")
    assert await alice.expect_cmd("FAIL") == (
        f":{SRC} FAIL REDACT UNKNOWN_MSGID #dev {first} :This message does not exist or is too old")
    for c in (op, alice, bob, dave):
        await c.close()


async def test_unknown_ids_and_rooms_one_is_not_in_reveal_nothing(srv: Server) -> None:
    insider = await irc(srv, "insider", RED, room="#secret")
    there = await say(insider, "#secret", "classified")
    alice = await irc(srv, "alice", RED)
    await alice.send(f"REDACT #secret {there}", "REDACT #secret 0123456789abcdef", "REDACT #nowhere 0123456789abcdef",
                     "REDACT #dev 0123456789abcdef :why", "REDACT #dev zzz", "REDACT #dev")
    assert await until_pong(alice, "a") == [
        f":{SRC} FAIL REDACT INVALID_TARGET #secret :You cannot delete messages from #secret",
        f":{SRC} FAIL REDACT INVALID_TARGET #secret :You cannot delete messages from #secret",
        f":{SRC} FAIL REDACT INVALID_TARGET #nowhere :You cannot delete messages from #nowhere",
        f":{SRC} FAIL REDACT UNKNOWN_MSGID #dev 0123456789abcdef :This message does not exist or is too old",
        f":{SRC} FAIL REDACT UNKNOWN_MSGID #dev zzz :This message does not exist or is too old",
        f":{SRC} 461 alice REDACT :not enough parameters",
    ]
    assert [m.text for m in await srv.store.latest("#secret", 5)] == ["classified"]
    await insider.close()
    await alice.close()


async def test_private_messages_only_their_author_redacts(srv: Server) -> None:
    alice = await irc(srv, "alice", RED, room=None)
    bob = await irc(srv, "bob", RED, room=None)
    to_bob = await say(alice, "bob", "psst")
    assert without_tag(await bob.expect_cmd("PRIVMSG"), "msgid")[0] == ":alice!~alice@chinwag PRIVMSG bob :psst"
    await bob.send(f"REDACT alice {to_bob}")
    assert await bob.expect_cmd("FAIL") == (
        f":{SRC} FAIL REDACT REDACT_FORBIDDEN alice {to_bob} :You are not authorised to delete this message")
    await alice.send(f"REDACT bob {to_bob}")
    assert without_tag(await alice.expect_cmd("REDACT"), "msgid")[0] == f":alice!~alice@chinwag REDACT bob {to_bob}"
    assert without_tag(await bob.expect_cmd("REDACT"), "msgid")[0] == f":alice!~alice@chinwag REDACT bob {to_bob}"
    assert await srv.store.latest("@alice,bob", 5) == []
    await alice.close()
    await bob.close()
