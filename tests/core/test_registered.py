"""The room service in the hub alone (core/handlers/registered.py, roomops.py): plain objects, no sockets."""

from __future__ import annotations

import dataclasses

from chinwag.config import Limits
from chinwag.core.accounts import SetAccount
from chinwag.core.events import Failed, Join, Part, Register
from chinwag.core.handlers import registered
from chinwag.core.hub import Hub
from chinwag.core.types.moderation import ModeChange, ModeChanged, OperUp
from chinwag.core.types.registered import RoomAccess, RoomDrop, RoomListFull, RoomNote, RoomRegister, UnknownAccount


def hub_with(*nicks: str, **limits: int) -> Hub:
    hub = Hub(dataclasses.replace(Limits(), **limits), clock=lambda: 1000.0, server_operators=("Root",))
    for sid, nick in enumerate(nicks, 1):
        hub.connect(sid)
        hub.handle(sid, Register(nick))
    return hub


def error_of(out: list) -> type:  # type: ignore[type-arg]
    [o] = out
    assert isinstance(o.event, Failed), out
    return type(o.event.error)


def test_registered_rules_survive_the_prune_and_the_room_emptying() -> None:
    hub = hub_with("alice")
    hub.handle(1, SetAccount("alice"))
    hub.handle(1, Join("#den"))
    [note] = hub.handle(1, RoomRegister("#den"))
    assert isinstance(note.event, RoomNote)
    hub.handle(1, Part("#den"))
    hub.forget_rules("#den")  # (the server's prune: no members, no history)
    assert hub.saved["#den"].founder == "alice"
    hub.handle(1, RoomDrop("#den"))
    hub.forget_rules("#den")
    assert "#den" not in hub.saved


def test_the_default_room_is_registered_to_the_server_once() -> None:
    hub = hub_with()
    registered.register_default(hub, "#lobby")
    first = hub.saved["#lobby"]
    assert (first.registered, first.founder) == (1000.0, "")
    registered.register_default(hub, "#lobby")
    assert hub.saved["#lobby"] is first


def test_a_server_operator_account_gets_op_on_login_and_loses_operator_status_on_logout() -> None:
    hub = hub_with("root", "bob")
    registered.register_default(hub, "#lobby")
    hub.handle(2, Join("#lobby"))
    hub.handle(1, Join("#lobby"))
    assert hub.rooms["#lobby"].ops == set()  # nobody holds op there yet
    out = hub.handle(1, SetAccount("root"))
    assert [o.event for o in out][-2:] == [
        OperUp("root"), ModeChanged("#lobby", "ChanServ", (ModeChange(True, "o", "root"),), "ChanServ")]
    assert hub.sessions[1].oper == "root"
    hub.handle(1, SetAccount(None))
    assert hub.sessions[1].oper is None and 1 not in hub.opers


def test_limits_on_founded_rooms_and_op_lists() -> None:
    hub = hub_with("alice", "carol", "dave", rooms_per_account=1, room_op_accounts=1)
    for sid, account in ((1, "alice"), (2, "carol"), (3, "dave")):
        hub.handle(sid, SetAccount(account))
    hub.handle(1, Join("#one"))
    hub.handle(1, Join("#two"))
    hub.handle(1, RoomRegister("#one"))
    assert error_of(hub.handle(1, RoomRegister("#two"))) is RoomListFull
    assert error_of(hub.handle(1, RoomAccess("#one", "nobody"))) is UnknownAccount
    hub.handle(1, RoomAccess("#one", "carol"))
    assert error_of(hub.handle(1, RoomAccess("#one", "dave"))) is RoomListFull
    assert hub.saved["#one"].op_accounts == ("carol",)
