"""The hub driven with plain objects: no sockets, an injected clock."""

from __future__ import annotations

import pytest

from chinwag.config import Limits
from chinwag.core.errors import (
    CannotSendToRoom,
    ErroneousNick,
    NickInUse,
    NoSuchNick,
    NoSuchRoom,
    NoText,
    NotInRoom,
    NotRegistered,
    RoomNameError,
)
from chinwag.core.events import (
    ChangeNick,
    Event,
    Failed,
    Join,
    Joined,
    Left,
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
from chinwag.core.hub import Hub, MessageIds


@pytest.fixture
def hub() -> Hub:
    return Hub(Limits(), clock=lambda: 1_700_000_000.0)


def reg(hub: Hub, sid: int, nick: str, *rooms: str) -> list[Outbound]:
    hub.connect(sid)
    return hub.handle(sid, Register(nick, rooms or ("#lobby",)))


def events_for(out: list[Outbound], sid: int) -> list[Event]:
    return [o.event for o in out if sid in o.to]


def failure(out: list[Outbound]) -> type[Exception]:
    [o] = out
    assert isinstance(o.event, Failed)
    return type(o.event.error)


def test_register_joins_lobby_and_lists_members(hub: Hub) -> None:
    reg(hub, 1, "alice")
    out = reg(hub, 2, "bob")
    assert events_for(out, 2) == [
        Registered("bob"),
        Joined("#lobby", "bob"),
        Members("#lobby", ("alice", "bob")),
    ]
    assert events_for(out, 1) == [Joined("#lobby", "bob")]


def test_names_are_unique_casefolded_and_validated(hub: Hub) -> None:
    reg(hub, 1, "Alice[1]")
    hub.connect(2)
    assert failure(hub.handle(2, Register("alice{1}"))) is NickInUse  # rfc1459 folding
    assert failure(hub.handle(2, Register("bad nick"))) is ErroneousNick
    assert failure(hub.handle(2, Register("x" * 33))) is ErroneousNick
    assert hub.handle(2, Register("x" * 32))[0].event == Registered("x" * 32)


def test_commands_before_registration_are_refused(hub: Hub) -> None:
    hub.connect(1)
    assert failure(hub.handle(1, Join("#a"))) is NotRegistered
    assert failure(hub.handle(1, Say("#a", "hi"))) is NotRegistered


def test_room_message_reaches_members_with_id_and_time(hub: Hub) -> None:
    reg(hub, 1, "alice")
    reg(hub, 2, "bob")
    reg(hub, 3, "carol", "#other")
    [out] = hub.handle(1, Say("#LOBBY", "hi"))
    assert isinstance(out.event, Message)
    assert sorted(out.to) == [1, 2]  # sender included for echo; carol is elsewhere
    assert (out.event.nick, out.event.target, out.event.text) == ("alice", "#lobby", "hi")
    assert out.event.ts == 1_700_000_000.0
    [again] = hub.handle(1, Say("#lobby", "again"))
    assert isinstance(again.event, Message)
    assert again.event.msgid > out.event.msgid


def test_message_errors(hub: Hub) -> None:
    reg(hub, 1, "alice")
    reg(hub, 2, "bob", "#other")
    assert failure(hub.handle(1, Say("#nowhere", "x"))) is NoSuchRoom
    assert failure(hub.handle(1, Say("#other", "x"))) is CannotSendToRoom  # +n: 404, not 442
    assert failure(hub.handle(1, Say("nobody", "x"))) is NoSuchNick
    assert failure(hub.handle(1, Say("#lobby", ""))) is NoText


def test_private_message_to_target_and_sender_only(hub: Hub) -> None:
    reg(hub, 1, "alice")
    reg(hub, 2, "bob")
    reg(hub, 3, "carol")
    [out] = hub.handle(1, Say("BOB", "psst", "action"))
    assert sorted(out.to) == [1, 2]
    assert isinstance(out.event, Message)
    assert out.event.private and out.event.target == "bob" and out.event.kind == "action"


def test_join_part_and_empty_rooms_dropped(hub: Hub) -> None:
    reg(hub, 1, "alice")
    reg(hub, 2, "bob")
    out = hub.handle(2, Join("#dev"))
    assert events_for(out, 2)[-1] == Members("#dev", ("bob",))
    assert hub.handle(2, Join("#dev")) == [Outbound((2,), Members("#dev", ("bob",)))]
    assert failure(hub.handle(1, Part("#dev"))) is NotInRoom
    assert failure(hub.handle(1, Part("#ghost"))) is NoSuchRoom
    assert failure(hub.handle(1, Join("nohash"))) is RoomNameError
    assert failure(hub.handle(1, Join("#" + "x" * 64))) is RoomNameError
    out = hub.handle(2, Part("#dev", "bye"))
    assert out == [Outbound([2], Parted("#dev", "bob", "bye"))]
    [rooms] = hub.handle(1, ListRooms())
    assert rooms.event == RoomList((("#lobby", 2),))


def test_nick_change_tells_each_peer_once(hub: Hub) -> None:
    reg(hub, 1, "alice", "#a", "#b")
    reg(hub, 2, "bob", "#a", "#b")
    reg(hub, 3, "carol", "#c")
    [out] = hub.handle(1, ChangeNick("al"))
    assert out.event == NickChanged("alice", "al")
    assert sorted(out.to) == [1, 2]
    assert failure(hub.handle(2, ChangeNick("AL"))) is NickInUse
    assert hub.handle(1, ChangeNick("Al"))[0].event == NickChanged("al", "Al")  # case only
    hub.connect(4)
    assert hub.handle(4, Register("alice", ()))[0].event == Registered("alice")


def test_leaving_tells_everyone_sharing_a_room_exactly_once(hub: Hub) -> None:
    reg(hub, 1, "alice", "#a", "#b", "#c")
    reg(hub, 2, "bob", "#a", "#b")
    reg(hub, 3, "carol", "#c")
    reg(hub, 4, "dave", "#elsewhere")
    out = hub.handle(1, Quit("bye"))
    assert len(out) == 1 and out[0].event == Left("alice", "bye")
    assert sorted(out[0].to) == [2, 3]
    assert hub.disconnect(1) == []  # already gone: nothing twice
    [rooms] = hub.handle(2, ListRooms())
    assert rooms.event == RoomList((("#a", 1), ("#b", 1), ("#c", 1), ("#elsewhere", 1)))


def test_who_lists_members(hub: Hub) -> None:
    reg(hub, 1, "alice")
    reg(hub, 2, "bob")
    assert hub.handle(1, Who("#Lobby"))[0].event == Members("#lobby", ("alice", "bob"))
    assert failure(hub.handle(1, Who("#none"))) is NoSuchRoom


def test_message_ids_are_monotonic_even_if_the_clock_steps_back() -> None:
    ids = MessageIds()
    seq = [ids.next(t) for t in (100.0, 100.0, 99.0, 101.0)]
    assert seq == sorted(seq) and len(set(seq)) == 4
    assert all(len(i) == 16 for i in seq)


def test_message_ids_continue_after_a_stored_id_from_the_future() -> None:
    ids = MessageIds()
    ids.observe("7fffffffffffff00")  # stored before a restart, clock now behind
    assert ids.next(1.0) == "7fffffffffffff01"


def test_message_ids_of_a_slot_are_all_congruent_to_it_and_still_sorted() -> None:
    """A cluster node's ids (slot n) are all n mod 16: two nodes never make the same id."""
    a, b = MessageIds(slot=3), MessageIds(slot=12)
    times = (100.0, 100.0, 100.0, 99.0, 100.000001, 101.0)
    ours = [a.next(t) for t in times]
    theirs = [b.next(t) for t in times]
    assert ours == sorted(ours) and len(set(ours)) == len(times)
    assert all(len(i) == 16 for i in ours + theirs)
    assert {int(i, 16) % 16 for i in ours} == {3}
    assert {int(i, 16) % 16 for i in theirs} == {12}
    assert not set(ours) & set(theirs)
    # still time-sortable: an id of a later microsecond sorts after the earlier ones of any node
    assert a.next(102.0) > max(ours + theirs)
    assert int(a.next(103.0), 16) >> 8 == 103_000_000


def test_a_slot_given_later_keeps_ids_above_those_already_observed() -> None:
    ids = MessageIds()
    ids.observe("7fffffffffffff00")
    ids.use_slot(5)
    assert ids.next(1.0) == "7fffffffffffff05"
    assert ids.next(1.0) == "7fffffffffffff15"


def test_the_mark_of_now_lies_above_every_id_made_before_and_at_or_below_every_later_one() -> None:
    """``mark`` (where a history answer stops) hands out nothing and splits ids into before and after."""
    for slot in (None, 9):
        ids, other = MessageIds(slot=slot), MessageIds(slot=2)  # (another node's ids, the same clock)
        made = [ids.next(t) for t in (100.0, 100.0, 99.0)] + [other.next(100.5)]
        mark = ids.mark(101.0)
        assert mark == ids.mark(101.0) and all(m < mark for m in made)  # nothing consumed
        later = [ids.next(t) for t in (101.0, 101.0, 100.0, 102.0)] + [other.next(101.0)]
        assert all(m >= mark for m in later)
        assert len(mark) == 16
    ids = MessageIds()
    ids.observe("7fffffffffffff00")  # the clock far behind what is stored
    assert ids.mark(1.0) == "7fffffffffffff01" == ids.next(1.0)


def test_message_ids_refuse_a_slot_outside_0_to_15() -> None:
    with pytest.raises(ValueError):
        MessageIds(slot=16)
    with pytest.raises(ValueError):
        MessageIds(slot=-1)


def test_an_invite_is_forgotten_when_the_invitee_leaves(hub: Hub) -> None:
    from chinwag.core.types.rooms import Invite

    reg(hub, 1, "alice", "#club")
    reg(hub, 2, "bob")
    hub.handle(1, Invite("bob", "#club"))
    assert hub.rooms["#club"].invited == {2}
    hub.disconnect(2)
    assert hub.rooms["#club"].invited == set()


def test_passwords_are_taken_only_as_the_transports_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub never hashes a password: a command that carries one runs only
    as a Checked verdict, and an unchecked one is refused."""
    from chinwag.core import auth as auth_module
    from chinwag.core.auth import Auth
    from chinwag.core.errors import PasswordMismatch
    from chinwag.core.events import Checked
    from chinwag.core.types.moderation import Oper, OperUp

    def no_hashing(stored: str, given: str) -> bool:
        raise AssertionError("the hub hashed a password")

    monkeypatch.setattr(auth_module, "verify_password", no_hashing)
    hub = Hub(Limits(), auth=Auth("letmein", {"root": "hunter2"}))
    hub.connect(1)
    assert failure(hub.handle(1, Register("alice", password="letmein"))) is PasswordMismatch  # unchecked
    [refused] = hub.handle(1, Checked(Register("alice", password="nope"), False, retry_after=2.0))
    assert isinstance(refused.event, Failed) and refused.event.command == "register"
    assert isinstance(refused.event.error, PasswordMismatch)
    assert (refused.event.error.retry_after, refused.event.error.final) == (2.0, False)
    assert hub.handle(1, Checked(Register("alice", password="letmein"), True))[0].event == Registered("alice")
    assert failure(hub.handle(1, Oper("root", "hunter2"))) is PasswordMismatch  # unchecked
    [last] = hub.handle(1, Checked(Oper("root", "x"), False, final=True))
    assert isinstance(last.event, Failed) and isinstance(last.event.error, PasswordMismatch)
    assert last.event.error.final and last.event.command == "oper"
    assert hub.handle(1, Checked(Oper("root", "hunter2"), True))[0].event == OperUp("alice")
    # without a server password, a Register carries nothing to check
    open_hub = Hub(Limits())
    open_hub.connect(1)
    assert open_hub.handle(1, Register("bob"))[0].event == Registered("bob")
def test_a_big_room_tells_joins_and_leaves_in_one_summary() -> None:
    from chinwag.core.events import Crowd

    hub = Hub(Limits(crowd_size=2), clock=lambda: 1_700_000_000.0)
    reg(hub, 1, "alice", "#big")
    out = reg(hub, 2, "bob", "#big")
    assert Outbound([1, 2], Joined("#big", "bob")) in out  # 2 members: one by one
    out = reg(hub, 3, "carol", "#big")
    assert [o.to for o in out if isinstance(o.event, Joined)] == [(3,)]  # only carol hears it now
    assert events_for(out, 3)[-1] == Members("#big", ()) and events_for(out, 3)[-1].count == 3  # type: ignore
    reg(hub, 4, "dave", "#big")
    hub.handle(4, Who("#big"))  # dave got the full list: the summary owes him nothing so far
    hub.handle(2, Part("#big"))
    assert hub.disconnect(1, "bye") == []  # alice shared only the big room: nobody hears it now
    summary = hub.flush_crowds()
    assert hub.flush_crowds() == []
    crowd = [(list(o.to), o.event) for o in summary]
    changes = (("join", "carol", ""), ("join", "dave", ""), ("part", "bob", ""), ("quit", "alice", "bye"))
    assert [(to, e.start, e.joined, e.left) for to, e in crowd if isinstance(e, Crowd)] == [
        ([3], 1, 1, 2),  # carol: after her own join
        ([4], 2, 0, 2),  # dave: after his NAMES
    ]
    assert all(isinstance(e, Crowd) and e.changes == changes for _, e in crowd)


def reason(out: list[Outbound]) -> str:
    [o] = out
    assert isinstance(o.event, Failed)
    return o.event.error.reason


def test_names_in_every_script_are_one_name_in_any_case_or_normal_form(hub: Hub) -> None:
    reg(hub, 1, "Вася")
    reg(hub, 2, "Nguye\u0302\u0303n")  # typed decomposed (NFD)
    hub.connect(3)
    assert failure(hub.handle(3, Register("ВАСЯ"))) is NickInUse
    assert failure(hub.handle(3, Register("nguyễn"))) is NickInUse
    assert hub.sessions[2].nick == "Nguyễn"  # shown composed (NFC)
    out = hub.handle(1, Say("nguyễn", "привет"))
    [msg] = events_for(out, 2)
    assert isinstance(msg, Message) and (msg.nick, msg.target, msg.text) == ("Вася", "Nguyễn", "привет")


def test_a_lookalike_of_a_name_in_use_is_refused_until_that_name_is_free(hub: Hub) -> None:
    reg(hub, 1, "alice")
    hub.connect(2)
    out = hub.handle(2, Register("аӀісе"))  # all Cyrillic: а Ӏ і с е
    assert reason(out) == "name taken: ‘аӀісе’ looks like ‘alice’, who is online"
    assert failure(hub.handle(2, Register("аlice"))) is ErroneousNick  # Cyrillic а among Latin: mixed scripts
    reg(hub, 3, "carol")
    assert reason(hub.handle(3, ChangeNick("аӀісе"))) == "name taken: ‘аӀісе’ looks like ‘alice’, who is online"
    assert hub.handle(1, ChangeNick("Alice"))[0].event == NickChanged("alice", "Alice")  # her own look-alike
    hub.disconnect(1)
    assert hub.handle(2, Register("аӀісе"))[0].event == Registered("аӀісе")  # offline: free to take
    hub.connect(4)
    assert reason(hub.handle(4, Register("alice"))) == "name taken: ‘alice’ looks like ‘аӀісе’, who is online"
    hub.handle(2, ChangeNick("mallory"))
    assert hub.handle(4, Register("alice"))[0].event == Registered("alice")
    assert set(hub.skeletons.values()) == {2, 3, 4} and len(hub.skeletons) == len(hub.nicks) == 3


def test_service_names_and_the_server_name_are_reserved(hub: Hub) -> None:
    hub.connect(1)
    for nick in ("NickServ", "chanserv", "Global", "chinwag", "HelpServ"):
        assert reason(hub.handle(1, Register(nick))) == f"invalid name: ‘{nick}’ is reserved for the server's services"
    named = Hub(Limits(), server_name="irc-example")
    named.connect(1)
    assert failure(named.handle(1, Register("IRC-Example"))) is ErroneousNick
    assert named.handle(1, Register("chinwag"))[0].event == Registered("chinwag")


@pytest.mark.parametrize("ts", [0.0, 1.0, 1764560000.123456, 2**55 / 1e6, 4e10])
def test_message_ids_are_the_16_digit_hex_of_their_number(ts: float) -> None:
    """MessageIds.next formats in C (int.to_bytes(8).hex()): the same string as f"{n:016x}"."""
    ids = MessageIds()
    made = ids.next(ts)
    assert made == f"{ids.last:016x}" and len(made) == 16 and int(made, 16) == ids.last


def test_message_ids_past_64_bits_are_still_made() -> None:
    """(Beyond the year 4000, or after a foreign id was observed: longer, as f"{n:016x}" made them.)"""
    ids = MessageIds()
    ids.observe("ffffffffffffffff")
    assert (ids.next(1.0), ids.next(1.0)) == ("10000000000000000", "10000000000000001")
