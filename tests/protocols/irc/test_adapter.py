"""The IRC adapter without sockets: bytes in, commands out; events in, bytes out."""

from __future__ import annotations

import dataclasses

from chinwag.config import Config, Limits
from chinwag.core.events import Join, Joined, Message, Register, Registered, Say
from chinwag.core.types.ircv3 import ReadMarker
from chinwag.core.types.lookup import Stats
from chinwag.core.types.moderation import ModeChange
from chinwag.protocols.base import RenderCache
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol
from chinwag.protocols.irc.format import split_utf8
from chinwag.protocols.irc.verbs import parse_modes


def proto(**limits: int) -> IrcProtocol:
    config = Config(limits=dataclasses.replace(Limits(), **limits)) if limits else Config()
    return IrcProtocol(IrcInfo.from_config(config, now=0.0))


def registered(nick: str = "al", *caps: str, **limits: int) -> IrcProtocol:
    p = proto(**limits)
    if caps:
        p.receive_data(f"CAP REQ :{' '.join(caps)}\r\nCAP END\r\n".encode())
    p.receive_data(f"NICK {nick}\r\nUSER {nick} 0 * :R\r\n".encode())
    assert p.next_command() == Register(nick, (), "", "R", "~" + nick)
    p.render(Registered(nick), {})
    assert p.next_command() == Stats()
    p.data_to_send()
    return p


def test_commands_wait_for_registration_answer_and_lines_fed_byte_by_byte() -> None:
    p = proto()
    for b in b"NICK al\r\nUSER al 0 * :A\r\nJOIN #a,#b k1\r\n":
        p.receive_data(bytes([b]))
    assert p.next_command() == Register("al", (), "", "A", "~al")
    assert p.next_command() is None  # JOIN waits for the answer
    p.render(Registered("al"), {})
    assert p.next_command() == Stats()
    assert p.next_command() == Join("#a", "k1")
    assert p.next_command() == Join("#b", "")


def test_ctcp_action_becomes_an_action_and_back() -> None:
    p = registered("al")
    p.receive_data(b"PRIVMSG #a :\x01ACTION waves\x01\r\n")
    assert p.next_command() == Say("#a", "waves", "action")
    m = Message("00ff", 0.0, "bo", "#a", "bows", "action")
    assert p.render(m, {}) == b":bo!~bo@chinwag PRIVMSG #a :\x01ACTION bows\x01\r\n"


def test_render_cache_shared_per_cap_variant() -> None:
    plain1, plain2 = registered("a"), registered("b")
    tagged = registered("c", "server-time", "message-tags")
    m = Message("0000000000000001", 1_700_000_000.5, "bo", "#x", "hi", "privmsg")
    cache: RenderCache = {}
    first = plain1.render(m, cache)
    assert plain2.render(m, cache) is first
    assert tagged.render(m, cache) == (
        b"@time=2023-11-14T22:13:20.500Z;msgid=0000000000000001 :bo!~bo@chinwag PRIVMSG #x :hi\r\n")
    assert len(cache) == 2


def test_own_messages_are_not_echoed_without_echo_message() -> None:
    p = registered("al")
    assert p.render(Message("1", 0.0, "al", "#x", "mine", "privmsg"), {}) == b""
    e = registered("al", "echo-message")
    assert e.render(Message("1", 0.0, "al", "#x", "mine", "privmsg"), {}).endswith(b"PRIVMSG #x :mine\r\n")


def test_ping_after_silence_then_timeout() -> None:
    p = registered("al")
    p.tick(100.0)
    assert p.data_to_send() == b""
    p.tick(100.0 + Limits().ping_interval)
    assert p.data_to_send() == b"PING chinwag\r\n"
    p.tick(100.0 + Limits().ping_interval + Limits().ping_timeout)
    assert p.data_to_send().startswith(b"ERROR :Closing Link: al (Ping timeout")
    cmd = p.next_command()
    assert cmd is not None and type(cmd).__name__ == "Quit" and p.closing


def test_registration_deadline() -> None:
    p = proto()
    p.tick(0.0)
    p.tick(float(Limits().register_timeout))
    assert b"Registration timed out" in p.data_to_send()


def test_parse_modes() -> None:
    changes, unknown = parse_modes("+ov-k+lz", ["a", "b", "key", "5"], room=True)
    assert changes == [ModeChange(True, "o", "a"), ModeChange(True, "v", "b"), ModeChange(False, "k", "key"),
                       ModeChange(True, "l", "5")]
    assert unknown == ["z"]
    assert parse_modes("+b", [], room=True)[0] == [ModeChange(True, "b", None)]  # a list query


def test_split_utf8_keeps_characters_whole() -> None:
    pieces = split_utf8("é" * 10, 5)
    assert all(len(p.encode()) <= 5 for p in pieces) and "".join(pieces) == "é" * 10


def test_garbage_never_raises() -> None:
    p = registered("al")
    p.receive_data(b"\x00\xff\r\n:\r\n@\r\nPRIVMSG\r\n" + b"x" * 10000 + b"\r\nMODE\r\n")
    while p.next_command() is not None:
        pass
    out = p.data_to_send()
    assert b" 417 al " in out and b" 461 al MODE " in out


def test_markers_kept_for_joins_are_bounded_by_join_markers_kept() -> None:
    """The MARKREAD values asked for JOINs that were refused stay until the bound
    (at least max_rooms); past it they go, and a JOIN of those rooms gets ``*``."""

    def joined_a_after_refusals(**limits: int) -> list[str]:
        cfg = Config(limits=dataclasses.replace(Limits(), **limits))
        p = IrcProtocol(IrcInfo.from_config(cfg, now=0.0))
        p.receive_data(b"CAP REQ :draft/read-marker\r\nCAP END\r\nNICK al\r\nUSER al 0 * :R\r\n")
        assert isinstance(p.next_command(), Register)
        p.render(Registered("al"), {})
        p.data_to_send()
        p.render(ReadMarker("#a", 1_700_000_000_000, join=True), {})
        for n in range(6):  # JOINs refused (banned, full...): their markers stay
            p.render(ReadMarker(f"#refused{n}", None, join=True), {})
        return p.render(Joined("#a", "al"), {}).decode().splitlines()

    assert joined_a_after_refusals() == [
        ":al!~al@chinwag JOIN #a", ":chinwag MARKREAD #a timestamp=2023-11-14T22:13:20.000Z"]
    assert joined_a_after_refusals(join_markers_kept=3, max_rooms=3) == [
        ":al!~al@chinwag JOIN #a", ":chinwag MARKREAD #a *"]
    assert joined_a_after_refusals(join_markers_kept=3, max_rooms=10) == [  # (never below max_rooms)
        ":al!~al@chinwag JOIN #a", ":chinwag MARKREAD #a timestamp=2023-11-14T22:13:20.000Z"]
