"""Room rules that outlive the room's members, in the hub alone (no sockets)."""

from __future__ import annotations

from chinwag.config import Limits
from chinwag.core.auth import Auth
from chinwag.core.errors import BadRoomKey, BannedFromRoom, InviteOnly
from chinwag.core.events import Checked, Failed, Join, Joined, Outbound, Part, Register
from chinwag.core.hub import Hub
from chinwag.core.roomstate import RoomState
from chinwag.core.types.moderation import Mode, ModeChange, Oper
from chinwag.core.types.rooms import Topic, TopicInfo

T0 = 1_700_000_000.0


def hub_with(*states: RoomState) -> Hub:
    hub = Hub(Limits(), clock=lambda: T0, auth=Auth(operators={"root": "pw"}))
    hub.load_rooms(states)
    return hub


def reg(hub: Hub, sid: int, nick: str) -> None:
    hub.connect(sid)
    hub.handle(sid, Register(nick, ()))


def failed(out: list[Outbound]) -> type[Exception] | None:
    for o in out:
        if isinstance(o.event, Failed):
            return type(o.event.error)
    return None


def test_rules_set_by_the_owner_are_kept_after_the_room_empties() -> None:
    hub = hub_with()
    reg(hub, 1, "owner")
    hub.handle(1, Join("#Vault"))
    assert hub.take_changed() == []  # a fresh room has nothing worth keeping
    hub.handle(1, Mode("#vault", (ModeChange(True, "i"), ModeChange(True, "k", "s3cret"),
                                  ModeChange(True, "b", "mallory!*@*"))))
    hub.handle(1, Topic("#vault", "the plans"))
    hub.handle(1, Mode("#vault", (ModeChange(True, "o", "owner"),)))  # not a rule: no change
    kept = RoomState("#Vault", T0, "int", "s3cret", 0, (("mallory!*@*", "owner", T0),), "the plans", "owner", T0)
    assert hub.take_changed() == [("#vault", kept)]
    hub.handle(1, Part("#vault"))
    assert "#vault" not in hub.rooms
    assert hub.saved["#vault"] == kept
    assert hub.take_changed() == []


def test_re_creating_the_room_obeys_and_restores_its_rules() -> None:
    hub = hub_with(RoomState("#Vault", T0 - 50, "nt", "s3cret", 0, (), "the plans", "owner", T0 - 60))
    reg(hub, 1, "mallory")
    assert failed(hub.handle(1, Join("#vault"))) is BadRoomKey
    assert "#vault" not in hub.rooms
    reg(hub, 2, "owner")
    out = hub.handle(2, Join("#vault", "s3cret"))
    assert failed(out) is None
    assert [o.event for o in out][:2] == [Joined("#Vault", "owner"), TopicInfo("#Vault", "the plans", "owner",
                                                                                  T0 - 60)]
    room = hub.rooms["#vault"]
    assert room.ops == {2} and room.created == T0 - 50 and room.key == "s3cret"
    assert hub.revived == 1
    assert failed(hub.handle(1, Join("#vault"))) is BadRoomKey


def test_invite_only_room_with_nobody_inside_lets_a_server_operator_in() -> None:
    hub = hub_with(RoomState("#vault", T0, "int", bans=(("root!*@*", "x", T0),)))
    reg(hub, 1, "root")
    assert failed(hub.handle(1, Join("#vault"))) is BannedFromRoom
    assert failed(hub.handle(1, Checked(Oper("root", "pw"), True))) is None  # the transport verified it
    assert failed(hub.handle(1, Join("#vault"))) is None  # empty: an operator always gets in
    reg(hub, 2, "guest")
    assert failed(hub.handle(2, Join("#vault"))) is InviteOnly  # not empty any more: the rules hold


def test_rules_back_to_a_fresh_rooms_are_forgotten() -> None:
    hub = hub_with(RoomState("#dev", T0, "nt", topic="old"))
    reg(hub, 1, "alice")
    hub.handle(1, Join("#dev"))
    hub.handle(1, Topic("#dev", ""))
    assert hub.take_changed() == [("#dev", None)]
    assert "#dev" not in hub.saved


def test_forget_rules_only_for_a_room_nobody_is_in() -> None:
    hub = hub_with(RoomState("#a", T0, "int"), RoomState("#b", T0, "int"))
    reg(hub, 1, "root")
    hub.handle(1, Checked(Oper("root", "pw"), True))
    hub.handle(1, Join("#a"))
    hub.forget_rules("#a")
    hub.forget_rules("#b")
    assert list(hub.saved) == ["#a"]
    assert hub.take_changed() == [("#b", None)]


def test_the_key_stands_in_for_an_invitation_only_while_nobody_is_inside() -> None:
    hub = hub_with(RoomState("#vault", T0, "int", "s3cret", bans=(("eve!*@*", "owner", T0),)))
    reg(hub, 1, "owner")
    reg(hub, 2, "guest")
    reg(hub, 3, "eve")
    assert failed(hub.handle(1, Join("#vault"))) is InviteOnly
    assert failed(hub.handle(3, Join("#vault", "s3cret"))) is BannedFromRoom  # the key is no pardon
    assert failed(hub.handle(1, Join("#vault", "s3cret"))) is None
    assert failed(hub.handle(2, Join("#vault", "s3cret"))) is InviteOnly  # someone is in: ask them
