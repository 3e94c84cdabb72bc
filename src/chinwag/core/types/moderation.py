"""Moderation types: room and user modes, bans and quiets, KICK, and the server
operators' OPER, KILL and WALLOPS.

Part of the ``Command`` and ``Event`` unions of :mod:`chinwag.core.events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ModeChange:
    """One mode letter set (``on``) or unset, with its argument if it takes one."""

    on: bool
    mode: str
    arg: str | None = None


@dataclass(frozen=True, slots=True)
class Mode:
    """Change modes of a room or of oneself; no changes asks for the current ones."""

    target: str
    changes: tuple[ModeChange, ...] = ()


@dataclass(frozen=True, slots=True)
class ListBans:
    room: str
    mode: str = "b"  # "q": the quiet list


@dataclass(frozen=True, slots=True)
class Kick:
    room: str
    nick: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Oper:
    name: str
    password: str


@dataclass(frozen=True, slots=True)
class Kill:
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class Wallops:
    text: str


@dataclass(frozen=True, slots=True)
class RoomModes:
    """A room's current modes, e.g. ``"+knt"`` with args ``("secret",)``."""

    room: str
    modes: str
    args: tuple[str, ...]
    created: float


@dataclass(frozen=True, slots=True)
class UserModes:
    nick: str
    modes: str


@dataclass(frozen=True, slots=True)
class ModeChanged:
    """Modes changed on a room (target "#...") or on a user (target = nick)."""

    target: str
    nick: str
    changes: tuple[ModeChange, ...]
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class BanList:
    room: str
    bans: tuple[tuple[str, str, float], ...]  # (mask, set by, when)
    mode: str = "b"  # "q": the quiet list


@dataclass(frozen=True, slots=True)
class Kicked:
    room: str
    nick: str  # who kicked
    target: str  # who was kicked
    reason: str
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class OperUp:
    nick: str


@dataclass(frozen=True, slots=True)
class Killed:
    """To the user being disconnected by a server operator."""

    nick: str  # the operator
    reason: str
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class WallopsSent:
    nick: str
    text: str
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


def mode_string(changes: tuple[ModeChange, ...]) -> tuple[str, tuple[str, ...]]:
    """``(+o bob, -k)`` -> ``("+o-k", ("bob", "*"))``: letters grouped by sign, then args."""
    letters, args, sign = "", [], ""
    for c in changes:
        s = "+" if c.on else "-"
        if s != sign:
            letters, sign = letters + s, s
        letters += c.mode
        if c.arg is not None:
            args.append(c.arg)
    return letters, tuple(args)
