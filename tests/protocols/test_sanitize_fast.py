"""The sanitizer's fast test (``str.isprintable``) and its general path agree.

``protocols/sanitize.py`` returns text that ``str.isprintable`` accepts as it
is, without running either level's patterns. That is sound only if no
character such text can hold is one the patterns remove, or one a sequence
they remove starts with: walked here over every code point of the running
interpreter's Unicode database, then over text from every general category.
"""

from __future__ import annotations

import dataclasses
import sys
import unicodedata

import pytest

from chinwag.core.events import Message
from chinwag.protocols import sanitize
from chinwag.protocols.sanitize import _UNSAFE_TERMINAL, _UNSAFE_TEXT, _clean, safe_event, strip_controls, terminal_safe

PRINTABLE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isprintable()]
# Tails a sequence may continue with: a match starting at a printable character would need one of them.
TAILS = ("", "[2J", "]52;c;x\x07", "0;1", "12,34", "\x1b\\", "abc", "\x9c")


def test_no_printable_code_point_starts_anything_either_level_removes() -> None:
    everything = "".join(PRINTABLE)
    assert len(PRINTABLE) > 100_000  # (the walk is over the whole database, not a stub)
    for pattern in (_UNSAFE_TERMINAL, _UNSAFE_TEXT):
        assert pattern.search(everything) is None
        for tail in TAILS:
            assert all(pattern.match(c + tail) is None for c in PRINTABLE[:: 1 if tail == "" else 97]), tail


def test_every_code_point_the_fast_test_accepts_is_left_alone_by_both_levels() -> None:
    """Per code point: whatever the fast test lets through, the general path would not change
    (alone, or between two escape sequences' worth of context)."""
    for c in PRINTABLE:
        for text in (c, c * 3, f"a{c}b"):
            assert _UNSAFE_TERMINAL.sub("", text) == text and _UNSAFE_TEXT.sub("", text) == text, hex(ord(c))
    removed = "\x00\x07\x1b\x7f\x85\x9b\x9c\u061c\u200e\u200f\u2028\u2029\u202a\u202e\u2066\u2069"
    assert all(_UNSAFE_TERMINAL.sub("", c) == "" and not c.isprintable() for c in removed)


def _samples() -> dict[str, str]:
    """Up to 40 characters of each general category (the surrogates too)."""
    by: dict[str, list[str]] = {}
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        found = by.setdefault(unicodedata.category(c), [])
        if len(found) < 40:
            found.append(c)
    return {category: "".join(chars) for category, chars in by.items()}


SAMPLES = _samples()


@pytest.mark.parametrize("category", sorted(SAMPLES))
def test_both_levels_agree_with_the_general_path_in_every_category(category: str) -> None:
    text = "héllo " + SAMPLES[category] + " \t\x02bold\x02"
    for mixed in (text, SAMPLES[category], "plain ascii " + SAMPLES[category][:3]):
        assert terminal_safe(mixed) == _UNSAFE_TERMINAL.sub("", mixed)
        assert strip_controls(mixed) == _UNSAFE_TEXT.sub("", mixed)


@pytest.mark.parametrize("category", sorted(SAMPLES))
def test_safe_event_of_a_message_agrees_with_the_field_by_field_walk(category: str) -> None:
    """The Message fast path (one test for all its text) returns what ``_clean``
    returns, and the very same object when that changes nothing."""
    for text in (SAMPLES[category], "snow ☃ 雪 🦊 " + SAMPLES[category][:5], "tab\there"):
        msg = Message("0000000000000001", 1.0, "alice", "#room", text, "privmsg", user="al")
        fast, general = safe_event(msg), _clean(msg)
        assert fast == general and fast.user == general.user
        if general is msg:
            assert fast is msg


def test_printable_non_ascii_text_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text in any script (and emoji) is printable: no pattern runs for it."""
    calls: list[str] = []

    class Spy:
        def __init__(self, real: object) -> None:
            self.real = real

        def fullmatch(self, text: str) -> object:
            calls.append(text)
            return self.real.fullmatch(text)  # type: ignore[attr-defined]

    monkeypatch.setattr(sanitize, "_FAST_OK", Spy(sanitize._FAST_OK))
    msg = Message("0000000000000001", 1.0, "zoë", "#café", "снег ☃ 雪 🦊 ünïcödé", "privmsg", user="z")
    assert safe_event(msg) is msg
    assert terminal_safe("ελληνικά") == "ελληνικά" and strip_controls("ελληνικά") == "ελληνικά"
    assert calls == []
    assert safe_event(Message("0000000000000002", 1.0, "a", "#r", "a\ttab", "privmsg")).text == "a\ttab"
    assert calls  # (a tab: the regex, as before)


UNSAFE = "a\x1b[2Jb\u202e"
# A value holding something unsafe, for each field of Message that is not text
# (text fields get UNSAFE itself); a field added to Message needs one here.
UNSAFE_OTHER: dict[str, object] = {
    "tags": (("+draft/reply", UNSAFE),),
    "accounts": ("alice", UNSAFE),
    "lines": ((UNSAFE, False), ("x", True)),
}


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Message) if f.init and f.name != "ts"])
def test_safe_event_of_a_message_cleans_every_field(name: str) -> None:
    """The Message fast path reads its fields by name: something unsafe in any
    field of Message (one added later too) must take the general path."""
    base = Message("0000000000000001", 1.0, "alice", "#room", "hello", "privmsg", user="al", account="al")
    value = UNSAFE_OTHER.get(name, UNSAFE)
    msg = dataclasses.replace(base, **{name: value})
    fast, general = safe_event(msg), _clean(msg)
    assert fast is not msg
    assert [getattr(fast, f.name) for f in dataclasses.fields(Message)] == [
        getattr(general, f.name) for f in dataclasses.fields(Message)]
    assert "\x1b" not in repr([getattr(fast, f.name) for f in dataclasses.fields(Message)])
    assert safe_event(base) is base
