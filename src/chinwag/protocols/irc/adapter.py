"""The IRC client protocol as a Sans-I/O adapter: bytes in, hub commands out;
hub events in, IRC lines out. Same interface as TextProtocol, plus ``tick(now)``
for PING and the registration deadline (the transport calls it; no clock here).

Three tables drive it:

* ``REGISTRATION``: the registration state machine (CAP negotiation holds it).
* ``VERBS``: IRC verb -> (minimum parameters, builder, needs registration); one
  ``_run`` checks 451 / 461 / 421 for every verb.
* Rendering: one ``_render_*`` per event type (``_RENDERERS``).

Domain errors come back as ``Failed`` events and become numerics in one place,
:func:`chinwag.protocols.irc.numerics.error_params`.

Fan-out: lines every recipient sees alike (PRIVMSG, JOIN, QUIT, ...) are
formatted once per event and *variant* -- the set of enabled caps that change
the bytes (server-time, message-tags) -- and shared through the render cache.

Labeled responses: a labeled line's hub commands are bracketed with ``Sync``
barriers, so the events that answer it are recognised even when the server
delivers them later (messages wait for the history store).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Final

from chinwag import __version__
from chinwag.config import Config, Limits
from chinwag.core.accounts import AccountChanged, AccountNote, SaslChallenge
from chinwag.core.errors import (
    AlreadyRegistered,
    ChatError,
    NameError_,
    NoText,
    NotRegistered,
    PasswordMismatch,
    UnknownMode,
    UnknownUserMode,
)
from chinwag.core.events import (
    ChangeNick,
    ChatHistory,
    ChatHistoryReply,
    Command,
    Event,
    Failed,
    HistoryVerb,
    Join,
    Joined,
    Left,
    Members,
    Message,
    MsgRef,
    NickChanged,
    Part,
    Parted,
    Quit,
    Register,
    Registered,
    Say,
    ServerShutdown,
    Who,
)
from chinwag.core.extended import (
    AwayChanged,
    BanList,
    Invite,
    Invited,
    IsAway,
    Kick,
    Kicked,
    Kill,
    Killed,
    ListBans,
    ListQuery,
    ListReply,
    Lookup,
    LookupReply,
    MemberInfo,
    Mode,
    ModeChange,
    ModeChanged,
    Oper,
    OperUp,
    PartAll,
    RoomModes,
    ServerStats,
    SetAway,
    Stats,
    Sync,
    Synced,
    Topic,
    TopicChanged,
    TopicInfo,
    UserModes,
    Wallops,
    WallopsSent,
    Whois,
    WhoisReply,
    WhoQuery,
    WhoReply,
    mode_string,
)
from chinwag.core.names import HIDDEN_HOST, is_room
from chinwag.protocols.base import RenderCache
from chinwag.protocols.irc import accounts as irc_accounts
from chinwag.protocols.irc import caps as C
from chinwag.protocols.irc import numerics as N
from chinwag.protocols.irc.message import InputTooLong, InvalidMessage, IrcLineReader, escape_tag_value
from chinwag.protocols.irc.message import Message as IrcMessage

log = logging.getLogger("chinwag.irc")

USER_MODES: Final = "iow"
ROOM_MODES: Final = "biklmnotv"
ROOM_MODES_WITH_ARG: Final = "bklov"
_CTL: Final = str.maketrans({"\r": " ", "\n": " ", "\0": " "})


@dataclass(frozen=True, slots=True)
class IrcInfo:
    """Per-server facts every IRC connection shares (built once in Server.start)."""

    server_name: str
    network: str
    limits: Limits
    motd: tuple[str, ...]
    created: str
    isupport: tuple[tuple[str, ...], ...]  # 005 token groups, at most 13 per line
    version: str = f"chinwag-{__version__}"
    password_required: bool = False  # a server password: PASS is that, not account:password

    @classmethod
    def from_config(cls, config: Config, now: float | None = None) -> IrcInfo:
        tokens = N.isupport_tokens(config.limits, config.network, config.history_max)
        groups = tuple(tuple(tokens[i : i + 13]) for i in range(0, len(tokens), 13))
        created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
        motd = tuple(config.motd.splitlines()) if config.motd.strip() else ()
        return cls(config.server_name, config.network, config.limits, motd, created, groups,
                   password_required=bool(config.password))


# --- registration: a small state table ------------------------------------------------


class Reg(Enum):
    NEW = "new"  # collecting NICK/USER/PASS
    CAP = "cap"  # CAP negotiation holds registration until CAP END
    WAIT = "wait"  # Register sent; input waits for its answer
    DONE = "done"


#: (state, happening) -> next state. Happenings: cap (CAP LS/REQ), end (CAP END),
#: ready (NICK and USER known), ok (Registered), refused (Failed register).
REGISTRATION: Final[dict[tuple[Reg, str], Reg]] = {
    (Reg.NEW, "cap"): Reg.CAP,
    (Reg.CAP, "cap"): Reg.CAP,
    (Reg.CAP, "end"): Reg.NEW,
    (Reg.NEW, "end"): Reg.NEW,
    (Reg.NEW, "ready"): Reg.WAIT,
    (Reg.WAIT, "ok"): Reg.DONE,
    (Reg.WAIT, "refused"): Reg.NEW,
}


# --- verbs: a declarative table ------------------------------------------------------------

Builder = Callable[["IrcProtocol", IrcMessage], Iterable[Command | ChatHistory]]


@dataclass(frozen=True, slots=True)
class Verb:
    min_params: int
    build: Builder
    registered: bool = True  # refused with 451 before registration


def _split(param: str) -> list[str]:
    return [p for p in param.split(",") if p]


def _pass(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    if p.reg is Reg.DONE or p.reg is Reg.WAIT:
        raise _already()
    p.password = m.params[0]
    return ()


def _already() -> ChatError:
    return AlreadyRegistered()


def _nick(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    if not m.params or not m.params[0]:
        raise N.NoNicknameGiven()
    if p.reg is Reg.DONE:
        return (ChangeNick(m.params[0]),)
    p.wanted_nick = m.params[0]
    return p.maybe_register()


def _user(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    if p.reg is Reg.DONE or p.user_given:
        raise _already()
    p.user_given = True
    p.realname = m.params[3]
    return p.maybe_register()


def _cap(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    p.cap_command(m.params)
    return ()


def _ping(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    p.reply(IrcMessage("PONG", (p.info.server_name, m.params[0]), p.info.server_name))
    return ()


def _pong(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    p.ping_sent = None
    return ()


def _quit(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    reason = m.params[0] if m.params else "Client Quit"
    p.send_error(f"Closing Link: {p.nick or '*'} (Quit: {reason})")
    return (Quit(reason),)


def _join(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    if m.params[0] == "0":
        return (PartAll(),)
    keys = m.params[1].split(",") if len(m.params) > 1 else []
    return [Join(room, keys[i] if i < len(keys) else "") for i, room in enumerate(_split(m.params[0]))]


def _part(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    reason = m.params[1] if len(m.params) > 1 else ""
    return [Part(room, reason) for room in _split(m.params[0])]


def _targets(p: IrcProtocol, m: IrcMessage) -> list[str]:
    if not m.params or not m.params[0]:
        raise N.NoRecipient(reason=f"no recipient given ({m.command})")
    if len(m.params) < 2 or not m.params[1]:
        raise NoText()
    targets = _split(m.params[0])
    if len(targets) > p.limits.max_targets:
        raise N.TooManyTargets(m.params[0])
    return targets


def _privmsg(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    if len(m.params) > 1 and irc_accounts.is_nickserv(m.params[0]):
        return irc_accounts.nickserv(p, m.params[1])
    targets = _targets(p, m)
    text = m.params[1]
    if text.startswith("\x01ACTION ") or text == "\x01ACTION\x01":
        body = text[8:].removesuffix("\x01")
        return [Say(t, body or " ", "action") for t in targets]
    return [Say(t, text) for t in targets]


def _notice(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    try:
        targets = _targets(p, m)
    except ChatError:
        return ()  # a NOTICE never gets an automatic reply
    return [Say(t, m.params[1], "notice") for t in targets]


def _topic(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (Topic(m.params[0], m.params[1] if len(m.params) > 1 else None),)


def _names(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    if not m.params:
        p.numeric(N.RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return ()
    return [Who(room) for room in _split(m.params[0])]


def _list(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (ListQuery(tuple(_split(m.params[0])) if m.params else ()),)


def _who(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (WhoQuery(m.params[0] if m.params else "*"),)


def _whois(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    nicks = _split(m.params[-1])  # WHOIS [server] nick
    if not nicks:
        raise N.NoNicknameGiven()
    return (Whois(nicks[0]),)


def _away(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (SetAway(m.params[0] if m.params else ""),)


def _ison(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    nicks = tuple(n for param in m.params for n in param.split() if n)
    p.lookups.append("ISON")
    return (Lookup(nicks),)


def _userhost(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    nicks = tuple(n for param in m.params for n in param.split() if n)[:5]
    p.lookups.append("USERHOST")
    return (Lookup(nicks),)


def _kick(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    rooms, nicks = _split(m.params[0]), _split(m.params[1])
    reason = m.params[2] if len(m.params) > 2 else ""
    if len(nicks) > p.limits.max_targets:
        raise N.TooManyTargets(m.params[1])
    if len(rooms) == 1:
        return [Kick(rooms[0], n, reason) for n in nicks]
    return [Kick(r, n, reason) for r, n in zip(rooms, nicks, strict=False)]


def _invite(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (Invite(m.params[0], m.params[1]),)


def _mode(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    target = m.params[0]
    room = is_room(target)
    if len(m.params) == 1:
        return (Mode(target),)
    changes, unknown = parse_modes(m.params[1], m.params[2:], room)
    if unknown:
        for letter in unknown if room else unknown[:1]:
            p.error(UnknownMode(letter, "is an unknown mode character") if room else UnknownUserMode())
    if room and any(c.mode == "b" and c.arg is None for c in changes):
        return (ListBans(target),)
    if not changes:
        return () if unknown else (Mode(target),)
    return (Mode(target, tuple(changes)),)


def _oper(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (Oper(m.params[0], m.params[1]),)


def _kill(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (Kill(m.params[0], m.params[1]),)


def _wallops(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (Wallops(m.params[0]),)


def _lusers(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (Stats(),)


def _version(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    p.numeric(N.RPL_VERSION, p.info.version, p.info.server_name, "chinwag chat server")
    p.send_isupport()
    return ()


def _time(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    now = time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", time.gmtime())
    p.numeric(N.RPL_TIME, p.info.server_name, now)
    return ()


def _motd(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    p.send_motd()
    return ()


def _tagmsg(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return ()  # client-only tags (typing, reactions) are not relayed yet


_HISTORY_VERBS: Final[dict[str, HistoryVerb]] = {
    "LATEST": "latest", "BEFORE": "before", "AFTER": "after", "AROUND": "around", "BETWEEN": "between",
    "TARGETS": "targets",
}
_MSGID: Final = re.compile(r"[0-9a-f]{16}")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def parse_msgref(param: str, star: bool = False) -> MsgRef | None:
    """``msgid=...``, ``timestamp=YYYY-MM-DDThh:mm:ss.sssZ`` or (if ``star``) ``*``; None if invalid."""
    if star and param == "*":
        return MsgRef()
    kind, _, value = param.partition("=")
    if kind == "msgid" and _MSGID.fullmatch(value):
        return MsgRef(msgid=value)
    if kind == "timestamp":
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return MsgRef(ms=(when - _EPOCH) // timedelta(milliseconds=1))
    return None


def _chathistory(p: IrcProtocol, m: IrcMessage) -> Iterable[ChatHistory]:
    """CHATHISTORY <verb> <target> <ref> [<ref>] <limit>, or TARGETS <time> <time> <limit>.

    Malformed requests are answered here with FAIL; whether the target may be
    read is the server's to say (it answers INVALID_TARGET).
    """
    params = m.params
    name = params[0].upper() if params else ""
    verb = _HISTORY_VERBS.get(name)
    if verb is None:
        p.fail("UNKNOWN_COMMAND", name or "*", reason="Unknown command")
        return ()
    # (target?, number of references, parameters needed)
    has_target = verb != "targets"
    nrefs = 2 if verb in ("between", "targets") else 1
    need = 1 + has_target + nrefs + 1
    if len(params) < need:
        p.fail("NEED_MORE_PARAMS", name, reason="Missing parameters")
        return ()
    target = params[1] if has_target else ""
    texts = params[1 + has_target : 1 + has_target + nrefs]
    refs = [parse_msgref(text, star=verb == "latest" and i == 0) for i, text in enumerate(texts)]
    for text, ref in zip(texts, refs, strict=True):
        if ref is None or (verb == "targets" and ref.ms is None):  # TARGETS takes times only
            p.fail("INVALID_PARAMS", name, text, reason="Invalid message reference")
            return ()
    limit = params[need - 1]
    if not (limit.isascii() and limit.isdigit() and int(limit) > 0):
        p.fail("INVALID_PARAMS", name, limit, reason="Invalid limit")
        return ()
    start, end = refs[0], refs[1] if nrefs == 2 else None
    assert start is not None
    return (ChatHistory(verb, target, start, end, int(limit)),)


VERBS: Final[dict[str, Verb]] = {
    "CAP": Verb(1, _cap, registered=False),
    "PASS": Verb(1, _pass, registered=False),
    "AUTHENTICATE": Verb(1, irc_accounts.authenticate, registered=False),
    "REGISTER": Verb(1, irc_accounts.register, registered=False),
    "VERIFY": Verb(2, irc_accounts.verify, registered=False),
    "NICK": Verb(0, _nick, registered=False),  # 431, not 461, without a nick
    "USER": Verb(4, _user, registered=False),
    "PING": Verb(1, _ping, registered=False),
    "PONG": Verb(0, _pong, registered=False),
    "QUIT": Verb(0, _quit, registered=False),
    "JOIN": Verb(1, _join),
    "PART": Verb(1, _part),
    "PRIVMSG": Verb(0, _privmsg),  # 411/412 instead of 461
    "NOTICE": Verb(0, _notice),
    "TAGMSG": Verb(1, _tagmsg),
    "CHATHISTORY": Verb(0, _chathistory),  # FAIL ... NEED_MORE_PARAMS instead of 461
    "TOPIC": Verb(1, _topic),
    "NAMES": Verb(0, _names),
    "LIST": Verb(0, _list),
    "WHO": Verb(0, _who),
    "WHOIS": Verb(1, _whois),
    "AWAY": Verb(0, _away),
    "ISON": Verb(1, _ison),
    "USERHOST": Verb(1, _userhost),
    "KICK": Verb(2, _kick),
    "INVITE": Verb(2, _invite),
    "MODE": Verb(1, _mode),
    "OPER": Verb(2, _oper),
    "KILL": Verb(2, _kill),
    "WALLOPS": Verb(1, _wallops),
    "LUSERS": Verb(0, _lusers),
    "VERSION": Verb(0, _version),
    "TIME": Verb(0, _time),
    "MOTD": Verb(0, _motd),
}


def parse_modes(modestr: str, args: Iterable[str], room: bool) -> tuple[list[ModeChange], list[str]]:
    """``+ov-k alice bob key`` -> typed changes, and the letters we do not know.

    Room modes taking an argument: o, v, b (without one, b lists the bans),
    k when set (optional when unset), l when set.
    """
    rest = deque(args)
    known = ROOM_MODES if room else USER_MODES
    changes: list[ModeChange] = []
    unknown: list[str] = []
    on = True
    for letter in modestr:
        if letter in "+-":
            on = letter == "+"
            continue
        if letter not in known:
            unknown.append(letter)
            continue
        arg: str | None = None
        if room and (letter in "ovb" or (letter == "k" and (on or rest)) or (letter == "l" and on)):
            arg = rest.popleft() if rest else None
            if arg is None and letter != "b":
                continue  # a change missing its argument is ignored
        changes.append(ModeChange(on, letter, arg))
    return changes, unknown


# --- formatting helpers ---------------------------------------------------------------------


def source(nick: str) -> str:
    return f"{nick}!{nick}@{HIDDEN_HOST}"


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def split_utf8(text: str, budget: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``budget`` UTF-8 bytes, on character boundaries."""
    data = text.encode()
    if len(data) <= budget:
        return [text]
    budget = max(budget, 4)
    out = []
    while data:
        cut = min(budget, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        out.append(data[:cut].decode())
        data = data[cut:]
    return out


_tokens = itertools.count(1)


def _in_batch(line: bytes, ref: str) -> bytes:
    """``line`` with ``batch=ref`` first among its tags."""
    tag = f"batch={ref}".encode()
    return b"@" + tag + b";" + line[1:] if line.startswith(b"@") else b"@" + tag + b" " + line


class IrcProtocol:
    """One IRC connection's protocol state; no I/O, no clock (see ``tick``)."""

    __slots__ = (
        "info", "limits", "reader", "closing", "reg", "nick", "wanted_nick", "user_given", "realname",
        "password", "caps", "lookups", "_lines", "_queue", "_out", "_variant", "_burst", "_capture",
        "_labels", "_activity", "_started", "_seen", "ping_sent", "sasl", "account", "registering",
    )

    def __init__(self, info: IrcInfo) -> None:
        self.info = info
        self.limits = info.limits
        self.reader = IrcLineReader(max_body=info.limits.irc_line, max_tags=info.limits.irc_tags)
        self.closing = False
        self.reg = Reg.NEW
        self.nick: str | None = None
        self.wanted_nick: str | None = None
        self.user_given = False
        self.realname = ""
        self.password = ""
        self.caps: frozenset[str] = frozenset()
        self.sasl: irc_accounts.Sasl | None = None  # SASL and accounts: protocols/irc/accounts.py
        self.account: str | None = None
        self.registering = False  # a draft/account-registration REGISTER is in flight
        # Lists, not deques: an empty deque costs ~600 bytes, and with 10,000
        # idle connections that is most of their memory; these stay short.
        self.lookups: list[str] = []  # ISON / USERHOST, answered in order
        self._lines: list[IrcMessage | InvalidMessage | InputTooLong] = []
        self._queue: list[Command | ChatHistory] = []
        self._out: list[bytes] = []
        self._variant: tuple[type, bool, bool, bool] = (IrcProtocol, False, False, False)
        self._burst = False  # the first ServerStats after 001 completes the welcome
        # labeled-response
        self._capture: list[bytes] | None = None
        self._labels: dict[str, tuple[str, list[bytes]]] = {}  # sync token -> (label, local lines)
        # liveness, in the transport's clock (tick)
        self._activity = True
        self._started: float | None = None
        self._seen = 0.0
        self.ping_sent: float | None = None

    # --- input -------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        return len(self._lines)

    def receive_data(self, data: bytes) -> None:
        self._activity = True
        self.reader.feed(data)
        self._lines.extend(self.reader.messages())

    def next_command(self) -> Command | ChatHistory | None:
        while not self.closing:
            if self._queue:
                command = self._queue.pop(0)
                if isinstance(command, Quit):
                    self.closing = True
                return command
            if self.reg is Reg.WAIT or not self._lines:
                return None
            item = self._lines.pop(0)
            if isinstance(item, InputTooLong):
                self.error(N.InputTooLong())
            elif isinstance(item, IrcMessage):
                self._handle_line(item)
            # InvalidMessage (no command, a NUL...): ignored, as servers do
        return None

    def _handle_line(self, msg: IrcMessage) -> None:
        label = msg.tags.get("label") if C.LABELED_RESPONSE in self.caps else None
        if label is None:
            self._queue.extend(self._run(msg))
            return
        self._capture = []
        try:
            commands = list(self._run(msg))
        finally:
            local, self._capture = self._capture, None
        if not commands:
            self._finish_label(label, local)
            return
        if len(commands) == 1 and isinstance(commands[0], ChatHistory):
            # Answered by one ChatHistoryReply that carries the label back: no
            # barriers, whose capture would also catch live traffic released
            # when the query ends.
            self._queue.append(dataclasses.replace(commands[0], token=label))
            return
        token = f"L{next(_tokens)}"
        self._labels[token] = (label, local)
        self._queue.extend([Sync(token + "+", opens=True), *commands, Sync(token + "-")])

    def _run(self, msg: IrcMessage) -> Iterable[Command | ChatHistory]:
        verb = VERBS.get(msg.command)
        try:
            if verb is None:
                raise N.UnknownCommand(msg.command)
            if verb.registered and self.reg is not Reg.DONE:
                raise NotRegistered()
            if len(msg.params) < verb.min_params:
                raise N.NeedMoreParams(msg.command)
            return verb.build(self, msg)
        except ChatError as exc:
            if msg.command != "NOTICE":
                self.error(exc)
            return ()

    def maybe_register(self) -> Iterable[Command]:
        if self.reg is Reg.NEW and self.wanted_nick and self.user_given:
            self.reg = REGISTRATION[(self.reg, "ready")]
            password, login = irc_accounts.pass_login(self)
            return (Register(self.wanted_nick, (), password, self.realname), *login)
        return ()

    # --- CAP ---------------------------------------------------------------------

    def cap_command(self, params: tuple[str, ...]) -> None:
        sub = params[0].upper()
        me = self.nick or "*"
        if sub == "LS":
            if self.reg is not Reg.DONE:
                self.reg = REGISTRATION.get((self.reg, "cap"), self.reg)
            values = len(params) > 1 and params[1].isdigit() and int(params[1]) >= 302
            self.reply(IrcMessage("CAP", (me, "LS", C.ls(values)), self.info.server_name))
        elif sub == "LIST":
            self.reply(IrcMessage("CAP", (me, "LIST", " ".join(sorted(self.caps))), self.info.server_name))
        elif sub == "REQ":
            if self.reg is not Reg.DONE:
                self.reg = REGISTRATION.get((self.reg, "cap"), self.reg)
            request = params[1] if len(params) > 1 else ""
            enabled = C.apply_request(self.caps, request)
            if enabled is None:
                self.reply(IrcMessage("CAP", (me, "NAK", request), self.info.server_name))
            else:
                self.reply(IrcMessage("CAP", (me, "ACK", request), self.info.server_name))
                self.caps = enabled
                self._variant = (IrcProtocol, C.SERVER_TIME in enabled, C.MESSAGE_TAGS in enabled,
                                 C.ACCOUNT_TAG in enabled)
        elif sub == "END":
            if self.reg is not Reg.DONE:
                self.reg = REGISTRATION.get((self.reg, "end"), self.reg)
                self._queue.extend(self.maybe_register())
        else:
            self.numeric(N.ERR_INVALIDCAPCMD, params[0], "Invalid CAP command")

    # --- liveness ------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Called by the transport every so often with a monotonic clock."""
        if self.closing:
            return
        if self._started is None:
            self._started = self._seen = now
        if self._activity:
            self._activity = False
            self._seen = now
            self.ping_sent = None  # any traffic shows the client is alive
        limits = self.limits
        if self.reg is not Reg.DONE:
            if now - self._started >= limits.register_timeout:
                self.abort("Registration timed out")
            return
        if self.ping_sent is None:
            if now - self._seen >= limits.ping_interval:
                self.ping_sent = now
                self._send(IrcMessage("PING", (self.info.server_name,)).to_bytes())
        elif now - self.ping_sent >= limits.ping_timeout:
            self.abort(f"Ping timeout: {int(now - self._seen)} seconds")

    def abort(self, reason: str) -> None:
        self.send_error(f"Closing Link: {self.nick or '*'} ({reason})")
        self._lines.clear()
        self._queue.clear()
        self._queue.append(Quit(reason))

    # --- output helpers ---------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if self._capture is not None:
            self._capture.append(data)
        else:
            self._out.append(data)

    def reply(self, msg: IrcMessage) -> None:
        self._send(msg.to_bytes())

    def numeric(self, code: str, *params: str) -> None:
        self.reply(IrcMessage(code, (self.nick or "*", *params), self.info.server_name))

    def error(self, error: ChatError) -> None:
        code, params = N.error_params(error, self.nick or "*")
        self.reply(IrcMessage(code, params, self.info.server_name))

    def fail(self, code: str, *context: str, reason: str) -> None:
        """An IRCv3 standard reply: FAIL CHATHISTORY <code> <context...> :<reason>."""
        self.reply(IrcMessage("FAIL", ("CHATHISTORY", code, *context, reason), self.info.server_name))

    def send_error(self, text: str) -> None:
        self.reply(IrcMessage("ERROR", (text,)))

    def send_isupport(self) -> None:
        for group in self.info.isupport:
            self.numeric(N.RPL_ISUPPORT, *group, "are supported by this server")

    def send_motd(self) -> None:
        motd = self.info.motd
        if not motd:
            self.numeric(N.ERR_NOMOTD, "MOTD File is missing")
            return
        self.numeric(N.RPL_MOTDSTART, f"- {self.info.server_name} Message of the day - ")
        for line in motd:
            self.numeric(N.RPL_MOTD, f"- {line}")
        self.numeric(N.RPL_ENDOFMOTD, "End of /MOTD command.")

    def data_to_send(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out

    def _finish_label(self, label: str, lines: list[bytes]) -> None:
        """Send the answer to a labeled command: ACK, one tagged line, or a batch."""
        msgs = [IrcMessage.parse(raw.decode()) for data in lines for raw in data.split(b"\r\n") if raw]
        server = self.info.server_name
        if not msgs:
            self._out.append(IrcMessage("ACK", (), server, {"label": label}).to_bytes())
            return
        if len(msgs) == 1:
            m = msgs[0]
            self._out.append(IrcMessage(m.command, m.params, m.source, {**m.tags, "label": label}).to_bytes())
            return
        ref = f"b{next(_tokens)}"
        out = [IrcMessage("BATCH", ("+" + ref, "labeled-response"), server, {"label": label})]
        # Lines already inside a batch of their own (CHATHISTORY) keep its tag.
        out += [m if "batch" in m.tags else IrcMessage(m.command, m.params, m.source, {**m.tags, "batch": ref})
                for m in msgs]
        out.append(IrcMessage("BATCH", ("-" + ref,), server))
        self._out.extend(m.to_bytes() for m in out)

    # --- rendering ----------------------------------------------------------------------

    def render(self, event: Event, cache: RenderCache) -> bytes:
        try:
            if type(event) is Message:
                if self._capture is None and event.nick != self.nick:
                    hit = cache.get(self._variant)  # the fan-out hot path
                    if hit is not None:
                        return hit
                data = self._render_message(event, cache)
                if self._capture is None:
                    return data
            else:
                data = _RENDERERS.get(type(event), IrcProtocol._render_nothing)(self, event, cache)
        except (ValueError, UnicodeError):
            log.exception("cannot render %r for IRC", type(event).__name__)
            return b""
        if self._capture is not None and data:
            self._capture.append(data)
            return b""
        return data

    def _render_nothing(self, event: Event, cache: RenderCache) -> bytes:
        return b""

    def _render_synced(self, event: Synced, cache: RenderCache) -> bytes:
        token, edge = event.token[:-1], event.token[-1]
        entry = self._labels.get(token)
        if entry is None:
            return b""
        label, local = entry
        if edge == "+":
            self._capture = local
        else:
            del self._labels[token]
            captured, self._capture = self._capture or [], None
            self._finish_label(label, captured)
            out, self._out = b"".join(self._out), []
            return out
        return b""

    def _render_message(self, m: Message, cache: RenderCache) -> bytes:
        me = self.nick
        if m.nick == me and C.ECHO_MESSAGE not in self.caps and m.target != me:
            return b""
        key = self._variant
        data = cache.get(key)
        if data is None:
            data = cache[key] = self._format_message(m)
        return data

    def _format_message(self, m: Message) -> bytes:
        _, with_time, with_tags, with_account = self._variant
        tags = []
        if with_account and m.account:
            tags.append(f"account={escape_tag_value(m.account)}")
        if with_time:
            tags.append(f"time={iso_time(m.ts)}")
        if with_tags:
            tags.append(f"msgid={m.msgid}")
        prefix = ("@" + ";".join(tags) + " ") if tags else ""
        verb = "NOTICE" if m.kind == "notice" else "PRIVMSG"
        head = f":{source(m.nick)} {verb} {m.target} :"
        text = m.text.translate(_CTL) if ("\r" in m.text or "\n" in m.text or "\0" in m.text) else m.text
        action = m.kind == "action"
        budget = self.limits.irc_line - 2 - len(head.encode()) - (9 if action else 0)
        lines = []
        for piece in split_utf8(text, budget):
            body = f"\x01ACTION {piece}\x01" if action else piece
            lines.append(f"{prefix}{head}{body}\r\n")
        return "".join(lines).encode()

    def _shared(self, cache: RenderCache, event: Event, make: Callable[[], IrcMessage]) -> bytes:
        """A line that is the same for every IRC recipient: formatted once per event."""
        data = cache.get(IrcProtocol)
        if data is None:
            data = cache[IrcProtocol] = make().to_bytes()
        return data

    def _render_registered(self, event: Registered, cache: RenderCache) -> bytes:
        self.nick = event.nick
        self.reg = REGISTRATION[(self.reg, "ok")] if self.reg is Reg.WAIT else Reg.DONE
        info = self.info
        self.numeric(N.RPL_WELCOME, f"Welcome to the {info.network} IRC Network {source(event.nick)}")
        self.numeric(N.RPL_YOURHOST, f"Your host is {info.server_name}, running version {info.version}")
        self.numeric(N.RPL_CREATED, f"This server was created {info.created}")
        self.numeric(N.RPL_MYINFO, info.server_name, info.version, USER_MODES, ROOM_MODES, ROOM_MODES_WITH_ARG)
        self.send_isupport()
        self._burst = True
        self._queue.insert(0, Stats())  # LUSERS, then the MOTD, finish the welcome
        return self.data_to_send()

    def _render_chathistory(self, e: ChatHistoryReply, cache: RenderCache) -> bytes:
        """A ``chathistory`` batch (or ``draft/chathistory-targets``); plain lines
        without the batch cap; FAIL for an error. Labeled if the query was."""
        q = e.query
        server = self.info.server_name
        verb = q.verb.upper()
        lines: list[bytes] = []
        if e.error:
            context = (verb, q.target) if q.target else (verb,)
            lines.append(IrcMessage("FAIL", ("CHATHISTORY", e.error, *context, "Messages could not be retrieved"),
                                    server).to_bytes())
        else:
            ref = f"h{next(_tokens)}" if C.BATCH in self.caps else ""
            if q.verb == "targets":
                kind: tuple[str, ...] = ("draft/chathistory-targets",)
                tags = {"batch": ref} if ref else {}
                for name, ts in e.targets:
                    lines.append(IrcMessage("CHATHISTORY", ("TARGETS", name, iso_time(ts)), server, tags).to_bytes())
            else:
                kind = ("chathistory", q.target)
                for m in e.messages:
                    data = self._format_message(m)
                    if ref:  # tag every line of it (a long message is several)
                        data = b"\r\n".join(_in_batch(line, ref) for line in data.split(b"\r\n") if line) + b"\r\n"
                    lines.append(data)
            if ref:
                lines.insert(0, IrcMessage("BATCH", ("+" + ref, *kind), server).to_bytes())
                lines.append(IrcMessage("BATCH", ("-" + ref,), server).to_bytes())
        if q.token and C.LABELED_RESPONSE in self.caps:
            self._finish_label(q.token, lines)
            return self.data_to_send()
        return b"".join(lines)

    def _render_joined(self, e: Joined, cache: RenderCache) -> bytes:
        return self._shared(cache, e, lambda: IrcMessage("JOIN", (e.room,), source(e.nick)))

    def _render_parted(self, e: Parted, cache: RenderCache) -> bytes:
        params = (e.room, e.reason) if e.reason else (e.room,)
        return self._shared(cache, e, lambda: IrcMessage("PART", params, source(e.nick)))

    def _render_left(self, e: Left, cache: RenderCache) -> bytes:
        return self._shared(cache, e, lambda: IrcMessage("QUIT", (e.reason.translate(_CTL),), source(e.nick)))

    def _render_nick(self, e: NickChanged, cache: RenderCache) -> bytes:
        if e.old == self.nick:
            self.nick = e.new
        return self._shared(cache, e, lambda: IrcMessage("NICK", (e.new,), source(e.old)))

    def _render_kicked(self, e: Kicked, cache: RenderCache) -> bytes:
        reason = e.reason.translate(_CTL)
        return self._shared(cache, e, lambda: IrcMessage("KICK", (e.room, e.target, reason), source(e.nick)))

    def _render_topic_changed(self, e: TopicChanged, cache: RenderCache) -> bytes:
        text = e.text.translate(_CTL)
        return self._shared(cache, e, lambda: IrcMessage("TOPIC", (e.room, text), source(e.nick)))

    def _render_mode_changed(self, e: ModeChanged, cache: RenderCache) -> bytes:
        letters, args = mode_string(e.changes)
        src = source(e.nick) if e.nick != e.target else e.nick
        return self._shared(cache, e, lambda: IrcMessage("MODE", (e.target, letters, *args), src))

    def _render_wallops(self, e: WallopsSent, cache: RenderCache) -> bytes:
        return self._shared(cache, e, lambda: IrcMessage("WALLOPS", (e.text.translate(_CTL),), source(e.nick)))

    def _render_members(self, e: Members, cache: RenderCache) -> bytes:
        multi = C.MULTI_PREFIX in self.caps
        full = C.USERHOST_IN_NAMES in self.caps
        infos = e.info or tuple(MemberInfo(n, n, HIDDEN_HOST, n) for n in e.nicks)
        names = []
        for i in infos:
            prefix = i.prefix if multi else i.prefix[:1]
            names.append(prefix + (f"{i.nick}!{i.user}@{i.host}" if full else i.nick))
        me = self.nick or "*"
        server = self.info.server_name
        head = len(f":{server} 353 {me} = {e.room} :".encode()) + 2
        budget = self.limits.irc_line - head
        line: list[str] = []
        size = 0
        for name in names:
            if line and size + 1 + len(name.encode()) > budget:
                self.numeric(N.RPL_NAMREPLY, "=", e.room, " ".join(line))
                line, size = [], 0
            size += len(name.encode()) + (1 if line else 0)
            line.append(name)
        if line:
            self.numeric(N.RPL_NAMREPLY, "=", e.room, " ".join(line))
        self.numeric(N.RPL_ENDOFNAMES, e.room, "End of /NAMES list")
        return self.data_to_send()

    def _render_topic_info(self, e: TopicInfo, cache: RenderCache) -> bytes:
        if not e.text:
            self.numeric(N.RPL_NOTOPIC, e.room, "No topic is set")
        else:
            self.numeric(N.RPL_TOPIC, e.room, e.text.translate(_CTL))
            self.numeric(N.RPL_TOPICWHOTIME, e.room, e.setter or "*", str(int(e.ts)))
        return self.data_to_send()

    def _render_failed(self, e: Failed, cache: RenderCache) -> bytes:
        if (account_reply := irc_accounts.render_failed(self, e)) is not None:
            return account_reply
        error = e.error
        if e.command == "register":
            if isinstance(error, PasswordMismatch):
                self.error(error)
                if not error.final:  # (final: the transport closes it, saying why)
                    self.send_error("Closing Link: * (Bad Password)")
                    self.closing = True
                return self.data_to_send()
            if self.reg is Reg.WAIT:
                self.reg = REGISTRATION[(Reg.WAIT, "refused")]
                if isinstance(error, NameError_):
                    self.wanted_nick = None  # wait for another NICK
        if e.command == "who":  # NAMES of a room that does not exist: just the end
            self.numeric(N.RPL_ENDOFNAMES, error.subject or "*", "End of /NAMES list")
            return self.data_to_send()
        self.error(error)
        if e.command == "whois":
            self.numeric(N.RPL_ENDOFWHOIS, error.subject or "*", "End of /WHOIS list")
        elif e.command == "whoquery":  # a refused mask (416): still the end marker
            self.numeric(N.RPL_ENDOFWHO, error.subject or "*", "End of /WHO list")
        return self.data_to_send()

    def _render_shutdown(self, e: ServerShutdown, cache: RenderCache) -> bytes:
        return IrcMessage("ERROR", (f"Closing Link: {self.nick or '*'} ({e.reason})",)).to_bytes()

    def _render_room_modes(self, e: RoomModes, cache: RenderCache) -> bytes:
        self.numeric(N.RPL_CHANNELMODEIS, e.room, e.modes, *e.args)
        self.numeric(N.RPL_CREATIONTIME, e.room, str(int(e.created)))
        return self.data_to_send()

    def _render_user_modes(self, e: UserModes, cache: RenderCache) -> bytes:
        self.numeric(N.RPL_UMODEIS, e.modes)
        return self.data_to_send()

    def _render_ban_list(self, e: BanList, cache: RenderCache) -> bytes:
        for mask, by, ts in e.bans:
            self.numeric(N.RPL_BANLIST, e.room, mask, by, str(int(ts)))
        self.numeric(N.RPL_ENDOFBANLIST, e.room, "End of channel ban list")
        return self.data_to_send()

    def _render_invited(self, e: Invited, cache: RenderCache) -> bytes:
        if e.target == self.nick:
            return IrcMessage("INVITE", (e.target, e.room), source(e.nick)).to_bytes()
        self.numeric(N.RPL_INVITING, e.target, e.room)
        return self.data_to_send()

    def _render_away_changed(self, e: AwayChanged, cache: RenderCache) -> bytes:
        if e.nick == self.nick:
            if e.message:
                self.numeric(N.RPL_NOWAWAY, "You have been marked as being away")
            else:
                self.numeric(N.RPL_UNAWAY, "You are no longer marked as being away")
            return self.data_to_send()
        if C.AWAY_NOTIFY not in self.caps:
            return b""
        params = (e.message.translate(_CTL),) if e.message else ()
        return self._shared(cache, e, lambda: IrcMessage("AWAY", params, source(e.nick)))

    def _render_is_away(self, e: IsAway, cache: RenderCache) -> bytes:
        self.numeric(N.RPL_AWAY, e.nick, e.message.translate(_CTL))
        return self.data_to_send()

    def _render_oper_up(self, e: OperUp, cache: RenderCache) -> bytes:
        self.numeric(N.RPL_YOUREOPER, "You are now an IRC operator")
        self.reply(IrcMessage("MODE", (e.nick, "+o"), e.nick))
        return self.data_to_send()

    def _render_killed(self, e: Killed, cache: RenderCache) -> bytes:
        me = self.nick or "*"
        self.reply(IrcMessage("KILL", (me, e.reason.translate(_CTL)), source(e.nick)))
        self.send_error(f"Closing Link: {me} (Killed ({e.nick} ({e.reason.translate(_CTL)})))")
        self.closing = True
        return self.data_to_send()

    def _render_whois(self, e: WhoisReply, cache: RenderCache) -> bytes:
        i = e.info
        self.numeric(N.RPL_WHOISUSER, i.nick, i.user, i.host, "*", i.realname)
        rooms = list(e.rooms)
        while rooms:  # several 319 lines if the list is long
            chunk: list[str] = []
            while rooms and len(" ".join([*chunk, rooms[0]])) < 400:
                chunk.append(rooms.pop(0))
            if not chunk:
                chunk.append(rooms.pop(0))
            self.numeric(N.RPL_WHOISCHANNELS, i.nick, " ".join(chunk))
        self.numeric(N.RPL_WHOISSERVER, i.nick, self.info.server_name, self.info.network)
        if i.oper:
            self.numeric(N.RPL_WHOISOPERATOR, i.nick, "is an IRC operator")
        if i.account:
            self.numeric("330", i.nick, i.account, "is logged in as")
        self.numeric(N.RPL_WHOISIDLE, i.nick, str(e.idle), str(int(e.signon)), "seconds idle, signon time")
        self.numeric(N.RPL_ENDOFWHOIS, i.nick, "End of /WHOIS list")
        return self.data_to_send()

    def _render_who(self, e: WhoReply, cache: RenderCache) -> bytes:
        multi = C.MULTI_PREFIX in self.caps
        for room, i in e.entries:
            flags = ("G" if i.away else "H") + ("*" if i.oper else "") + (i.prefix if multi else i.prefix[:1])
            self.numeric(N.RPL_WHOREPLY, room, i.user, i.host, self.info.server_name, i.nick, flags,
                         f"0 {i.realname}")
        if e.truncated:  # as charybdis/solanum: the first who_max lines, then say so
            self.numeric(N.ERR_TOOMANYMATCHES, "WHO", "output too large, truncated")
        self.numeric(N.RPL_ENDOFWHO, e.mask, "End of /WHO list")
        return self.data_to_send()

    def _render_list(self, e: ListReply, cache: RenderCache) -> bytes:
        self.numeric(N.RPL_LISTSTART, "Channel", "Users  Name")
        for name, count, topic in e.rooms:
            self.numeric(N.RPL_LIST, name, str(count), topic.translate(_CTL))
        self.numeric(N.RPL_LISTEND, "End of /LIST")
        return self.data_to_send()

    def _render_lookup(self, e: LookupReply, cache: RenderCache) -> bytes:
        kind = self.lookups.pop(0) if self.lookups else "ISON"
        if kind == "ISON":
            self.numeric(N.RPL_ISON, " ".join(i.nick for i in e.found))
        else:
            items = [f"{i.nick}{'*' if i.oper else ''}={'-' if i.away else '+'}{i.user}@{i.host}" for i in e.found]
            self.numeric(N.RPL_USERHOST, " ".join(items))
        return self.data_to_send()

    def _render_stats(self, e: ServerStats, cache: RenderCache) -> bytes:
        self.numeric(N.RPL_LUSERCLIENT, f"There are {e.users - e.invisible} users and {e.invisible} invisible "
                     "on 1 servers")
        self.numeric(N.RPL_LUSEROP, str(e.opers), "operator(s) online")
        self.numeric(N.RPL_LUSERUNKNOWN, str(e.unregistered), "unknown connection(s)")
        self.numeric(N.RPL_LUSERCHANNELS, str(e.rooms), "channels formed")
        self.numeric(N.RPL_LUSERME, f"I have {e.users} clients and 0 servers")
        if self._burst:
            self._burst = False
            self.send_motd()
        return self.data_to_send()


_RENDERERS: Final[dict[type, Callable[[IrcProtocol, Any, RenderCache], bytes]]] = {
    Registered: IrcProtocol._render_registered,
    Joined: irc_accounts.render_joined,  # (extended-join; else IrcProtocol._render_joined)
    Parted: IrcProtocol._render_parted,
    Left: IrcProtocol._render_left,
    NickChanged: IrcProtocol._render_nick,
    Members: IrcProtocol._render_members,
    TopicInfo: IrcProtocol._render_topic_info,
    TopicChanged: IrcProtocol._render_topic_changed,
    Failed: IrcProtocol._render_failed,
    ServerShutdown: IrcProtocol._render_shutdown,
    RoomModes: IrcProtocol._render_room_modes,
    UserModes: IrcProtocol._render_user_modes,
    ModeChanged: IrcProtocol._render_mode_changed,
    BanList: IrcProtocol._render_ban_list,
    Kicked: IrcProtocol._render_kicked,
    Invited: IrcProtocol._render_invited,
    AwayChanged: IrcProtocol._render_away_changed,
    IsAway: IrcProtocol._render_is_away,
    OperUp: IrcProtocol._render_oper_up,
    Killed: IrcProtocol._render_killed,
    WallopsSent: IrcProtocol._render_wallops,
    WhoisReply: IrcProtocol._render_whois,
    WhoReply: IrcProtocol._render_who,
    ListReply: IrcProtocol._render_list,
    LookupReply: IrcProtocol._render_lookup,
    ServerStats: IrcProtocol._render_stats,
    Synced: IrcProtocol._render_synced,
    ChatHistoryReply: IrcProtocol._render_chathistory,
    AccountChanged: irc_accounts.render_changed,
    AccountNote: irc_accounts.render_note,
    SaslChallenge: irc_accounts.render_challenge,
}
