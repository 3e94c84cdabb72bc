"""The one-line PRIVMSG/NOTICE renderer (``format_line``: the line's head kept
per sender and target, the text cut in bytes) against the general form it
replaced (whole line as ``str``, cut by ``split_utf8``), and ``silent_own``
against what ``render`` gives a sender for its own message."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import UTC, datetime

import pytest

from chinwag.config import Config, Limits
from chinwag.core.events import Message, Register, Registered
from chinwag.protocols.irc import render as irc_render
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol
from chinwag.protocols.irc.format import CTL, cut_utf8, iso_time, source, split_utf8
from chinwag.protocols.irc.message import escape_tag_value
from chinwag.protocols.irc.render import client_tags, format_line
from chinwag.protocols.text import TextProtocol


def registered(nick: str, caps: tuple[str, ...], irc_line: int = 512) -> IrcProtocol:
    config = Config(limits=dataclasses.replace(Limits(), irc_line=irc_line))
    p = IrcProtocol(IrcInfo.from_config(config, now=0.0))
    if caps:
        p.receive_data(f"CAP REQ :{' '.join(caps)}\r\nCAP END\r\n".encode())
    p.receive_data(f"NICK {nick}\r\nUSER {nick} 0 * :R\r\n".encode())
    assert isinstance(p.next_command(), Register)
    p.render(Registered(nick), {})
    p.data_to_send()
    return p


def general(p: IrcProtocol, m: Message) -> bytes:
    """The line as round 5 made it: all of it as str, then encoded."""
    _, with_time, with_tags, with_account = p._variant
    tags = []
    if with_account and m.account:
        tags.append(f"account={escape_tag_value(m.account)}")
    if with_time:
        tags.append(f"time={iso_time(m.ts)}")
    if with_tags:
        tags.append(f"msgid={m.msgid}")
        tags.extend(client_tags(m.tags))
    prefix = ("@" + ";".join(tags) + " ") if tags else ""
    verb = "NOTICE" if m.kind == "notice" else "PRIVMSG"
    head = f":{source(m.nick, m.user)} {verb} {m.target} :"
    text = m.text.translate(CTL) if ("\r" in m.text or "\n" in m.text or "\0" in m.text) else m.text
    action = m.kind == "action"
    budget = p.limits.irc_line - 2 - len(head.encode()) - (9 if action else 0)
    lines = []
    for piece in split_utf8(text, budget):
        body = f"\x01ACTION {piece}\x01" if action else piece
        lines.append(f"{prefix}{head}{body}\r\n")
    return "".join(lines).encode()


CAPS = ("server-time", "message-tags", "account-tag")
TEXTS = ["hi", "", "é" * 300, "a\rb\0c", "x" * 600, "日本語 " * 80, "\U0001f600" * 130, "tab\there"]


@pytest.mark.parametrize("irc_line", [512, 700])
def test_format_line_is_the_general_form(irc_line: int) -> None:
    rnd = random.Random(15)
    readers = [registered("me", caps, irc_line) for n in range(4) for caps in itertools.combinations(CAPS, n)]
    for i in range(400):
        m = Message(f"{i:016x}", 1_700_000_000 + rnd.random() * 1e6, rnd.choice(["bo", "ünï", "x" * 30]),
                    rnd.choice(["#room", "#ß", "me"]), rnd.choice(TEXTS), rnd.choice(["privmsg", "notice", "action"]),
                    tags=rnd.choice([(), (("+draft/react", "👍"),), (("+a", ""), ("+b", "x;y z"))]),
                    user=rnd.choice(["", "~bo", "~bo@host.example"]), account=rnd.choice(["", "acc", "a b"]))
        for p in readers:
            assert format_line(p, m) == general(p, m), (m, p._variant)
    irc_render._HEADS.clear()  # (kept heads made afresh give the same bytes)
    assert format_line(readers[-1], m) == general(readers[-1], m)


def test_heads_kept_are_bounded() -> None:
    p = registered("me", ())
    for i in range(irc_render.HEADS_KEPT * 2 + 5):
        format_line(p, Message(f"{i:016x}", 0.0, f"n{i}", "#r", "hi", "privmsg"))
        assert len(irc_render._HEADS) <= irc_render.HEADS_KEPT


@pytest.mark.parametrize("budget", [1, 4, 5, 7, 50])
def test_cut_utf8_is_split_utf8_in_bytes(budget: int) -> None:
    for text in TEXTS:
        pieces = cut_utf8(text.encode(), budget)
        assert b"".join(pieces) == text.encode()
        assert [piece.decode() for piece in pieces] == split_utf8(text, budget)
        assert all(len(piece) <= max(budget, 4) for piece in pieces if len(text.encode()) > budget)


@pytest.mark.parametrize("caps", [(), ("echo-message",), ("echo-message", "server-time"), ("message-tags",)])
def test_silent_own_says_what_an_own_room_message_renders_to(caps: tuple[str, ...]) -> None:
    p = registered("me", caps)
    own = Message("0000000000000001", 1.0, "me", "#room", "hello", "privmsg")
    assert p.silent_own is ("echo-message" not in caps)
    assert (p.render(own, {}) == b"") is p.silent_own
    # A text user's own room messages: its terminal shows what it typed.
    t = TextProtocol(Limits())
    t.nick = "me"
    assert t.silent_own and t.render(own, {}) == b""


def test_iso_time_is_datetimes() -> None:
    rnd = random.Random(6)
    edges = (0.9995, 0.9999995, 0.0000005, 0.4999995, 0.5, 0.9994999, 0.0005, 0.0)
    for _ in range(20_000):
        whole = rnd.randrange(-10**6, 2**31)
        for ts in (whole + rnd.choice(edges), whole + rnd.random(), rnd.uniform(-1e6, 4e9)):
            expected = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            assert iso_time(ts) == expected, ts
