"""Numbers typed by users: ASCII decimal digits only.

``str.isdigit()`` is true for '²', '٣' and '߂', which ``int()`` then refuses
(or reads as another digit), so every count a client sends is read here.
"""

from __future__ import annotations

from typing import Final

MAX_DIGITS: Final = 18  # a count beyond 10**18 is a typo or an attack, never a number to honour


def decimal(text: str) -> int | None:
    """``text`` as a non-negative int if it is 1..MAX_DIGITS ASCII digits, else None."""
    if not text or len(text) > MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)
