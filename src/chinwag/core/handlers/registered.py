"""The room service's handlers (the types are in core/types/registered.py): register,
drop, info and the op list of a room.

Same contract as core/commands.py: ``handler(hub, session, command) ->
list[Outbound]``, raising ChatError; listed in ``HANDLERS``, which
core/commands.py adds to COMMANDS. Their ``Failed.command`` names all start
with ``chanserv`` so that a protocol can answer failures as the service does.

A room with nobody in it keeps its rules only in ``Hub.saved``: these handlers
work on the live ``Room`` when there is one and on the saved state otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from chinwag.core.errors import NoSuchRoom
from chinwag.core.events import Outbound
from chinwag.core.handlers import roomops
from chinwag.core.handlers.checks import hidden_from, require_room_for_rules, require_room_op
from chinwag.core.names import casefold, validate_room
from chinwag.core.roomstate import RoomState
from chinwag.core.types.registered import (
    NeedAccount,
    NotFounder,
    RoomAccess,
    RoomAlreadyRegistered,
    RoomDetails,
    RoomDrop,
    RoomInfo,
    RoomListFull,
    RoomNote,
    RoomNotRegistered,
    RoomRegister,
    RoomServiceError,
    UnknownAccount,
)

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Room, Session


def register_default(hub: Hub, name: str) -> None:
    """At start: the default room is registered by the server itself (founder
    ""), so op there goes to server operators only, never to the first arrival."""
    name = validate_room(name, hub.limits.room_len)
    key = casefold(name)
    state = hub.saved.get(key) or RoomState(name, hub.clock())
    if state.registered:
        return
    hub.saved[key] = dataclasses.replace(state, registered=hub.clock(), founder="")
    hub.changed[key] = None


def _find(hub: Hub, session: Session, name: str) -> tuple[Room | None, RoomState]:
    """The live room (if anyone is in it) and its rules, registered or not."""
    key = casefold(name)
    room = hub.rooms.get(key)
    if room is not None:
        if hidden_from(room, session):
            raise NoSuchRoom(name)
        return room, room.state()
    state = hub.saved.get(key)
    if state is None or not state.registered:
        raise NoSuchRoom(name)
    return None, state


def _registered(hub: Hub, session: Session, name: str) -> tuple[Room | None, RoomState]:
    room, state = _find(hub, session, name)
    if not state.registered:
        raise RoomNotRegistered(state.name, f"{state.name} is not registered")
    return room, state


def _may_manage(session: Session, state: RoomState) -> None:
    """The founder, or a server operator."""
    if session.oper is not None:
        return
    if state.founder and session.account is not None and casefold(session.account) == casefold(state.founder):
        return
    raise NotFounder(state.name)


def _keep(hub: Hub, room: Room | None, state: RoomState) -> None:
    """Apply ``state`` (the room's registration changed) to the live room, or to the saved rules."""
    if room is not None:
        room.registered, room.founder = state.registered, state.founder
        room.op_accounts = {casefold(a): a for a in state.op_accounts}
        hub.rules_changed(room)
        return
    key = casefold(state.name)
    if state.is_default():
        hub.saved.pop(key, None)
    else:
        hub.saved[key] = state
    hub.rules_moved(key)


def _note(session: Session, text: str) -> list[Outbound]:
    return [Outbound((session.sid,), RoomNote(text))]


def register_room(hub: Hub, session: Session, cmd: RoomRegister) -> list[Outbound]:
    account = session.account
    if account is None:
        raise NeedAccount(cmd.room)
    key = casefold(cmd.room)
    room = hub.rooms.get(key)
    if room is None or hidden_from(room, session):
        raise NoSuchRoom(cmd.room, "no such room: join it (and be its operator) to register it")
    if room.registered:
        founder = room.founder or "the server"
        raise RoomAlreadyRegistered(room.name, f"{room.name} is already registered (founder: {founder})")
    require_room_op(room, session)
    mine = casefold(account)
    most = hub.limits.rooms_per_account
    founded = sum(1 for s in hub.saved.values() if s.registered and s.founder and casefold(s.founder) == mine)
    if founded >= most:
        raise RoomListFull(room.name, f"you already founded {founded} rooms (the most one account may)")
    require_room_for_rules(hub, room)
    room.registered, room.founder, room.op_accounts = hub.clock(), account, {}
    hub.rules_changed(room)
    return _note(session, f"{room.name} is now registered to your account {account}: its topic, modes, key and "
                          "bans are kept, and op goes to its founder and op list on join")


def drop_room(hub: Hub, session: Session, cmd: RoomDrop) -> list[Outbound]:
    room, state = _registered(hub, session, cmd.room)
    _may_manage(session, state)
    _keep(hub, room, dataclasses.replace(state, registered=0.0, founder="", op_accounts=()))
    return _note(session, f"{state.name} is no longer registered")


def _account_online(hub: Hub, wanted: str) -> str:
    """The account ``wanted`` names: an account someone is logged in to now, or
    the account of the online nick ``wanted``. An account nobody uses now is
    refused: the name might not be registered yet, and whoever registered it
    later would get op."""
    key = casefold(wanted)
    sid = hub.nicks.get(key)
    if sid is not None and hub.sessions[sid].account is not None:
        return hub.sessions[sid].account or ""
    for other in hub.sessions.values():
        if other.account is not None and casefold(other.account) == key:
            return other.account
    raise UnknownAccount(wanted)


def room_access(hub: Hub, session: Session, cmd: RoomAccess) -> list[Outbound]:
    room, state = _registered(hub, session, cmd.room)
    _may_manage(session, state)
    ops = {casefold(a): a for a in state.op_accounts}
    if not cmd.add:
        key = casefold(cmd.account)
        if ops.pop(key, None) is None:
            raise RoomServiceError(cmd.account, f"{cmd.account} is not on the op list of {state.name}")
        _keep(hub, room, dataclasses.replace(state, op_accounts=tuple(ops.values())))
        return _note(session, f"{cmd.account} removed from the op list of {state.name}")
    account = _account_online(hub, cmd.account)
    if casefold(account) not in ops:
        if len(ops) >= hub.limits.room_op_accounts:
            raise RoomListFull(state.name, f"the op list of {state.name} is full ({len(ops)} accounts)")
        ops[casefold(account)] = account
        _keep(hub, room, dataclasses.replace(state, op_accounts=tuple(ops.values())))
    out = _note(session, f"{account} is on the op list of {state.name}: op on join")
    if room is not None:  # its members logged in to that account get op now
        for sid in list(room.members):
            other = hub.sessions[sid]
            if other.account is not None and casefold(other.account) == casefold(account):
                out += roomops.grant(hub, room, other)
    return out


def room_info(hub: Hub, session: Session, cmd: RoomInfo) -> list[Outbound]:
    room, state = _find(hub, session, cmd.room)
    reply = RoomDetails(state.name, state.registered, state.founder, state.op_accounts, state.topic)
    return [Outbound((session.sid,), reply)]


Handler = Callable[["Hub", "Session", Any], list[Outbound]]

HANDLERS: Final[dict[type, tuple[str, Handler]]] = {
    RoomRegister: ("chanserv register", register_room),
    RoomDrop: ("chanserv drop", drop_room),
    RoomInfo: ("chanserv info", room_info),
    RoomAccess: ("chanserv access", room_access),
}
