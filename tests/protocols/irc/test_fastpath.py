"""The IRC input fast path (protocols/irc/fastpath.py) against the general path.

Each line goes into two registered adapters: one reads it as the server does
(``receive_data``, ``next_command``: the fast path where it applies), the other
hands the parsed line straight to the general path (``_handle_line``). Both
must give the same commands and write the same replies, odd lines included.
"""

from __future__ import annotations

import itertools

import pytest

from chinwag.config import Config
from chinwag.core.events import Say
from chinwag.protocols.irc import adapter, fastpath
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol
from chinwag.protocols.irc.message import EmptyMessage, InvalidMessage, parse_line
from tests.protocols.irc.test_adapter import registered

LINES = [
    b"PRIVMSG #room :hello there",
    b"NOTICE #room :hello there",
    b"PRIVMSG #room :\x01ACTION waves\x01",
    b"PRIVMSG #room :\x01ACTION waves",
    b"PRIVMSG #room :\x01ACTION\x01",
    b"PRIVMSG #room :\x01ACTION \x01",
    b"PRIVMSG #room :\x01VERSION\x01",
    b"NOTICE #room :\x01ACTION waves\x01",
    b"PRIVMSG #room :",
    b"NOTICE #room :",
    b"PRIVMSG #room",
    b"PRIVMSG #room hello",
    b"PRIVMSG #room hello there",
    b"PRIVMSG #room  :two spaces",
    b"PRIVMSG #room extra :middle",
    b"PRIVMSG #a,#b :two rooms",
    b"PRIVMSG #a,#b,#c,#d,#e :too many",
    b"PRIVMSG #a,,#b :empty between",
    b"PRIVMSG #, :comma",
    b"PRIVMSG # :just the prefix",
    b"PRIVMSG #room ::colon first",
    b"PRIVMSG #room : leading space",
    b"PRIVMSG #room :trailing space ",
    b"PRIVMSG #room :a :colon inside",
    b"PRIVMSG #room :cr\rinside",
    b"PRIVMSG #room :cr at the end\r",
    b"PRIVMSG #room :nul\x00inside",
    b"PRIVMSG #room :bad utf-8 \xff\xfe here",
    b"PRIVMSG #r\xc3\xa9sum\xc3\xa9 :unicode room",
    b"PRIVMSG #room :\x1b[31mred\x1b[0m",
    b"PRIVMSG #room :\x02bold\x02 and \x03" + b"4colour",
    b"PRIVMSG #ROOM :upper case",
    b"PRIVMSG #room\t:tab",
    b"privmsg #room :lower-case verb",
    b"@+draft/reply=abc PRIVMSG #room :tagged",
    b"@label=x PRIVMSG #room :labeled",
    b":me!u@h PRIVMSG #room :with a source",
    b"PRIVMSG nickserv :help",
    b"PRIVMSG ChanServ :help",
    b"PRIVMSG bob :private",
    b"NOTICE #room",
    b"PRIVMSG #room :" + b"x" * 400,
]


def drain(p: IrcProtocol) -> list[object]:
    commands = []
    while (command := p.next_command()) is not None:
        commands.append(command)
    return commands


def through_the_server(p: IrcProtocol, line: bytes) -> tuple[list[object], bytes]:
    p.receive_data(line + b"\r\n")
    return drain(p), p.data_to_send()


def general_path(p: IrcProtocol, line: bytes) -> tuple[list[object], bytes]:
    try:
        msg = parse_line(line.removesuffix(b"\r"))  # (the reader trims one CR)
    except (EmptyMessage, InvalidMessage):
        return [], b""
    p._handle_line(msg)
    return drain(p), p.data_to_send()


@pytest.mark.parametrize("line", LINES)
@pytest.mark.parametrize("caps", [(), ("message-tags", "labeled-response", "echo-message")])
def test_a_line_gives_the_same_commands_and_replies_on_both_paths(
    line: bytes, caps: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, general = registered("al", *caps), registered("al", *caps)
    monkeypatch.setattr(adapter, "tokens", itertools.count(1))  # (a label's Sync tokens)
    seen = through_the_server(fast, line)
    monkeypatch.setattr(adapter, "tokens", itertools.count(1))
    assert seen == general_path(general, line)


@pytest.mark.parametrize("line", [b"PRIVMSG #room :hi", b"PRIVMSG #a,#b :hi"])
def test_the_same_with_one_target_allowed(line: bytes) -> None:
    fast, general = registered(max_targets=1), registered(max_targets=1)
    assert through_the_server(fast, line) == general_path(general, line)


def test_the_fast_path_takes_the_plain_lines_and_leaves_the_rest() -> None:
    assert fastpath.say(b"PRIVMSG #room :hello there") == Say("#room", "hello there")
    assert fastpath.say(b"NOTICE #room :\x01ACTION x\x01") == Say("#room", "\x01ACTION x\x01", "notice")
    assert fastpath.say(b"PRIVMSG #room :\x01ACTION\x01") == Say("#room", " ", "action")
    for line in (b"PRIVMSG #a,#b :x", b"PRIVMSG #room :", b"PRIVMSG #room x", b"PRIVMSG #room :a\rb",
                 b"PRIVMSG #room  :x", b"PRIVMSG #room a :x"):
        assert fastpath.say(line) is None, line


def test_before_registration_a_message_gets_451_as_before() -> None:
    p = IrcProtocol(IrcInfo.from_config(Config(), now=0.0))
    p.receive_data(b"PRIVMSG #room :too early\r\n")
    assert drain(p) == []
    assert p.data_to_send() == b":chinwag 451 * :you have not registered\r\n"


def test_lines_of_one_read_keep_their_order_around_the_fast_path() -> None:
    p = registered("al")
    p.receive_data(b"PRIVMSG #a :one\r\nPRIVMSG #a,#b :two\r\nJOIN #c\r\nNOTICE #a :three\r\n   \r\n"
                   b"PRIVMSG #a :four\r\n")
    assert p.backlog == 6  # (each line waits unparsed, the spaces-only one too: it is dropped when its turn comes)
    commands = drain(p)
    assert [type(c).__name__ for c in commands] == ["Say", "Say", "Say", "Join", "Say", "Say"]
    assert [getattr(c, "text", "") for c in commands] == ["one", "two", "two", "", "three", "four"]
