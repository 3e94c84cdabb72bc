"""Room types beyond joining and leaving: topics, invitations, leaving every room, LIST.

Part of the ``Command`` and ``Event`` unions of :mod:`chinwag.core.events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Topic:
    """Set a room's topic, or ask for it when ``text`` is None."""

    room: str
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Invite:
    nick: str
    room: str


@dataclass(frozen=True, slots=True)
class PartAll:
    """Leave every room (IRC ``JOIN 0``)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Rooms with member counts and topics; ``rooms`` limits the answer."""

    rooms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A room's topic, to one user (on join when set, or when asked); text "" = none."""

    room: str
    text: str
    setter: str
    ts: float


@dataclass(frozen=True, slots=True)
class TopicChanged:
    room: str
    nick: str
    text: str
    ts: float
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class Invited:
    """To the invited user and, as confirmation, to the one who invited."""

    room: str
    nick: str
    target: str
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class ListReply:
    rooms: tuple[tuple[str, int, str], ...]  # (name, members, topic)
