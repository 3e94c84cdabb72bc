"""What clients ask of the hub (commands) and what the hub tells them (events).

Both are frozen, slotted dataclasses joined in the unions ``Command`` and
``Event``. The hub creates one event object per fan-out and hands the same object
to every recipient, so protocols can cache its rendering per format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from chinwag.core.accounts import AccountCommand, AccountEvent, SetAccount
from chinwag.core.errors import ChatError
from chinwag.core.types.chat import ClientTags, SendTags, TagsSent
from chinwag.core.types.ircv3 import Redaction, V3Event, V3Query
from chinwag.core.types.lookup import (
    Lookup,
    LookupReply,
    MemberInfo,
    ServerStats,
    Stats,
    Sync,
    Synced,
    Whois,
    WhoisReply,
    WhoQuery,
    WhoReply,
    WhoWas,
    WhoWasReply,
)
from chinwag.core.types.moderation import (
    BanList,
    Kick,
    Kicked,
    Kill,
    Killed,
    ListBans,
    Mode,
    ModeChanged,
    Oper,
    OperUp,
    RoomModes,
    UserModes,
    Wallops,
    WallopsSent,
)
from chinwag.core.types.presence import AwayChanged, IsAway, SetAway
from chinwag.core.types.registered import RoomCommand, RoomEvent
from chinwag.core.types.rooms import Invite, Invited, ListQuery, ListReply, PartAll, Topic, TopicChanged, TopicInfo
from chinwag.core.types.userinfo import UserInfoCommand, UserInfoEvent

#: A multi-line message's lines as its sender composed them (IRCv3
#: draft/multiline): (text, joined to the line before without a line feed).
Lines = tuple[tuple[str, bool], ...]
#: Field metadata: this str may hold line feeds between lines; the sanitizer
#: (protocols/sanitize.py) treats each line on its own and keeps the line feeds.
LINES = {"lines": True}

MessageKind = Literal["privmsg", "action", "notice"]
# A room event kept in history for IRCv3 draft/event-playback (storage.base.event_key):
# a Message record whose ``text`` holds the event's parameter (storage/events.py).
EventKind = Literal["join", "part", "quit", "kick", "nick", "topic", "mode"]

# --- commands: client -> hub -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Register:
    nick: str
    autojoin: tuple[str, ...] = ()
    password: str = ""  # the server password, when one is configured
    realname: str = ""  # IRC USER's real name; defaults to the nick
    user: str = ""  # the username others see (IRC: USER's, "~" first as unverified); default "~" + nick


@dataclass(frozen=True, slots=True)
class Join:
    room: str
    key: str = ""  # for a room with mode +k


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
    tags: ClientTags = ()  # IRCv3 client-only tags ("+draft/reply", ...), relayed, not stored
    lines: Lines = ()  # a draft/multiline batch: its lines (``text`` is their combined value)


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


@dataclass(frozen=True, slots=True)
class Checked:
    """``command`` (a Register or an Oper) with its password already checked by
    the transport, off the event loop: the hub trusts ``ok`` and never hashes a
    password itself (an unchecked command that needs one is refused).
    ``retry_after``: seconds before another check, for the reply; ``final``:
    no more tries, the transport closes the connection."""

    command: Register | Oper
    ok: bool
    retry_after: float = 0.0
    final: bool = False


Command = (
    Register | Join | Part | Say | ChangeNick | Who | ListRooms | Quit | Checked
    | Topic | Mode | ListBans | Kick | Invite | SetAway | Oper | Kill | Wallops | PartAll  # (core/types/)
    | Whois | WhoQuery | ListQuery | Lookup | Stats | Sync | WhoWas | SendTags
    | AccountCommand
    | SetAccount | UserInfoCommand | Redaction | RoomCommand
    | V3Query  # (V3Query, like AccountCommand, is the transport's: transport/ircv3.py)
)


# --- queries: client -> transport (they need the history store, so they are
# answered asynchronously by the transport, not by the pure hub) -------------

RoomKind = Literal["public", "private", "secret"]
HistoryMode = Literal["join", "latest", "since", "away"]


@dataclass(frozen=True, slots=True)
class Recall:
    """After registration: rejoin a returning name's rooms with what it missed,
    or join ``rooms`` with their recent history."""

    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    room: str
    mode: HistoryMode
    limit: int = 20
    seconds: float = 0.0  # for mode "since"


HistoryVerb = Literal["latest", "before", "after", "around", "between", "targets"]


@dataclass(frozen=True, slots=True)
class MsgRef:
    """Where a ChatHistory query starts or ends: a msgid, a time in whole
    milliseconds since the epoch, or neither (IRC's ``*``: no bound)."""

    msgid: str = ""
    ms: int | None = None

    def __post_init__(self) -> None:
        if self.msgid and self.ms is not None:
            raise ValueError("a message reference is a msgid or a time, not both")


@dataclass(frozen=True, slots=True)
class ChatHistory:
    """IRCv3 CHATHISTORY: stored messages of one conversation relative to
    references, or (verb "targets") the conversations with messages between
    two times. ``target`` is a room or the other nick of a private
    conversation; ``token`` is opaque and comes back in the answer (IRC puts
    its label there)."""

    verb: HistoryVerb
    target: str
    start: MsgRef
    end: MsgRef | None = None  # for "between" and "targets"
    limit: int = 50
    token: str = ""
    events: bool = False  # draft/event-playback: a room's joins, parts, ... too (storage/events.py)


Query = Recall | HistoryRequest | ChatHistory

# --- events: hub -> clients --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registered:
    nick: str


@dataclass(frozen=True, slots=True)
class Joined:
    room: str
    nick: str
    away: str = ""  # the joiner's away message (IRC away-notify announces it after the JOIN)
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)
    account: str = field(default="", compare=False)  # for IRCv3 extended-join ("" : not logged in)
    realname: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Members:
    """Who is in a room: sent to a joiner and in answer to Who."""

    room: str
    nicks: tuple[str, ...]
    # Status and user@host of each member, for IRC NAMES. Left out of equality:
    # the names are what the event is about.
    info: tuple[MemberInfo, ...] = field(default=(), compare=False)
    # A joiner of a room over Limits.crowd_size gets only how many are there
    # (nicks and info empty): listing 10,000 names per join is quadratic. Who
    # (IRC NAMES, text /who) always lists them.
    count: int = field(default=0, compare=False)
    kind: RoomKind = field(default="public", compare=False)  # +p private, +s secret (IRC 353: = * @)
    on_join: bool = field(default=False, compare=False)  # sent after a JOIN, unasked (IRCv3 no-implicit-names)


@dataclass(frozen=True, slots=True)
class Parted:
    room: str
    nick: str
    reason: str
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class Message:
    """A stored, delivered message. ``target`` is a room or the recipient's nick."""

    msgid: str
    ts: float
    nick: str
    target: str
    text: str = field(metadata=LINES)  # lines of a multi-line message are joined by "\n"
    kind: MessageKind | EventKind  # an EventKind only in history read for draft/event-playback
    tags: ClientTags = field(default=(), compare=False)  # client-only tags (not stored: history has none)
    user: str = field(default="", compare=False)  # the sender's username ("" from history: "~" + nick)
    # A private message between two logged-in users: (sender's account,
    # recipient's account). Its history then belongs to the two accounts
    # (storage.base.conversation_key), not to whoever holds the nicks.
    accounts: tuple[str, str] | None = field(default=None, repr=False, compare=False)
    account: str = field(default="", compare=False)  # the sender's account (IRCv3 account-tag); live only
    # A draft/multiline message as composed (live only; history has ``text``).
    lines: Lines = field(default=(), repr=False, compare=False)
    # Computed once: every recipient's renderer asks, hundreds of times per message.
    private: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "private", not self.target.startswith("#"))


@dataclass(frozen=True, slots=True)
class NickChanged:
    old: str
    new: str
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class Left:
    """A session is gone; sent once to everyone who shared any room with it."""

    nick: str
    reason: str
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


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


@dataclass(frozen=True, slots=True)
class History:
    """Stored messages for one requester; ``room`` is None for a catch-up
    across several rooms. ``more`` says older messages were left out."""

    room: str | None
    mode: HistoryMode
    messages: tuple[Message, ...]
    more: bool = False
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ChatHistoryReply:
    """The answer to one ChatHistory query, for its requester only: messages
    oldest first, or (verb "targets") (target, time of its latest message)
    pairs, or an ``error`` code (IRCv3 standard-reply codes such as
    INVALID_TARGET or MESSAGE_ERROR)."""

    query: ChatHistory
    messages: tuple[Message, ...] = ()
    targets: tuple[tuple[str, float], ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class Crowd:
    """Joins, parts and quits in a big room since its last summary (core/crowd.py).

    ``changes[start:]`` is what this recipient has not seen yet: a member who
    joined (or got the full list) meanwhile starts after that point. ``joined``
    and ``left`` count that part. Every event of one summary shares ``changes``
    and ``cache``, so each wire format renders the lines once per summary.
    """

    room: str
    changes: tuple[tuple[str, str, str], ...]  # (kind: "join" | "part" | "quit", nick, reason), in order
    start: int
    joined: int
    left: int
    cache: dict[object, object] = field(default_factory=dict, compare=False, repr=False)


# --- one user, several connections; nick protection (core/handlers/users.py) ---------------


@dataclass(frozen=True, slots=True)
class NickProtected:
    """``nick`` is an account's name and its holder is not logged in to it:
    log in within ``grace`` seconds or be renamed (0: renamed now)."""

    nick: str
    grace: int


@dataclass(frozen=True, slots=True)
class Echo:
    """A message one of a user's connections sent, for its other connections
    (which show it as sent by them, whatever their echo settings)."""

    message: Message


@dataclass(frozen=True, slots=True)
class Attached:
    """This connection logged in to an account whose user is already online:
    it is that user now, ``nick``, in its rooms (each with its topic, None if
    unset, and its members), one of ``connections``."""

    nick: str
    rooms: tuple[tuple[Joined, TopicInfo | None, Members], ...]
    connections: int


Event = (
    Registered
    | Crowd
    | Joined
    | Members
    | Parted
    | Message
    | NickChanged
    | Left
    | RoomList
    | Failed
    | ServerShutdown
    | TopicInfo
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
    | History
    | ChatHistoryReply
    | AccountEvent
    | UserInfoEvent
    | V3Event
    | NickProtected
    | Echo
    | Attached
    | RoomEvent
)


@dataclass(frozen=True, slots=True)
class Outbound:
    """One event and the sessions that must receive it."""

    to: Sequence[int]
    event: Event
