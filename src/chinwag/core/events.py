"""What clients ask of the hub (commands) and what the hub tells them (events).

Both are frozen, slotted dataclasses joined in the unions ``Command`` and
``Event``. The hub creates one event object per fan-out and hands the same object
to every recipient, so protocols can cache its rendering per format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chinwag.core.errors import ChatError

MessageKind = Literal["privmsg", "action", "notice"]

# --- commands: client -> hub -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Register:
    nick: str
    autojoin: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Join:
    room: str


@dataclass(frozen=True, slots=True)
class Part:
    room: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Say:
    """A message to a room (target starts with '#') or to a nick."""

    target: str
    text: str
    kind: MessageKind = "privmsg"


@dataclass(frozen=True, slots=True)
class ChangeNick:
    nick: str


@dataclass(frozen=True, slots=True)
class Who:
    room: str


@dataclass(frozen=True, slots=True)
class ListRooms:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    reason: str = ""


Command = Register | Join | Part | Say | ChangeNick | Who | ListRooms | Quit

# --- events: hub -> clients --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registered:
    nick: str


@dataclass(frozen=True, slots=True)
class Joined:
    room: str
    nick: str


@dataclass(frozen=True, slots=True)
class Members:
    """Who is in a room: sent to a joiner and in answer to Who."""

    room: str
    nicks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Parted:
    room: str
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class Message:
    """A stored, delivered message. ``target`` is a room or the recipient's nick."""

    msgid: str
    ts: float
    nick: str
    target: str
    text: str
    kind: MessageKind

    @property
    def private(self) -> bool:
        return not self.target.startswith("#")


@dataclass(frozen=True, slots=True)
class NickChanged:
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Left:
    """A session is gone; sent once to everyone who shared any room with it."""

    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class RoomList:
    rooms: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Failed:
    error: ChatError
    command: str


@dataclass(frozen=True, slots=True)
class ServerShutdown:
    reason: str = "server is shutting down"


Event = (
    Registered
    | Joined
    | Members
    | Parted
    | Message
    | NickChanged
    | Left
    | RoomList
    | Failed
    | ServerShutdown
)


@dataclass(frozen=True, slots=True)
class Outbound:
    """One event and the sessions that must receive it."""

    to: Sequence[int]
    event: Event
