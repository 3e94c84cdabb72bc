"""The sanitizer's two levels, and every event type rendered clean by both protocols."""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.config import Config, Limits
from chinwag.core import events as core_events
from chinwag.core.errors import ChatError, NoSuchNick, UserNotInRoom
from chinwag.core.events import ChatHistoryReply, Command, Crowd, Event, Failed, Message, Query, Registered
from chinwag.core.types import chat as t_chat
from chinwag.core.types import lookup as t_lookup
from chinwag.core.types import moderation as t_moderation
from chinwag.core.types import presence as t_presence
from chinwag.core.types import rooms as t_rooms
from chinwag.protocols.irc import caps as C
from chinwag.protocols.irc import numerics  # noqa: F401  (its ChatError subclasses join the walk)
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol, Reg
from chinwag.protocols.irc.format import SHARED
from chinwag.protocols.sanitize import IRC_FORMATTING, safe_event, safe_output, strip_controls, terminal_safe
from chinwag.protocols.text import TextProtocol
from tests.unsafe import IRC_KEEPS, terminal_violations, text_violations

FORMATTING = "\x02bold\x02 \x0304,12colour\x03 \x1ditalic\x1d \x1funder\x1f \x16rev\x16 \x11mono\x11 \x1estrike\x1e\x0f"


# Hostile characters are over-represented: plain st.text() rarely builds an escape sequence.
hostile_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("\x1b[]P^_X\\;0123456789:<=>?@ABJKm~ \x07\x9b\x9c\x9d\x90\x98\x9e\x9f\x7f\x00\r\n\t"
                             "\x01\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f\u202e\u2066\u200f\u061c\u2028\u2029")),
        st.characters(),
    ),
    max_size=120,
)


# --- the two levels ----------------------------------------------------------------------


@given(hostile_text)
def test_terminal_safe_output_never_holds_a_forbidden_code_point(text: str) -> None:
    out = terminal_safe(text)
    assert terminal_violations(out) == [], repr(out)
    assert "\x1b" not in out and "\r" not in out and "\n" not in out
    assert terminal_safe(out) == out  # idempotent: nothing is left to strip


@given(hostile_text)
def test_text_level_output_never_holds_a_control_or_formatting_code(text: str) -> None:
    out = strip_controls(text)
    assert text_violations(out) == [], repr(out)
    assert strip_controls(out) == out
    assert text_violations(strip_controls(terminal_safe(text))) == []  # the two levels in turn (events, then text)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp")), max_size=80))
def test_ordinary_text_in_any_script_passes_both_levels_unchanged(text: str) -> None:
    assert terminal_safe(text) == text
    assert strip_controls(text) == text


def test_irc_formatting_is_kept_at_the_terminal_level_and_removed_at_the_text_level() -> None:
    assert IRC_FORMATTING == IRC_KEEPS
    assert terminal_safe(FORMATTING) == FORMATTING
    assert terminal_safe("\x01ACTION waves\x01") == "\x01ACTION waves\x01"  # CTCP quoting stays for IRC
    assert strip_controls(FORMATTING) == "bold colour italic under rev mono strike"


@pytest.mark.parametrize(
    ("raw", "irc", "text"),
    [
        ("copy\x1b]52;c;Y3VybCBldmlsfHNo\x07 me", "copy me", "copy me"),  # OSC 52: write the clipboard
        ("title\x1b]0;pwned\x1b\\ ok", "title ok", "title ok"),  # OSC ended by ST
        ("\x1b[2J\x1b[1;31mred\x1b[0m", "red", "red"),  # CSI: clear screen, colour
        ("\x9b2Jc1\x9d52;c;Zm9v\x07!", "c1!", "c1!"),  # 8-bit CSI and OSC
        ("lone\x1b", "lone", "lone"),
        ("\x1bPdcs\x1b\\after", "after", "after"),
        ("a\u202ecba\u2066x\u2069\u200f", "acbax", "acbax"),  # bidi override, isolate, mark
        ("line\u2028sep\u2029para", "lineseppara", "lineseppara"),
        ("nul\x00del\x7fbel\x07cr\rlf\n", "nuldelbelcrlf", "nuldelbelcrlf"),
        ("\x02bold\x02\x0304red\x03", "\x02bold\x02\x0304red\x03", "boldred"),
        ("tab\tstays", "tab\tstays", "tab\tstays"),
        ("zero\u200dwidth joiner", "zero\u200dwidth joiner", "zero\u200dwidth joiner"),  # emoji sequences need it
    ],
)
def test_known_sequences(raw: str, irc: str, text: str) -> None:
    assert terminal_safe(raw) == irc
    assert strip_controls(raw) == text


def test_safe_output_removes_controls_one_by_one_and_keeps_line_ends() -> None:
    data = b":chinwag FAIL CHATHISTORY INVALID_PARAMS LATEST msgid=\x1b[2J\x1b :Invalid\r\nPING :ok\r\n"
    # Controls go one by one: the space after the lone ESC still separates the parameters.
    assert safe_output(data) == b":chinwag FAIL CHATHISTORY INVALID_PARAMS LATEST msgid=[2J :Invalid\r\nPING :ok\r\n"
    plain = b"PONG chinwag :b1\r\n"
    assert safe_output(plain) is plain
    assert safe_output("\x02b\x02 \u202ex\r\n".encode()) == b"\x02b\x02 x\r\n"


# --- events ------------------------------------------------------------------------------

# No spaces (IRC middle parameters), every kind of hostile sequence, and a visible tail.
HOSTILE = "x\x1b]52;c;Zm9v\x07\x1b[2J\x9b31m\u202e\u2066\x02b\x02\x0304r\x0f\x7f\x00\r\nend"


def test_safe_event_returns_the_same_object_when_nothing_needs_changing() -> None:
    m = Message("0001", 0.0, "alice", "#lobby", "hello, world", "privmsg")
    assert safe_event(m) is m
    members = core_events.Members("#lobby", ("alice", "bob"), (t_lookup.MemberInfo("a", "a", "h", "Al"),))
    assert safe_event(members) is members


def test_safe_event_cleans_nested_fields_and_error_subjects() -> None:
    m = Message("0001", 0.0, "alice", "bob", HOSTILE, "privmsg")
    clean = safe_event(m)
    # A message's text keeps its line feeds (draft/multiline), each line cleaned on its own.
    assert clean.text == "x\x02b\x02\x0304r\x0f\nend" and clean.private and clean.msgid == "0001"
    who = safe_event(t_lookup.WhoReply("*", (("#r", t_lookup.MemberInfo("n", "u", "h", HOSTILE)),)))
    assert who.entries[0][1].realname == "x\x02b\x02\x0304r\x0fend"
    failed = safe_event(Failed(UserNotInRoom(HOSTILE, "#r\x1b[2J"), "kick"))
    assert isinstance(failed.error, UserNotInRoom)
    assert (failed.error.subject, failed.error.room) == ("x\x02b\x02\x0304r\x0fend", "#r")
    assert str(failed.error) == "they are not in that room: x\x02b\x02\x0304r\x0fend #r"
    assert numerics.numeric_of(failed.error) == "441"


def _sample(tp: Any, hostile: str = HOSTILE) -> Any:
    """A value of annotated type ``tp`` with ``hostile`` in every string."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is str:
        return hostile
    if tp is bool:
        return True
    if tp is bytes:  # (SaslChallenge: sent base64-encoded)
        return hostile.encode()
    if tp is int:
        return 7
    if tp is float:
        return 1_700_000_000.5
    if origin is Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        # str | None: the string; MsgRef | None, int | None: None (MsgRef forbids msgid with ms)
        return _sample(present[0], hostile) if present == [str] else None
    if origin is dict:  # a cache (Crowd's): starts empty
        return {}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return (_sample(args[0], hostile), _sample(args[0], hostile))
        return tuple(_sample(a, hostile) for a in args)
    if inspect.isclass(tp) and issubclass(tp, ChatError):
        return NoSuchNick(hostile)
    if dataclasses.is_dataclass(tp):
        hints = get_type_hints(tp)
        return tp(**{f.name: _sample(hints[f.name], hostile) for f in dataclasses.fields(tp) if f.init})
    raise TypeError(f"no sample value for {tp!r}: teach tests/protocols/test_sanitize.py::_sample")


def _error_classes() -> list[type[ChatError]]:
    found, todo = [], [ChatError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _error(cls: type[ChatError], hostile: str) -> ChatError:
    """An error with every required argument hostile (errors differ in how many they take)."""
    required = [p for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
                if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    return cls(*[hostile] * max(len(required), 2))


def _event_samples(hostile: str = HOSTILE) -> list[Any]:
    out: list[Any] = []
    for cls in get_args(Event):
        sample = _sample(cls, hostile)
        out.append(sample)
        if cls is Message:
            out += [dataclasses.replace(sample, kind=k) for k in ("action", "notice")]
            out.append(dataclasses.replace(sample, target="#" + hostile))
        if cls is Crowd:  # a summary of real kinds (hostile nicks and reasons), seen from its start and from later
            changes = tuple((k, hostile, hostile) for k in ("join", "part", "quit"))
            out[-1] = dataclasses.replace(sample, changes=changes, start=0, joined=1, left=2)
            out.append(dataclasses.replace(sample, changes=changes, start=1, joined=0, left=2))
        if cls is t_moderation.ModeChanged:  # a room's modes (the sample's target is a nick)
            out.append(dataclasses.replace(sample, target="#" + hostile))
        if cls is t_rooms.Invited:  # to the one invited (the sample: to the one who invited)
            out.append(dataclasses.replace(sample, target="me"))
        if cls is ChatHistoryReply:
            out.append(dataclasses.replace(sample, error=""))
            out.append(dataclasses.replace(sample, error="", query=dataclasses.replace(sample.query, verb="targets")))
        if cls is Failed:
            out += [Failed(_error(err, hostile), command) for err in _error_classes()
                    for command in ("register", "who", "whois", hostile)]
    return out


EVENTS = _event_samples()


def _text() -> TextProtocol:
    p = TextProtocol(Limits())
    p.data_to_send()
    p.nick, p.rooms, p.current = "me", ["#r"], "#r"
    return p


def _irc(event: object = None) -> IrcProtocol:
    p = IrcProtocol(IrcInfo.from_config(Config()))
    # the welcome is rendered once, in answer to the Register the adapter waits on
    p.reg, p.nick = (Reg.WAIT if isinstance(event, Registered) else Reg.DONE), "me"
    # all caps but those that make the server send less (no NAMES after a JOIN; CHGHOST instead of QUIT+JOIN)
    p.caps = frozenset(C.SUPPORTED) - {C.NO_IMPLICIT_NAMES, C.DRAFT_NO_IMPLICIT_NAMES, C.CHGHOST}
    p._variant = (SHARED, True, True, True)
    return p


# Events a protocol shows nothing for (or only to others): the walk below checks
# that every other event type renders something, so it cannot pass by rendering nothing.
TEXT_SHOWS_NOTHING = {
    "RoomModes", "UserModes", "BanList", "AwayChanged", "OperUp", "WhoisReply", "WhoReply", "ListReply",
    "LookupReply", "ServerStats", "Synced", "ChatHistoryReply", "WhoWasReply", "TagsSent",
    "AccountChanged", "SaslChallenge",  # (text: only one's own login is shown; SASL is IRC's)
    "RealnameChanged", "HostChanged", "HostRejoined", "InviteNotice",  # (IRCv3 setname, chghost, invite-notify)
    "ReadMarker",  # (IRCv3 draft/read-marker)
}
# ReadMarker: the sample is a JOIN's marker (join=True), which goes out with that JOIN.
IRC_SHOWS_NOTHING = {"History", "Synced", "RoomList", "ReadMarker"}


def _lines(data: bytes) -> list[str]:
    text = data.decode()
    assert text.endswith("\r\n"), text
    return text[:-2].split("\r\n")


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_renders_terminal_safe_for_irc_and_control_free_for_text(event: Any) -> None:
    clean = safe_event(event)
    name = type(event).__name__
    irc = _irc(clean).render(clean, {})
    if name not in IRC_SHOWS_NOTHING:
        assert irc, f"IRC rendered nothing for {name}"
    for line in _lines(irc) if irc else []:
        assert terminal_violations(line) == [], (name, line)
    text = _text().render(clean, {})
    if name not in TEXT_SHOWS_NOTHING and not (name == "ModeChanged" and not clean.target.startswith("#")):
        assert text, f"text rendered nothing for {name}"
    for line in _lines(text) if text else []:
        assert text_violations(line) == [], (name, line)
        assert "\x02" not in line and "\x03" not in line


def test_the_walk_can_fail_raw_events_reach_an_irc_client_unsafe() -> None:
    """Without safe_event the samples' escapes reach the IRC output (the adapter
    refuses to write CR, LF or NUL, so those are left out here)."""
    raw = _event_samples(HOSTILE.replace("\x00", "").replace("\r\n", ""))
    dirty = {type(e).__name__ for e in raw if terminal_violations(_irc(e).render(e, {}).decode())}
    shown = {cls.__name__ for cls in get_args(Event)} - IRC_SHOWS_NOTHING
    assert dirty >= shown - {"ServerStats"}, shown - dirty  # ServerStats holds numbers only


def test_every_dataclass_in_the_event_modules_is_a_command_query_or_event() -> None:
    """A new event type must join the ``Event`` union, which the walk above covers."""
    known = set(get_args(Command)) | set(get_args(Query)) | set(get_args(Event))
    values = {t_lookup.MemberInfo, t_moderation.ModeChange, core_events.MsgRef, core_events.Outbound}
    for module in (core_events, t_chat, t_lookup, t_moderation, t_presence, t_rooms):
        for _, cls in inspect.getmembers(module, dataclasses.is_dataclass):
            if cls.__module__ == module.__name__:
                assert cls in known or cls in values, f"{cls.__name__} is in no union"
