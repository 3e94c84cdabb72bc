"""The verb table: IRC verb -> (minimum parameters, builder, needs registration).

Each builder turns one parsed line into hub commands (or answers it itself);
``IrcProtocol._run`` checks 451 / 461 / 421 once for every verb.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from chinwag.core.errors import AlreadyRegistered, ChatError, NoText, UnknownMode, UnknownUserMode
from chinwag.core.events import (
    ChangeNick,
    ChatHistory,
    Command,
    HistoryVerb,
    Join,
    MsgRef,
    Part,
    Quit,
    Say,
    Who,
)
from chinwag.core.names import is_room
from chinwag.core.types.chat import ClientTags, SendTags
from chinwag.core.types.ircv3 import V3Query
from chinwag.core.types.lookup import Lookup, Stats, Whois, WhoQuery, WhoWas
from chinwag.core.types.moderation import Kick, Kill, ListBans, Mode, ModeChange, Oper, Wallops
from chinwag.core.types.presence import SetAway
from chinwag.core.types.rooms import Invite, ListQuery, PartAll, Topic
from chinwag.protocols.irc import accounts as irc_accounts
from chinwag.protocols.irc import caps as C
from chinwag.protocols.irc import chanserv, ircv3, userinfo
from chinwag.protocols.irc import numerics as N
from chinwag.protocols.irc.format import ROOM_MODES, USER_MODES
from chinwag.protocols.irc.message import Message as IrcMessage
from chinwag.protocols.irc.message import escape_tag_value
from chinwag.protocols.irc.registration import Reg, cap_command

if TYPE_CHECKING:
    from chinwag.protocols.irc.adapter import IrcProtocol

Builder = Callable[["IrcProtocol", IrcMessage], Iterable[Command | ChatHistory | V3Query]]


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
    if not m.params[3].strip():  # an empty real name is a missing parameter
        raise N.NeedMoreParams("USER")
    p.user_given = True
    p.username = username(m.params[0], p.limits.user_len)
    p.realname = m.params[3][: p.limits.realname_len]  # cut, as servers do (SETNAME refuses instead)
    return p.maybe_register()


#: WHOX fields in the order their values are sent, whatever order they were asked in.
WHOX_FIELDS: Final = "tcuihsnfdlaor"
_USER_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.[]\\`^{}|")


def username(given: str, most: int) -> str:
    """USER's username as others see it: "~" first (nobody verified it, no ident),
    only characters a nick may hold plus ".", at most ``most`` of them; "" if none
    is left (the hub then uses "~" + nick)."""
    kept = "".join(ch for ch in given if ch in _USER_CHARS)[: most - 1]
    return "~" + kept if kept else ""


def _cap(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    cap_command(p, m.params)
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
    return ircv3.joins(p, [Join(room, keys[i] if i < len(keys) else "") for i, room in enumerate(_split(m.params[0]))])


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


_CLIENT_TAG: Final = re.compile(r"\+(?:[A-Za-z0-9.-]+/)?[A-Za-z0-9-]+")


def client_tags(p: IrcProtocol, m: IrcMessage) -> ClientTags:
    """The client-only tags (``+draft/reply``, ``+typing``, any ``+`` tag) of a
    line from a client that enabled message-tags; others are dropped (server
    tags come from us). Over ``limits.client_tags`` bytes: 417, as the spec says."""
    if C.MESSAGE_TAGS not in p.caps or not m.tags:
        return ()
    tags = tuple((k, v) for k, v in m.tags.items() if _CLIENT_TAG.fullmatch(k))
    size = sum(len(k.encode()) + (len(escape_tag_value(v).encode()) + 1 if v else 0) + 1 for k, v in tags)
    if size > p.limits.client_tags:
        raise N.InputTooLong()
    return tags


def _privmsg(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    if len(m.params) > 1 and irc_accounts.is_nickserv(m.params[0]):
        return irc_accounts.nickserv(p, m.params[1])
    if len(m.params) > 1 and chanserv.is_chanserv(m.params[0]):
        return chanserv.chanserv(p, m.params[1])
    targets = _targets(p, m)
    tags = client_tags(p, m)
    text = m.params[1]
    if text.startswith("\x01ACTION ") or text == "\x01ACTION\x01":
        body = text[8:].removesuffix("\x01")
        return [Say(t, body or " ", "action", tags) for t in targets]
    return [Say(t, text, "privmsg", tags) for t in targets]


def _notice(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    try:
        targets = _targets(p, m)
        tags = client_tags(p, m)
    except ChatError:
        return ()  # a NOTICE never gets an automatic reply
    return [Say(t, m.params[1], "notice", tags) for t in targets]


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
    """WHO [mask [%fields[,token]]]: a second parameter starting with % asks for
    WHOX (354 with the fields asked, in the spec's fixed order)."""
    whox = None
    if len(m.params) > 1 and m.params[1].startswith("%"):
        fields, _, token = m.params[1][1:].partition(",")
        if not (token.isascii() and token.isdigit() and len(token) <= 3):
            token = ""  # (the spec: 1 to 3 digits; anything else is dropped)
        whox = ("".join(f for f in WHOX_FIELDS if f in fields), token)
    if p.whox is None:
        p.whox = []
    p.whox.append(whox)
    return (WhoQuery(m.params[0] if m.params else "*"),)


def _whois(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    nicks = _split(m.params[-1])  # WHOIS [server] nick
    if not nicks:
        raise N.NoNicknameGiven()
    return (Whois(nicks[0]),)


def _whowas(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    """WHOWAS nick[,nick] [count [server]]: at most max_targets nicks; a count
    that is not a positive number means every entry (RFC 2812 3.6.3)."""
    nicks = _split(m.params[0])[: p.limits.max_targets]
    if not nicks:
        raise N.NoNicknameGiven()
    count = m.params[1] if len(m.params) > 1 else ""
    return (WhoWas(tuple(nicks), int(count) if count.isascii() and count.isdigit() else 0),)


def _away(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (SetAway(m.params[0] if m.params else ""),)


def _ison(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    nicks = tuple(n for param in m.params for n in param.split() if n)
    if p.lookups is None:
        p.lookups = []
    p.lookups.append("ISON")
    return (Lookup(nicks),)


def _userhost(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    nicks = tuple(n for param in m.params for n in param.split() if n)[:5]
    if p.lookups is None:
        p.lookups = []
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
    if room and any(c.mode in "bq" and c.arg is None for c in changes):
        listed = next(c.mode for c in changes if c.mode in "bq" and c.arg is None)
        return (ListBans(target, listed),)
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
    p.numeric(N.RPL_VERSION, p.info.version, p.info.server_name, p.info.description)
    p.send_isupport()
    return ()


def _time(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    now = time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", time.gmtime())
    p.numeric(N.RPL_TIME, p.info.server_name, now)
    return ()


def _info(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    """INFO (RFC 2812 3.4.10): 371 lines about the server, then 374."""
    info = p.info
    for line in (f"{info.version}, {info.description}", "text, IRC and IRC-over-WebSocket users in the same rooms",
                 f"On-line since {info.created}"):
        p.numeric(N.RPL_INFO, line)
    p.numeric(N.RPL_ENDOFINFO, "End of /INFO list")
    return ()


def _motd(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    p.send_motd()
    return ()


def _tagmsg(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    """TAGMSG target[,target]: client-only tags, relayed (never stored)."""
    targets = _split(m.params[0])
    if len(targets) > p.limits.max_targets:
        raise N.TooManyTargets(m.params[0])
    tags = client_tags(p, m)
    return [SendTags(t, tags) for t in targets] if tags else ()


_HISTORY_VERBS: Final[dict[str, HistoryVerb]] = {
    "LATEST": "latest", "BEFORE": "before", "AFTER": "after", "AROUND": "around", "BETWEEN": "between",
    "TARGETS": "targets",
}
_MSGID: Final = re.compile(r"[0-9a-f]{16}")


def parse_msgref(param: str, star: bool = False) -> MsgRef | None:
    """``msgid=...``, ``timestamp=YYYY-MM-DDThh:mm:ss.sssZ`` or (if ``star``) ``*``; None if invalid."""
    if star and param == "*":
        return MsgRef()
    kind, _, value = param.partition("=")
    if kind == "msgid" and _MSGID.fullmatch(value):
        return MsgRef(msgid=value)
    if kind == "timestamp":
        ms = ircv3.timestamp_ms(param)
        return None if ms is None else MsgRef(ms=ms)
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
    return (ChatHistory(verb, target, start, end, int(limit), events=C.EVENT_PLAYBACK in p.caps),)


VERBS: Final[dict[str, Verb]] = {
    "CAP": Verb(1, _cap, registered=False),
    "PASS": Verb(1, _pass, registered=False),
    "AUTHENTICATE": Verb(1, irc_accounts.authenticate, registered=False),
    "REGISTER": Verb(1, chanserv.register_verb, registered=False),  # an account, or a room (#)
    "CS": Verb(1, chanserv.cs_verb),
    "CHANSERV": Verb(1, chanserv.cs_verb),
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
    "WHOWAS": Verb(1, _whowas),
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
    "INFO": Verb(0, _info),
    "SETNAME": Verb(1, userinfo.setname),
    # draft/multiline, draft/message-redaction, draft/read-marker (protocols/irc/ircv3.py)
    "BATCH": Verb(1, lambda p, m: ircv3.batch(p, m, client_tags(p, m))),
    "REDACT": Verb(2, ircv3.redact),
    "MARKREAD": Verb(0, ircv3.markread),  # FAIL MARKREAD NEED_MORE_PARAMS instead of 461
}


def parse_modes(modestr: str, args: Iterable[str], room: bool) -> tuple[list[ModeChange], list[str]]:
    """``+ov-k alice bob key`` -> typed changes, and the letters we do not know.

    Room modes taking an argument: o, v, b, q (without one, b lists the bans, q the quiets),
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
        if room and (letter in "ovbq" or (letter == "k" and (on or rest)) or (letter == "l" and on)):
            arg = rest.popleft() if rest else None
            if arg is None and letter not in "bq":
                continue  # a change missing its argument is ignored
        changes.append(ModeChange(on, letter, arg))
    return changes, unknown

