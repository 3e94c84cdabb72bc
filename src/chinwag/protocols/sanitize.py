"""Keep other people's bytes out of a terminal's control plane.

Two levels, one set of patterns:

* **terminal-safe** (:func:`terminal_safe`, every protocol): no ANSI/ECMA-48
  escape sequence (CSI, OSC, DCS, APC, PM, SOS, lone ESC, and their 8-bit C1
  forms), no other C1 control, no DEL, no C0 control except tab and the codes
  IRC clients interpret as formatting (``\\x02`` bold, ``\\x03`` colour,
  ``\\x0f`` reset, ``\\x11`` monospace, ``\\x16`` reverse, ``\\x1d`` italic,
  ``\\x1e`` strikethrough, ``\\x1f`` underline) or as CTCP quoting
  (``\\x01``), no CR or LF, no bidi marks, embeddings, overrides or isolates
  (text that reads differently from what it is), no line or paragraph separator.
* **text** (:func:`strip_controls`, the telnet/netcat protocol and the terminal
  client): terminal-safe and without IRC formatting either (colour codes go
  with their digits).

:func:`safe_event` applies the terminal-safe level to every ``str`` in an
event (tuples and nested dataclasses such as ``MemberInfo`` included, and the
subject of a ``Failed`` event's error). A field marked as holding lines
(``Message.text`` of a draft/multiline message) keeps its line feeds: each
line is made safe on its own (:func:`safe_lines`). The transport calls it once per event
before any protocol renders it (``Server.deliver`` and history answers), so a
new event type cannot forget it; :func:`safe_output` does the same for the
lines an adapter writes itself (numerics that echo what was typed).

Every pattern is linear: no nested quantifiers, and the starred classes of a
sequence are disjoint from what follows them.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any, Final, TypeVar

from chinwag.core.events import Message

# ESC sequences (7-bit) and the C1 sequence introducers (8-bit CSI, DCS, SOS, OSC, PM, APC).
_SEQUENCES: Final = (
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI ... final byte
    r"|\x1b[\]P^_X][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC/DCS/PM/APC/SOS ... BEL or ST
    r"|\x1b[ -/]*[0-~]?"  # other ESC sequences, or a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|[\x90\x98\x9d-\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # 8-bit string controls
)
# Bidi marks (ALM, LRM, RLM), line and paragraph separators, embeddings and
# overrides (U+2028-202E), isolates.
_INVISIBLE: Final = "\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
#: The terminal-safe level: C0 except tab, CTCP and IRC formatting; DEL; C1.
_UNSAFE_TERMINAL: Final = re.compile(
    _SEQUENCES + r"|[\x00\x04-\x08\x0a-\x0e\x10\x12-\x15\x17-\x1c\x7f-\x9f" + _INVISIBLE + "]"
)
#: The text level: all of that, IRC colour codes with their digits, and every other C0 but tab.
_UNSAFE_TEXT: Final = re.compile(
    _SEQUENCES
    + r"|\x03(?:\d{1,2}(?:,\d{1,2})?)?"  # IRC colour code with its digits
    r"|\x04[0-9a-fA-F]{0,6}"  # IRC hex colour
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f" + _INVISIBLE + "]"
)
#: The terminal-safe level for whole serialized lines: controls one by one, never
#: a sequence (whose intermediates include the space that separates parameters).
_UNSAFE_WIRE: Final = re.compile(r"[\x00\x04-\x08\x0b\x0c\x0e\x10\x12-\x15\x17-\x1c\x7f-\x9f" + _INVISIBLE + "]")
#: Nothing to strip at either level: the one test, ``text.isprintable() or
#: _FAST_OK.fullmatch(text)``. Every character either level removes, and every
#: character a sequence it removes starts with, is a control (Cc), a format
#: character (Cf) or a line or paragraph separator (Zl, Zp), none of which
#: ``str.isprintable`` accepts: text it accepts (any script, emoji) is returned
#: as it is, in C, one table lookup per character
#: (tests/protocols/test_sanitize_fast.py walks every code point). Tabs, which
#: it refuses, are printable ASCII to the regex (as before it).
_FAST_OK: Final = re.compile(r"[ -~\t]*")
_FAST_OK_BYTES: Final = re.compile(rb"[ -~\t\r\n]*")
_FAST_OK_LINES: Final = re.compile(r"[ -~\t\r\n]*")
#: The C0 codes the terminal-safe level keeps (tab, CTCP, IRC formatting).
IRC_FORMATTING: Final = frozenset("\t\x01\x02\x03\x0f\x11\x16\x1d\x1e\x1f")


def terminal_safe(text: str) -> str:
    """``text`` without what a terminal would act on; IRC formatting stays."""
    if text.isprintable() or _FAST_OK.fullmatch(text):
        return text
    return _UNSAFE_TERMINAL.sub("", text)


def strip_controls(text: str) -> str:
    """``text`` without what a terminal would act on, IRC formatting included."""
    if text.isprintable() or _FAST_OK.fullmatch(text):
        return text
    return _UNSAFE_TEXT.sub("", text)


def safe_output(data: bytes) -> bytes:
    """CRLF-terminated lines an adapter wrote itself, made terminal-safe.

    They are already formatted, so controls go one by one: what is left of
    an escape sequence (``[2J``) is inert text, and a line's parameters keep
    their places. Only the user who typed it sees such an echo; what others
    see went through :func:`safe_event`, which removes whole sequences.
    """
    if _FAST_OK_BYTES.fullmatch(data):
        return data
    return _UNSAFE_WIRE.sub("", data.decode("utf-8", "replace")).encode()


def terminal_safe_lines(text: str) -> str:
    """Formatted lines (a log record with its traceback) made terminal-safe:
    controls one by one, line ends kept."""
    if _FAST_OK_LINES.fullmatch(text):
        return text
    return _UNSAFE_WIRE.sub("", text)


# --- events -------------------------------------------------------------------

T = TypeVar("T")
_ERROR: Final = "error"  # plan marker: an exception (a Failed event's ChatError)
# type -> what to look at: the names of a dataclass's init fields, _ERROR, or
# None for values with no text in them (numbers, None, bools).
_PLANS: dict[type, tuple[str, ...] | str | None] = {}
_SCALARS: Final = frozenset((int, float, bool, type(None)))


# type -> its str fields that may hold lines joined by "\n" (field metadata
# ``{"lines": True}``: a draft/multiline message's text).
_LINES: dict[type, frozenset[str]] = {}


def _plan(cls: type) -> tuple[str, ...] | str | None:
    if dataclasses.is_dataclass(cls):
        fields = dataclasses.fields(cls)
        _LINES[cls] = frozenset(f.name for f in fields if f.metadata.get("lines"))
        return tuple(f.name for f in fields if f.init)
    if issubclass(cls, BaseException):
        return _ERROR
    return None


def safe_event(event: T) -> T:
    """``event`` with every string in it terminal-safe: the same object when
    nothing needed changing (the common case costs one regex match per field).

    Strings are found in the event's fields, in tuples (nested too), in nested
    dataclasses and in the string attributes of an exception (``Failed.error``:
    its subject echoes what the user typed).
    """
    m: Any = event  # (mypy does not narrow a TypeVar by type() is)
    if type(m) is Message and not (m.tags or m.accounts or m.lines):
        # The commonest event: one test for all its text. Its fields by name, in bytecode
        # (an attrgetter of seven is ~3x dearer); MESSAGE_TEXT and MESSAGE_REST say which,
        # and tests/protocols/test_sanitize_fast.py puts something unsafe in each field of
        # Message in turn, so a field added there and not here fails it.
        text = "".join((m.msgid, m.nick, m.target, m.text, m.kind, m.user, m.account))
        if text.isprintable() or _FAST_OK.fullmatch(text):
            return event
    return _clean(event)  # type: ignore[no-any-return]


def _message_fields() -> tuple[list[str], list[str]]:
    """Message's init fields: (its text fields, the others but its time)."""
    text: list[str] = []
    rest: list[str] = []
    hints = typing.get_type_hints(Message)  # (the types themselves, however the annotations are written)
    for f in dataclasses.fields(Message):
        kind = hints[f.name]
        if f.init and kind is not float:
            (text if kind is str or f.name == "kind" else rest).append(f.name)
    assert len(text) > 1 and len(rest) > 1  # (so that each getter below returns a tuple)
    return text, rest


_text, _rest = _message_fields()
#: The fields safe_event's fast test joins (Message's text fields) and those it wants empty
#: (tags, accounts, lines: all empty in a plain message, whose text is then all there is to check).
MESSAGE_TEXT: Final = tuple(_text)
MESSAGE_REST: Final = tuple(_rest)
if MESSAGE_TEXT != ("msgid", "nick", "target", "text", "kind", "user", "account") or MESSAGE_REST != (
    "tags", "accounts", "lines"
):  # (not an assert: it must hold under python -O too)
    raise RuntimeError(f"Message's fields changed: update safe_event's fast test ({MESSAGE_TEXT}, {MESSAGE_REST})")


def _clean(value: Any) -> Any:
    cls = type(value)
    if cls is str:
        return value if value.isprintable() or _FAST_OK.fullmatch(value) else _UNSAFE_TERMINAL.sub("", value)
    if cls is tuple:
        cleaned = tuple(_clean(item) for item in value)
        return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
    try:
        plan = _PLANS[cls]
    except KeyError:
        plan = _PLANS[cls] = _plan(cls)
    if plan is None:
        return value
    if plan is _ERROR:
        return _clean_error(value)
    changes = None
    fast = _FAST_OK.fullmatch
    for name in plan:
        old = getattr(value, name)
        if not old:  # "", (), None, 0: nothing to clean (a message's empty tags and lines)
            continue
        cls = type(old)
        if cls is str:
            if old.isprintable() or fast(old):  # (inline: this loop runs once per fan-out, for every message)
                continue
            if "\n" in old and name in _LINES[type(value)]:
                new: Any = safe_lines(old)  # (Any: not only str, below)
            else:
                new = _UNSAFE_TERMINAL.sub("", old)  # (the same object when nothing was removed)
        elif cls in _SCALARS:
            continue
        else:
            new = _clean(old)
        if new is not old:
            if changes is None:
                changes = {}
            changes[name] = new
    return value if changes is None else dataclasses.replace(value, **changes)


def safe_lines(text: str) -> str:
    """Lines joined by "\n" (a multi-line message), each made terminal-safe on
    its own: the line feeds stay, and no sequence reaches across one."""
    cleaned = "\n".join(_UNSAFE_TERMINAL.sub("", line) for line in text.split("\n"))
    return text if cleaned == text else cleaned


def _clean_error(error: BaseException) -> BaseException:
    attrs = vars(error)
    cleaned = {name: _clean(v) for name, v in attrs.items()}
    args = _clean(error.args)
    if args is error.args and all(cleaned[name] is v for name, v in attrs.items()):
        return error
    # A copy with the same type and attributes (constructors differ: bypass them).
    copy = type(error).__new__(type(error))
    copy.__dict__.update(cleaned)
    copy.args = args
    return copy
