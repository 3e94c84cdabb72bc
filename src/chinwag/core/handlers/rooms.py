"""Handlers for rooms: joining and leaving, topics, invitations, the member list
(NAMES) and the room lists (/rooms, LIST). Registered rooms (ChanServ) are in
core/handlers/registered.py; modes, kicks and bans in core/handlers/moderation.py.

A room with nobody in it is created afresh on join but with the rules it had
(core/roomstate.py). Every change to a room's rules (modes other than +o/+v,
bans, the topic) is reported to ``Hub.rules_changed`` so that the store keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.core import crowd
from chinwag.core.errors import NoSuchRoom, NotInRoom, NotRoomOperator, TooManyRooms, UserInRoom
from chinwag.core.events import Join, Joined, ListRooms, Members, Outbound, Part, Parted, RoomList, Who
from chinwag.core.handlers import profile, roomops
from chinwag.core.handlers.checks import (
    away_notice,
    check_join,
    find_room,
    find_user,
    hidden_from,
    is_room_op,
    members,
    nick,
    require_room_for_rules,
)
from chinwag.core.names import casefold, validate_room
from chinwag.core.types.rooms import Invite, Invited, ListQuery, ListReply, PartAll, Topic, TopicChanged, TopicInfo

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Session


def join(hub: Hub, session: Session, cmd: Join) -> list[Outbound]:
    name = validate_room(cmd.room, hub.limits.room_len)
    key = casefold(name)
    if key not in session.rooms:
        existing = hub.rooms.get(key)
        # A room with nobody in it is created afresh, but with the rules it
        # had (Hub.saved): its key, +i, bans... apply to whoever re-creates it.
        room = existing if existing is not None else hub.new_room(name, key)
        check_join(hub, room, session, cmd.key)
        if len(session.rooms) >= hub.limits.max_rooms:
            raise TooManyRooms(name)
        hub._add_member(room, key, session)
        # Whoever creates (or re-creates) a room is its operator, unless it is
        # registered: then only those who hold op there (core/handlers/roomops.py).
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


def part_all(hub: Hub, session: Session, cmd: PartAll) -> list[Outbound]:
    out: list[Outbound] = []
    for key in list(session.rooms):
        out += part(hub, session, Part(hub.rooms[key].name, cmd.reason))
    return out


def who(hub: Hub, session: Session, cmd: Who) -> list[Outbound]:
    room = hub.rooms.get(casefold(cmd.room))
    if room is None or hidden_from(room, session):
        raise NoSuchRoom(cmd.room)
    if room.crowd is not None and session.sid in room.members:
        crowd.seen_all(room, session.sid)  # the list includes the summary's changes so far
    return [Outbound((session.sid,), members(hub, room))]


def list_rooms(hub: Hub, session: Session, cmd: ListRooms) -> list[Outbound]:
    rooms = tuple(sorted((r.name, len(r.members)) for r in hub.rooms.values() if not hidden_from(r, session)))
    return [Outbound((session.sid,), RoomList(rooms))]


def list_query(hub: Hub, session: Session, cmd: ListQuery) -> list[Outbound]:
    if cmd.rooms:
        wanted = [hub.rooms.get(casefold(r)) for r in cmd.rooms]
        rooms = [r for r in wanted if r is not None]
    else:
        rooms = sorted(hub.rooms.values(), key=lambda r: r.name)
    rooms = [r for r in rooms if not hidden_from(r, session)]
    reply = ListReply(tuple((r.name, len(r.members), r.topic) for r in rooms))
    return [Outbound((session.sid,), reply)]


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
