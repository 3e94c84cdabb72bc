"""core/quick.py makes the very objects the dataclass constructors make."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chinwag.core import quick
from chinwag.core.events import Message, Outbound, Say


def same(a: Any, b: Any) -> None:
    """Equal, and equal in every field (compare=False ones too), of the same type."""
    assert type(a) is type(b)
    assert a == b
    if not isinstance(getattr(a, "to", ()), list):  # (an Outbound's list of sids is not hashable)
        assert hash(a) == hash(b)
    for f in dataclasses.fields(a):
        assert getattr(a, f.name) == getattr(b, f.name), f.name
    assert repr(a) == repr(b)


@pytest.mark.parametrize("kind", ["privmsg", "notice", "action"])
def test_say(kind: Any) -> None:
    same(quick.say("#room", "hi there", kind), Say("#room", "hi there", kind))
    same(quick.say("bob", "x"), Say("bob", "x"))


@pytest.mark.parametrize("target", ["#room", "bob", "", "#", "b#"])
def test_message_to(target: str) -> None:
    args = ("00000000000000ff", 12.5, "alice", target, "hello", "privmsg")
    made = quick.message_to((1, 2), *args, (("+draft/reply", "1"),), "al", ("a", "b"), "acct",
                            (("hello", False),))
    msg = Message(*args, (("+draft/reply", "1"),), "al", accounts=("a", "b"), account="acct",
                  lines=(("hello", False),))
    same(made, Outbound((1, 2), msg))
    same(made.event, msg)
    assert made.event.private is (not target.startswith("#"))


def test_outbound() -> None:
    msg = Message("00000000000000ff", 1.0, "alice", "#room", "hello", "privmsg")
    same(quick.outbound([1, 2], msg), Outbound([1, 2], msg))


def test_frozen() -> None:
    """Still frozen: the quick objects refuse changes like any other."""
    made = quick.message_to((1,), "01", 1.0, "a", "#r", "t", "privmsg", (), "", None, "", ()).event
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.text = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.say("#r", "t").text = "changed"  # type: ignore[misc]


def test_every_field_is_set() -> None:
    """A field added to one of the classes must be added to its quick constructor."""
    for made, cls in ((quick.say("#r", "t"), Say),
                      (quick.message_to((1,), "01", 1.0, "a", "#r", "t", "privmsg", (), "", None, "", ()).event,
                       Message),
                      (quick.outbound([1], Say("#r", "t")), Outbound)):
        assert {f.name for f in dataclasses.fields(cls)} == set(cls.__slots__)
        for name in cls.__slots__:
            getattr(made, name)  # AttributeError: never set
