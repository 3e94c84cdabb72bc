"""Rendering: one function per hub event type (``RENDERERS``), event -> IRC lines.

Lines every recipient sees alike (JOIN, QUIT, ...) go through ``shared``:
formatted once per event and kept in the render cache under ``SHARED``;
PRIVMSG/NOTICE once per *variant* (``IrcProtocol._variant``: the enabled caps
that change the bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from chinwag.core.accounts import AccountChanged, AccountNote, SaslChallenge
from chinwag.core.errors import NameError_, NotSent, PasswordMismatch
from chinwag.core.events import (
    Attached,
    ChatHistoryReply,
    Crowd,
    Echo,
    Event,
    Failed,
    Joined,
    Left,
    Members,
    Message,
    NickChanged,
    NickProtected,
    Parted,
    Registered,
    ServerShutdown,
    Who,
)
from chinwag.core.names import HIDDEN_HOST
from chinwag.core.types.chat import ClientTags, TagsSent
from chinwag.core.types.ircv3 import ReadMarker, Redacted
from chinwag.core.types.lookup import (
    LookupReply,
    MemberInfo,
    ServerStats,
    Stats,
    Synced,
    WhoisReply,
    WhoReply,
    WhoWasReply,
)
from chinwag.core.types.moderation import (
    BanList,
    Kicked,
    Killed,
    ModeChanged,
    OperUp,
    RoomModes,
    UserModes,
    WallopsSent,
    mode_string,
)
from chinwag.core.types.presence import AwayChanged, IsAway
from chinwag.core.types.registered import RoomDetails, RoomNote
from chinwag.core.types.rooms import Invited, ListReply, TopicChanged, TopicInfo
from chinwag.protocols import crowd
from chinwag.protocols.base import RenderCache
from chinwag.protocols.irc import accounts as irc_accounts
from chinwag.protocols.irc import caps as C
from chinwag.protocols.irc import chanserv, ircv3, userinfo
from chinwag.protocols.irc import numerics as N
from chinwag.protocols.irc.format import (
    CTL,
    ROOM_MODES,
    ROOM_MODES_WITH_ARG,
    SHARED,
    USER_MODES,
    cut_utf8,
    iso_time,
    source,
    tokens,
)
from chinwag.protocols.irc.ircv3 import format_multiline, is_multiline, marker_for_join, nested_multiline
from chinwag.protocols.irc.labels import in_batch
from chinwag.protocols.irc.lookups import render_list, render_lookup, render_who, render_whois, render_whowas
from chinwag.protocols.irc.message import Message as IrcMessage
from chinwag.protocols.irc.message import escape_tag_value
from chinwag.protocols.irc.registration import Reg, advance

if TYPE_CHECKING:
    from chinwag.protocols.irc.adapter import IrcProtocol


def render_synced(p: IrcProtocol, event: Synced, cache: RenderCache) -> bytes:
    token, edge = event.token[:-1], event.token[-1]
    labels = p._labels
    entry = labels.get(token) if labels is not None else None
    if labels is None or entry is None:
        return b""
    label, local = entry
    if edge == "+":
        p._capture = local
    else:
        del labels[token]
        captured, p._capture = p._capture or [], None
        p.finish_label(label, captured)
        out, p.unsent = b"".join(p.unsent), []
        return out
    return b""


def render_message(p: IrcProtocol, m: Message, cache: RenderCache) -> bytes:
    me = p.nick
    if m.nick == me and p.silent_own and m.target != me:  # (silent_own: no echo-message; fan-out reads it too)
        return b""
    if m.lines or "\n" in m.text:  # (never cached under the plain variant: see IrcProtocol.render)
        as_batch = C.MULTILINE in p.caps and C.BATCH in p.caps and is_multiline(m)
        ml_key = (p._variant, as_batch)
        data = cache.get(ml_key)
        if data is None:
            data = cache[ml_key] = format_multiline(p, m, as_batch) if is_multiline(m) else format_message(p, m)
        return data
    key = p._variant
    data = cache.get(key)
    if data is None:
        data = cache[key] = format_line(p, m)  # (one line: neither lines nor "\n", so not is_multiline)
    return data


def format_message(p: IrcProtocol, m: Message) -> bytes:
    if is_multiline(m):  # (history without draft/multiline: each line its own PRIVMSG)
        return format_multiline(p, m, False)
    return format_line(p, m)


#: (nick, user, kind, target) -> the line's head, b":nick!user@host PRIVMSG #room :",
#: and its length: made once per sender and target (kept: at most HEADS_KEPT, then afresh)
_HEADS: dict[tuple[str, str, str, str], tuple[bytes, int]] = {}
HEADS_KEPT: Final = 1024


def _head(key: tuple[str, str, str, str]) -> tuple[bytes, int]:
    nick, user, kind, target = key
    verb = "NOTICE" if kind == "notice" else "PRIVMSG"
    data = f":{source(nick, user)} {verb} {target} :".encode()
    if len(_HEADS) >= HEADS_KEPT:
        _HEADS.clear()
    head = _HEADS[key] = (data, len(data))
    return head


def format_line(p: IrcProtocol, m: Message) -> bytes:
    """A message that is not multi-line: one PRIVMSG/NOTICE line (an ACTION in
    CTCP), cut into several at the line limit, with the tags of ``p``'s variant."""
    _, with_time, with_tags, with_account = p._variant
    prefix = b""
    if with_time or with_tags or (with_account and m.account):
        tags = []
        if with_account and m.account:
            tags.append(f"account={escape_tag_value(m.account)}")
        if with_time:
            tags.append(f"time={iso_time(m.ts)}")
        if with_tags:
            tags.append(f"msgid={m.msgid}")
            tags.extend(client_tags(m.tags))
        prefix = ("@" + ";".join(tags) + " ").encode()
    kind = m.kind
    key = (m.nick, m.user, kind, m.target)
    head = _HEADS.get(key) or _head(key)
    text = m.text
    if "\r" in text or "\n" in text or "\0" in text:
        text = text.translate(CTL)
    if kind == "action":
        pieces = cut_utf8(text.encode(), p.limits.irc_line - 11 - head[1])
        return b"".join([prefix + head[0] + b"\x01ACTION " + piece + b"\x01\r\n" for piece in pieces])
    pieces = cut_utf8(text.encode(), p.limits.irc_line - 2 - head[1])
    if len(pieces) == 1:
        return prefix + head[0] + pieces[0] + b"\r\n"
    return b"".join([prefix + head[0] + piece + b"\r\n" for piece in pieces])


MESSAGE_KINDS: Final = frozenset(("privmsg", "action", "notice"))


def format_event(p: IrcProtocol, m: Message) -> bytes:
    """A stored room event (transport/eventlog.py) as the line it was, for
    draft/event-playback: with its time and msgid tags as a message has them."""
    _, with_time, with_tags, _ = p._variant
    tags = {}
    if with_time:
        tags["time"] = iso_time(m.ts)
    if with_tags:
        tags["msgid"] = m.msgid
    src = source(m.nick)
    text = m.text.translate(CTL)
    if m.kind == "join":
        line = IrcMessage("JOIN", (m.target,), src, tags)
    elif m.kind == "part":
        line = IrcMessage("PART", (m.target, text) if text else (m.target,), src, tags)
    elif m.kind == "quit":
        line = IrcMessage("QUIT", (text,), src, tags)
    elif m.kind == "nick":
        line = IrcMessage("NICK", (text,), src, tags)
    elif m.kind == "topic":
        line = IrcMessage("TOPIC", (m.target, text), src, tags)
    elif m.kind == "mode":  # "+o-v bob carol"
        line = IrcMessage("MODE", (m.target, *text.split(" ")), src, tags)
    else:  # kick: "kicked-nick reason"
        kicked, _, reason = text.partition(" ")
        line = IrcMessage("KICK", (m.target, kicked, reason), src, tags)
    return line.to_bytes()


def client_tags(tags: ClientTags) -> list[str]:
    """Client-only tags as they go on the wire (only to clients with message-tags)."""
    return [f"{key}={escape_tag_value(value)}" if value else key for key, value in tags]


def render_tags_sent(p: IrcProtocol, e: TagsSent, cache: RenderCache) -> bytes:
    """TAGMSG: only to clients with message-tags; to the sender with echo-message."""
    if C.MESSAGE_TAGS not in p.caps or (e.nick == p.nick and C.ECHO_MESSAGE not in p.caps):
        return b""
    key = ("TAGMSG", p._variant[1])
    data = cache.get(key)
    if data is None:
        tags = [f"time={iso_time(e.ts)}"] if p._variant[1] else []
        tags += [f"msgid={e.msgid}", *client_tags(e.tags)]
        data = cache[key] = f"@{';'.join(tags)} :{source(e.nick, e.user)} TAGMSG {e.target}\r\n".encode()
    return data


def shared(p: IrcProtocol, cache: RenderCache, event: Event, make: Callable[[], IrcMessage]) -> bytes:
    """A line that is the same for every IRC recipient: formatted once per event."""
    data = cache.get(SHARED)
    if data is None:
        data = cache[SHARED] = make().to_bytes()
    return data


def render_registered(p: IrcProtocol, event: Registered, cache: RenderCache) -> bytes:
    p.nick = event.nick
    p.reg = advance(p.reg, "ok")
    info = p.info
    p.numeric(N.RPL_WELCOME, f"Welcome to the {info.network} IRC Network {source(event.nick, p.username)}")
    p.numeric(N.RPL_YOURHOST, f"Your host is {info.server_name}, running version {info.version}")
    p.numeric(N.RPL_CREATED, f"This server was created {info.created}")
    p.numeric(N.RPL_MYINFO, info.server_name, info.version, USER_MODES, ROOM_MODES, ROOM_MODES_WITH_ARG)
    p.send_isupport()
    p._burst = True
    p._queue.insert(0, Stats())  # LUSERS, then the MOTD, finish the welcome
    return p.data_to_send()


def render_chathistory(p: IrcProtocol, e: ChatHistoryReply, cache: RenderCache) -> bytes:
    """A ``chathistory`` batch (or ``draft/chathistory-targets``); plain lines
    without the batch cap; FAIL for an error. Labeled if the query was."""
    q = e.query
    server = p.info.server_name
    verb = q.verb.upper()
    lines: list[bytes] = []
    if e.error:
        context = (verb, q.target) if q.target else (verb,)
        lines.append(IrcMessage("FAIL", ("CHATHISTORY", e.error, *context, "Messages could not be retrieved"),
                                server).to_bytes())
    else:
        ref = f"h{next(tokens)}" if C.BATCH in p.caps else ""
        if q.verb == "targets":
            kind: tuple[str, ...] = ("draft/chathistory-targets",)
            tags = {"batch": ref} if ref else {}
            for name, ts in e.targets:
                lines.append(IrcMessage("CHATHISTORY", ("TARGETS", name, iso_time(ts)), server, tags).to_bytes())
        else:
            kind = ("chathistory", q.target)
            for m in e.messages:
                if m.kind in MESSAGE_KINDS and (nested := nested_multiline(p, m, ref)) is not None:
                    lines.append(nested)
                    continue
                data = format_message(p, m) if m.kind in MESSAGE_KINDS else format_event(p, m)
                if ref:  # tag every line of it (a long message is several)
                    data = b"\r\n".join(in_batch(line, ref) for line in data.split(b"\r\n") if line) + b"\r\n"
                lines.append(data)
        if ref:
            lines.insert(0, IrcMessage("BATCH", ("+" + ref, *kind), server).to_bytes())
            lines.append(IrcMessage("BATCH", ("-" + ref,), server).to_bytes())
    if q.token and C.LABELED_RESPONSE in p.caps:
        p.finish_label(q.token, lines)
        return p.data_to_send()
    return b"".join(lines)


def render_joined(p: IrcProtocol, e: Joined, cache: RenderCache) -> bytes:
    if e.nick == p.nick:
        p.joined(e.room)  # its playback (playback.py)
    if C.EXTENDED_JOIN in p.caps:  # JOIN #room account :realname (protocols/irc/accounts.py)
        data = irc_accounts.extended_join(e, cache)
    else:
        data = shared(p, cache, e, lambda: IrcMessage("JOIN", (e.room,), source(e.nick, e.user)))
    if e.away and C.AWAY_NOTIFY in p.caps and e.nick != p.nick:  # away-notify: who joins while away
        data += IrcMessage("AWAY", (e.away.translate(CTL),), source(e.nick, e.user)).to_bytes()
    if e.nick == p.nick and C.READ_MARKER in p.caps:  # draft/read-marker: after the JOIN, before 366
        data += marker_for_join(p, e.room)
    return data


def render_parted(p: IrcProtocol, e: Parted, cache: RenderCache) -> bytes:
    params = (e.room, e.reason) if e.reason else (e.room,)
    return shared(p, cache, e, lambda: IrcMessage("PART", params, source(e.nick, e.user)))


def render_left(p: IrcProtocol, e: Left, cache: RenderCache) -> bytes:
    return shared(p, cache, e, lambda: IrcMessage("QUIT", (e.reason.translate(CTL),), source(e.nick, e.user)))


def render_nick(p: IrcProtocol, e: NickChanged, cache: RenderCache) -> bytes:
    if e.old == p.nick:
        p.nick = e.new
    return shared(p, cache, e, lambda: IrcMessage("NICK", (e.new,), source(e.old, e.user)))


def render_kicked(p: IrcProtocol, e: Kicked, cache: RenderCache) -> bytes:
    reason = e.reason.translate(CTL)
    return shared(p, cache, e, lambda: IrcMessage("KICK", (e.room, e.target, reason), source(e.nick, e.user)))


def render_topic_changed(p: IrcProtocol, e: TopicChanged, cache: RenderCache) -> bytes:
    text = e.text.translate(CTL)
    return shared(p, cache, e, lambda: IrcMessage("TOPIC", (e.room, text), source(e.nick, e.user)))


def render_mode_changed(p: IrcProtocol, e: ModeChanged, cache: RenderCache) -> bytes:
    letters, args = mode_string(e.changes)
    src = source(e.nick, e.user) if e.nick != e.target else e.nick
    return shared(p, cache, e, lambda: IrcMessage("MODE", (e.target, letters, *args), src))


def render_wallops(p: IrcProtocol, e: WallopsSent, cache: RenderCache) -> bytes:
    return shared(p, cache, e, lambda: IrcMessage("WALLOPS", (e.text.translate(CTL),), source(e.nick, e.user)))


#: RPL_NAMREPLY's channel type (RFC 2812 5.1): public, private (+p), secret (+s).
_NAMES_SYMBOL: Final = {"public": "=", "private": "*", "secret": "@"}


def render_members(p: IrcProtocol, e: Members, cache: RenderCache) -> bytes:
    if e.on_join and (C.NO_IMPLICIT_NAMES in p.caps or C.DRAFT_NO_IMPLICIT_NAMES in p.caps):
        return b""  # the client asks with NAMES when it wants them
    if e.count and not e.nicks:  # a big room's joiner: NAMES lists it (protocols/crowd.py)
        p._queue.append(Who(e.room))
        return b""
    multi = C.MULTI_PREFIX in p.caps
    full = C.USERHOST_IN_NAMES in p.caps
    infos = e.info or tuple(MemberInfo(n, n, HIDDEN_HOST, n) for n in e.nicks)
    names = []
    for i in infos:
        prefix = i.prefix if multi else i.prefix[:1]
        names.append(prefix + (f"{i.nick}!{i.user}@{i.host}" if full else i.nick))
    me = p.nick or "*"
    server = p.info.server_name
    symbol = _NAMES_SYMBOL[e.kind]
    head = len(f":{server} 353 {me} {symbol} {e.room} :".encode()) + 2
    budget = p.limits.irc_line - head
    line: list[str] = []
    size = 0
    for name in names:
        if line and size + 1 + len(name.encode()) > budget:
            p.numeric(N.RPL_NAMREPLY, symbol, e.room, " ".join(line))
            line, size = [], 0
        size += len(name.encode()) + (1 if line else 0)
        line.append(name)
    if line:
        p.numeric(N.RPL_NAMREPLY, symbol, e.room, " ".join(line))
    p.numeric(N.RPL_ENDOFNAMES, e.room, "End of /NAMES list")
    return p.data_to_send()


def render_topic_info(p: IrcProtocol, e: TopicInfo, cache: RenderCache) -> bytes:
    if not e.text:
        p.numeric(N.RPL_NOTOPIC, e.room, "No topic is set")
    else:
        p.numeric(N.RPL_TOPIC, e.room, e.text.translate(CTL))
        p.numeric(N.RPL_TOPICWHOTIME, e.room, e.setter or "*", str(int(e.ts)))
    return p.data_to_send()


def render_failed(p: IrcProtocol, e: Failed, cache: RenderCache) -> bytes:
    if (v3_reply := ircv3.render_failed(p, e)) is not None:
        return v3_reply
    if (account_reply := irc_accounts.render_failed(p, e)) is not None:
        return account_reply
    if e.command == "setname":
        return userinfo.render_failed(p, e)
    if (service_reply := chanserv.render_failed(p, e)) is not None:
        return service_reply
    error = e.error
    if isinstance(error, NotSent):
        command, params = N.not_sent(error, e.command, p.nick or "*", C.STANDARD_REPLIES in p.caps)
        return IrcMessage(command, params, p.info.server_name).to_bytes()
    if e.command == "register":
        if isinstance(error, PasswordMismatch):
            p.error(error)
            if not error.final:  # (final: the transport closes it, saying why)
                p.send_error("Closing Link: * (Bad Password)")
                p.closing = True
            return p.data_to_send()
        if p.reg is Reg.WAIT:
            p.reg = advance(p.reg, "refused")
            if isinstance(error, NameError_):
                p.wanted_nick = None  # wait for another NICK
    if e.command == "who":  # NAMES of a room that does not exist: just the end
        p.numeric(N.RPL_ENDOFNAMES, error.subject or "*", "End of /NAMES list")
        return p.data_to_send()
    p.error(error)
    if e.command == "whois":
        p.numeric(N.RPL_ENDOFWHOIS, error.subject or "*", "End of /WHOIS list")
    elif e.command == "whoquery":  # a refused mask (416): still the end marker
        if p.whox:
            p.whox.pop(0)
        p.numeric(N.RPL_ENDOFWHO, error.subject or "*", "End of /WHO list")
    return p.data_to_send()


def render_shutdown(p: IrcProtocol, e: ServerShutdown, cache: RenderCache) -> bytes:
    return IrcMessage("ERROR", (f"Closing Link: {p.nick or '*'} ({e.reason})",)).to_bytes()


def render_room_modes(p: IrcProtocol, e: RoomModes, cache: RenderCache) -> bytes:
    p.numeric(N.RPL_CHANNELMODEIS, e.room, e.modes, *e.args)
    p.numeric(N.RPL_CREATIONTIME, e.room, str(int(e.created)))
    return p.data_to_send()


def render_user_modes(p: IrcProtocol, e: UserModes, cache: RenderCache) -> bytes:
    p.numeric(N.RPL_UMODEIS, e.modes)
    return p.data_to_send()


def render_ban_list(p: IrcProtocol, e: BanList, cache: RenderCache) -> bytes:
    if e.mode == "q":  # 728/729 as ergo and InspIRCd send the quiet list
        for mask, by, ts in e.bans:
            p.numeric(N.RPL_QUIETLIST, e.room, "q", mask, by, str(int(ts)))
        p.numeric(N.RPL_ENDOFQUIETLIST, e.room, "q", "End of channel quiet list")
        return p.data_to_send()
    for mask, by, ts in e.bans:
        p.numeric(N.RPL_BANLIST, e.room, mask, by, str(int(ts)))
    p.numeric(N.RPL_ENDOFBANLIST, e.room, "End of channel ban list")
    return p.data_to_send()


def render_invited(p: IrcProtocol, e: Invited, cache: RenderCache) -> bytes:
    if e.target == p.nick:
        return IrcMessage("INVITE", (e.target, e.room), source(e.nick, e.user)).to_bytes()
    p.numeric(N.RPL_INVITING, e.target, e.room)
    return p.data_to_send()


def render_away_changed(p: IrcProtocol, e: AwayChanged, cache: RenderCache) -> bytes:
    if e.nick == p.nick:
        if e.message:
            p.numeric(N.RPL_NOWAWAY, "You have been marked as being away")
        else:
            p.numeric(N.RPL_UNAWAY, "You are no longer marked as being away")
        return p.data_to_send()
    if C.AWAY_NOTIFY not in p.caps:
        return b""
    params = (e.message.translate(CTL),) if e.message else ()
    return shared(p, cache, e, lambda: IrcMessage("AWAY", params, source(e.nick, e.user)))


def render_is_away(p: IrcProtocol, e: IsAway, cache: RenderCache) -> bytes:
    p.numeric(N.RPL_AWAY, e.nick, e.message.translate(CTL))
    return p.data_to_send()


def render_oper_up(p: IrcProtocol, e: OperUp, cache: RenderCache) -> bytes:
    p.numeric(N.RPL_YOUREOPER, "You are now an IRC operator")
    p.reply(IrcMessage("MODE", (e.nick, "+o"), e.nick))
    return p.data_to_send()


def render_protected(p: IrcProtocol, e: NickProtected, cache: RenderCache) -> bytes:
    """Nick protection (core/handlers/users.py): a NOTICE from NickServ."""
    how = f"/msg NickServ IDENTIFY {e.nick} <password>"
    if e.grace > 0:
        text = f"This nickname is registered. Log in within {e.grace} seconds or you will be renamed ({how})"
    else:
        text = f"This nickname is registered. Log in to use it ({how}); you are being renamed"
    irc_accounts.notice(p, text)
    return p.data_to_send()


def render_attached(p: IrcProtocol, e: Attached, cache: RenderCache) -> bytes:
    """This connection joined its account's user (core/handlers/users.py): a JOIN, the
    topic and the names of each of its rooms, as if it had joined them."""
    p.nick = e.nick
    data = b""
    for joined, topic, members in e.rooms:
        data += render_joined(p, joined, {})
        if topic is not None:
            data += render_topic_info(p, topic, {})
        data += render_members(p, members, {})
    return data


def render_killed(p: IrcProtocol, e: Killed, cache: RenderCache) -> bytes:
    me = p.nick or "*"
    p.reply(IrcMessage("KILL", (me, e.reason.translate(CTL)), source(e.nick, e.user)))
    p.send_error(f"Closing Link: {me} (Killed ({e.nick} ({e.reason.translate(CTL)})))")
    p.closing = True
    return p.data_to_send()


def render_stats(p: IrcProtocol, e: ServerStats, cache: RenderCache) -> bytes:
    p.numeric(N.RPL_LUSERCLIENT, f"There are {e.users - e.invisible} users and {e.invisible} invisible "
                 f"on {e.nodes} servers")
    p.numeric(N.RPL_LUSEROP, str(e.opers), "operator(s) online")
    p.numeric(N.RPL_LUSERUNKNOWN, str(e.unregistered), "unknown connection(s)")
    p.numeric(N.RPL_LUSERCHANNELS, str(e.rooms), "channels formed")
    local = e.users - e.remote  # (a cluster's other nodes: servers here, their users global only)
    p.numeric(N.RPL_LUSERME, f"I have {local} clients and {e.nodes - 1} servers")
    most = str(max(e.max_users, e.users))
    # One server: local and global are the same (as ergo words them).
    p.numeric(N.RPL_LOCALUSERS, str(local), most, f"Current local users {local}, max {most}")
    p.numeric(N.RPL_GLOBALUSERS, str(e.users), most, f"Current global users {e.users}, max {most}")
    if p._burst:
        p._burst = False
        p.send_motd()
    return p.data_to_send()


RENDERERS: Final[dict[type, Callable[[IrcProtocol, Any, RenderCache], bytes]]] = {
    Registered: render_registered,
    Joined: render_joined,
    Parted: render_parted,
    Left: render_left,
    NickChanged: render_nick,
    Members: render_members,
    Crowd: lambda p, e, cache: crowd.irc_lines(e),
    TopicInfo: render_topic_info,
    TopicChanged: render_topic_changed,
    Failed: render_failed,
    ServerShutdown: render_shutdown,
    RoomModes: render_room_modes,
    UserModes: render_user_modes,
    ModeChanged: render_mode_changed,
    BanList: render_ban_list,
    Kicked: render_kicked,
    Invited: render_invited,
    AwayChanged: render_away_changed,
    IsAway: render_is_away,
    OperUp: render_oper_up,
    Killed: render_killed,
    WallopsSent: render_wallops,
    WhoisReply: render_whois,
    WhoReply: render_who,
    WhoWasReply: render_whowas,
    TagsSent: render_tags_sent,
    ListReply: render_list,
    LookupReply: render_lookup,
    ServerStats: render_stats,
    Synced: render_synced,
    ChatHistoryReply: render_chathistory,
    AccountChanged: irc_accounts.render_changed,
    AccountNote: irc_accounts.render_note,
    RoomNote: chanserv.render_note,
    RoomDetails: chanserv.render_details,
    SaslChallenge: irc_accounts.render_challenge,
    **userinfo.RENDERERS,
    Redacted: ircv3.render_redacted,
    ReadMarker: ircv3.render_read_marker,
    NickProtected: render_protected,
    Echo: lambda p, e, cache: format_message(p, e.message),  # another connection's message, always shown
    Attached: render_attached,
}
