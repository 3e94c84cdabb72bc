"""Registered rooms: the commands, events and errors (the handlers are in core/handlers/registered.py).

A logged-in room operator registers a room to their account (IRC ``ChanServ
REGISTER #room`` or ``REGISTER #room``, text ``/register #room``). From then on
the room's founder account, its op list (accounts), topic, modes, key, bans
and quiets are kept for ever, members or not, history or not (RoomState,
stored behind storage.base.RoomStore), until the founder drops it. In a
registered room op is given on join only to the accounts that hold it (the
founder, the op list) and to server operators, never to whoever arrives first;
someone who logs in (or OPERs) while inside gets it then.

Nothing here is wire syntax or I/O: like core/accounts.py it only defines
types, so that core/events.py can list them without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chinwag.core.errors import ChatError

SERVICE: Final = "ChanServ"  # who answers (IRC: NOTICEs from ChanServ; who sets +o on join)

# --- commands: client -> hub ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomRegister:
    """Register ``room`` to the sender's account (the sender must be its operator)."""

    room: str


@dataclass(frozen=True, slots=True)
class RoomDrop:
    """Unregister ``room`` (its founder or a server operator)."""

    room: str


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """Who founded ``room``, when, and its op list."""

    room: str


@dataclass(frozen=True, slots=True)
class RoomAccess:
    """Put ``account`` on ``room``'s op list (``add``) or take it off (founder or server operator)."""

    room: str
    account: str
    add: bool = True


@dataclass(frozen=True, slots=True)
class RoomHelp:
    """The room service's command list (answered at the protocol's edge, never reaches the hub)."""


RoomCommand = RoomRegister | RoomDrop | RoomInfo | RoomAccess

# --- events: hub -> clients ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomNote:
    """The room service's answer to the one who asked ("#dev is now registered to alice")."""

    text: str


@dataclass(frozen=True, slots=True)
class RoomDetails:
    """INFO: ``registered`` 0.0 means not registered; ``founder`` "" means the server."""

    room: str
    registered: float
    founder: str
    ops: tuple[str, ...]
    topic: str = ""


RoomEvent = RoomNote | RoomDetails

# --- errors -------------------------------------------------------------------------------------


class RoomServiceError(ChatError):
    """A room-service command was refused; ``reason`` says why."""


    def default_reason(self) -> str:
        return "room service command refused"


class NeedAccount(RoomServiceError):
    def default_reason(self) -> str:
        return "you must be logged in to an account first (/register PASSWORD or /login NAME PASSWORD)"


class RoomAlreadyRegistered(RoomServiceError):
    def default_reason(self) -> str:
        return "this room is already registered"


class RoomNotRegistered(RoomServiceError):
    def default_reason(self) -> str:
        return "this room is not registered"


class NotFounder(RoomServiceError):

    def default_reason(self) -> str:
        return "only the room's founder (or a server operator) can do that"


class RoomListFull(RoomServiceError):
    def default_reason(self) -> str:
        return "limit reached"


class UnknownAccount(RoomServiceError):
    def default_reason(self) -> str:
        return "nobody is logged in to that account now (they must be online and logged in to be added)"
