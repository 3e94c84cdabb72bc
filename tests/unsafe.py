"""What must never reach a terminal, as the tests check it (no chinwag imports:
the hostile tests run unchanged against older code to show they fail there)."""

from __future__ import annotations

from typing import Final

BIDI_AND_SEPARATORS: Final = frozenset(
    "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Tab, CTCP quoting and the IRC formatting codes: bold, colour, reset, monospace,
# reverse, italic, strikethrough, underline.
IRC_KEEPS: Final = frozenset("\t\x01\x02\x03\x0f\x11\x16\x1d\x1e\x1f")


def terminal_violations(text: str) -> list[str]:
    """What a line for an IRC user must not hold (IRC formatting and CTCP allowed)."""
    return [
        c for c in text
        if (ord(c) < 0x20 and c not in IRC_KEEPS) or 0x7F <= ord(c) <= 0x9F or c in BIDI_AND_SEPARATORS
    ]


def text_violations(text: str) -> list[str]:
    """What a line for a telnet user must not hold: any control but tab, formatting included."""
    return [
        c for c in text
        if (ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F or c in BIDI_AND_SEPARATORS
    ]
