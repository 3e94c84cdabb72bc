"""Users on other nodes: ghosts, and the presence ops that keep them (cluster mode).

Every node keeps the whole network's presence in its own hub. A user of
another node is a *ghost* here: an ordinary ``Session`` with a negative sid
(``Hub.add_ghost``; ``hub.remote`` maps it to its node) that no connection
has. Being in ``hub.sessions``, ``hub.nicks`` and the rooms' members, ghosts
show in NAMES, WHO, WHOIS, LIST, ISON and LUSERS with no change there, and a
room a ghost is in is not new to a local joiner (no op by first arrival). They
are never in ``hub.accounts``, ``hub.links`` or ``hub.devices`` (those are
this node's), so no connection attaches to one, and nick protection never
renames one nor takes a nick back from one (core/handlers/users.py); KILL of
one is refused as "no such nick on this server" (core/handlers/moderation.py).

* :func:`ops_for`: what a local change amounts to, as presence ops to publish;
* :func:`apply`: another node's op made true here, with what local users see
  (core/handlers/ghosts.py, one function per op);
* :func:`snapshot` / :func:`reconcile`: all local users, and a node's ghosts
  made equal to its snapshot (after missed ops);
* :func:`drop_node`: a node is gone, its ghosts quit;
* :func:`recipients`: the local users a message from another node reaches.

All pure: the transport (transport/cluster/) publishes and receives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from chinwag.core.accounts import AccountChanged
from chinwag.core.events import Event, Joined, Message, NickChanged, Outbound, Parted, Registered
from chinwag.core.handlers import ghosts, users
from chinwag.core.handlers.ghosts import ghost_of, local, quit_ghost, status
from chinwag.core.names import casefold, is_room
from chinwag.core.roomstate import RoomState
from chinwag.core.types import cluster
from chinwag.core.types.cluster import Presence, PresenceOp, RemoteUser
from chinwag.core.types.moderation import Kicked, ModeChange, ModeChanged, OperUp
from chinwag.core.types.presence import AwayChanged
from chinwag.core.types.registered import SERVICE
from chinwag.core.types.rooms import Invited, TopicChanged
from chinwag.core.types.userinfo import HostChanged, RealnameChanged

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Session


def is_ghost(sid: int) -> bool:
    return sid < 0


__all__ = ["apply", "drop_node", "is_ghost", "local", "ops_for", "reconcile", "recipients", "snapshot"]


def remote_user(session: Session) -> RemoteUser:
    return RemoteUser(session.nick or "", session.user, session.realname, session.account or "", session.away,
                      "".join(sorted(session.modes)), session.oper is not None, session.signon)


# --- local changes out -------------------------------------------------------------------


def ops_for(hub: Hub, outbound: Iterable[Outbound]) -> list[PresenceOp]:
    """The presence ops a local change made, in order, from the events the hub
    returned for it (and what no event shows: quits of users nobody shared a
    room with, rules changed; the first call starts recording those). Events
    about changes that are not shared (answers, messages, summaries of big
    rooms, whose joins and parts were told as they happened) give none."""
    if hub.departed is None:
        hub.departed = []
    ops: list[PresenceOp] = []
    gone: set[str] = set()
    for left in hub.departed:
        ops.append(cluster.Quit(left.nick, left.reason))
        gone.add(casefold(left.nick))
    hub.departed.clear()
    out = outbound if isinstance(outbound, list) else list(outbound)
    # Renames in this batch (a user registering, then renamed by nick protection;
    # logging in, then taking the account's nick): an event names the user as it
    # was then. (Not an attach's NICK to the connection: its old name quit.)
    renames = [(i, casefold(e.old), casefold(e.new)) for i, o in enumerate(out)
               if type(e := o.event) is NickChanged and casefold(e.old) not in gone]

    def user(nick: str, i: int) -> Session | None:
        """The local user named ``nick`` by the batch's ``i``th event."""
        key = casefold(nick)
        for at, old, new in renames:
            if at > i and old == key:
                key = new
        sid = hub.nicks.get(key)
        return hub.sessions[sid] if sid is not None and sid > 0 else None

    joins: dict[tuple[str, str], int] = {}  # (room, nick) -> index of its Join in ops
    once: set[tuple[str, str, str | None]] = set()  # events sent to the user and to its peers: one op
    for i, o in enumerate(out):
        event = o.event
        kind = type(event)
        if kind is Message:
            continue
        if kind is Joined or kind is Parted:
            assert isinstance(event, Joined | Parted)
            session = user(event.nick, i)
            key = casefold(event.room)
            room = hub.rooms.get(key)
            if session is None:
                continue
            if kind is Joined and room is not None and key in session.rooms:
                joins[(key, casefold(event.nick))] = len(ops)
                ops.append(cluster.Join(event.nick, room.name, status(room, session.sid)))
            elif kind is Parted and key not in session.rooms:  # (not an attach's PART of the name it leaves)
                assert isinstance(event, Parted)
                ops.append(cluster.Part(event.nick, event.room, event.reason))
        elif kind is Registered:
            assert isinstance(event, Registered)
            session = user(event.nick, i)
            if session is not None and session.sid in o.to:  # (not a connection attaching to it)
                ops.append(cluster.Arrive(dataclasses.replace(remote_user(session), nick=event.nick)))
        elif kind is NickChanged:
            assert isinstance(event, NickChanged)
            if casefold(event.old) not in gone and user(event.new, i) is not None:
                ops.append(cluster.Nick(event.old, event.new))
        elif kind is ModeChanged:
            assert isinstance(event, ModeChanged)
            _mode_ops(hub, event, ops, joins, user(event.target, i))
        elif kind is OperUp:
            assert isinstance(event, OperUp)
            if user(event.nick, i) is not None:
                ops.append(cluster.Modes(event.nick, event.nick, (ModeChange(True, "o"),)))
        elif kind is TopicChanged:
            assert isinstance(event, TopicChanged)
            room = hub.rooms.get(casefold(event.room))
            if room is not None:
                ops.append(cluster.Topic(event.nick, room.name, event.text, event.ts))
        elif kind is AwayChanged:
            assert isinstance(event, AwayChanged)
            if ("away", event.nick, event.message) not in once and user(event.nick, i) is not None:
                once.add(("away", event.nick, event.message))
                ops.append(cluster.Away(event.nick, event.message))
        elif kind is AccountChanged:
            assert isinstance(event, AccountChanged)
            if ("account", event.nick, event.account) not in once and user(event.nick, i) is not None:
                once.add(("account", event.nick, event.account))
                ops.append(cluster.Account(event.nick, event.account))
        elif kind is RealnameChanged or kind is HostChanged:
            assert isinstance(event, RealnameChanged | HostChanged)
            session = user(event.nick, i)
            if session is not None and ("info", event.nick, None) not in once:
                once.add(("info", event.nick, None))
                ops.append(cluster.UserInfo(event.nick, session.realname, session.user))
        else:
            _other_op(hub, event, ops)
    if hub.moved:
        for key in hub.moved:
            room = hub.rooms.get(key)
            state = room.state() if room is not None else hub.saved.get(key) or RoomState(key)
            ops.append(cluster.Rules(state))
        hub.moved.clear()
    return ops


def _mode_ops(hub: Hub, event: ModeChanged, ops: list[PresenceOp], joins: dict[tuple[str, str], int],
              target: Session | None) -> None:
    if not is_room(event.target):  # user modes, told to the user only
        if target is not None:
            ops.append(cluster.Modes(event.nick, event.target, event.changes, event.user))
        return
    key = casefold(event.target)
    for change in event.changes:  # op given after a JOIN (a registered room): the JOIN was without it
        at = joins.get((key, casefold(change.arg or ""))) if change.on and change.mode in "ov" else None
        if at is not None:
            join = ops[at]
            assert isinstance(join, cluster.Join)
            ops[at] = dataclasses.replace(join, status=join.status.replace("@" if change.mode == "o" else "+", ""))
    ops.append(cluster.Modes(event.nick, event.target, event.changes, event.user))


def _other_op(hub: Hub, event: Event, ops: list[PresenceOp]) -> None:
    if type(event) is Kicked:
        ops.append(cluster.Kick(event.nick, event.room, event.target, event.reason))
    elif type(event) is Invited:
        room = hub.rooms.get(casefold(event.room))
        target = hub.nicks.get(casefold(event.target))
        if room is not None and target is not None and target in room.invited:
            ops.append(cluster.Invite(event.nick, room.name, event.target))


# --- other nodes' changes in ---------------------------------------------------------------

_APPLY: Final[dict[type, Callable[[Hub, str, Any], list[Outbound]]]] = {
    cluster.Arrive: ghosts.apply_arrive,
    cluster.Join: ghosts.apply_join,
    cluster.Part: ghosts.apply_part,
    cluster.Quit: ghosts.apply_quit,
    cluster.Nick: ghosts.apply_nick,
    cluster.Topic: ghosts.apply_topic,
    cluster.Away: ghosts.apply_away,
    cluster.Kick: ghosts.apply_kick,
    cluster.Modes: ghosts.apply_modes,
    cluster.Rules: ghosts.apply_rules,
    cluster.Account: ghosts.apply_account,
    cluster.UserInfo: ghosts.apply_userinfo,
    cluster.Invite: ghosts.apply_invite,
}


def _spread(hub: Hub, out: list[Outbound]) -> list[Outbound]:
    return users.spread(hub, out) if hub.devices and out else out


def apply(hub: Hub, node: str, op: PresenceOp) -> list[Outbound]:
    """Make ``op`` of ``node`` true here; what this node's users see of it."""
    return _spread(hub, _APPLY[type(op)](hub, node, op))


def _presence(hub: Hub, session: Session) -> Presence:
    rooms = tuple((hub.rooms[key].name, status(hub.rooms[key], session.sid)) for key in session.rooms)
    return Presence(remote_user(session), rooms)


def snapshot(hub: Hub) -> list[Presence]:
    """Every local registered user, with its rooms and status in each."""
    return [_presence(hub, session) for sid, session in hub.sessions.items() if sid > 0 and session.nick is not None]


def reconcile(hub: Hub, node: str, presences: Iterable[Presence]) -> list[Outbound]:
    """Make the ghosts of ``node`` what its snapshot says, each difference told
    once: those missing quit, new ones arrive and join, the others part, join,
    change status (a MODE from the room service), away, account, real name and
    host. A nick held by a ghost of another node goes to ``node`` (the nick
    claims in PostgreSQL decide); one held by a local user stays (its node is
    told by this node's snapshot)."""
    wanted = {casefold(p.user.nick): p for p in presences}
    out: list[Outbound] = []
    for sid, where in list(hub.remote.items()):
        nick = hub.sessions[sid].nick or ""
        if where == node and casefold(nick) not in wanted:
            out += quit_ghost(hub, sid, "")
    for key, presence in wanted.items():
        u = presence.user
        holder = hub.nicks.get(key)
        if holder is None or hub.remote.get(holder) != node:
            out += ghosts.apply_arrive(hub, node, cluster.Arrive(u))
        else:
            ghost = hub.sessions[holder]
            if presence == _presence(hub, ghost):
                continue  # (the usual case: nothing missed)
            out += ghosts.apply_account(hub, node, cluster.Account(u.nick, u.account or None))
            out += ghosts.apply_away(hub, node, cluster.Away(u.nick, u.away))
            out += ghosts.apply_userinfo(hub, node, cluster.UserInfo(u.nick, u.realname, u.user))
            changes = [ModeChange(mode in u.modes, mode) for mode in "iw" if (mode in ghost.modes) != (mode in u.modes)]
            if (ghost.oper is not None) != u.oper:
                changes.append(ModeChange(u.oper, "o"))
            ghosts.apply_modes(hub, node, cluster.Modes(u.nick, u.nick, tuple(changes)))
        out += _rooms(hub, node, presence)
    return _spread(hub, out)


def _rooms(hub: Hub, node: str, presence: Presence) -> list[Outbound]:
    nick = presence.user.nick
    ghost = ghost_of(hub, node, nick)
    if ghost is None:
        return []
    wanted = {casefold(name): (name, mark) for name, mark in presence.rooms}
    out: list[Outbound] = []
    for key in [k for k in ghost.rooms if k not in wanted]:
        out += ghosts.apply_part(hub, node, cluster.Part(nick, hub.rooms[key].name))
    for key, (name, mark) in wanted.items():
        if key not in ghost.rooms:
            out += ghosts.apply_join(hub, node, cluster.Join(nick, name, mark))
            continue
        now = status(hub.rooms[key], ghost.sid)
        changes = tuple(ModeChange(letter in mark, mode, ghost.nick) for letter, mode in (("@", "o"), ("+", "v"))
                        if (letter in now) != (letter in mark))
        if changes:
            out += ghosts.apply_modes(hub, node, cluster.Modes(SERVICE, name, changes, SERVICE))
    return out


def drop_node(hub: Hub, node: str, reason: str) -> list[Outbound]:
    """``node`` is gone: each of its ghosts quits (once per local user sharing a room)."""
    out: list[Outbound] = []
    for sid in [sid for sid, where in hub.remote.items() if where == node]:
        out += quit_ghost(hub, sid, reason)
    return _spread(hub, out)


def recipients(hub: Hub, msg: Message) -> list[int]:
    """The local connections a message from another node reaches: a room's
    local members, or the local user holding the target nick; each with all
    its connections."""
    if msg.private:
        sid = hub.nicks.get(casefold(msg.target))
        return users.connections_of(hub, sid) if sid is not None and sid > 0 else []
    room = hub.rooms.get(casefold(msg.target))
    if room is None:
        return []
    devices = hub.devices
    result: list[int] = []
    for sid in room.members:
        if sid > 0:
            conns = devices.get(sid)
            if conns is None:
                result.append(sid)
            else:
                result.extend(conns)
    return result
