"""What the user typed -> an intent; pure, so every command is unit-testable.

``/join /part /msg /me /nick /who /rooms /topic /quit /help`` as in the text
protocol, plus ``/switch`` (change the current room) and ``/quote`` (a raw IRC
line). A line that is not a command is said to the current room; ``//text``
says ``/text``. :func:`parse_input` never raises: a malformed command becomes a
:class:`Usage` telling the user how to write it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Say:
    target: str
    text: str


@dataclass(frozen=True, slots=True)
class Act:
    """``/me``: a CTCP ACTION."""

    target: str
    text: str


@dataclass(frozen=True, slots=True)
class JoinRoom:
    room: str


@dataclass(frozen=True, slots=True)
class PartRoom:
    room: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChangeNick:
    nick: str


@dataclass(frozen=True, slots=True)
class WhoIs:
    """``/who [#room]`` -> NAMES #room (a one-line member list)."""

    room: str


@dataclass(frozen=True, slots=True)
class ListRooms:
    """``/rooms`` -> LIST."""


@dataclass(frozen=True, slots=True)
class SetTopic:
    """``/topic`` -> TOPIC #room (``text`` None: ask) or TOPIC #room :text."""

    room: str
    text: str | None = None


@dataclass(frozen=True, slots=True)
class QuitChat:
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Raw:
    """``/quote LINE``: sent as is, for everything this client has no command for."""

    line: str


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Switch:
    """Make ``room`` (or the next/previous joined room, ``step``) current: local only."""

    room: str = ""
    step: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    """Nothing to send; show ``text`` (a usage line or why the input was refused)."""

    text: str


Intent = (
    Say | Act | JoinRoom | PartRoom | ChangeNick | WhoIs | ListRooms | SetTopic | QuitChat | Raw | Help | Switch | Usage
)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    usage: str
    help: str
    parse: Callable[[str, str | None], Intent]


NO_ROOM: Final = "no current room: /join #room first"


def _room_prefix(arg: str) -> bool:
    return arg[:1] in ("#", "&")


def _need_room(current: str | None, make: Callable[[str], Intent]) -> Intent:
    return Usage(NO_ROOM) if current is None else make(current)


def _join(arg: str, current: str | None) -> Intent:
    room = arg.split(" ", 1)[0]
    if not room:
        return Usage("usage: /join #room")
    return JoinRoom(room if _room_prefix(room) else "#" + room)


def _part(arg: str, current: str | None) -> Intent:
    first, _, rest = arg.partition(" ")
    if _room_prefix(first):
        return PartRoom(first, rest.strip())
    return _need_room(current, lambda room: PartRoom(room, arg.strip()))


def _msg(arg: str, current: str | None) -> Intent:
    target, _, text = arg.partition(" ")
    text = text.strip()
    if not target or not text:
        return Usage("usage: /msg NICK text")
    return Say(target, text)


def _me(arg: str, current: str | None) -> Intent:
    if not arg.strip():
        return Usage("usage: /me action")
    return _need_room(current, lambda room: Act(room, arg.strip()))


def _nick(arg: str, current: str | None) -> Intent:
    nick = arg.split(" ", 1)[0]
    return ChangeNick(nick) if nick else Usage("usage: /nick NEW")


def _who(arg: str, current: str | None) -> Intent:
    room = arg.split(" ", 1)[0]
    if room:
        return WhoIs(room)
    return _need_room(current, WhoIs)


def _topic(arg: str, current: str | None) -> Intent:
    first, _, rest = arg.partition(" ")
    if _room_prefix(first):
        return SetTopic(first, rest.strip() or None)
    text = arg.strip() or None
    return _need_room(current, lambda room: SetTopic(room, text))


def _switch(arg: str, current: str | None) -> Intent:
    room = arg.split(" ", 1)[0]
    if not room:
        return Switch(step=1)
    return Switch(room if _room_prefix(room) else "#" + room)


def _quote(arg: str, current: str | None) -> Intent:
    return Raw(arg.strip()) if arg.strip() else Usage("usage: /quote RAW IRC LINE")


COMMANDS: Final[dict[str, CommandSpec]] = {
    "help": CommandSpec("/help", "this list", lambda a, c: Help()),
    "join": CommandSpec("/join #room", "join a room and make it current", _join),
    "part": CommandSpec("/part [#room] [reason]", "leave a room (default: current)", _part),
    "switch": CommandSpec("/switch [#room]", "make a joined room current (also Ctrl-N/Ctrl-P)", _switch),
    "msg": CommandSpec("/msg NICK text", "a private message", _msg),
    "me": CommandSpec("/me action", "say what you do", _me),
    "nick": CommandSpec("/nick NEW", "change your name", _nick),
    "who": CommandSpec("/who [#room]", "who is in the room", _who),
    "rooms": CommandSpec("/rooms", "rooms and how many are in each", lambda a, c: ListRooms()),
    "topic": CommandSpec("/topic [#room] [text]", "show or set the topic", _topic),
    "quote": CommandSpec("/quote LINE", "send a raw IRC line", _quote),
    "quit": CommandSpec("/quit [reason]", "leave", lambda a, c: QuitChat(a.strip())),
}


def help_lines() -> list[str]:
    lines = ["commands:"]
    lines += [f"  {spec.usage:<24} {spec.help}" for spec in COMMANDS.values()]
    lines.append("  (a line starting with // sends a literal /; Tab completes nicks and commands)")
    return lines


def parse_input(line: str, current: str | None) -> Intent | None:
    """Map one input line to an intent; None for a blank line."""
    line = line.replace("\r", " ").replace("\n", " ")
    if not line.strip():
        return None
    if line.startswith("//"):
        return _need_room(current, lambda room: Say(room, line[1:]))
    if not line.startswith("/"):
        return _need_room(current, lambda room: Say(room, line))
    name, _, arg = line[1:].partition(" ")
    spec = COMMANDS.get(name.lower())
    if spec is None:
        return Usage(f"unknown command /{name}: try /help")
    return spec.parse(arg, current)
