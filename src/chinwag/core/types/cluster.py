"""Users on other nodes of a cluster ("ghosts") and the presence ops that keep them.

Every node keeps the whole network's presence in its own ``Hub``; a user
connected to another node is a *ghost* there (a ``Session`` with a negative
sid, core/handlers/remote.py). A node tells the others what its local users
did as presence ops: effects, not commands (the origin already decided), each
naming its user by nick (nicks are unique across the cluster). A
:class:`Presence` is one local user as a snapshot shows it, to repair a node
that missed ops.

Frozen, slotted dataclasses like those of core/events.py; nothing here is wire
syntax (transport/cluster/wire.py encodes them).
"""

from __future__ import annotations

from dataclasses import dataclass

from chinwag.core.roomstate import RoomState
from chinwag.core.types.moderation import ModeChange


@dataclass(frozen=True, slots=True)
class RemoteUser:
    """What every node knows of a registered user of another node."""

    nick: str
    user: str  # username[@host], as Session.user
    realname: str
    account: str = ""  # "" : not logged in
    away: str = ""  # "" : present
    modes: str = ""  # user modes, letters sorted ("iw"); oper is ``oper``
    oper: bool = False
    signon: float = 0.0


@dataclass(frozen=True, slots=True)
class Presence:
    """A user and its rooms: (room as displayed, status "@", "+", "@+" or "")."""

    user: RemoteUser
    rooms: tuple[tuple[str, str], ...] = ()


# --- presence ops: one effect each, made true on the receiving node ---------------------


@dataclass(frozen=True, slots=True)
class Arrive:
    """A user registered (its joins follow as Join ops)."""

    user: RemoteUser


@dataclass(frozen=True, slots=True)
class Join:
    nick: str
    room: str
    status: str = ""  # "@", "+", "@+" or "" as it joined (a later grant is a Modes op)


@dataclass(frozen=True, slots=True)
class Part:
    nick: str
    room: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Quit:
    nick: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Nick:
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Topic:
    nick: str  # who set it
    room: str
    topic: str
    ts: float


@dataclass(frozen=True, slots=True)
class Away:
    nick: str
    away: str  # "" : back


@dataclass(frozen=True, slots=True)
class Kick:
    nick: str  # who kicked
    room: str
    target: str  # who was kicked (on any node)
    reason: str


@dataclass(frozen=True, slots=True)
class Modes:
    """``nick`` changed modes of ``room`` (a room; or a nick: its own user
    modes, "o" for operator status), as core's ModeChanged shows them: the
    changes applied, with their arguments (a nick for o/v, a mask for b/q).
    ``user``: the actor's user[@host] for the IRC prefix (``nick`` may be a
    service, "ChanServ", that no node holds)."""

    nick: str
    room: str
    changes: tuple[ModeChange, ...]
    user: str = ""


@dataclass(frozen=True, slots=True)
class Rules:
    """A room's rules after a change (modes, key, bans, topic, registration):
    made true silently (what changed was shown by its own op)."""

    state: RoomState


@dataclass(frozen=True, slots=True)
class Account:
    nick: str
    account: str | None  # None: logged out


@dataclass(frozen=True, slots=True)
class UserInfo:
    """SETNAME or a host change (chghost): the user's real name and user[@host] now."""

    nick: str
    realname: str
    user: str


@dataclass(frozen=True, slots=True)
class Invite:
    """``nick`` invited ``target`` (a user of any node) to ``room``: the
    invitation lets it in on its own node, where it is told."""

    nick: str
    room: str
    target: str


PresenceOp = Arrive | Join | Part | Quit | Nick | Topic | Away | Kick | Modes | Rules | Account | UserInfo | Invite
