"""The one command table: command type -> handler and who may run it.

Every command goes through ``Hub.handle``, which checks registration once; the
handlers only do their own work and raise ChatError for the adapter to map.
Argument parsing (arity) happens at each protocol's edge, where the wire syntax
lives; by the time a command reaches here its fields are typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from chinwag.core import channels, crowd, profile, registered, roomops, users, whowas
from chinwag.core.accounts import AccountChanged, SetAccount
from chinwag.core.errors import (
    AlreadyRegistered,
    CannotSendToRoom,
    ChatError,
    NickInUse,
    NoSuchNick,
    NoSuchRoom,
    NoText,
    NotInRoom,
    TooManyRooms,
)
from chinwag.core.events import (
    ChangeNick,
    Join,
    Joined,
    ListRooms,
    Members,
    Message,
    Outbound,
    Part,
    Parted,
    Quit,
    Register,
    Registered,
    RoomKind,
    RoomList,
    Say,
    Who,
)
from chinwag.core.extended import (
    Invite,
    Kick,
    Kill,
    ListBans,
    ListQuery,
    Lookup,
    Mode,
    Oper,
    PartAll,
    SendTags,
    SetAway,
    Stats,
    Sync,
    TagsSent,
    Topic,
    TopicInfo,
    Wallops,
    Whois,
    WhoQuery,
    WhoWas,
)
from chinwag.core.ircv3 import Redaction
from chinwag.core.names import casefold, free_variant, is_room, validate_nick, validate_room
from chinwag.core.redaction import redaction
from chinwag.core.userinfo import SetName

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Room, Session

Handler = Callable[["Hub", "Session", Any], list[Outbound]]


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    handler: Handler
    needs_registration: bool = True
    # Runs only as a Checked command whose password the transport accepted
    # (when the command carries one: Auth.credential).
    needs_password: bool = False


def register(hub: Hub, session: Session, cmd: Register) -> list[Outbound]:
    if session.nick is not None:
        raise AlreadyRegistered()
    if session.account is not None and hub.multiclient:
        holder = users.user_of_account(hub, session.account, session.sid)
        if holder is not None:  # (logged in before registering: SASL)
            return users.attach(hub, session, holder)
    reclaimed = users.reclaim(hub, session, cmd.nick)
    nick = _available_nick(hub, session, cmd.nick)
    hub.take_nick(session, nick)
    session.nick_mark = hub.mark()
    session.realname = cmd.realname
    session.user = cmd.user or "~" + nick
    session.user = profile.shown_user(hub, session)  # (logged in by SASL before: its account's host)
    hub.max_users = max(hub.max_users, len(hub.nicks))
    session.signon = session.last_active = hub.clock()
    out = [*reclaimed, Outbound((session.sid,), Registered(nick))]
    if session.account is not None:  # logged in before registering (SASL): a server operator's status
        out += roomops.account_changed(hub, session, None)
    out += users.guard(hub, session)
    for room in cmd.autojoin:
        out += join(hub, session, Join(room))
    return out


def _available_nick(hub: Hub, session: Session, wanted: str) -> str:
    """``wanted``, prepared (names.validate_nick), if ``session`` may take it:
    not reserved, not held by someone else, not a look-alike of a name in use."""
    nick = validate_nick(wanted, hub.limits.nick_len)
    hub.reserved.check(nick)
    holder = hub.nicks.get(casefold(nick))
    registering = session.nick is None
    if holder is not None and holder != session.sid:
        suggestion = free_variant(nick, hub.nicks, hub.limits.nick_len, hub.skeletons) if registering else ""
        raise NickInUse(nick, suggestion=suggestion)
    twin = hub.lookalike_of(nick, session.sid)
    if twin is not None:
        suggestion = free_variant(nick, hub.nicks, hub.limits.nick_len, hub.skeletons) if registering else ""
        raise NickInUse(nick, f"name taken: ‘{nick}’ looks like ‘{twin}’, who is online", suggestion)
    return nick


def join(hub: Hub, session: Session, cmd: Join) -> list[Outbound]:
    name = validate_room(cmd.room, hub.limits.room_len)
    key = casefold(name)
    if key not in session.rooms:
        existing = hub.rooms.get(key)
        # A room with nobody in it is created afresh, but with the rules it
        # had (Hub.saved): its key, +i, bans... apply to whoever re-creates it.
        room = existing if existing is not None else hub.new_room(name, key)
        channels.check_join(hub, room, session, cmd.key)
        if len(session.rooms) >= hub.limits.max_rooms:
            raise TooManyRooms(name)
        hub._add_member(room, key, session)
        # Whoever creates (or re-creates) a room is its operator, unless it is
        # registered: then only those who hold op there (core/roomops.py).
        opped = roomops.op_on_join(room, session, existing is None)
        if opped:
            room.ops.add(session.sid)
        room.invited.discard(session.sid)
        joined = Joined(room.name, session.nick or "", session.away, session.user,
                        account=session.account or "", realname=session.realname or session.nick or "")
        if crowd.crowded(room, hub.limits.crowd_size):  # the others hear it in the summary
            hub.note(room, "join", joined.nick, "", session.sid)
            out = [Outbound((session.sid,), joined)]
        else:
            out = [Outbound(list(room.members), joined)]
        if opped and existing is not None:  # the others see who gave it
            room.ops.discard(session.sid)
            out += roomops.grant(hub, room, session)
        if room.topic:
            out.append(Outbound((session.sid,), TopicInfo(room.name, room.topic, room.topic_by, room.topic_ts)))
        if len(room.members) > hub.limits.crowd_size:
            # Listing every member to every joiner is quadratic: say how many
            # (the IRC adapter asks for NAMES, which Who answers in full).
            out.append(Outbound((session.sid,), Members(room.name, (), count=len(room.members), on_join=True)))
            return out
    else:
        room = hub.rooms[key]
        out = []
    out.append(Outbound((session.sid,), members(hub, room, on_join=True)))
    return out


def members(hub: Hub, room: Room, on_join: bool = False) -> Members:
    sessions = [hub.sessions[m] for m in room.members]
    kind: RoomKind = "secret" if "s" in room.flags else "private" if "p" in room.flags else "public"
    return Members(room.name, tuple(s.nick or "" for s in sessions), tuple(hub.info(s, room) for s in sessions),
                   kind=kind, on_join=on_join)


def part(hub: Hub, session: Session, cmd: Part) -> list[Outbound]:
    key = casefold(cmd.room)
    room = hub.rooms.get(key)
    if room is None:
        raise NoSuchRoom(cmd.room)
    if key not in session.rooms:
        raise NotInRoom(room.name)
    parted = Parted(room.name, session.nick or "", cmd.reason, session.user)
    if crowd.crowded(room, hub.limits.crowd_size):
        hub.note(room, "part", parted.nick, cmd.reason)
        out = [Outbound((session.sid,), parted)]
    else:
        out = [Outbound(list(room.members), parted)]
    del session.rooms[key]
    hub._remove_member(key, session.sid)
    return out


def say(hub: Hub, session: Session, cmd: Say) -> list[Outbound]:
    try:
        return _say(hub, session, cmd)
    except ChatError:
        if cmd.kind == "notice":  # RFC 1459: a notice never gets an automatic reply
            return []
        raise


def _say(hub: Hub, session: Session, cmd: Say) -> list[Outbound]:
    if not cmd.text:
        raise NoText()
    target, to, recipient = _recipients(hub, session, cmd.target)
    extra = channels.away_notice(hub, session, recipient) if recipient and cmd.kind != "notice" else []
    ts = hub.clock()
    session.last_active = ts
    accounts = None
    if recipient is not None and session.account is not None and recipient.account is not None:
        accounts = (session.account, recipient.account)
    msg = Message(hub.ids.next(ts), ts, session.nick or "", target, cmd.text, cmd.kind, cmd.tags, session.user,
                  accounts=accounts, account=session.account or "", lines=cmd.lines)
    # The sender is among the recipients: IRC echo-message and the text
    # protocol's private-message receipt both need it; a renderer may skip it.
    return [Outbound(list(to), msg), *extra]


def send_tags(hub: Hub, session: Session, cmd: SendTags) -> list[Outbound]:
    """TAGMSG: to whoever a message to that target would reach; never stored."""
    target, to, _ = _recipients(hub, session, cmd.target)
    ts = hub.clock()
    return [Outbound(list(to), TagsSent(hub.ids.next(ts), ts, session.nick or "", target, cmd.tags, session.user))]


def _recipients(hub: Hub, session: Session, name: str) -> tuple[str, Iterable[int], Session | None]:
    """(target's name, who receives, the recipient of a private message) for a
    message from ``session`` to ``name``; the sender is among those who receive."""
    recipient = None
    if is_room(name):
        key = casefold(name)
        room = hub.rooms.get(key)
        if room is None:
            raise NoSuchRoom(name)
        why = channels.can_speak(hub, room, session)
        if why is not None:
            raise CannotSendToRoom(room.name, f"cannot send to room: {why}")
        target, to = room.name, room.members.keys()
        if session.sid not in room.members:  # -n: an outsider still gets the echo
            to = {**room.members, session.sid: None}.keys()
    else:
        sid = hub.nicks.get(casefold(name))
        if sid is None:
            raise NoSuchNick(name)
        recipient = hub.sessions[sid]
        target = recipient.nick or ""
        to = {sid: None, session.sid: None}.keys()
    return target, to, recipient


def change_nick(hub: Hub, session: Session, cmd: ChangeNick) -> list[Outbound]:
    old = session.nick or ""
    if validate_nick(cmd.nick, hub.limits.nick_len) == old:
        return []
    reclaimed = users.reclaim(hub, session, cmd.nick)
    new = _available_nick(hub, session, cmd.nick)
    return [*reclaimed, *users.rename(hub, session, new), *users.guard(hub, session)]


def who(hub: Hub, session: Session, cmd: Who) -> list[Outbound]:
    room = hub.rooms.get(casefold(cmd.room))
    if room is None or channels.hidden_from(room, session):
        raise NoSuchRoom(cmd.room)
    if room.crowd is not None and session.sid in room.members:
        crowd.seen_all(room, session.sid)  # the list includes the summary's changes so far
    return [Outbound((session.sid,), members(hub, room))]


def list_rooms(hub: Hub, session: Session, cmd: ListRooms) -> list[Outbound]:
    rooms = tuple(sorted((r.name, len(r.members)) for r in hub.rooms.values() if not channels.hidden_from(r, session)))
    return [Outbound((session.sid,), RoomList(rooms))]


def set_account(hub: Hub, session: Session, cmd: SetAccount) -> list[Outbound]:
    """Only the transport sends this, after checking a password (core/accounts.py).
    The session hears it; so do those sharing a room with it (IRC account-notify)."""
    if session.account == cmd.account:
        return []
    if cmd.account is not None and cmd.created:
        hub.registered.add(casefold(cmd.account))
    holder = users.user_of_account(hub, cmd.account, session.sid) if cmd.account is not None else None
    if hub.multiclient and holder is not None and session.nick is not None:
        # The account's user is online: this connection becomes it (core/users.py).
        out = [Outbound((session.sid,), AccountChanged(session.nick, cmd.account, cmd.created, session.user))]
        return out + users.attach(hub, session, holder)
    old, session.account = session.account, cmd.account
    users.index_account(hub, session, old)
    if session.nick is None:  # (SASL before registration; register() gives it the account's host and attaches it)
        return [Outbound((session.sid,), AccountChanged("*", cmd.account, cmd.created))]
    out = [Outbound((session.sid,), AccountChanged(session.nick, cmd.account, cmd.created, session.user))]
    peers = hub.peers(session)
    if peers:
        out.append(Outbound(peers, AccountChanged(session.nick, cmd.account, user=session.user)))
    out += profile.host_change(hub, session)
    out += roomops.account_changed(hub, session, old)
    if cmd.account is not None and casefold(session.nick) != casefold(cmd.account):
        # Someone not logged in holds the account's nick: renamed now, and it is ours.
        reclaimed = users.reclaim(hub, session, cmd.account)
        if reclaimed:
            return out + reclaimed + change_nick(hub, session, ChangeNick(cmd.account))
    return out + users.guard(hub, session)


def quit_(hub: Hub, session: Session, cmd: Quit) -> list[Outbound]:
    return hub.disconnect(session.sid, cmd.reason, spread=False)  # (Hub.handle quits a connection itself)


COMMANDS: Final[dict[type, Spec]] = {
    Register: Spec("register", register, needs_registration=False, needs_password=True),
    Join: Spec("join", join),
    Part: Spec("part", part),
    Say: Spec("say", say),
    ChangeNick: Spec("nick", change_nick),
    Who: Spec("who", who),
    ListRooms: Spec("rooms", list_rooms),
    Quit: Spec("quit", quit_, needs_registration=False),
    Topic: Spec("topic", channels.topic),
    Mode: Spec("mode", channels.mode),
    ListBans: Spec("bans", channels.list_bans),
    Kick: Spec("kick", channels.kick),
    Invite: Spec("invite", channels.invite),
    SetAway: Spec("away", channels.set_away),
    PartAll: Spec("partall", channels.part_all),
    Oper: Spec("oper", channels.oper, needs_password=True),
    Kill: Spec("kill", channels.kill),
    Wallops: Spec("wallops", channels.wallops),
    Whois: Spec("whois", channels.whois),
    WhoQuery: Spec("whoquery", channels.who_query),
    ListQuery: Spec("list", channels.list_query),
    Lookup: Spec("lookup", channels.lookup),
    Stats: Spec("stats", channels.stats, needs_registration=False),
    WhoWas: Spec("whowas", whowas.whowas),
    SendTags: Spec("tagmsg", send_tags),
    Sync: Spec("sync", channels.sync, needs_registration=False),
    SetAccount: Spec("account", set_account, needs_registration=False),
    SetName: Spec("setname", profile.set_name),
    Redaction: Spec("redact", redaction),
    **{kind: Spec(name, handler) for kind, (name, handler) in registered.HANDLERS.items()},
}
