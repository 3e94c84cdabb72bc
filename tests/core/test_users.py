"""Users with several connections and nick protection, driven in the pure hub
with an injected clock (core/handlers/users.py); the socket tests are
tests/transport/test_multiclient.py and test_nick_protection.py."""

from __future__ import annotations

import dataclasses

from chinwag.config import Limits
from chinwag.core.accounts import AccountChanged, SetAccount
from chinwag.core.events import (
    Attached,
    ChangeNick,
    Echo,
    Event,
    Left,
    Message,
    NickChanged,
    NickProtected,
    Outbound,
    Parted,
    Quit,
    Register,
    Registered,
    Say,
    Who,
)
from chinwag.core.handlers import users
from chinwag.core.hub import Hub
from chinwag.core.types.moderation import Kill, Killed


class Clock:
    now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make(grace: int = 30, multiclient: bool = True) -> tuple[Hub, Clock]:
    clock = Clock()
    return Hub(dataclasses.replace(Limits(), nick_grace=grace), clock=clock, multiclient=multiclient), clock


def reg(hub: Hub, sid: int, nick: str, *rooms: str) -> list[Outbound]:
    hub.connect(sid)
    return hub.handle(sid, Register(nick, rooms))


def to(out: list[Outbound], sid: int) -> list[Event]:
    return [o.event for o in out if sid in o.to]


def test_a_registered_nick_taken_without_logging_in_is_renamed_when_the_grace_ends() -> None:
    hub, clock = make(grace=30)
    hub.load_accounts(["Alice"])
    reg(hub, 1, "carol", "#a")
    out = reg(hub, 2, "alice", "#a")
    assert to(out, 2)[:2] == [Registered("alice"), NickProtected("alice", 30)]
    assert users.next_deadline(hub) == clock.now + 30
    clock.now += 29
    assert users.expire(hub) == []
    clock.now += 1
    out = users.expire(hub)
    assert out == [Outbound([2, 1], NickChanged("alice", "Guest1"))]
    assert hub.guards == {} and hub.nick_of(2) == "Guest1"


def test_logging_in_in_time_ends_the_guard_and_hopping_nicks_does_not_extend_it() -> None:
    hub, clock = make(grace=30)
    hub.load_accounts(["alice", "bob"])
    reg(hub, 1, "alice")
    deadline = hub.guards[1]
    clock.now += 10
    hub.handle(1, ChangeNick("bob"))  # another registered nick: the same deadline
    assert hub.guards == {1: deadline}
    hub.handle(1, ChangeNick("zed"))  # not registered: no guard
    assert hub.guards == {}
    reg(hub, 2, "alice")
    hub.handle(2, SetAccount("alice"))
    assert hub.guards == {}
    clock.now += 100
    assert users.expire(hub) == []


def test_zero_grace_renames_at_once_and_guest_nicks_skip_taken_and_registered_names() -> None:
    hub, _ = make(grace=0)
    hub.load_accounts(["alice", "Guest1"])
    reg(hub, 1, "Guest2")
    out = reg(hub, 2, "alice")
    assert to(out, 2)[:3] == [Registered("alice"), NickProtected("alice", 0), NickChanged("alice", "Guest3")]


def test_a_cluster_node_hands_out_the_guest_numbers_of_its_slot_only() -> None:
    hub, _ = make(grace=0)
    hub.ids.use_slot(3)
    hub.load_accounts(["alice", "bob", "carol"])
    reg(hub, 1, "Guest20")  # (taken: skipped)
    renames = [to(reg(hub, sid, name), sid)[2] for sid, name in ((2, "alice"), (3, "bob"), (4, "carol"))]
    assert renames == [NickChanged("alice", "Guest4"), NickChanged("bob", "Guest36"), NickChanged("carol", "Guest52")]


def test_a_rename_the_cluster_refused_becomes_another_guest_name() -> None:
    hub, _ = make(grace=0)
    hub.load_accounts(["alice"])
    reg(hub, 1, "bob", "#r")
    reg(hub, 2, "alice", "#r")  # renamed to Guest1, which another node's user got first
    out = users.lost_claim(hub, 2, "guest1")
    assert to(out, 2) == [NickChanged("Guest1", "Guest2")] and to(out, 1) == [NickChanged("Guest1", "Guest2")]
    assert hub.nick_of(2) == "Guest2" and "guest1" not in hub.nicks
    assert users.lost_claim(hub, 2, "guest1") == []  # (moved on from it already: nothing)


def test_logging_in_takes_the_nick_back_from_whoever_holds_it() -> None:
    hub, _ = make()
    hub.load_accounts(["alice"])
    reg(hub, 1, "alice", "#a")
    reg(hub, 2, "al", "#a")
    out = hub.handle(2, SetAccount("alice"))
    assert [e for e in to(out, 1) if isinstance(e, NickChanged)] == [
        NickChanged("alice", "Guest1"), NickChanged("al", "alice")]
    assert hub.nick_of(2) == "alice" and hub.nick_of(1) == "Guest1"


def two_devices(hub: Hub) -> None:
    """alice on 1 (logged in, in #a), carol on 3 in #a, and 2 logging in before registering."""
    reg(hub, 1, "alice", "#a")
    hub.handle(1, SetAccount("alice", created=True))
    reg(hub, 3, "carol", "#a")
    hub.connect(2)
    hub.handle(2, SetAccount("alice"))


def test_a_second_connection_attaches_to_the_user_and_shares_everything() -> None:
    hub, _ = make()
    two_devices(hub)
    out = hub.handle(2, Register("phone", ()))
    assert [type(e) for e in to(out, 2)] == [Registered, Attached]
    assert to(out, 1) == [] and to(out, 3) == []
    [attached] = [e for e in to(out, 2) if isinstance(e, Attached)]
    assert attached.nick == "alice" and attached.connections == 2
    assert [(j.room, m.nicks) for j, _, m in attached.rooms] == [("#a", ("alice", "carol"))]
    assert hub.nicks == {"alice": 1, "carol": 3} and hub.links == {2: 1} and hub.devices == {1: [1, 2]}
    # A message from carol to alice reaches both; one from the phone is echoed on the laptop.
    out = hub.handle(3, Say("alice", "hi"))
    assert sorted(out[0].to) == [1, 2, 3]
    out = hub.handle(2, Say("#a", "from phone"))
    msg = out[0].event
    assert isinstance(msg, Message) and msg.nick == "alice"
    assert sorted(out[0].to) == [2, 3] and out[1] == Outbound([1], Echo(msg))
    # A reply goes to the connection that asked only.
    out = hub.handle(2, Who("#a"))
    assert [o.to for o in out] == [[2]]
    # A nick change: once to carol, to both connections.
    out = hub.handle(2, ChangeNick("alice2"))
    assert out == [Outbound([1, 2, 3], NickChanged("alice", "alice2"))]


def test_quitting_connections_detach_and_the_last_one_quits_the_user() -> None:
    hub, _ = make()
    two_devices(hub)
    hub.handle(2, Register("phone", ()))
    assert hub.handle(1, Quit("laptop off")) == []  # the user's first connection: the user stays
    assert hub.nick_of(2) == "alice" and hub.devices == {1: [2]}
    out = hub.handle(3, Say("alice", "still there?"))
    assert sorted(out[0].to) == [2, 3]
    assert hub.handle(2, Quit("phone off")) == [Outbound([3], Left("alice", "phone off"))]
    assert hub.sessions.keys() == {3} and hub.links == {} and hub.devices == {} and hub.accounts == {}


def test_logging_in_after_registering_gives_up_the_own_name_and_multiclient_off_keeps_it() -> None:
    hub, _ = make()
    reg(hub, 1, "alice", "#a")
    hub.handle(1, SetAccount("alice", created=True))
    reg(hub, 3, "carol", "#b")
    reg(hub, 2, "phone", "#b")
    out = hub.handle(2, SetAccount("alice"))
    assert to(out, 3) == [Left("phone", "logged in as alice on another connection")]
    assert [type(e) for e in to(out, 2)] == [AccountChanged, Parted, NickChanged, Attached]
    assert hub.nick_of(2) == "alice" and "phone" not in hub.nicks
    hub2, _ = make(multiclient=False)
    two_devices(hub2)
    out = hub2.handle(2, Register("phone", ()))
    assert to(out, 2)[0] == Registered("phone") and hub2.links == {}


def test_killing_a_user_with_two_connections_tells_both_and_the_room_once() -> None:
    hub, _ = make()
    two_devices(hub)
    hub.handle(2, Register("phone", ()))
    hub.sessions[3].oper = "root"  # (OPER itself needs the transport to check a password)
    out = hub.handle(3, Kill("alice", "spam"))
    assert out[0] == Outbound([1, 2], Killed("carol", "spam"))
    assert out[1:] == [Outbound([3], Left("alice", "Killed (carol (spam))"))]
    assert hub.links == {} and hub.devices == {} and "alice" not in hub.nicks
    assert hub.handle(2, Quit("closed")) == [] and hub.handle(1, Quit("closed")) == []


def test_a_third_connection_attaching_after_registering_is_told_once_to_each_other_connection() -> None:
    hub, _ = make()
    two_devices(hub)
    hub.handle(2, Register("phone", ()))
    reg(hub, 4, "tablet", "#a")
    out = hub.handle(4, SetAccount("alice"))
    left = Left("tablet", "logged in as alice on another connection")
    assert [sorted(o.to) for o in out if o.event == left] == [[1, 2, 3]]  # each once
    assert [type(e) for e in to(out, 4)] == [AccountChanged, Parted, NickChanged, Attached]
    assert hub.devices == {1: [1, 2, 4]}


def test_two_connections_logging_in_before_either_registered_do_not_attach_to_a_nameless_user() -> None:
    hub, _ = make()
    hub.connect(1)
    hub.connect(2)
    hub.handle(1, SetAccount("alice"))
    hub.handle(2, SetAccount("alice"))
    assert to(hub.handle(2, Register("b", ())), 2)[0] == Registered("b")
    assert to(hub.handle(1, Register("a", ())), 1)[0] == Registered("a")
    assert hub.links == {} and hub.nicks == {"a": 1, "b": 2}
