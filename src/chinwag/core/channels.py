"""Handlers for room moderation, presence, operators and lookups.

Same contract as :mod:`chinwag.core.commands` (which lists them in COMMANDS):
``handler(hub, session, command) -> list[Outbound]``, raising ChatError.

Room operators: whoever creates a room is its operator; ``+o`` makes more.
In a registered room (core/rooms.py) op goes on join only to the accounts that
hold it (core/roomops.py), and they are never refused by their room's rules.
Server operators (OPER) count as room operators everywhere, even outside the
room, but they obey +i/+k/+l/+b when joining like anyone else, except into a
room with nobody in it: its rules outlive its members (core/roomstate.py), and
without that exception an empty +i room could never be entered again. For the
same reason the right key lets anyone into an empty +i room that has one.

Every change to a room's rules (modes other than +o/+v, bans, the topic) is
reported to ``Hub.rules_changed`` so that the store keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.core import profile, roomops, users
from chinwag.core.errors import (
    BadRoomKey,
    BannedFromRoom,
    InvalidModeParam,
    InviteOnly,
    MaskTooLong,
    NoPrivileges,
    NoSuchNick,
    NoSuchRoom,
    NotInRoom,
    NotRoomOperator,
    RoomIsFull,
    RoomRulesFull,
    UnknownMode,
    UnknownUserMode,
    UserInRoom,
    UserNotInRoom,
    UsersDontMatch,
)
from chinwag.core.events import Failed, Outbound, Part
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
)
from chinwag.core.masks import collapse, compile_mask
from chinwag.core.names import casefold, is_room, normalize_mask
from chinwag.core.numbers import decimal

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Room, Session

ROOM_FLAGS = "imnpst"  # room modes without a parameter (p private, s secret)


def hidden_from(room: Room, session: Session) -> bool:
    """A secret (+s) room is invisible to non-members: LIST, NAMES, WHO, WHOIS."""
    return "s" in room.flags and session.sid not in room.members and session.oper is None
USER_MODES = "iow"

# --- shared checks -------------------------------------------------------------


def find_room(hub: Hub, name: str) -> Room:
    room = hub.rooms.get(casefold(name))
    if room is None:
        raise NoSuchRoom(name)
    return room


def find_user(hub: Hub, nick: str) -> Session:
    sid = hub.nicks.get(casefold(nick))
    if sid is None:
        raise NoSuchNick(nick)
    return hub.sessions[sid]


def is_room_op(room: Room, session: Session) -> bool:
    return session.sid in room.ops or session.oper is not None


def require_room_op(room: Room, session: Session) -> None:
    if session.sid not in room.members and session.oper is None:
        raise NotInRoom(room.name)
    if not is_room_op(room, session):
        raise NotRoomOperator(room.name)


def is_banned(hub: Hub, room: Room, session: Session) -> bool:
    return bool(room.bans) and roomops.matches(hub, room.bans, session)


def check_join(hub: Hub, room: Room, session: Session, key: str) -> None:
    """Raise the reason ``session`` may not join ``room`` (471/473/474/475), if any."""
    if roomops.holds_op(room, session):
        return  # a registered room's founder, op list and server operators
    invited = session.sid in room.invited
    empty_keyed = False
    if not room.members:  # re-creating a room that kept its rules (Hub.new_room)
        if session.oper is not None:
            return  # a server operator can always get in
        # Nobody is inside to invite anyone: the key, if it has one, stands in
        # for the invitation (so its owner can come back to a +ik room).
        empty_keyed = bool(room.key) and key == room.key
    if is_banned(hub, room, session) and not invited:
        raise BannedFromRoom(room.name)
    if "i" in room.flags and not (invited or empty_keyed):
        raise InviteOnly(room.name)
    if room.key and key != room.key:
        raise BadRoomKey(room.name)
    if room.limit and len(room.members) >= room.limit:
        raise RoomIsFull(room.name)


def require_room_for_rules(hub: Hub, room: Room) -> None:
    """Rules are kept beyond the room's members (Hub.saved), so their number is
    capped: a room without kept rules gets none once ``max_room_rules`` rooms have them."""
    if casefold(room.name) not in hub.saved and len(hub.saved) >= hub.limits.max_room_rules:
        raise RoomRulesFull(room.name)


def can_speak(hub: Hub, room: Room, session: Session) -> str | None:
    """None if ``session`` may send to ``room``, else why not (404)."""
    sid = session.sid
    if sid in room.ops or sid in room.voiced or session.oper is not None:
        return None
    if sid not in room.members and "n" in room.flags:
        return "no external messages (+n)"
    if "m" in room.flags:
        return "the room is moderated (+m)"
    if is_banned(hub, room, session):
        return "you are banned (+b)"
    if room.quiets and roomops.matches(hub, room.quiets, session):
        return "you are muted in this room (+q)"
    return None


def away_notice(hub: Hub, session: Session, target: Session) -> list[Outbound]:
    if not target.away:
        return []
    return [Outbound((session.sid,), IsAway(target.nick or "", target.away))]


def nick(session: Session) -> str:
    return session.nick or ""


# --- topics ----------------------------------------------------------------------


def topic(hub: Hub, session: Session, cmd: Topic) -> list[Outbound]:
    room = find_room(hub, cmd.room)
    if cmd.text is None:
        return [Outbound((session.sid,), TopicInfo(room.name, room.topic, room.topic_by, room.topic_ts))]
    if session.sid not in room.members and session.oper is None:
        raise NotInRoom(room.name)
    if "t" in room.flags and not is_room_op(room, session):
        raise NotRoomOperator(room.name)
    if cmd.text:
        require_room_for_rules(hub, room)
    room.topic = cmd.text[: hub.limits.topic_len]
    room.topic_by = nick(session)
    room.topic_ts = hub.clock()
    hub.rules_changed(room)
    event = TopicChanged(room.name, room.topic_by, room.topic, room.topic_ts, session.user)
    return [Outbound(list(room.members), event)]


# --- modes -----------------------------------------------------------------------


def room_modes(room: Room, show_key: bool) -> RoomModes:
    letters = "".join(sorted(room.flags))
    args: list[str] = []
    if room.key:
        letters += "k"
        args.append(room.key if show_key else "*")
    if room.limit:
        letters += "l"
        args.append(str(room.limit))
    return RoomModes(room.name, "+" + letters, tuple(args), room.created)


def mode(hub: Hub, session: Session, cmd: Mode) -> list[Outbound]:
    if not is_room(cmd.target):
        return user_mode(hub, session, cmd)
    room = find_room(hub, cmd.target)
    if not cmd.changes:
        show_key = session.sid in room.members or session.oper is not None
        return [Outbound((session.sid,), room_modes(room, show_key))]
    require_room_op(room, session)
    if any(change.mode not in "ov" for change in cmd.changes):
        require_room_for_rules(hub, room)
    applied: list[ModeChange] = []
    out: list[Outbound] = []
    with_arg = 0
    for change in cmd.changes:
        if change.arg is not None:
            with_arg += 1
            if with_arg > hub.limits.max_modes:
                break
        try:
            done = _apply_room_mode(hub, room, session, change)
        except (NoSuchNick, UserNotInRoom, UnknownMode, InvalidModeParam) as exc:
            out.append(Outbound((session.sid,), Failed(exc, "mode")))
            continue
        if done is not None:
            applied.append(done)
    if applied:
        if any(change.mode not in "ov" for change in applied):
            hub.rules_changed(room)
        out.insert(0, Outbound(list(room.members), ModeChanged(room.name, nick(session), tuple(applied), session.user)))
    return out


def _apply_room_mode(hub: Hub, room: Room, session: Session, change: ModeChange) -> ModeChange | None:
    """Apply one change; return it as it should be announced, or None for a no-op."""
    on, letter, arg = change.on, change.mode, change.arg
    if letter in ROOM_FLAGS:
        if (letter in room.flags) == on:
            return None
        (room.flags.add if on else room.flags.discard)(letter)
        return ModeChange(on, letter)
    if letter in "ov":
        if not arg:
            return None
        target = find_user(hub, arg)
        if target.sid not in room.members:
            raise UserNotInRoom(nick(target), room.name)
        group = room.ops if letter == "o" else room.voiced
        if (target.sid in group) == on:
            return None
        (group.add if on else group.discard)(target.sid)
        return ModeChange(on, letter, nick(target))
    if letter in "bq":
        if not arg:
            return None
        mask = _list_mask(room, letter, arg)
        key = roomops.mask_key(mask)
        masks, most = (room.bans, hub.limits.max_bans) if letter == "b" else (room.quiets, hub.limits.max_quiets)
        if on:
            limit = hub.limits.mask_len
            if len(mask) > limit:
                what = "ban" if letter == "b" else "quiet"
                reason = f"{what} mask too long (max {limit} characters)"
                raise InvalidModeParam(room.name, letter, mask[:limit], reason)
            if key in masks or len(masks) >= most:
                return None
            masks[key] = (nick(session), hub.clock())
        elif masks.pop(key, None) is None:
            return None
        return ModeChange(on, letter, mask)
    if letter == "k":
        if on:
            # As ergo: a key JOIN could not send (empty, only spaces, a space
            # inside) is refused with 696 and "*" for the key, never stored.
            if arg is None or not arg.strip() or " " in arg:
                raise InvalidModeParam(room.name, "k", "*", "invalid key: it must be one word")
            if room.key == arg:
                return None
            room.key = arg
            return ModeChange(True, "k", arg)
        if not room.key:
            return None
        room.key = ""
        return ModeChange(False, "k", "*")
    if letter == "l":
        if on:
            new_limit = decimal(arg or "")
            if not new_limit or new_limit == room.limit:
                return None
            room.limit = new_limit
            return ModeChange(True, "l", arg)
        if not room.limit:
            return None
        room.limit = 0
        return ModeChange(False, "l")
    raise UnknownMode(letter)


def _list_mask(room: Room, letter: str, arg: str) -> str:
    """A ban or quiet mask as kept: ``nick!user@host`` completed, or ``~a:account``."""
    if arg.startswith("~"):
        if arg[:3].lower() != roomops.ACCOUNT_EXTBAN or len(arg) == 3:
            raise InvalidModeParam(room.name, letter, arg, "unknown extban: only ~a:ACCOUNT is supported")
        return roomops.ACCOUNT_EXTBAN + arg[3:]
    return collapse(normalize_mask(arg))


def user_mode(hub: Hub, session: Session, cmd: Mode) -> list[Outbound]:
    if casefold(cmd.target) != casefold(nick(session)):
        if cmd.target not in hub.nicks and casefold(cmd.target) not in hub.nicks:
            raise NoSuchNick(cmd.target)
        raise UsersDontMatch()
    if not cmd.changes:
        modes = set(session.modes) | ({"o"} if session.oper is not None else set())
        return [Outbound((session.sid,), UserModes(nick(session), "+" + "".join(sorted(modes))))]
    applied: list[ModeChange] = []
    unknown = False
    for change in cmd.changes:
        letter = change.mode
        if letter not in USER_MODES:
            unknown = True
            continue
        if letter == "o":  # only OPER grants it; anyone may drop it
            if not change.on and session.oper is not None:
                session.oper = None
                hub.opers.discard(session.sid)
                applied.append(ModeChange(False, "o"))
            continue
        if (letter in session.modes) != change.on:
            session.modes = session.modes | {letter} if change.on else session.modes - {letter}
            if letter == "i":
                (hub.invisible.add if change.on else hub.invisible.discard)(session.sid)
            applied.append(ModeChange(change.on, letter))
    out: list[Outbound] = []
    if applied:
        out.append(Outbound((session.sid,), ModeChanged(nick(session), nick(session), tuple(applied), session.user)))
    if unknown:
        out.append(Outbound((session.sid,), Failed(UnknownUserMode(), "mode")))
    return out


def list_bans(hub: Hub, session: Session, cmd: ListBans) -> list[Outbound]:
    room = find_room(hub, cmd.room)
    masks = room.quiets if cmd.mode == "q" else room.bans
    bans = tuple((mask, by, ts) for mask, (by, ts) in masks.items())
    return [Outbound((session.sid,), BanList(room.name, bans, cmd.mode))]


# --- kick and invite ---------------------------------------------------------------


def kick(hub: Hub, session: Session, cmd: Kick) -> list[Outbound]:
    room = find_room(hub, cmd.room)
    require_room_op(room, session)
    target = find_user(hub, cmd.nick)
    if target.sid not in room.members:
        raise UserNotInRoom(nick(target), room.name)
    reason = (cmd.reason or nick(session))[: hub.limits.kick_len]
    key = casefold(room.name)
    out = hub.flush_crowds([key], spread=False) if room.crowd is not None else []  # the target's JOIN first
    out.append(Outbound(list(room.members), Kicked(room.name, nick(session), nick(target), reason, session.user)))
    del target.rooms[key]
    hub._remove_member(key, target.sid)
    return out


def invite(hub: Hub, session: Session, cmd: Invite) -> list[Outbound]:
    target = find_user(hub, cmd.nick)
    room = find_room(hub, cmd.room)
    if session.sid not in room.members and session.oper is None:
        raise NotInRoom(room.name)
    if target.sid in room.members:
        raise UserInRoom(nick(target), room.name)
    if "i" in room.flags and not is_room_op(room, session):
        raise NotRoomOperator(room.name)
    room.invited.add(target.sid)
    if target.invites is None:
        target.invites = set()
    target.invites.add(casefold(room.name))  # so leaving clears it (Hub.disconnect)
    event = Invited(room.name, nick(session), nick(target), session.user)
    return [Outbound((session.sid, target.sid), event), *away_notice(hub, session, target),
            *profile.invite_notice(hub, room, session, target)]


# --- presence ------------------------------------------------------------------------


def set_away(hub: Hub, session: Session, cmd: SetAway) -> list[Outbound]:
    session.away = cmd.message[: hub.limits.away_len]
    return [Outbound([session.sid, *hub.peers(session)], AwayChanged(nick(session), session.away, session.user))]


def part_all(hub: Hub, session: Session, cmd: PartAll) -> list[Outbound]:
    from chinwag.core.commands import part

    out: list[Outbound] = []
    for key in list(session.rooms):
        out += part(hub, session, Part(hub.rooms[key].name, cmd.reason))
    return out


# --- server operators ------------------------------------------------------------------


def oper(hub: Hub, session: Session, cmd: Oper) -> list[Outbound]:
    session.oper = cmd.name
    hub.opers.add(session.sid)
    return [Outbound((session.sid,), OperUp(nick(session))), *roomops.grant_all(hub, session)]


def kill(hub: Hub, session: Session, cmd: Kill) -> list[Outbound]:
    if session.oper is None:
        raise NoPrivileges()
    target = find_user(hub, cmd.nick)
    reason = cmd.reason or "no reason"
    # Every connection of the user is told; the user goes, with all of them (core/users.py).
    out = [Outbound(users.connections_of(hub, target.sid), Killed(nick(session), reason, session.user))]
    return out + hub.disconnect(target.sid, f"Killed ({nick(session)} ({reason}))", whole=True, spread=False)


def wallops(hub: Hub, session: Session, cmd: Wallops) -> list[Outbound]:
    if session.oper is None:
        raise NoPrivileges()
    to = [s.sid for s in hub.sessions.values() if s.nick and (s.oper is not None or "w" in s.modes)]
    return [Outbound(to, WallopsSent(nick(session), cmd.text, session.user))]


# --- lookups -----------------------------------------------------------------------------


def whois(hub: Hub, session: Session, cmd: Whois) -> list[Outbound]:
    target = find_user(hub, cmd.nick)
    rooms = []
    for key in target.rooms:
        room = hub.rooms[key]
        if hidden_from(room, session):
            continue
        rooms.append(hub.info(target, room).prefix[:1] + room.name)
    idle = max(0, int(hub.clock() - (target.last_active or target.signon)))
    reply = WhoisReply(hub.info(target), tuple(rooms), idle, target.signon)  # info.away: 301 inside it
    return [Outbound((session.sid,), reply)]


def _visible(hub: Hub, session: Session, other: Session) -> bool:
    """Invisible (+i) users are only found by people sharing a room with them."""
    if "i" not in other.modes or other.sid == session.sid:
        return True
    return any(key in session.rooms for key in other.rooms)


def who_query(hub: Hub, session: Session, cmd: WhoQuery) -> list[Outbound]:
    entries: list[tuple[str, MemberInfo]] = []
    if is_room(cmd.mask):
        room = hub.rooms.get(casefold(cmd.mask))
        if room is not None and not hidden_from(room, session):
            member = session.sid in room.members
            for sid in room.members:
                other = hub.sessions[sid]
                if member or _visible(hub, session, other):
                    entries.append((room.name, hub.info(other, room)))
    else:
        return _who_mask(hub, session, cmd.mask)
    return [Outbound((session.sid,), WhoReply(cmd.mask, tuple(entries)))]


def _who_mask(hub: Hub, session: Session, mask: str) -> list[Outbound]:
    """WHO of a nick or a nick glob: at most ``who_max`` entries, then
    ``truncated`` (IRC: 416 "output too large"); a mask over ``mask_len``
    characters is refused before any name is looked at."""
    limit = hub.limits.mask_len
    if len(mask) > limit:
        raise MaskTooLong(mask[:limit], f"mask too long (max {limit} characters)")
    exact = hub.nicks.get(casefold(mask))
    if exact is not None:
        candidates = iter((hub.sessions[exact],))
    else:
        match = compile_mask(mask).match_folded  # Hub.nicks keys are casefolded already
        candidates = (hub.sessions[sid] for key, sid in hub.nicks.items() if match(key))
    entries: list[tuple[str, MemberInfo]] = []
    most = hub.limits.who_max
    truncated = False
    for other in candidates:
        if _visible(hub, session, other):
            if len(entries) == most:
                truncated = True
                break
            entries.append(("*", hub.info(other)))
    return [Outbound((session.sid,), WhoReply(mask, tuple(entries), truncated))]


def list_query(hub: Hub, session: Session, cmd: ListQuery) -> list[Outbound]:
    if cmd.rooms:
        wanted = [hub.rooms.get(casefold(r)) for r in cmd.rooms]
        rooms = [r for r in wanted if r is not None]
    else:
        rooms = sorted(hub.rooms.values(), key=lambda r: r.name)
    rooms = [r for r in rooms if not hidden_from(r, session)]
    reply = ListReply(tuple((r.name, len(r.members), r.topic) for r in rooms))
    return [Outbound((session.sid,), reply)]


def lookup(hub: Hub, session: Session, cmd: Lookup) -> list[Outbound]:
    found = []
    for wanted in cmd.nicks:
        sid = hub.nicks.get(casefold(wanted))
        if sid is not None:
            found.append(hub.info(hub.sessions[sid]))
    return [Outbound((session.sid,), LookupReply(tuple(found)))]


def stats(hub: Hub, session: Session, cmd: Stats) -> list[Outbound]:
    # O(1): every registration asks (LUSERS in the welcome burst).
    users = len(hub.nicks)
    unregistered = len(hub.sessions) - users
    reply = ServerStats(users, len(hub.invisible), len(hub.opers), len(hub.rooms), unregistered, hub.max_users)
    return [Outbound((session.sid,), reply)]


def sync(hub: Hub, session: Session, cmd: Sync) -> list[Outbound]:
    return [Outbound((session.sid,), Synced(cmd.token))]
