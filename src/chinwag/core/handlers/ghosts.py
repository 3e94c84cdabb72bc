"""Presence ops of other nodes made true here, one function per op (core/types/cluster.py).

Each ``apply_*(hub, node, op)`` changes the hub without permission checks
(``node`` decided) and returns what this node's local users see, the same
events a local change makes: a JOIN, a QUIT once per user sharing a room, a
NICK, TOPIC, MODE... Events are addressed to local sids only (ghosts have no
connection here); core/handlers/remote.py spreads them over devices. An op
about a nick that is no ghost of ``node`` (unknown, or held here), or that is
already true, changes nothing: ops can come again after a resync.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from chinwag.core import crowd
from chinwag.core.accounts import AccountChanged
from chinwag.core.events import Event, Joined, Outbound, Parted
from chinwag.core.handlers import profile, roomops, users
from chinwag.core.handlers.moderation import ROOM_FLAGS
from chinwag.core.names import casefold, is_room
from chinwag.core.numbers import decimal
from chinwag.core.types import cluster
from chinwag.core.types.moderation import Kicked, ModeChange, ModeChanged
from chinwag.core.types.presence import AwayChanged
from chinwag.core.types.registered import SERVICE
from chinwag.core.types.rooms import Invited, TopicChanged
from chinwag.core.types.userinfo import HostChanged, HostRejoined, RealnameChanged

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Room, Session


# --- helpers -------------------------------------------------------------------------------


def local(sids: Iterable[int]) -> list[int]:
    """The local users among ``sids`` (ghosts are negative)."""
    return [sid for sid in sids if sid > 0]


def only_local(out: Iterable[Outbound]) -> list[Outbound]:
    """``out`` addressed to local users only; an event nobody here gets is dropped."""
    result = []
    for o in out:
        to = local(o.to)
        if to:
            result.append(Outbound(to, o.event))
    return result


def tell(to: Iterable[int], event: Event) -> list[Outbound]:
    sids = local(to)
    return [Outbound(sids, event)] if sids else []


def ghost_of(hub: Hub, node: str, nick: str) -> Session | None:
    """The ghost of ``node`` holding ``nick``, if any."""
    sid = hub.nicks.get(casefold(nick))
    if sid is None or hub.remote.get(sid) != node:
        return None
    return hub.sessions[sid]


def user_of(hub: Hub, nick: str) -> str:
    """The user[@host] of whoever holds ``nick`` ("" for a service or nobody)."""
    sid = hub.nicks.get(casefold(nick))
    return hub.sessions[sid].user if sid is not None else ""


def status(room: Room, sid: int) -> str:
    return ("@" if sid in room.ops else "") + ("+" if sid in room.voiced else "")


def quit_ghost(hub: Hub, sid: int, reason: str) -> list[Outbound]:
    """A ghost goes: those here who shared a room with it hear it quit, once."""
    out = hub.disconnect(sid, reason, spread=False)
    hub.remote.pop(sid, None)
    return only_local(out)


# --- the ops -------------------------------------------------------------------------------


def apply_arrive(hub: Hub, node: str, op: cluster.Arrive) -> list[Outbound]:
    u = op.user
    if not u.nick or is_room(u.nick):
        return []  # (no name a node would have let anyone take)
    holder = hub.nicks.get(casefold(u.nick))
    out: list[Outbound] = []
    if holder is not None:
        if holder > 0 or hub.remote.get(holder) == node:
            return []  # already here; or held by a local user (the nick claim says otherwise: its snapshot tells)
        out = quit_ghost(hub, holder, f"nick taken over by {node}")  # the other node's claim lapsed
    session = hub.add_ghost(node)
    sid = session.sid
    hub.take_nick(session, u.nick)
    session.user, session.realname, session.away = u.user, u.realname, u.away
    session.signon = session.last_active = u.signon
    session.account = u.account or None
    if u.account:
        hub.registered.add(casefold(u.account))  # (nick protection: a name that is an account's)
    if u.modes:
        session.modes = frozenset(u.modes)
    if "i" in session.modes:
        hub.invisible.add(sid)
    if u.oper:
        session.oper = ""
        hub.opers.add(sid)
    hub.max_users = max(hub.max_users, len(hub.nicks))
    return out


def apply_join(hub: Hub, node: str, op: cluster.Join) -> list[Outbound]:
    ghost = ghost_of(hub, node, op.nick)
    key = casefold(op.room)
    if ghost is None or not is_room(op.room) or key in ghost.rooms:
        return []
    existing = hub.rooms.get(key)
    room = existing if existing is not None else hub.new_room(op.room, key)
    hub._add_member(room, key, ghost)
    room.invited.discard(ghost.sid)
    nick = ghost.nick or ""
    joined = Joined(room.name, nick, ghost.away, ghost.user, account=ghost.account or "",
                    realname=ghost.realname or nick)
    out: list[Outbound] = []
    if crowd.crowded(room, hub.limits.crowd_size):
        hub.note(room, "join", nick)
    else:
        out += tell(room.members, joined)
    changes = []
    if "@" in op.status:
        room.ops.add(ghost.sid)
        changes.append(ModeChange(True, "o", nick))
    if "+" in op.status:
        room.voiced.add(ghost.sid)
        changes.append(ModeChange(True, "v", nick))
    if changes and existing is not None:  # (a resync, or two nodes creating a room at once): members see it
        if room.crowd is not None:
            out += hub.flush_crowds([key], spread=False)  # the JOIN before the MODE
        out += tell(room.members, ModeChanged(room.name, SERVICE, tuple(changes), SERVICE))
    return only_local(out)


def apply_part(hub: Hub, node: str, op: cluster.Part) -> list[Outbound]:
    ghost = ghost_of(hub, node, op.nick)
    key = casefold(op.room)
    if ghost is None or key not in ghost.rooms:
        return []
    room = hub.rooms[key]
    out: list[Outbound] = []
    if crowd.crowded(room, hub.limits.crowd_size):
        hub.note(room, "part", ghost.nick or "", op.reason)
    else:
        out = tell(room.members, Parted(room.name, ghost.nick or "", op.reason, ghost.user))
    del ghost.rooms[key]
    hub._remove_member(key, ghost.sid)
    return out


def apply_quit(hub: Hub, node: str, op: cluster.Quit) -> list[Outbound]:
    ghost = ghost_of(hub, node, op.nick)
    return [] if ghost is None else quit_ghost(hub, ghost.sid, op.reason)


def apply_nick(hub: Hub, node: str, op: cluster.Nick) -> list[Outbound]:
    ghost = ghost_of(hub, node, op.old)
    if ghost is None or ghost.nick == op.new:
        return []
    out: list[Outbound] = []
    holder = hub.nicks.get(casefold(op.new))
    if holder is not None and holder != ghost.sid:
        if holder > 0 or hub.remote.get(holder) == node:
            return []  # held here, or by another of its users: its snapshot repairs it
        out = quit_ghost(hub, holder, f"nick taken over by {node}")
    return out + only_local(users.rename(hub, ghost, op.new))


def apply_topic(hub: Hub, node: str, op: cluster.Topic) -> list[Outbound]:
    room = hub.rooms.get(casefold(op.room))
    if room is None or (room.topic, room.topic_by, room.topic_ts) == (op.topic, op.nick, op.ts):
        return []  # (a room nobody here is in: its Rules op keeps the topic)
    room.topic, room.topic_by, room.topic_ts = op.topic, op.nick, op.ts
    return tell(room.members, TopicChanged(room.name, op.nick, op.topic, op.ts, user_of(hub, op.nick)))


def apply_away(hub: Hub, node: str, op: cluster.Away) -> list[Outbound]:
    ghost = ghost_of(hub, node, op.nick)
    if ghost is None or ghost.away == op.away:
        return []
    ghost.away = op.away
    return tell(hub.peers(ghost), AwayChanged(ghost.nick or "", ghost.away, ghost.user))


def apply_kick(hub: Hub, node: str, op: cluster.Kick) -> list[Outbound]:
    key = casefold(op.room)
    room = hub.rooms.get(key)
    sid = hub.nicks.get(casefold(op.target))
    if room is None or sid is None or sid not in room.members:
        return []
    target = hub.sessions[sid]
    out = hub.flush_crowds([key], spread=False) if room.crowd is not None else []  # the target's JOIN first
    out += tell(room.members, Kicked(room.name, op.nick, target.nick or "", op.reason, user_of(hub, op.nick)))
    del target.rooms[key]
    hub._remove_member(key, sid)
    return only_local(out)


def _room_mode(hub: Hub, room: Room, change: ModeChange, actor: str) -> bool:
    """Make one room mode change true; False if it already was (or makes no sense here)."""
    on, letter, arg = change.on, change.mode, change.arg
    if letter in ROOM_FLAGS:
        if (letter in room.flags) == on:
            return False
        (room.flags.add if on else room.flags.discard)(letter)
        return True
    if letter in "ov":
        sid = hub.nicks.get(casefold(arg or ""))
        group = room.ops if letter == "o" else room.voiced
        if sid is None or sid not in room.members or (sid in group) == on:
            return False
        (group.add if on else group.discard)(sid)
        return True
    if letter in "bq":
        if not arg:
            return False
        masks = room.bans if letter == "b" else room.quiets
        key = roomops.mask_key(arg)
        if on:
            if key in masks:
                return False
            masks[key] = (actor, hub.clock())  # (its Rules op brings the origin's time)
            return True
        return masks.pop(key, None) is not None
    if letter == "k":
        new = (arg or "") if on else ""
        if room.key == new:
            return False
        room.key = new
        return True
    if letter == "l":
        limit = (decimal(arg or "") or 0) if on else 0
        if room.limit == limit:
            return False
        room.limit = limit
        return True
    return False


def apply_modes(hub: Hub, node: str, op: cluster.Modes) -> list[Outbound]:
    if not is_room(op.room):  # its own user modes: nobody else is told (LUSERS, WHO, WHOIS see them)
        ghost = ghost_of(hub, node, op.nick)
        if ghost is not None and casefold(op.room) == casefold(op.nick):
            _user_modes(hub, ghost, op.changes)
        return []
    room = hub.rooms.get(casefold(op.room))
    if room is None:
        return []
    applied = tuple(c for c in op.changes if _room_mode(hub, room, c, op.nick))
    if not applied:
        return []
    return tell(room.members, ModeChanged(room.name, op.nick, applied, op.user))


def _user_modes(hub: Hub, ghost: Session, changes: Iterable[ModeChange]) -> None:
    for change in changes:
        if change.mode == "o":
            ghost.oper = "" if change.on else None
            (hub.opers.add if change.on else hub.opers.discard)(ghost.sid)
        elif change.mode in "iw" and (change.mode in ghost.modes) != change.on:
            ghost.modes = ghost.modes | {change.mode} if change.on else ghost.modes - {change.mode}
            if change.mode == "i":
                (hub.invisible.add if change.on else hub.invisible.discard)(ghost.sid)


def apply_rules(hub: Hub, node: str, op: cluster.Rules) -> list[Outbound]:
    """Kept as the origin left them (the origin stores them: not marked changed here)."""
    state = op.state
    key = casefold(state.name)
    if state.is_default():
        hub.saved.pop(key, None)
    else:
        hub.saved[key] = state
    room = hub.rooms.get(key)
    if room is not None:
        room.restore(state)
    return []


def apply_account(hub: Hub, node: str, op: cluster.Account) -> list[Outbound]:
    ghost = ghost_of(hub, node, op.nick)
    account = op.account or None
    if ghost is None or ghost.account == account:
        return []
    ghost.account = account  # (never in hub.accounts: those are this node's users)
    if account is not None:
        hub.registered.add(casefold(account))
    return tell(hub.peers(ghost), AccountChanged(ghost.nick or "", account, user=ghost.user))


def apply_userinfo(hub: Hub, node: str, op: cluster.UserInfo) -> list[Outbound]:
    ghost = ghost_of(hub, node, op.nick)
    if ghost is None:
        return []
    nick = ghost.nick or ""
    out: list[Outbound] = []
    if op.realname and ghost.realname != op.realname:
        ghost.realname = op.realname
        out += tell(hub.peers(ghost), RealnameChanged(nick, op.realname, ghost.user))
    if op.user and ghost.user != op.user:
        old, ghost.user = ghost.user, op.user
        out += tell(hub.peers(ghost), HostChanged(nick, old, op.user))
        for key in ghost.rooms:  # (IRC clients without chghost: QUIT, then JOIN and MODE per room)
            room = hub.rooms[key]
            info = hub.info(ghost, room)
            out += tell(room.members, HostRejoined(room.name, nick, op.user, info.prefix, info.account,
                                                   info.realname, info.away))
    return out


def apply_invite(hub: Hub, node: str, op: cluster.Invite) -> list[Outbound]:
    key = casefold(op.room)
    room = hub.rooms.get(key)
    sid = hub.nicks.get(casefold(op.target))
    if room is None or sid is None or sid in room.members or sid in room.invited:
        return []
    target = hub.sessions[sid]
    room.invited.add(sid)
    if target.invites is None:
        target.invites = set()
    target.invites.add(key)
    out = tell((sid,), Invited(room.name, op.nick, target.nick or "", user_of(hub, op.nick)))
    inviter = ghost_of(hub, node, op.nick)
    if inviter is not None:
        out += only_local(profile.invite_notice(hub, room, inviter, target))
    return out
