"""Commands and events beyond plain chat: topics, modes, kicks, invitations,
away, server operators and the lookups IRC clients make (WHOIS, WHO, LIST,
ISON/USERHOST, LUSERS).

They are frozen, slotted dataclasses like those in :mod:`chinwag.core.events`
and belong to its ``Command`` and ``Event`` unions; they live here to keep that
module readable. Nothing here is IRC wire syntax: the IRC adapter maps verbs
and numerics onto these types, and the text protocol shows the events it cares
about.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: IRCv3 client-only tags (keys start with "+"), as (key, value) pairs: relayed as
#: they came to the clients that want them, never stored, never shown as text.
ClientTags = tuple[tuple[str, str], ...]

# --- shared value types -------------------------------------------------------


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
class ModeChange:
    """One mode letter set (``on``) or unset, with its argument if it takes one."""

    on: bool
    mode: str
    arg: str | None = None


# --- commands: client -> hub ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Topic:
    """Set a room's topic, or ask for it when ``text`` is None."""

    room: str
    text: str | None = None


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
class Invite:
    nick: str
    room: str


@dataclass(frozen=True, slots=True)
class SetAway:
    """Mark oneself away with a message; an empty message means back."""

    message: str = ""


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
class PartAll:
    """Leave every room (IRC ``JOIN 0``)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Whois:
    nick: str


@dataclass(frozen=True, slots=True)
class WhoQuery:
    """Who matches ``mask``: a room, a nick, or a nick glob with * and ?."""

    mask: str


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Rooms with member counts and topics; ``rooms`` limits the answer."""

    rooms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SendTags:
    """IRCv3 TAGMSG: client-only tags (typing, reactions) and no text, to a room or a nick."""

    target: str
    tags: ClientTags


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


ExtendedCommand = (
    Topic
    | Mode
    | ListBans
    | Kick
    | Invite
    | SetAway
    | Oper
    | Kill
    | Wallops
    | PartAll
    | Whois
    | WhoQuery
    | ListQuery
    | Lookup
    | Stats
    | Sync
    | WhoWas
    | SendTags
)

# --- events: hub -> clients -----------------------------------------------------


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
class Invited:
    """To the invited user and, as confirmation, to the one who invited."""

    room: str
    nick: str
    target: str
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class AwayChanged:
    """To the user (confirmation) and everyone sharing a room (IRC away-notify)."""

    nick: str
    message: str
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class IsAway:
    """A message or invitation reached someone who is away."""

    nick: str
    message: str


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


@dataclass(frozen=True, slots=True)
class WhoisReply:
    info: MemberInfo
    rooms: tuple[str, ...]  # with status prefixes, e.g. "@#dev"
    idle: int  # seconds since the user last spoke
    signon: float


@dataclass(frozen=True, slots=True)
class TagsSent:
    """A TAGMSG relayed: like a Message, minus the text, never stored."""

    msgid: str
    ts: float
    nick: str
    target: str
    tags: ClientTags
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


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
class ListReply:
    rooms: tuple[tuple[str, int, str], ...]  # (name, members, topic)


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


@dataclass(frozen=True, slots=True)
class Synced:
    token: str


ExtendedEvent = (
    TopicInfo
    | TopicChanged
    | RoomModes
    | UserModes
    | ModeChanged
    | BanList
    | Kicked
    | Invited
    | AwayChanged
    | IsAway
    | OperUp
    | Killed
    | WallopsSent
    | WhoisReply
    | WhoReply
    | ListReply
    | LookupReply
    | ServerStats
    | Synced
    | WhoWasReply
    | TagsSent
)


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
