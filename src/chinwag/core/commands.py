"""The one command table: command type -> handler and who may run it.

Every command goes through ``Hub.handle``, which checks registration once; the
handlers only do their own work and raise ChatError for the adapter to map.
Argument parsing (arity) happens at each protocol's edge, where the wire syntax
lives; by the time a command reaches here its fields are typed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from chinwag.core.errors import (
    AlreadyRegistered,
    NickInUse,
    NoSuchNick,
    NoSuchRoom,
    NoText,
    NotInRoom,
)
from chinwag.core.events import (
    ChangeNick,
    Join,
    Joined,
    ListRooms,
    Members,
    Message,
    NickChanged,
    Outbound,
    Part,
    Parted,
    Quit,
    Register,
    Registered,
    RoomList,
    Say,
    Who,
)
from chinwag.core.names import casefold, is_room, validate_nick, validate_room

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Session

Handler = Callable[["Hub", "Session", Any], list[Outbound]]


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    handler: Handler
    needs_registration: bool = True


def register(hub: Hub, session: Session, cmd: Register) -> list[Outbound]:
    if session.nick is not None:
        raise AlreadyRegistered()
    nick = validate_nick(cmd.nick, hub.limits.nick_len)
    key = casefold(nick)
    if key in hub.nicks:
        raise NickInUse(nick)
    hub.nicks[key] = session.sid
    session.nick = nick
    out = [Outbound((session.sid,), Registered(nick))]
    for room in cmd.autojoin:
        out += join(hub, session, Join(room))
    return out


def join(hub: Hub, session: Session, cmd: Join) -> list[Outbound]:
    name = validate_room(cmd.room, hub.limits.room_len)
    key = casefold(name)
    if key not in session.rooms:
        room = hub._add_member(name, key, session)
        out = [Outbound(list(room.members), Joined(room.name, session.nick or ""))]
    else:
        room = hub.rooms[key]
        out = []
    out.append(Outbound((session.sid,), Members(room.name, hub.room_nicks(room))))
    return out


def part(hub: Hub, session: Session, cmd: Part) -> list[Outbound]:
    key = casefold(cmd.room)
    room = hub.rooms.get(key)
    if room is None:
        raise NoSuchRoom(cmd.room)
    if key not in session.rooms:
        raise NotInRoom(room.name)
    out = [Outbound(list(room.members), Parted(room.name, session.nick or "", cmd.reason))]
    del session.rooms[key]
    hub._remove_member(key, session.sid)
    return out


def say(hub: Hub, session: Session, cmd: Say) -> list[Outbound]:
    if not cmd.text:
        raise NoText()
    if is_room(cmd.target):
        key = casefold(cmd.target)
        room = hub.rooms.get(key)
        if room is None:
            raise NoSuchRoom(cmd.target)
        if key not in session.rooms:
            raise NotInRoom(room.name)
        target, to = room.name, room.members.keys()
    else:
        sid = hub.nicks.get(casefold(cmd.target))
        if sid is None:
            raise NoSuchNick(cmd.target)
        target = hub.sessions[sid].nick or ""
        to = {sid: None, session.sid: None}.keys()
    ts = hub.clock()
    msg = Message(hub.ids.next(ts), ts, session.nick or "", target, cmd.text, cmd.kind)
    # The sender is among the recipients: IRC echo-message and the text
    # protocol's private-message receipt both need it; a renderer may skip it.
    return [Outbound(list(to), msg)]


def change_nick(hub: Hub, session: Session, cmd: ChangeNick) -> list[Outbound]:
    new = validate_nick(cmd.nick, hub.limits.nick_len)
    old = session.nick or ""
    if new == old:
        return []
    key = casefold(new)
    holder = hub.nicks.get(key)
    if holder is not None and holder != session.sid:
        raise NickInUse(new)
    del hub.nicks[casefold(old)]
    hub.nicks[key] = session.sid
    session.nick = new
    return [Outbound([session.sid, *hub.peers(session)], NickChanged(old, new))]


def who(hub: Hub, session: Session, cmd: Who) -> list[Outbound]:
    room = hub.rooms.get(casefold(cmd.room))
    if room is None:
        raise NoSuchRoom(cmd.room)
    return [Outbound((session.sid,), Members(room.name, hub.room_nicks(room)))]


def list_rooms(hub: Hub, session: Session, cmd: ListRooms) -> list[Outbound]:
    rooms = tuple(sorted((r.name, len(r.members)) for r in hub.rooms.values()))
    return [Outbound((session.sid,), RoomList(rooms))]


def quit_(hub: Hub, session: Session, cmd: Quit) -> list[Outbound]:
    return hub.disconnect(session.sid, cmd.reason)


COMMANDS: Final[dict[type, Spec]] = {
    Register: Spec("register", register, needs_registration=False),
    Join: Spec("join", join),
    Part: Spec("part", part),
    Say: Spec("say", say),
    ChangeNick: Spec("nick", change_nick),
    Who: Spec("who", who),
    ListRooms: Spec("rooms", list_rooms),
    Quit: Spec("quit", quit_, needs_registration=False),
}
