"""Lookup types: what IRC clients ask about people and the server (WHOIS, WHO,
WHOWAS, ISON/USERHOST, LUSERS), the member info they answer with, and the
labeled-response barrier (Sync).

Part of the ``Command`` and ``Event`` unions of :mod:`chinwag.core.events`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """What others may know of a user. ``prefix`` is the room status ("@", "+",
    "@+" or "") when the info is about a room member; ``away`` is the away
    message ("" when present)."""

    nick: str
    user: str
    host: str
    realname: str
    prefix: str = ""
    away: str = ""
    oper: bool = False
    account: str = ""  # the account it is logged in to ("" : none)


@dataclass(frozen=True, slots=True)
class Whois:
    nick: str


@dataclass(frozen=True, slots=True)
class WhoQuery:
    """Who matches ``mask``: a room, a nick, or a nick glob with * and ?."""

    mask: str


@dataclass(frozen=True, slots=True)
class WhoWas:
    """Who held these nicks before (RFC 2812 3.6.3); ``count`` <= 0: every entry."""

    nicks: tuple[str, ...]
    count: int = 0


@dataclass(frozen=True, slots=True)
class Lookup:
    """Which of these nicks are online (ISON, USERHOST)."""

    nicks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Stats:
    """User, operator and room counts (LUSERS)."""


@dataclass(frozen=True, slots=True)
class Sync:
    """A barrier: answered with Synced(token) to the sender, in order with every
    other event, so an adapter can tell which events answer which command even
    when delivery is delayed (IRC labeled-response). One that ``opens`` a group
    goes to the hub together with the command after it: a command that waits
    (a password check) must not leave the group open meanwhile, or live
    traffic would be taken for its answer."""

    token: str
    opens: bool = False


@dataclass(frozen=True, slots=True)
class WhoisReply:
    info: MemberInfo
    rooms: tuple[str, ...]  # with status prefixes, e.g. "@#dev"
    idle: int  # seconds since the user last spoke
    signon: float


@dataclass(frozen=True, slots=True)
class WhoWasReply:
    nick: str  # as asked
    entries: tuple[tuple[MemberInfo, float], ...]  # (who, when they gave the nick up), newest first; () unknown


@dataclass(frozen=True, slots=True)
class WhoReply:
    mask: str
    entries: tuple[tuple[str, MemberInfo], ...]  # (room or "*", who)
    truncated: bool = False  # more matched than limits.who_max: entries holds the first ones


@dataclass(frozen=True, slots=True)
class LookupReply:
    found: tuple[MemberInfo, ...]  # in the order asked, the ones online


@dataclass(frozen=True, slots=True)
class ServerStats:
    users: int
    invisible: int
    opers: int
    rooms: int
    unregistered: int
    max_users: int = 0  # most users at once since the start
    remote: int = 0  # of ``users``, those on other nodes of a cluster (ghosts)
    nodes: int = 1  # nodes of the network, this one included


@dataclass(frozen=True, slots=True)
class Synced:
    token: str
