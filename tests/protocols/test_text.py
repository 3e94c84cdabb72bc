"""The text protocol without sockets: bytes in, commands out; events in, bytes out."""

from __future__ import annotations

import re
import time

from hypothesis import given
from hypothesis import strategies as st

from chinwag.config import Limits
from chinwag.core.errors import NickInUse
from chinwag.core.events import (
    ChangeNick,
    Failed,
    History,
    HistoryRequest,
    Join,
    Joined,
    ListRooms,
    Message,
    Part,
    Parted,
    Quit,
    Recall,
    Register,
    Registered,
    Say,
    Who,
)
from chinwag.protocols.base import RenderCache
from chinwag.protocols.sanitize import strip_controls
from chinwag.protocols.text import GREETING, TextProtocol


def named(nick: str = "alice") -> TextProtocol:
    p = TextProtocol(Limits())
    p.receive_data(nick.encode() + b"\n")
    assert p.next_command() == Register(nick)
    p.render(Registered(nick), {})
    assert p.next_command() == Recall(("#lobby",))  # rejoin or join #lobby, with history
    p.render(Joined("#lobby", nick), {})
    p.data_to_send()
    return p


def commands(p: TextProtocol, data: bytes) -> list[object]:
    p.receive_data(data)
    out = []
    while (c := p.next_command()) is not None:
        out.append(c)
    return out


def test_greeting_is_sent_first() -> None:
    assert TextProtocol(Limits()).data_to_send() == (GREETING + "\r\n").encode()


def test_lines_wait_while_the_name_is_being_checked() -> None:
    p = TextProtocol(Limits())
    p.receive_data(b"alice\nhello\n")
    assert p.next_command() == Register("alice")
    assert p.next_command() is None  # "hello" must not become a second name
    p.render(Failed(NickInUse("alice"), "register"), {})
    assert p.next_command() == Register("hello")  # it was the next try


def test_slash_commands_map_to_hub_commands() -> None:
    p = named()
    assert commands(p, b"/nick al\n/join dev\n/rooms\n") == [ChangeNick("al"), Join("#dev")]
    # The join's answer decides the current room: later lines wait for it.
    assert p.next_command() is None
    p.render(Joined("#dev", "alice"), {})  # joined by /join: ask for its history
    assert p.next_command() == HistoryRequest("#dev", "join", 20)
    assert commands(p, b"/who\n") == [ListRooms(), Who("#dev")]
    assert commands(p, b"/part #lobby see ya\n/who\n") == [Part("#lobby", "see ya")]
    p.render(Parted("#lobby", "alice", "see ya"), {})
    assert p.next_command() == Who("#dev")
    assert commands(p, b"/history\n/history 5\n/since 10m\n/since 2d\n") == [
        HistoryRequest("#dev", "latest", 50),
        HistoryRequest("#dev", "latest", 5),
        HistoryRequest("#dev", "since", 0, 600.0),
        HistoryRequest("#dev", "since", 0, 172800.0),
    ]
    assert commands(p, b"/msg bob hi there\n/me waves\nplain\n//slash\n") == [
        Say("bob", "hi there"),
        Say("#dev", "waves", "action"),
        Say("#dev", "plain"),
        Say("#dev", "/slash"),
    ]
    assert commands(p, b"/quit\n") == [Quit("quit")]
    assert p.closing


def test_usage_errors_stay_local() -> None:
    p = named()
    assert commands(p, b"/msg bob\n/nick\n/join\n/bogus\n/since soon\n/history x\n") == []
    assert p.data_to_send().decode().splitlines() == [
        "usage: /msg NICK text",
        "usage: /nick NEW",
        "usage: /join #room",
        "unknown command: /bogus (try /help)",
        "usage: /since 10m|1h|2d",
        "usage: /history [N]",
    ]


def test_history_block_rendering() -> None:
    p = named()
    now = time.time()
    old = now - 3 * 86400
    h = History("#lobby", "join", (
        Message("01", old, "bob", "#lobby", "long ago", "privmsg"),
        Message("02", now, "carol", "#lobby", "waves", "action"),
    ))
    lines = p.render(h, {}).decode().split("\r\n")
    day = time.strftime("%Y-%m-%d", time.localtime(old))
    assert lines[0] == "--- history of #lobby ---"
    assert lines[1].startswith(f"[{day} ") and lines[1].endswith("] bob: long ago")
    assert re.fullmatch(r"\[\d\d:\d\d\] \* carol waves", lines[2])
    assert lines[3:] == ["--- end of history ---", ""]
    assert p.render(History("#lobby", "join", ()), {}) == b""
    assert p.render(History("#lobby", "latest", ()), {}) == b"--- no history of #lobby ---\r\n"


def test_render_cache_is_shared_per_variant() -> None:
    alice, bob = named("alice"), named("bob")
    msg = Message("0001", 0.0, "carol", "#lobby", "hi", "privmsg")
    cache: RenderCache = {}
    first = alice.render(msg, cache)
    assert bob.render(msg, cache) is first
    assert first.endswith(b"] carol: hi\r\n")
    other_room = Message("0002", 0.0, "carol", "#dev", "yo", "privmsg")
    assert alice.render(other_room, {}).endswith(b"] #dev carol: yo\r\n")
    assert alice.render(Message("3", 0.0, "alice", "#lobby", "me", "privmsg"), {}) == b""


@given(st.text(max_size=200))
def test_stripped_text_has_no_controls(text: str) -> None:
    out = strip_controls(text)
    assert not any(ord(c) < 0x20 and c != "\t" for c in out)
    assert not any(0x7F <= ord(c) <= 0x9F for c in out)
    assert "\u202e" not in out and "\x1b" not in out


def test_strip_controls_keeps_ordinary_text() -> None:
    assert strip_controls("héllo wörld ✓ 你好\t!") == "héllo wörld ✓ 你好\t!"
    assert strip_controls("\x02bold\x02 \x0304red\x03 \x1b[1;31mx\x1b[0m") == "bold red x"


def test_clock_hhmm_is_defined_once_for_the_text_protocol_and_its_device_lines() -> None:
    from chinwag.protocols import text, text_devices

    assert text.clock_hhmm is text_devices.clock_hhmm
    ts = time.mktime((2026, 1, 2, 9, 5, 0, 0, 0, -1))
    assert text.clock_hhmm(ts) == "09:05"
