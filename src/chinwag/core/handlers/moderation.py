"""Handlers for moderation: room and user modes (bans, quiets, keys, limits,
ops and voice), KICK, and the server operators' OPER, KILL and WALLOPS.

Room operators: whoever creates a room is its operator; ``+o`` makes more.
In a registered room (core/types/registered.py) op goes on join only to the accounts that
hold it (core/handlers/roomops.py), and they are never refused by their room's rules.
Server operators (OPER) count as room operators everywhere, even outside the
room, but they obey +i/+k/+l/+b when joining like anyone else, except into a
room with nobody in it: its rules outlive its members (core/roomstate.py), and
without that exception an empty +i room could never be entered again. For the
same reason the right key lets anyone into an empty +i room that has one
(core/handlers/checks.py: check_join).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.core.errors import (
    InvalidModeParam,
    NoPrivileges,
    NoSuchNick,
    UnknownMode,
    UnknownUserMode,
    UserNotInRoom,
    UsersDontMatch,
)
from chinwag.core.events import Failed, Outbound
from chinwag.core.handlers import roomops, users
from chinwag.core.handlers.checks import find_room, find_user, nick, require_room_for_rules, require_room_op
from chinwag.core.masks import collapse
from chinwag.core.names import casefold, is_room, normalize_mask
from chinwag.core.numbers import decimal
from chinwag.core.types.moderation import (
    BanList,
    Kick,
    Kicked,
    Kill,
    Killed,
    ListBans,
    Mode,
    ModeChange,
    ModeChanged,
    Oper,
    OperUp,
    RoomModes,
    UserModes,
    Wallops,
    WallopsSent,
)

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Room, Session


ROOM_FLAGS = "imnpst"  # room modes without a parameter (p private, s secret)


USER_MODES = "iow"


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


def oper(hub: Hub, session: Session, cmd: Oper) -> list[Outbound]:
    session.oper = cmd.name
    hub.opers.add(session.sid)
    return [Outbound((session.sid,), OperUp(nick(session))), *roomops.grant_all(hub, session)]


def kill(hub: Hub, session: Session, cmd: Kill) -> list[Outbound]:
    if session.oper is None:
        raise NoPrivileges()
    target = find_user(hub, cmd.nick)
    if target.sid < 0:  # a ghost (core/handlers/remote.py): its own node may disconnect it, not this one
        raise NoSuchNick(cmd.nick, "no such nick on this server (connected to another node: KILL it there)")
    reason = cmd.reason or "no reason"
    # Every connection of the user is told; the user goes, with all of them (core/handlers/users.py).
    out = [Outbound(users.connections_of(hub, target.sid), Killed(nick(session), reason, session.user))]
    return out + hub.disconnect(target.sid, f"Killed ({nick(session)} ({reason}))", whole=True, spread=False)


def wallops(hub: Hub, session: Session, cmd: Wallops) -> list[Outbound]:
    if session.oper is None:
        raise NoPrivileges()
    to = [s.sid for s in hub.sessions.values() if s.nick and (s.oper is not None or "w" in s.modes)]
    return [Outbound(to, WallopsSent(nick(session), cmd.text, session.user))]
