"""The checks and views the handlers share: finding a room or a user, who is a
room operator, who may join (who may speak: chat.py's _recipients, its one caller), a room's member list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.core.errors import (
    BadRoomKey,
    BannedFromRoom,
    InviteOnly,
    NoSuchNick,
    NoSuchRoom,
    NotInRoom,
    NotRoomOperator,
    RoomIsFull,
    RoomRulesFull,
)
from chinwag.core.events import Members, Outbound, RoomKind
from chinwag.core.handlers import roomops
from chinwag.core.names import casefold
from chinwag.core.types.presence import IsAway

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Room, Session


def hidden_from(room: Room, session: Session) -> bool:
    """A secret (+s) room is invisible to non-members: LIST, NAMES, WHO, WHOIS."""
    return "s" in room.flags and session.sid not in room.members and session.oper is None


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


def away_notice(hub: Hub, session: Session, target: Session) -> list[Outbound]:
    if not target.away:
        return []
    return [Outbound((session.sid,), IsAway(target.nick or "", target.away))]


def nick(session: Session) -> str:
    return session.nick or ""


def members(hub: Hub, room: Room, on_join: bool = False) -> Members:
    sessions = [hub.sessions[m] for m in room.members]
    kind: RoomKind = "secret" if "s" in room.flags else "private" if "p" in room.flags else "public"
    return Members(room.name, tuple(s.nick or "" for s in sessions), tuple(hub.info(s, room) for s in sessions),
                   kind=kind, on_join=on_join)
