"""A room's messages share one tuple of recipients until its members change
(Room.audience): the sharing must never outlive a join, a part or a quit."""

from __future__ import annotations

from chinwag.config import Limits
from chinwag.core.events import Join, Message, Outbound, Part, Quit, Register, Say
from chinwag.core.hub import Hub


def reg(hub: Hub, sid: int, nick: str) -> None:
    hub.connect(sid)
    hub.handle(sid, Register(nick, ("#lobby",)))


def said(hub: Hub, sid: int, text: str) -> Outbound:
    [out] = [o for o in hub.handle(sid, Say("#lobby", text)) if type(o.event) is Message]
    return out


def test_messages_share_one_tuple_while_members_stay() -> None:
    hub = Hub(Limits(), clock=lambda: 1_700_000_000.0)
    reg(hub, 1, "alice")
    reg(hub, 2, "bob")
    first, second = said(hub, 1, "one"), said(hub, 2, "two")
    assert first.to == (1, 2)
    assert second.to is first.to  # (what lets the fan-out batch them without comparing lists)


def test_a_join_part_or_quit_changes_who_gets_the_next_message() -> None:
    hub = Hub(Limits(), clock=lambda: 1_700_000_000.0)
    reg(hub, 1, "alice")
    reg(hub, 2, "bob")
    assert said(hub, 1, "before").to == (1, 2)
    hub.connect(3)
    hub.handle(3, Register("carol", ()))
    hub.handle(3, Join("#lobby"))
    assert said(hub, 1, "after the join").to == (1, 2, 3)
    hub.handle(2, Part("#lobby", "bye"))
    assert said(hub, 1, "after the part").to == (1, 3)
    hub.handle(3, Quit("gone"))
    assert said(hub, 1, "after the quit").to == (1,)
