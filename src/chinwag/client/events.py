"""What the client core reports: frozen dataclasses joined in one union.

The protocol turns IRC lines into these; the renderer turns these into text.
Times are aware UTC datetimes (from the ``server-time`` tag when the server
sends it, else the local clock at arrival).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

MessageKind = Literal["privmsg", "notice", "action"]


@dataclass(frozen=True, slots=True)
class Registered:
    """The server accepted us (001); ``nick`` is the nick we ended up with."""

    time: datetime
    nick: str
    server: str


@dataclass(frozen=True, slots=True)
class NickInUse:
    """Our nick was taken during registration; we are trying ``trying`` instead."""

    time: datetime
    nick: str
    trying: str


@dataclass(frozen=True, slots=True)
class Said:
    """A PRIVMSG, NOTICE or CTCP ACTION.

    ``target`` is where it was sent (a room, or our nick for a private
    message); ``private`` is true for messages to or from a nick rather than a
    room, and then ``peer`` is the other side. ``own`` marks our own lines
    (echoed by the server, or echoed locally without echo-message);
    ``mention`` marks someone else's line that contains our nick.
    ``history`` marks lines replayed by CHATHISTORY or history on join.
    """

    time: datetime
    nick: str
    target: str
    text: str
    kind: MessageKind = "privmsg"
    own: bool = False
    private: bool = False
    peer: str = ""
    mention: bool = False
    msgid: str | None = None
    history: bool = False


@dataclass(frozen=True, slots=True)
class Joined:
    time: datetime
    room: str
    nick: str
    own: bool = False


@dataclass(frozen=True, slots=True)
class Parted:
    time: datetime
    room: str
    nick: str
    reason: str = ""
    own: bool = False


@dataclass(frozen=True, slots=True)
class Kicked:
    time: datetime
    room: str
    nick: str
    by: str
    reason: str = ""
    own: bool = False


@dataclass(frozen=True, slots=True)
class Quit:
    """Someone left the network; ``rooms`` are the rooms we shared with them."""

    time: datetime
    nick: str
    reason: str
    rooms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NickChanged:
    time: datetime
    old: str
    new: str
    own: bool = False


@dataclass(frozen=True, slots=True)
class Topic:
    """A room's topic: on join/query (``by`` empty) or a change by ``by``."""

    time: datetime
    room: str
    text: str
    by: str = ""


@dataclass(frozen=True, slots=True)
class Names:
    """Who is in ``room``, after the server's end-of-names (366)."""

    time: datetime
    room: str
    nicks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """One LIST entry."""

    time: datetime
    room: str
    users: int
    topic: str


@dataclass(frozen=True, slots=True)
class Info:
    """Server text worth showing as is: MOTD, WHO lines, other numerics."""

    time: datetime
    text: str


@dataclass(frozen=True, slots=True)
class ServerError:
    """A numeric error reply, FAIL, or ERROR: something we asked for went wrong."""

    time: datetime
    text: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class Pong:
    """The answer to a PING we sent (used to know the server has seen our lines)."""

    time: datetime
    token: str


@dataclass(frozen=True, slots=True)
class Status:
    """Connection news from the I/O layer: connecting, lost, retrying, giving up."""

    time: datetime
    text: str


ClientEvent = (
    Registered
    | NickInUse
    | Said
    | Joined
    | Parted
    | Kicked
    | Quit
    | NickChanged
    | Topic
    | Names
    | RoomInfo
    | Info
    | ServerError
    | Pong
    | Status
)
