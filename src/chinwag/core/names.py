"""Nick and room validation and casefolding, for names in any script.

Names are prepared and compared as PRECIS does (RFC 8264/8265, the
``UsernameCaseMapped`` profile, as ergo's ``precis`` casemapping): fullwidth and
halfwidth forms are width-mapped (``Ａ`` -> ``A``), letters lowercased, the
result NFC-normalised, so ``Вася``/``вася`` are one name and ``Nguyễn`` typed
composed (NFC) or decomposed (NFD) is one name. IRC sees ``CASEMAPPING=rfc8265``.

One thing is added on top of PRECIS: RFC 1459's equivalences ``[]\\~`` =
``{}|^`` are kept. For an ASCII name the fold is then exactly the old RFC 1459
fold, so every key already stored (history, room rules, bans, departures) stays
valid; keys of non-ASCII room names are re-folded once by the SQLite schema
migration (storage/sqlite_refold.py). The server's notion of "same name" is thus
never finer than an rfc8265 client's: no two people can hold names an IRC client
would take for one.

One registry serves every protocol. ``casefold`` runs on hot paths: ASCII names
take a ``str.translate``; others are cached.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Collection, Container, Iterable
from typing import Final

from precis_i18n import get_profile

from chinwag.core.confusables import skeleton, width_fold
from chinwag.core.errors import ErroneousNick, RoomNameError

CASEMAPPING: Final = "rfc8265"
_ASCII_FOLD: Final = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", b"abcdefghijklmnopqrstuvwxyz{}|^")
_RFC1459_SPECIALS: Final = str.maketrans("[]\\~", "{}|^")
# ASCII in a nick: letters, digits and these (as RFC 2812). Other ASCII
# punctuation means something in IRC (``nick!user@host``, ``*?`` in masks,
# ``,`` between targets, ``:`` before a trailing parameter, ``#&`` before a
# room, ``.`` in server names, ``@+`` as member prefixes) or in a shell.
_NICK_ASCII: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-[]\\`_^{|}"
)
_ALLOWED_TEXT: Final = "letters and digits of any script, and - [ ] \\ ` _ ^ { | }"
_WHY_NOT: Final = {
    " ": "a space",
    ",": "it separates names",
    "!": "it separates nick!user@host",
    "@": "it separates nick!user@host",
    "*": "it is a wildcard in masks",
    "?": "it is a wildcard in masks",
    ":": "it starts the last parameter of an IRC line",
    ".": "it marks server names",
    "#": "it starts room names",
}
# The scripts whose letters pass for each other: a name mixing them is refused
# (``pаypal`` with a Cyrillic ``а``), whoever else is online.
_LOOKALIKE_SCRIPTS: Final = ("LATIN", "GREEK", "CYRILLIC")
# Names of the server's services (and, added per server, its own name): taken by
# nobody, nor any name ending in "serv", nor a look-alike of one.
SERVICE_NAMES: Final = ("NickServ", "ChanServ", "MemoServ", "OperServ", "HostServ", "BotServ", "Global")
ROOM_PREFIX: Final = "#"
# Every user appears as nick!nick@HIDDEN_HOST: addresses are nobody else's business.
HIDDEN_HOST: Final = "chinwag"
# Space and comma separate IRC list items; BEL and other controls have no
# business in a name anyone will see.
_ROOM_FORBIDDEN: Final = frozenset(" ,:") | frozenset(chr(c) for c in range(0x20)) | {"\x7f"}
# RFC 8265 UsernameCasePreserved: width mapping, NFC, the Bidi Rule, and only
# IdentifierClass code points (letters, digits and marks of any script; no
# symbols, emoji, spaces or compatibility forms).
_PRECIS: Final = get_profile("UsernameCasePreserved")


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
    """The key two names share when they are the same name (see the module
    docstring): PRECIS UsernameCaseMapped plus RFC 1459's ``[]\\~`` = ``{}|^``.

    Defined for any string (room names may hold what PRECIS refuses in a nick);
    for every string PRECIS accepts it equals PRECIS's result (tested)."""
    if name.isascii():
        # (bytes.translate: a table lookup per byte; str.translate with a table
        # looks each character up in a dict: about twice the cost on every message)
        return name.encode().translate(_ASCII_FOLD).decode()
    return _fold(name)


@functools.lru_cache(maxsize=8192)
def _fold(name: str) -> str:
    text = name
    for _ in range(4):  # RFC 8264 7: apply the rules again until stable (ergo's iterateFolding)
        folded = unicodedata.normalize("NFC", width_fold(text).lower()).translate(_RFC1459_SPECIALS)
        if folded == text:
            break
        text = folded
    return text


def prepare(name: str) -> str:
    """The form of ``name`` that is shown and stored: width-mapped and NFC."""
    if name.isascii():
        return name
    return unicodedata.normalize("NFC", width_fold(name))


def _refuse(nick: str, why: str) -> ErroneousNick:
    return ErroneousNick(nick, f"invalid name: {why}")


def _not_allowed(c: str) -> str:
    if c in _WHY_NOT:
        return f"‘{c}’ is not allowed in a name ({_WHY_NOT[c]})"
    if unicodedata.category(c) == "Zs":
        return f"‘{c}’ (U+{ord(c):04X} {unicodedata.name(c, 'a space')}) is not allowed in a name"
    return f"‘{c}’ is not allowed in a name ({_ALLOWED_TEXT})"


def validate_nick(nick: str, max_len: int) -> str:
    """The prepared ``nick`` (width-mapped, NFC), or ErroneousNick with a reason
    a person can act on."""
    if not nick:
        raise _refuse(nick, "empty")
    hidden = unprintable(nick)
    if hidden is not None:
        raise _refuse(nick, f"no control or invisible formatting characters (found {hidden})")
    name = prepare(nick)
    if len(name) > max_len:
        raise _refuse(nick, f"longer than {max_len} characters")
    bad = next((c for c in name if c.isascii() and c not in _NICK_ASCII), None)
    if bad is None and not name.isascii():
        bad = next((c for c in name if unicodedata.category(c) == "Zs"), None)
    if bad is not None:
        raise _refuse(nick, _not_allowed(bad))
    first = name[0]
    if first == "-" or unicodedata.category(first) == "Nd":
        raise _refuse(nick, "must not start with a digit or ‘-’")
    if name.isascii():
        return name
    if unicodedata.category(first).startswith("M"):
        raise _refuse(nick, f"must not start with a combining mark (U+{ord(first):04X})")
    try:
        _PRECIS.enforce(name)
    except UnicodeEncodeError as exc:
        raise _refuse(nick, _precis_reason(name, exc)) from None
    scripts = [s for s in _LOOKALIKE_SCRIPTS if any(_script(c) == s for c in name)]
    if len(scripts) > 1:
        mixed = " and ".join(s.title() for s in scripts)
        raise _refuse(nick, f"mixes {mixed} letters, which can pass for each other; use one alphabet")
    return name


def _script(c: str) -> str:
    if not c.isalpha():
        return ""
    if c.isascii():
        return "LATIN"
    return unicodedata.name(c, "").split(" ", 1)[0]


def _precis_reason(name: str, exc: UnicodeEncodeError) -> str:
    kind = exc.reason.rpartition("/")[2]
    if kind == "bidi_rule":
        return "right-to-left letters mixed with others in an order that can display misleadingly (RFC 5893)"
    c = name[exc.start] if 0 <= exc.start < len(name) else ""
    if not c:
        return f"not a valid name ({kind})"
    if kind == "has_compat":
        plain = unicodedata.normalize("NFKC", c)
        return f"‘{c}’ is a compatibility form, not allowed in a name; write ‘{plain}’ instead"
    return _not_allowed(c)


class Reserved:
    """Names nobody may take: the services', the server's own, any ``*Serv``,
    and look-alikes of them (same TR39 skeleton)."""

    __slots__ = ("keys", "skeletons")

    def __init__(self, extra: Iterable[str] = ()) -> None:
        names = (*SERVICE_NAMES, *extra)
        self.keys = frozenset(casefold(n) for n in names)
        self.skeletons = frozenset(skeleton(n) for n in names)

    def check(self, nick: str) -> None:
        key, shape = casefold(nick), skeleton(nick)
        if key in self.keys or key.endswith("serv") or shape in self.skeletons or shape.endswith("serv"):
            raise ErroneousNick(nick, f"invalid name: ‘{nick}’ is reserved for the server's services")


def free_variant(nick: str, taken: Container[str], max_len: int, lookalikes: Collection[str] = ()) -> str:
    """The first of nick2, nick3, ... (cut to fit ``max_len``) whose casefolded
    form is not in ``taken`` and whose skeleton is not in ``lookalikes``; ''
    if none of the first thousand is free."""
    for n in range(2, 1000):
        suffix = str(n)
        candidate = nick[: max_len - len(suffix)] + suffix
        if casefold(candidate) not in taken and (not lookalikes or skeleton(candidate) not in lookalikes):
            return candidate
    return ""


def validate_room(room: str, max_len: int) -> str:
    """The prepared room name (width-mapped, NFC), or RoomNameError. Rooms may
    hold any printable character but a few separators (emoji too: a room is not
    a person to impersonate); they are compared with ``casefold`` like nicks."""
    if not room.startswith(ROOM_PREFIX) or len(room) < 2:
        raise RoomNameError(room, "invalid room name: must start with # and have a name")
    bad = unprintable(room)
    if bad is not None:
        raise RoomNameError(room, f"invalid room name: no control or invisible formatting characters (found {bad})")
    if any(c in _ROOM_FORBIDDEN for c in room):
        raise RoomNameError(room, "invalid room name: no spaces, commas, colons or control characters")
    room = prepare(room)
    if len(room) > max_len:
        raise RoomNameError(room, f"invalid room name: longer than {max_len} characters")
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
