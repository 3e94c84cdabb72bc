"""Glob masks (``*`` and ``?``) for WHO and bans, matched without backtracking.

A regular expression built from a mask (``*a*a*a...!`` -> ``.*a.*a.*a...!``)
backtracks: each extra ``*a`` multiplies the work, and one WHO froze the server.
Here a mask is compiled once into its literal parts::

    head * seg1 * seg2 * ... * tail        (consecutive ``*`` collapse to one)

and a name matches when ``head`` is its prefix, ``tail`` its suffix, and the
middle segments occur in order in between. Each segment is taken at its
*leftmost* place after the previous one: any match using a later place can use
the leftmost one instead (what follows only has more room), so no choice is
ever revisited. The scan only moves forward, so matching costs at most
O(len(mask) * len(name)), and in practice a few ``str.find`` calls per name.

``?`` matches exactly one character, ``*`` any run (also empty); everything
else matches itself after casefolding (names.casefold: PRECIS plus RFC 1459's
``[]\\~``), the same folding as nick and room lookups. There is no escape character, as in IRC.
"""

from __future__ import annotations

import functools

from chinwag.core.names import casefold


def collapse(mask: str) -> str:
    """``a***b`` -> ``a*b``: the same matches, and less work for every name."""
    while "**" in mask:  # each pass halves every run of stars
        mask = mask.replace("**", "*")
    return mask


class Segment:
    """A run of mask characters without ``*``: literal chunks at fixed offsets,
    ``?`` in the gaps between them."""

    __slots__ = ("length", "chunks", "anchor_off", "anchor", "rest")

    def __init__(self, text: str) -> None:
        self.length = len(text)
        chunks: list[tuple[int, str]] = []
        offset = 0
        for piece in text.split("?"):
            if piece:
                chunks.append((offset, piece))
            offset += len(piece) + 1
        self.chunks: tuple[tuple[int, str], ...] = tuple(chunks)
        # The first literal chunk is looked for with str.find; the others are
        # checked at their offsets from there.
        self.anchor_off, self.anchor = chunks[0] if chunks else (0, "")
        self.rest = tuple(chunks[1:])

    def at(self, text: str, pos: int) -> bool:
        """Does the segment match ``text[pos : pos + length]``? (The caller
        guarantees that slice lies inside ``text``.)"""
        for off, chunk in self.chunks:
            if not text.startswith(chunk, pos + off):
                return False
        return True

    def find(self, text: str, start: int, end: int) -> int:
        """The leftmost ``p >= start`` where the segment matches and ends by
        ``end``, or -1. Candidates are visited left to right, once each."""
        last = end - self.length  # the last possible start
        if last < start:
            return -1
        if not self.anchor:  # only '?': any place will do
            return start
        off, anchor, rest = self.anchor_off, self.anchor, self.rest
        hit = text.find(anchor, start + off, last + off + len(anchor))
        while hit >= 0:
            p = hit - off
            for o, chunk in rest:
                if not text.startswith(chunk, p + o):
                    break
            else:
                return p
            hit = text.find(anchor, hit + 1, last + off + len(anchor))
        return -1


class Mask:
    """A compiled mask; call it with a name (casefolded here) to match.

    ``min_len`` is the number of non-``*`` characters: a shorter name cannot
    match, which rejects most names of an over-specified mask at once. A mask
    without ``?`` (most of them) is matched with str methods only, and a run
    of equal segments (``*a*a*a``: the shape that made regexes explode) takes
    one ``str.split`` instead of one ``str.find`` per segment.
    """

    __slots__ = ("text", "star", "head", "middle", "tail", "min_len", "plain", "prefix", "suffix", "runs")

    def __init__(self, mask: str) -> None:
        self.text = collapse(casefold(mask))
        parts = self.text.split("*")
        self.star = len(parts) > 1
        self.head = Segment(parts[0])
        self.tail = Segment(parts[-1]) if self.star else Segment("")
        self.middle = tuple(Segment(p) for p in parts[1:-1] if p)
        self.min_len = len(self.text) - self.text.count("*")
        self.plain = "?" not in self.text
        self.prefix, self.suffix = parts[0], parts[-1] if self.star else ""
        # Without '?': the middle as (segment, how many times in a row).
        runs: list[tuple[str, int]] = []
        for part in parts[1:-1]:
            if runs and runs[-1][0] == part:
                runs[-1] = (part, runs[-1][1] + 1)
            elif part:
                runs.append((part, 1))
        self.runs = tuple(runs)

    def __call__(self, name: str) -> bool:
        return self.match_folded(casefold(name))

    def match_folded(self, text: str) -> bool:
        """Match a name that is already casefolded (e.g. a key of Hub.nicks, or
        one full ``nick!user@host`` checked against every ban of a room)."""
        n = len(text)
        if n < self.min_len:
            return False
        head, tail = self.head, self.tail
        end = n - tail.length  # head and tail cannot overlap: n >= min_len
        if self.plain:  # the same steps as below, with str methods only
            if not self.star:
                return text == self.text
            if not (text.startswith(self.prefix) and text.endswith(self.suffix)):
                return False
            pos = head.length
            for segment, times in self.runs:
                if times == 1:
                    found = text.find(segment, pos, end)
                    if found < 0:
                        return False
                    pos = found + len(segment)
                else:  # the leftmost `times` non-overlapping occurrences, in C
                    pieces = text[pos:end].split(segment, times)
                    if len(pieces) <= times:
                        return False
                    pos = end - len(pieces[-1])
            return True
        if not self.star:
            return n == head.length and head.at(text, 0)
        if not (head.at(text, 0) and tail.at(text, end)):
            return False
        pos = head.length
        for seg in self.middle:
            found = seg.find(text, pos, end)
            if found < 0:
                return False
            pos = found + seg.length
        return True

    def __repr__(self) -> str:
        return f"Mask({self.text!r})"


@functools.lru_cache(maxsize=1024)
def compile_mask(mask: str) -> Mask:
    """The compiled form of ``mask``, cached: a room's bans are checked on
    every JOIN and every message of a member, so each is compiled once."""
    return Mask(mask)


def mask_matcher(mask: str) -> Mask:
    """A casefolded glob matcher for ``mask``, as IRC bans and WHO use."""
    return compile_mask(mask)
