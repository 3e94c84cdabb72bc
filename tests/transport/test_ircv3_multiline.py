"""IRCv3 draft/multiline over real sockets: a client batch becomes one message,
delivered as a batch to clients with the cap, as separate PRIVMSG lines to the
others, as several lines to text users, and stored once in history.
Whole lines are compared (command, source and every parameter)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator

import pytest

from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config

ML = ("batch", "message-tags", "draft/multiline")
SRC = "chinwag"
A = "alice!~alice@chinwag"


@pytest.fixture
async def srv() -> AsyncIterator[Server]:
    server = Server(make_config(multiline_max_lines=5, multiline_max_bytes=60))
    await server.start()
    yield server
    await server.shutdown()


async def irc(srv: Server, nick: str, caps: tuple[str, ...] = (), room: str = "#dev") -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick, caps)
    await c.send(f"JOIN {room}")
    await c.expect_cmd("366")
    return c


async def text(srv: Server, name: str) -> LineClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
    c = LineClient(r, w)
    await c.send(name, "/join #dev")
    await c.expect("* in #dev")
    return c


async def until_pong(c: IrcClient, token: str) -> list[str]:
    """Every line before the PONG answering ``PING token``."""
    await c.send(f"PING {token}")
    lines = await c.lines_until_cmd("PONG")
    assert lines[-1] == f":{SRC} PONG {SRC} {token}"
    return lines[:-1]


def without_tag(line: str, name: str) -> tuple[str, str]:
    """(the line without tag ``name``, that tag's value)."""
    found = re.search(rf"(?:^@|;){re.escape(name)}=([^; ]*)", line)
    assert found, (name, line)
    value = found.group(1)
    stripped = line.replace(f"{name}={value};", "").replace(f";{name}={value}", "").replace(f"@{name}={value} ", "")
    return stripped, value


async def send_batch(c: IrcClient, target: str, *lines: str, ref: str = "b1") -> None:
    await c.send(f"BATCH +{ref} draft/multiline {target}", *lines, f"BATCH -{ref}")


async def sent(c: IrcClient) -> None:
    """Wait until the server handled what ``c`` sent (what it sends others is then on its way)."""
    assert await until_pong(c, "sent") == []


async def test_a_batch_is_one_message_as_a_batch_as_lines_as_text_and_once_in_history(srv: Server) -> None:
    bob = await irc(srv, "bob", ML)
    carol = await irc(srv, "carol")
    dave = await text(srv, "dave")
    alice = await irc(srv, "alice", ML)
    await until_pong(bob, "s")
    await until_pong(carol, "s")
    await dave.expect("* alice has joined #dev")
    await send_batch(alice, "#dev", "@batch=b1 PRIVMSG #dev hello", "@batch=b1 PRIVMSG #dev :how is ",
                     "@batch=b1;draft/multiline-concat PRIVMSG #dev :everyone?", "@batch=b1 PRIVMSG #dev :",
                     "@batch=b1 PRIVMSG #dev :bye")
    await sent(alice)
    got = await until_pong(bob, "x")
    opening, msgid = without_tag(got[0], "msgid")
    ref = opening.rsplit(" ", 3)[1][1:]
    assert opening == f":{A} BATCH +{ref} draft/multiline #dev"
    assert got[1:] == [
        f"@batch={ref} :{A} PRIVMSG #dev :hello",
        f"@batch={ref} :{A} PRIVMSG #dev :how is ",
        f"@batch={ref};draft/multiline-concat :{A} PRIVMSG #dev :everyone?",
        f"@batch={ref} :{A} PRIVMSG #dev :",
        f"@batch={ref} :{A} PRIVMSG #dev :bye",
        f":{SRC} BATCH -{ref}",
    ]
    # Without the cap: the lines as composed, the blank one left out.
    assert await until_pong(carol, "y") == [
        f":{A} PRIVMSG #dev :hello", f":{A} PRIVMSG #dev :how is ", f":{A} PRIVMSG #dev :everyone?",
        f":{A} PRIVMSG #dev :bye"]
    shown = [await dave.line() for _ in range(3)]
    assert [re.sub(r"^\[\d\d:\d\d\] ", "", line) for line in shown] == [
        "alice: hello", "alice: how is everyone?", "alice: bye"]
    # Stored once, with its line feeds, under one msgid.
    stored = await srv.store.latest("#dev", 10)
    assert [(m.msgid, m.nick, m.text) for m in stored] == [(msgid, "alice", "hello\nhow is everyone?\n\nbye")]
    # History: each line its own PRIVMSG (msgid on the first), inside the chathistory batch.
    await carol.send("CAP REQ :batch message-tags draft/chathistory")
    await carol.expect_cmd("CAP")
    await carol.send("CHATHISTORY LATEST #dev * 10")
    head = await carol.expect_cmd("BATCH")
    href = head.split(" ")[2][1:]
    body = await carol.lines_until_cmd("BATCH")
    assert body == [
        f"@batch={href};msgid={msgid} :{A} PRIVMSG #dev :hello",
        f"@batch={href} :{A} PRIVMSG #dev :how is everyone?",
        f"@batch={href} :{A} PRIVMSG #dev :bye",
        f":{SRC} BATCH -{href}",
    ]
    # To a client with draft/multiline: one multiline batch nested in the history batch,
    # as it came live (the blank line kept; the concatenation is stored joined).
    await bob.send("CAP REQ :draft/chathistory")
    await bob.expect_cmd("CAP")
    await bob.send("CHATHISTORY LATEST #dev * 10")
    got = await until_pong(bob, "h")
    href = got[0].split(" ")[2][1:]
    ml = got[1].split(" ")[3][1:]
    assert got == [
        f":{SRC} BATCH +{href} chathistory #dev",
        f"@batch={href};msgid={msgid} :{A} BATCH +{ml} draft/multiline #dev",
        f"@batch={ml} :{A} PRIVMSG #dev :hello",
        f"@batch={ml} :{A} PRIVMSG #dev :how is everyone?",
        f"@batch={ml} :{A} PRIVMSG #dev :",
        f"@batch={ml} :{A} PRIVMSG #dev :bye",
        f":{SRC} BATCH -{ml}",
        f":{SRC} BATCH -{href}",
    ]
    for c in (alice, bob, carol, dave):
        await c.close()


async def test_a_join_playback_replays_a_multiline_message_as_a_nested_batch() -> None:
    server = Server(dataclasses.replace(make_config(multiline_max_lines=5, multiline_max_bytes=60),
                                        irc_history_on_join=10))
    await server.start()
    try:
        alice = await irc(server, "alice", ML)
        await send_batch(alice, "#dev", "@batch=b1 PRIVMSG #dev one", "@batch=b1 PRIVMSG #dev two")
        await sent(alice)
        r, w = await asyncio.open_connection("127.0.0.1", server.port("irc"))
        erin = IrcClient(r, w)
        await erin.register("erin", ML)  # no draft/chathistory: the join's playback
        await erin.send("JOIN #dev")
        await erin.expect_cmd("366")
        got = await until_pong(erin, "p")
        href = got[0].split(" ")[2][1:]
        opening, _ = without_tag(got[1], "msgid")
        ml = opening.split(" ")[3][1:]
        stamped = re.sub(r":\[\d\d:\d\d\] one$", ":one", got[2])  # (no server-time: the time in the text)
        assert got[2] != stamped
        assert [got[0], opening, stamped, *got[3:]] == [
            f":{SRC} BATCH +{href} chathistory #dev",
            f"@batch={href} :{A} BATCH +{ml} draft/multiline #dev",
            f"@batch={ml} :{A} PRIVMSG #dev :one",
            f"@batch={ml} :{A} PRIVMSG #dev :two",
            f":{SRC} BATCH -{ml}",
            f":{SRC} BATCH -{href}",
        ]
        for c in (alice, erin):
            await c.close()
    finally:
        await server.shutdown()


async def test_cap_value_and_limits_fail_with_the_spec_codes_and_nothing_is_sent(srv: Server) -> None:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    probe = IrcClient(r, w)
    await probe.send("CAP LS 302")
    ls = await probe.expect_cmd("CAP")
    assert "draft/multiline=max-bytes=60,max-lines=5" in ls.split(" :", 1)[1].split()
    await probe.close()
    bob = await irc(srv, "bob", ML)
    alice = await irc(srv, "alice", ML)
    await until_pong(bob, "s")
    line = "@batch={} PRIVMSG #dev :{}"
    await send_batch(alice, "#dev", *(line.format("b1", f"line {i}") for i in range(6)), ref="b1")
    await send_batch(alice, "#dev", line.format("b2", "x" * 40), line.format("b2", "y" * 20), ref="b2")
    await send_batch(alice, "#dev", line.format("b3", "ok"), "@batch=b3 PRIVMSG #other :elsewhere", ref="b3")
    await send_batch(alice, "#dev", "@batch=b4 NOTICE #dev :no", ref="b4")
    await send_batch(alice, "#dev", line.format("b5", ""), ref="b5")
    await alice.send("BATCH +b6 draft/multiline #dev", "@batch=b6;draft/multiline-concat PRIVMSG #dev :", "BATCH -b6")
    await alice.send("BATCH -nothing")
    assert await until_pong(alice, "a") == [
        f":{SRC} FAIL BATCH MULTILINE_MAX_LINES 5 :Multiline batch max-lines exceeded",
        f":{SRC} FAIL BATCH MULTILINE_MAX_BYTES 60 :Multiline batch max-bytes exceeded",
        f":{SRC} FAIL BATCH MULTILINE_INVALID_TARGET #dev #other :Invalid multiline target",
        f":{SRC} FAIL BATCH MULTILINE_INVALID :Invalid multiline batch: only PRIVMSG lines",
        f":{SRC} FAIL BATCH MULTILINE_INVALID :Invalid multiline batch: no message",
        f":{SRC} FAIL BATCH MULTILINE_INVALID :Invalid multiline batch: a blank line to concatenate",
        f":{SRC} FAIL BATCH MULTILINE_INVALID :Invalid multiline batch: no such batch open",
    ]
    # 60 bytes exactly (two lines of 29 and the line feed between) is within the limit.
    await send_batch(alice, "#dev", line.format("b7", "a" * 29), line.format("b7", "b" * 30), ref="b7")
    await sent(alice)
    got = await until_pong(bob, "b")
    ref = got[0].split(" ")[3][1:]
    assert [without_tag(got[0], "msgid")[0], *got[1:]] == [  # nothing of the refused batches reached bob
        f":{A} BATCH +{ref} draft/multiline #dev",
        f"@batch={ref} :{A} PRIVMSG #dev :{'a' * 29}",
        f"@batch={ref} :{A} PRIVMSG #dev :{'b' * 30}",
        f":{SRC} BATCH -{ref}",
    ]
    # Without the cap, a BATCH is refused too.
    carol = await irc(srv, "carol")
    await send_batch(carol, "#dev", line.format("c", "hi"), ref="c")
    assert await until_pong(carol, "c") == [
        f":{SRC} FAIL BATCH MULTILINE_INVALID :Invalid multiline batch",
        f":{SRC} FAIL BATCH MULTILINE_INVALID :Invalid multiline batch: no such batch open"]
    for c in (alice, bob, carol):
        await c.close()


async def test_no_line_of_a_multiline_message_can_inject_a_protocol_line(srv: Server) -> None:
    bob = await irc(srv, "bob")
    dave = await text(srv, "dave")
    alice = await irc(srv, "alice", ML)
    await until_pong(bob, "s")
    await dave.expect("* alice has joined #dev")
    # A line that reads like a server line, and an OSC sequence never terminated on
    # its line: each line is sanitized on its own, so it cannot eat the next one.
    await send_batch(alice, "#dev", "@batch=b1 PRIVMSG #dev ::evil!e@e KICK #dev bob",
                     "@batch=b1 PRIVMSG #dev :title\x1b]0;owned", "@batch=b1 PRIVMSG #dev :next")
    await sent(alice)
    assert await until_pong(bob, "z") == [
        f":{A} PRIVMSG #dev ::evil!e@e KICK #dev bob", f":{A} PRIVMSG #dev :title", f":{A} PRIVMSG #dev :next"]
    shown = [re.sub(r"^\[\d\d:\d\d\] ", "", await dave.line()) for _ in range(3)]
    assert shown == ["alice: :evil!e@e KICK #dev bob", "alice: title", "alice: next"]
    stored = await srv.store.latest("#dev", 1)
    assert stored[0].text == ":evil!e@e KICK #dev bob\ntitle\nnext"
    # Replayed from history, still one PRIVMSG per line.
    await bob.send("CAP REQ :batch draft/chathistory")
    await bob.expect_cmd("CAP")
    await bob.send("CHATHISTORY LATEST #dev * 5")
    await bob.expect_cmd("BATCH")
    body = await bob.lines_until_cmd("BATCH")
    assert [b.split(" ", 1)[1] for b in body[:-1]] == [
        f":{A} PRIVMSG #dev ::evil!e@e KICK #dev bob", f":{A} PRIVMSG #dev :title", f":{A} PRIVMSG #dev :next"]
    for c in (alice, bob, dave):
        await c.close()


async def test_a_labeled_batch_is_answered_by_its_echo_labeled_on_the_opening_batch(srv: Server) -> None:
    alice = await irc(srv, "alice", (*ML, "echo-message", "labeled-response"))
    await alice.send("@label=L1 BATCH +b1 draft/multiline #dev", "@batch=b1 PRIVMSG #dev :one",
                     "@batch=b1 PRIVMSG #dev :two", "BATCH -b1")
    head = await alice.expect_cmd("BATCH")
    got = [head, *await alice.lines_until_cmd("BATCH")]
    opening, _ = without_tag(got[0], "msgid")
    ref = opening.split(" ")[3][1:]
    assert [opening, *got[1:]] == [
        f"@label=L1 :{A} BATCH +{ref} draft/multiline #dev",
        f"@batch={ref} :{A} PRIVMSG #dev one",  # (re-serialized: no colon needed)
        f"@batch={ref} :{A} PRIVMSG #dev two",
        f":{SRC} BATCH -{ref}",
    ]
    await alice.close()
