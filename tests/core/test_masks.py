"""The glob matcher: a table, a property test against two references, and
adversarial masks whose cost is counted in operations on the name, not timed."""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
from typing import Any, SupportsIndex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.config import Limits
from chinwag.core.errors import BannedFromRoom, InvalidModeParam, MaskTooLong
from chinwag.core.events import Failed, Join, Part, Register
from chinwag.core.hub import Hub
from chinwag.core.masks import Mask, collapse, compile_mask
from chinwag.core.names import casefold
from chinwag.core.types.lookup import WhoQuery, WhoReply
from chinwag.core.types.moderation import Mode, ModeChange, ModeChanged

TABLE = [
    ("*", "", True),
    ("*", "anything", True),
    ("", "", True),
    ("", "a", False),
    ("?", "", False),
    ("?", "a", True),
    ("?", "ab", False),
    ("bob", "bob", True),
    ("bob", "BOB", True),
    ("bob", "bobby", False),
    ("bob*", "bobby", True),
    ("*by", "bobby", True),
    ("*by", "bobbyx", False),
    ("b*b", "bob", True),
    ("b*b", "bb", True),
    ("b*b", "b", False),  # head and tail may not share the one 'b'
    ("*o*o*", "foo", True),
    ("*o*o*", "fo", False),
    ("a?c", "abc", True),
    ("a?c", "ac", False),
    ("*a?b*", "xxaxbyy", True),
    ("*a?b*", "xxabyy", False),
    ("*a?b?c*", "zaxbyc", True),
    ("*a?b?c*", "zaxbycz", True),
    ("*a?b?c*", "zaxbc", False),
    ("??*??", "abcd", True),
    ("??*??", "abc", False),
    ("a**b", "ab", True),
    # runs of equal segments (one str.split): occurrences may not overlap
    ("*a*a*a*", "aa", False),
    ("*a*a*a*", "xaxaxa", True),
    ("x*ab*ab*y", "xabababy", True),
    ("x*ab*ab*y", "xaby", False),
    ("*aa*aa*", "aaa", False),
    ("*aa*aa*", "aaaa", True),
    ("*aa*aa*b", "aaaab", True),
    ("*aa*aa*b", "aaab", False),
    ("a***?", "ab", True),
    ("*!*@*", "bob!bob@chinwag", True),
    ("bob!*@*", "bob!bob@chinwag", True),
    ("bob!*@*", "bobby!bobby@chinwag", False),
    ("*!*@elsewhere", "bob!bob@chinwag", False),
    # RFC 1459 casefolding: [ ] \\ ~ are the upper case of { } | ^
    ("[x]*", "{X}yz", True),
    ("*\\", "a|", True),
    ("~?", "^a", True),
    ("*a*a*a*a*a*a*a*a*a*a*a!", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", False),
    ("*a*a*a*a*a*a*a*a*a*a*a!", "aaaaaaaaaaaa!", True),
]


@pytest.mark.parametrize(("mask", "name", "expected"), TABLE)
def test_table(mask: str, name: str, expected: bool) -> None:
    assert Mask(mask)(name) is expected
    assert compile_mask(mask)(name) is expected


@pytest.mark.parametrize(
    ("mask", "collapsed"), [("a***b", "a*b"), ("**", "*"), ("*" * 101 + "!", "*!"), ("a*?*b", "a*?*b"), ("ab", "ab")]
)
def test_consecutive_stars_collapse(mask: str, collapsed: str) -> None:
    assert collapse(mask) == collapsed
    assert Mask(mask).text == collapsed


# --- references ------------------------------------------------------------------


def reference(mask: str, name: str) -> bool:
    """Plain dynamic programming over (mask position, name position)."""
    mask, name = casefold(mask), casefold(name)

    @functools.cache
    def ok(i: int, j: int) -> bool:
        if i == len(mask):
            return j == len(name)
        if mask[i] == "*":
            return ok(i + 1, j) or (j < len(name) and ok(i, j + 1))
        return j < len(name) and (mask[i] == "?" or mask[i] == name[j]) and ok(i + 1, j + 1)

    return ok(0, 0)


def via_fnmatch(mask: str, name: str) -> bool:
    """fnmatch with its character classes disabled ('[' is literal in IRC)."""
    return fnmatch.fnmatchcase(casefold(name), casefold(mask).replace("[", "[[]"))


MASK_CHARS = st.sampled_from("ab?*[{")
NAME_CHARS = st.sampled_from("abAB[{")


@settings(max_examples=600)
@given(st.text(MASK_CHARS, max_size=10), st.text(NAME_CHARS, max_size=12))
def test_agrees_with_both_references(mask: str, name: str) -> None:
    expected = reference(mask, name)
    assert via_fnmatch(mask, name) == expected
    assert Mask(mask)(name) == expected, (mask, name)


# --- cost, counted -------------------------------------------------------------------


class Counted(str):
    """A name that counts the string operations the matcher makes on it and
    the characters each one has to look at (what C's str.find would scan)."""

    calls: int
    scanned: int

    def __new__(cls, value: str) -> Counted:
        obj = super().__new__(cls, value)
        obj.calls = 0
        obj.scanned = 0
        return obj

    def find(self, sub: Any, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
        s = 0 if start is None else int(start)
        e = len(self) if end is None else int(end)
        hit = str.find(self, sub, s, e)
        self.calls += 1
        self.scanned += max(0, (hit - s + len(sub)) if hit >= 0 else e - s)
        return hit

    def startswith(self, prefix: Any, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> bool:
        self.calls += 1
        self.scanned += len(prefix)
        return str.startswith(self, prefix, start, end)

    def endswith(self, suffix: Any, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> bool:
        self.calls += 1
        self.scanned += len(suffix)
        return str.endswith(self, suffix, start, end)

    def __eq__(self, other: object) -> bool:
        self.calls += 1
        self.scanned += len(self)
        return str.__eq__(self, other)

    __hash__ = str.__hash__

    def __getitem__(self, key: Any) -> str:  # a slice, which the matcher then splits: both scan it
        piece = str.__getitem__(self, key)
        self.calls += 1
        self.scanned += 2 * len(piece)
        return piece


def cost(mask: str, name: str) -> tuple[bool, int, int]:
    counted = Counted(casefold(name))
    result = Mask(mask).match_folded(counted)
    return result, counted.calls, counted.scanned


@pytest.mark.parametrize(
    ("mask", "name", "expected"),
    [
        # The WHO: each extra *a multiplied a regex's work by 2-3.
        ("*a" * 100 + "!", "a" * 1000, False),
        ("*a" * 11 + "!", "a" * 36, False),
        # The tail fits, so every middle segment is searched, then 'c' is missing:
        # a backtracking regex tries every placement of the 30 a's (C(100, 30)).
        ("*a" * 30 + "*c*b", "a" * 100 + "b", False),
        ("*a" * 30 + "*c*b", "a" * 100 + "cb", True),
        # '?' gaps: many candidate places for 'a', none followed by 'b' two later.
        ("*" + "*".join(["a?b"] * 60) + "*", "a" * 1000, False),
        ("*" + "*".join(["a?b"] * 60) + "*", "axb" * 60, True),
        ("*" + "?" * 50 + "*x", "y" * 1000 + "x", True),
        ("*" + "?" * 50 + "*x", "y" * 1000, False),
    ],
)
def test_adversarial_masks_cost_linear_operations(mask: str, name: str, expected: bool) -> None:
    result, calls, scanned = cost(mask, name)
    assert result is expected
    segments = mask.count("*") + 1
    chunks = max(len([c for c in part.split("?") if c]) for part in mask.split("*"))
    # Every candidate place in the name is visited once in all, each checked
    # with at most one call per literal chunk of its segment.
    assert calls <= (len(name) + segments + 3) * (chunks + 1)
    assert scanned <= (len(mask) + 2) * (len(name) + 2)


def test_tail_that_cannot_match_costs_one_operation() -> None:
    _, calls, scanned = cost("*a" * 100 + "!", "a" * 1000)
    # Only the head ("") and the tail ("a!") are compared, at the two ends of the name.
    assert calls == 2 and scanned == len("a!")


def test_a_name_shorter_than_the_mask_letters_costs_nothing() -> None:
    assert cost("*a" * 100, "a" * 99) == (False, 0, 0)
    assert Mask("*a" * 100)("a" * 100)


@settings(max_examples=300)
@given(st.text(MASK_CHARS, max_size=40), st.text(NAME_CHARS, max_size=60))
def test_cost_is_bounded_by_mask_times_name(mask: str, name: str) -> None:
    result, calls, scanned = cost(mask, name)
    assert result == reference(mask, name)
    assert calls <= (len(name) + len(mask) + 3) * (len(mask) + 1)
    assert scanned <= (len(mask) + 2) * (len(name) + 2)


# --- in the hub: WHO and bans ------------------------------------------------------


def _hub(**limits: int) -> Hub:
    hub = Hub(dataclasses.replace(Limits(), **limits), clock=lambda: 1_700_000_000.0)
    return hub


def _reg(hub: Hub, sid: int, nick: str) -> None:
    hub.connect(sid)
    hub.handle(sid, Register(nick, ("#lobby",)))


def _who(hub: Hub, sid: int, mask: str) -> WhoReply:
    [out] = hub.handle(sid, WhoQuery(mask))
    assert isinstance(out.event, WhoReply)
    return out.event


def test_who_stops_at_who_max_and_says_so() -> None:
    hub = _hub(who_max=3)
    for sid in range(6):
        _reg(hub, sid, f"u{sid}")
    reply = _who(hub, 0, "U*")  # casefolded like every lookup
    assert [info.nick for _, info in reply.entries] == ["u0", "u1", "u2"] and reply.truncated
    reply = _who(hub, 0, "u?")
    assert len(reply.entries) == 3 and reply.truncated
    assert not _who(hub, 0, "u5").truncated and not _who(hub, 0, "*5").truncated
    exactly = _hub(who_max=6)
    for sid in range(6):
        _reg(exactly, sid, f"u{sid}")
    assert not _who(exactly, 0, "u*").truncated  # as many as the limit: nothing left out


def test_invisible_users_do_not_count_towards_who_max() -> None:
    hub = _hub(who_max=2)
    _reg(hub, 1, "asker")
    hub.handle(1, Part("#lobby"))
    for sid, nick in ((2, "x1"), (3, "x2"), (4, "x3")):
        _reg(hub, sid, nick)
    hub.handle(2, Mode("x1", (ModeChange(True, "i"),)))
    reply = _who(hub, 1, "x*")
    assert [info.nick for _, info in reply.entries] == ["x2", "x3"] and not reply.truncated


def test_overlong_who_mask_is_refused() -> None:
    hub = _hub(mask_len=10)
    _reg(hub, 1, "alice")
    [out] = hub.handle(1, WhoQuery("*" * 11))
    assert isinstance(out.event, Failed) and isinstance(out.event.error, MaskTooLong)
    assert out.event.error.subject == "*" * 10
    assert _who(hub, 1, "*" * 10).entries  # at the limit: answered


def test_ban_masks_are_collapsed_bounded_and_matched() -> None:
    hub = _hub(mask_len=12)
    _reg(hub, 1, "alice")
    hub.handle(1, Join("#r"))
    out = hub.handle(1, Mode("#r", (ModeChange(True, "b", "b**o*"),)))
    assert out[0].event == ModeChanged("#r", "alice", (ModeChange(True, "b", "b*o*!*@*"),))
    assert list(hub.rooms["#r"].bans) == ["b*o*!*@*"]
    [refused] = hub.handle(1, Mode("#r", (ModeChange(True, "b", "bob!bob@chinwa*"),)))
    assert isinstance(refused.event, Failed) and isinstance(refused.event.error, InvalidModeParam)
    assert str(refused.event.error) == "ban mask too long (max 12 characters): #r +b bob!bob@chin"
    _reg(hub, 2, "BOB")
    [denied] = hub.handle(2, Join("#r"))
    assert isinstance(denied.event, Failed) and isinstance(denied.event.error, BannedFromRoom)
    hub.handle(1, Mode("#r", (ModeChange(False, "b", "B***O*"),)))  # removed by any equal spelling
    assert not hub.rooms["#r"].bans
