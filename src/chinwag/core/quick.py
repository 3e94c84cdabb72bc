"""Cheap constructors for the events every chat message makes: Say, Message, Outbound.

The events are frozen dataclasses, and a frozen dataclass's ``__init__`` sets
each field through ``object.__setattr__`` (its own ``__setattr__`` refuses):
one C call per field, 11 for a Message. On the hot path (each line a client
sends becomes a Say, then a Message and its Outbound) these functions make the
same objects about three times cheaper: the fields are stored into an instance
of a plain class with the *same* ``__slots__`` (plain attribute stores), which
then becomes the frozen class (``__class__`` assignment: the layouts are the
same, so CPython allows it). The result is an ordinary, frozen, equal instance
(tests/core/test_quick.py checks every field against the dataclass's own
constructor, so a field added to one of these classes fails there first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chinwag.core.events import Event, Lines, Message, MessageKind, Outbound, Say
from chinwag.core.types.chat import ClientTags


class _Say:
    __slots__ = Say.__slots__


class _Message:
    __slots__ = Message.__slots__


class _Outbound:
    __slots__ = Outbound.__slots__


def say(target: str, text: str, kind: MessageKind = "privmsg") -> Say:
    """``Say(target, text, kind)``: no tags, one line."""
    s: Any = _Say()
    s.target = target
    s.text = text
    s.kind = kind
    s.tags = ()
    s.lines = ()
    s.__class__ = Say
    return s  # type: ignore[no-any-return]


def message_to(to: Sequence[int], msgid: str, ts: float, nick: str, target: str, text: str, kind: MessageKind,
               tags: ClientTags, user: str, accounts: tuple[str, str] | None, account: str, lines: Lines) -> Outbound:
    """``Outbound(to, Message(...))`` with every field of the message given, positionally:
    both objects in one call (the hub makes one per chat message)."""
    m: Any = _Message()
    m.msgid = msgid
    m.ts = ts
    m.nick = nick
    m.target = target
    m.text = text
    m.kind = kind
    m.tags = tags
    m.user = user
    m.accounts = accounts
    m.account = account
    m.lines = lines
    m.private = not target or target[0] != "#"  # (Message.__post_init__; a slice or startswith: ~5x dearer)
    m.__class__ = Message
    o: Any = _Outbound()
    o.to = to
    o.event = m
    o.__class__ = Outbound
    return o  # type: ignore[no-any-return]


def outbound(to: Sequence[int], event: Event) -> Outbound:
    """``Outbound(to, event)``."""
    o: Any = _Outbound()
    o.to = to
    o.event = event
    o.__class__ = Outbound
    return o  # type: ignore[no-any-return]
