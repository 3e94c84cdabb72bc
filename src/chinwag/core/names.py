"""Nick and room validation and casefolding.

Casefolding is RFC 1459 (``[]\\~`` fold to ``{}|^``) so that names that collide
for IRC clients also collide for text clients: one registry serves every protocol.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Container
from typing import Final

from chinwag.core.errors import ErroneousNick, RoomNameError

CASEMAPPING: Final = "rfc1459"
_FOLD: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")
_LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SPECIAL: Final = frozenset("[]\\`_^{|}")
_NICK_FIRST: Final = _LETTERS | _SPECIAL
_NICK_REST: Final = _NICK_FIRST | frozenset("0123456789-")
ROOM_PREFIX: Final = "#"
# Every user appears as nick!nick@HIDDEN_HOST: addresses are nobody else's business.
HIDDEN_HOST: Final = "chinwag"
# Space and comma separate IRC list items; BEL and other controls have no
# business in a name anyone will see.
_ROOM_FORBIDDEN: Final = frozenset(" ,:") | frozenset(chr(c) for c in range(0x20)) | {"\x7f"}


# Unicode categories no name may contain: controls (C0, DEL, C1), format
# characters (bidi overrides and isolates, zero-width joiners, ...), and line
# and paragraph separators. They make a name act on a terminal or read
# differently from what it is.
_INVISIBLE_CATEGORIES: Final = frozenset(("Cc", "Cf", "Zl", "Zp"))


def unprintable(name: str) -> str | None:
    """The first control, format or separator character in ``name``, described
    for a person (``U+202E RIGHT-TO-LEFT OVERRIDE``, ``U+001B a control
    character``); None if there is none."""
    if name.isascii():
        bad = next((c for c in name if c < " " or c == "\x7f"), None)
    else:
        bad = next((c for c in name if unicodedata.category(c) in _INVISIBLE_CATEGORIES), None)
    if bad is None:
        return None
    label = unicodedata.name(bad, "a control character")  # (C0 and C1 have no name)
    return f"U+{ord(bad):04X} {label}"


def casefold(name: str) -> str:
    return name.translate(_FOLD)


def validate_nick(nick: str, max_len: int) -> str:
    """Return ``nick`` or raise ErroneousNick with a reason a person can act on."""
    if not nick:
        raise ErroneousNick(nick, "invalid name: empty")
    hidden = unprintable(nick)
    if hidden is not None:
        raise ErroneousNick(nick, f"invalid name: no control or invisible formatting characters (found {hidden})")
    if len(nick) > max_len:
        raise ErroneousNick(nick, f"invalid name: longer than {max_len} characters")
    if nick[0] not in _NICK_FIRST:
        raise ErroneousNick(nick, "invalid name: must start with a letter or one of [ ] \\ ` _ ^ { | }")
    bad = sorted({c for c in nick if c not in _NICK_REST})
    if bad:
        shown = " ".join(repr(c) for c in bad[:5])
        raise ErroneousNick(nick, f"invalid name: letters, digits and - [ ] \\ ` _ ^ {{ | }} only (not {shown})")
    return nick


def free_variant(nick: str, taken: Container[str], max_len: int) -> str:
    """The first of nick2, nick3, ... (cut to fit ``max_len``) whose casefolded
    form is not in ``taken``; '' if none of the first thousand is free."""
    for n in range(2, 1000):
        suffix = str(n)
        candidate = nick[: max_len - len(suffix)] + suffix
        if casefold(candidate) not in taken:
            return candidate
    return ""


def validate_room(room: str, max_len: int) -> str:
    if not room.startswith(ROOM_PREFIX) or len(room) < 2:
        raise RoomNameError(room, "invalid room name: must start with # and have a name")
    if len(room) > max_len:
        raise RoomNameError(room, f"invalid room name: longer than {max_len} characters")
    bad = unprintable(room)
    if bad is not None:
        raise RoomNameError(room, f"invalid room name: no control or invisible formatting characters (found {bad})")
    if any(c in _ROOM_FORBIDDEN for c in room):
        raise RoomNameError(room, "invalid room name: no spaces, commas, colons or control characters")
    return room


def is_room(target: str) -> bool:
    return target.startswith(ROOM_PREFIX)


def normalize_mask(mask: str) -> str:
    """Complete a ban mask to nick!user@host form: ``bob`` -> ``bob!*@*``."""
    if "!" not in mask and "@" not in mask:
        return f"{mask}!*@*"
    if "!" not in mask:
        return f"*!{mask}"
    if "@" not in mask:
        return f"{mask}@*"
    return mask
