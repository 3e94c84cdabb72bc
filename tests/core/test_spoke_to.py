"""A session keeps the key of the room name it last sent to (Session.spoke_to),
so its next message there needs no casefold: the kept key must always be the
one casefold gives, whatever the spelling, and the room the one that exists now."""

from __future__ import annotations

from chinwag.config import Limits
from chinwag.core.errors import NoSuchRoom
from chinwag.core.events import Failed, Join, Message, Part, Register, Say
from chinwag.core.hub import Hub
from chinwag.core.names import casefold


def reg(hub: Hub, sid: int, nick: str, rooms: tuple[str, ...] = ("#Lobby",)) -> None:
    hub.connect(sid)
    hub.handle(sid, Register(nick, rooms))


def sent(hub: Hub, sid: int, target: str, text: str = "hi") -> Message | Failed:
    [out] = hub.handle(sid, Say(target, text))
    assert type(out.event) in (Message, Failed)
    return out.event


def test_every_spelling_of_a_room_reaches_it_and_keeps_casefolds_key() -> None:
    hub = Hub(Limits(), clock=lambda: 1_700_000_000.0)
    reg(hub, 1, "alice")
    reg(hub, 2, "bob")
    for name in ("#Lobby", "#Lobby", "#LOBBY", "#lobby", "#LoBbY", "#lobby"):
        msg = sent(hub, 1, name)
        assert type(msg) is Message and msg.target == "#Lobby"  # the room's own name
        assert hub.sessions[1].spoke_to == (name, casefold(name)) == (name, "#lobby")
    # rfc1459's []\\~ fold too: the kept key is casefold's, never the name as typed
    reg(hub, 3, "carol", ("#[a]",))
    assert (msg := sent(hub, 3, "#{A}")) and type(msg) is Message and msg.target == "#[a]"
    assert hub.sessions[3].spoke_to == ("#{A}", casefold("#{A}")) == ("#{A}", "#{a}")


def test_a_room_emptied_and_made_again_is_the_one_reached() -> None:
    hub = Hub(Limits(), clock=lambda: 1_700_000_000.0)
    reg(hub, 1, "alice", ("#a",))
    reg(hub, 2, "bob", ("#b",))
    refused = sent(hub, 2, "#A")  # outside #a (+n): refused, but its key is kept
    assert type(refused) is Failed and hub.sessions[2].spoke_to == ("#A", "#a")
    hub.handle(1, Part("#a", "bye"))  # #a is gone
    failed = sent(hub, 2, "#A")
    assert type(failed) is Failed and isinstance(failed.error, NoSuchRoom)
    hub.handle(2, Join("#a"))  # a new room of that name
    msg = sent(hub, 2, "#A")
    assert type(msg) is Message and msg.target == "#a"
    assert hub.rooms["#a"].members == {2: None}


def test_a_nick_after_a_room_is_still_a_private_message() -> None:
    hub = Hub(Limits(), clock=lambda: 1_700_000_000.0)
    reg(hub, 1, "alice")
    reg(hub, 2, "Bob")
    assert type(sent(hub, 1, "#lobby")) is Message
    msg = sent(hub, 1, "BOB")
    assert type(msg) is Message and msg.target == "Bob" and msg.private
    assert hub.sessions[1].spoke_to == ("#lobby", "#lobby")  # (kept: nicks are not rooms)
