"""IRC messages (RFC 1459/2812 + IRCv3 message-tags), Sans-I/O.

Pure functions and small classes shared by the server, the terminal client and
the browser client: no sockets, no asyncio, so every edge case is unit-testable.

Error contract (the server relies on it to answer bad input instead of crashing):

* Parsing text that came from the network -- :meth:`Message.parse`,
  :func:`parse_line`, :meth:`IrcLineReader.messages` -- raises (or reports) only
  :class:`IrcProtocolError` subclasses: :class:`EmptyMessage`,
  :class:`InvalidMessage` and :class:`InputTooLong`. Invalid UTF-8 is never an
  error: it is decoded with U+FFFD replacement.
* Serializing (:meth:`Message.serialize`, :meth:`Message.to_bytes`) raises
  ``ValueError`` for a message that cannot be written on one line. That is a
  *local* bug (our own code built a bad message), deliberately not an
  ``IrcProtocolError``, so callers cannot confuse it with a misbehaving peer.

Anything ``parse`` accepts, ``serialize`` can write back: parse rejects NUL, CR
and LF inside a line and commands that are neither letters nor 3 digits, which
are exactly the things that would let a relayed message inject a second line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "EMPTY_TAGS",
    "EmptyMessage",
    "InputTooLong",
    "InvalidMessage",
    "IrcLineReader",
    "IrcProtocolError",
    "Message",
    "Tags",
    "TooLongPart",
    "check_length",
    "escape_tag_value",
    "parse_line",
    "parse_source",
    "unescape_tag_value",
]

TooLongPart = Literal["tags", "body"]

#: RFC 1459: 512 bytes per message *including* CRLF, not counting IRCv3 tags.
DEFAULT_MAX_BODY: Final = 512
#: message-tags: the tag section, with its '@' and trailing space, gets 8191 bytes.
DEFAULT_MAX_TAGS: Final = 8191

_AT: Final = 0x40  # b"@"[0]
_CR: Final = 0x0D  # b"\r"[0]


# --------------------------------------------------------------------------- errors


class IrcProtocolError(Exception):
    """Base of everything a peer's bytes can make this module raise."""


class EmptyMessage(IrcProtocolError):
    """Blank line: servers and clients silently ignore these."""


class InvalidMessage(IrcProtocolError):
    """Not an IRC message (no command, bad command, NUL/CR/LF inside, ...)."""


class InputTooLong(IrcProtocolError):
    """A line over the limits; the server answers 417 ERR_INPUTTOOLONG.

    ``which`` says whether the tag section or the rest (the "body") overflowed,
    because the two have separate budgets in the message-tags spec.
    """

    def __init__(self, which: TooLongPart) -> None:
        super().__init__(f"input line too long ({which})")
        self.which: TooLongPart = which


# ----------------------------------------------------------------------------- tags


class Tags(Mapping[str, str]):
    """Immutable, hashable tag mapping (so :class:`Message` stays hashable).

    Keeps insertion order for serialization; equality ignores order, as the
    spec says tag order is not meaningful.
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        items: Iterable[tuple[str, str]] = data.items() if isinstance(data, Mapping) else data
        self._data: dict[str, str] = dict(items)
        self._hash: int | None = None

    @classmethod
    def _wrap(cls, data: dict[str, str]) -> Tags:
        """Adopt a freshly built dict without copying it (parser hot path)."""
        self = cls()
        self._data = data
        return self

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Tags):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"Tags({self._data!r})"


EMPTY_TAGS: Final = Tags()

_UNESCAPES: Final = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


def escape_tag_value(value: str) -> str:
    """Escape per message-tags: ``;`` -> ``\\:``, space -> ``\\s``, ``\\``, CR, LF."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\:")
        .replace(" ", "\\s")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
    )


def unescape_tag_value(value: str) -> str:
    """Inverse of :func:`escape_tag_value`, lenient as the spec requires.

    An unknown escape ``\\b`` yields ``b``; a trailing lone backslash is dropped.
    """
    if "\\" not in value:
        return value
    out: list[str] = []
    pos = 0
    end = len(value)
    while True:
        bs = value.find("\\", pos)
        if bs < 0:
            out.append(value[pos:])
            break
        out.append(value[pos:bs])
        if bs + 1 >= end:
            break
        ch = value[bs + 1]
        out.append(_UNESCAPES.get(ch, ch))
        pos = bs + 2
    return "".join(out)


def _parse_tags(section: str) -> Tags:
    tags: dict[str, str] = {}
    for item in section.split(";"):
        key, _, value = item.partition("=")
        if key:  # an empty key cannot be represented; skip, don't reject
            tags[key] = unescape_tag_value(value)  # later duplicates win (spec)
    return Tags._wrap(tags) if tags else EMPTY_TAGS


# -------------------------------------------------------------------------- message


def _has_ctl(text: str) -> bool:
    """NUL, CR or LF: never allowed inside one line (they would split it)."""
    return "\n" in text or "\r" in text or "\0" in text


def _valid_command(command: str) -> bool:
    """RFC 1459: a command is ASCII letters or exactly three digits."""
    if not command.isascii():
        return False
    return command.isalpha() or (len(command) == 3 and command.isdigit())


@dataclass(frozen=True, slots=True)
class Message:
    """One IRC message. ``command`` is upper-cased; numerics stay 3-digit strings.

    ``tags`` values are unescaped; a tag without a value maps to ``""`` (the spec
    treats ``foo`` and ``foo=`` alike). Any mapping given is frozen into
    :class:`Tags` so messages can be hashed and shared between connections.
    """

    command: str
    params: tuple[str, ...] = ()
    source: str | None = None
    tags: Mapping[str, str] = EMPTY_TAGS

    def __post_init__(self) -> None:
        if type(self.tags) is not Tags:
            object.__setattr__(self, "tags", Tags(self.tags))
        if type(self.params) is not tuple:
            object.__setattr__(self, "params", tuple(self.params))
        upper = self.command.upper()
        if upper != self.command:
            object.__setattr__(self, "command", upper)

    @classmethod
    def parse(cls, line: str) -> Message:
        """Parse one line (a trailing CRLF/LF is tolerated). Enforces no length.

        Tolerates runs of spaces between components, as modern IRC software does.
        Raises only :class:`EmptyMessage` or :class:`InvalidMessage`.
        """
        if line.endswith("\n"):
            line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
        if _has_ctl(line):
            raise InvalidMessage("NUL, CR or LF inside a message")
        rest = line.lstrip(" ")
        if not rest:
            raise EmptyMessage("empty message")

        tags: Tags = EMPTY_TAGS
        if rest[0] == "@":
            section, sep, rest = rest.partition(" ")
            if not sep:
                raise InvalidMessage("tags without a command")
            tags = _parse_tags(section[1:])
            rest = rest.lstrip(" ")

        source: str | None = None
        if rest[:1] == ":":
            src, sep, rest = rest.partition(" ")
            if not sep:
                raise InvalidMessage("source without a command")
            if len(src) == 1:
                raise InvalidMessage("empty source")
            source = src[1:]
            rest = rest.lstrip(" ")

        command, _, rest = rest.partition(" ")
        if not _valid_command(command):
            raise InvalidMessage(f"invalid command {command[:32]!r}")

        params: tuple[str, ...]
        if not rest:
            params = ()
        else:
            if rest[0] == ":":
                middle, trailing = "", rest[1:]
            else:
                cut = rest.find(" :")
                if cut < 0:
                    middle, trailing = rest, None
                else:
                    middle, trailing = rest[:cut], rest[cut + 2 :]
            mids = [p for p in middle.split(" ") if p]
            if trailing is not None:
                mids.append(trailing)
            params = tuple(mids)
        return cls(command, params, source, tags)  # __post_init__ upper-cases

    def serialize(self) -> str:
        """The wire form without CRLF (symmetric with :meth:`parse`).

        The last parameter gets a ``:`` only when needed. Raises ``ValueError``
        (a local bug, not a peer's) when the message cannot be written as one
        parseable line. Length is not checked: truncation is the caller's policy.
        """
        parts: list[str] = []
        if self.tags:
            items: list[str] = []
            for key, value in self.tags.items():
                if not key or _has_ctl(key) or " " in key or ";" in key or "=" in key:
                    raise ValueError(f"invalid tag key {key!r}")
                if not value:
                    items.append(key)
                elif "\0" in value:
                    raise ValueError(f"NUL in tag value for {key!r}")
                else:
                    items.append(f"{key}={escape_tag_value(value)}")
            parts.append("@" + ";".join(items))
        source = self.source
        if source is not None:
            if not source or " " in source or _has_ctl(source):
                raise ValueError(f"invalid source {source!r}")
            parts.append(":" + source)
        command = self.command
        if not _valid_command(command):
            raise ValueError(f"invalid command {command!r}")
        parts.append(command)
        params = self.params
        if params:
            last = len(params) - 1
            for param in params[:last]:
                if not param or param[0] == ":" or " " in param or _has_ctl(param):
                    raise ValueError(f"invalid middle parameter {param!r}")
                parts.append(param)
            trailing = params[last]
            if _has_ctl(trailing):
                raise ValueError(f"NUL, CR or LF in parameter {trailing!r}")
            if not trailing or trailing[0] == ":" or " " in trailing:
                trailing = ":" + trailing
            parts.append(trailing)
        return " ".join(parts)

    def to_bytes(self) -> bytes:
        """UTF-8 wire bytes with CRLF: format once, send to every recipient."""
        return (self.serialize() + "\r\n").encode("utf-8")


def parse_source(source: str) -> tuple[str, str | None, str | None]:
    """Split ``nick!user@host`` into ``(nick, user, host)``; absent parts are None.

    A server name (no ``!``/``@``) comes back as ``(name, None, None)``.
    """
    head, at, host = source.partition("@")
    nick, bang, user = head.partition("!")
    return nick, (user if bang else None), (host if at else None)


def parse_line(raw: bytes) -> Message:
    """Decode one line from the wire (invalid UTF-8 replaced) and parse it."""
    return Message.parse(raw.decode("utf-8", "replace"))


# --------------------------------------------------------------------------- reader


def check_length(line: bytes, *, max_body: int, max_tags: int) -> TooLongPart | None:
    """Which budget a complete line (CR/LF already removed) overflows, if any.

    Per message-tags, the tag section (``@`` through its trailing space) may use
    ``max_tags`` bytes and the rest ``max_body`` bytes *counting CRLF*, so a
    512-byte body budget leaves 510 bytes of content.
    """
    body = len(line)
    if line[:1] == b"@":
        space = line.find(b" ", 0, max_tags)
        if space < 0:
            # The section would need a space after it: len(line) + 1 bytes.
            return "tags" if body >= max_tags else None
        body -= space + 1
    return "body" if body + 2 > max_body else None


class IrcLineReader:
    """Splits an inbound byte stream into lines with bounded memory.

    Accepts CRLF or bare LF. An unfinished line is never buffered beyond what a
    legal line could need (``max_buffer``): once it overflows, ONE
    :class:`InputTooLong` marker is queued in its place and its remaining bytes
    are skipped up to the next LF, so a peer can't make us hold megabytes and
    the caller can answer 417 once per offending line. Blank lines are dropped.
    Queued results accumulate until :meth:`lines` or :meth:`messages` drains them
    (or in the list given as ``out``, which its owner empties).
    The limits are arguments so the server can pass its configured ones; values
    too small to hold any line are rejected with ``ValueError``.
    """

    __slots__ = ("_max_body", "_max_tags", "_cap_body", "_cap_tags", "_buf", "_out", "_skip")

    def __init__(
        self,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        max_tags: int = DEFAULT_MAX_TAGS,
        out: list[bytes | InputTooLong] | None = None,
    ) -> None:
        if max_body < 3 or max_tags < 2:
            raise ValueError("max_body must be >= 3 and max_tags >= 2")
        self._max_body: Final = max_body
        self._max_tags: Final = max_tags
        # Longest legal line before its LF: content plus the CR (CRLF counts in body).
        self._cap_body: Final = max_body - 1
        self._cap_tags: Final = max_tags + max_body - 1
        self._buf = bytearray()
        # The queue of results: its own, or the caller's (``out``: a server's
        # adapter takes each line from it when its turn comes, no copy per read).
        self._out: list[bytes | InputTooLong] = [] if out is None else out
        self._skip = False  # discarding the tail of an over-long line

    @property
    def buffered(self) -> int:
        """Bytes of the current unfinished line held in memory."""
        return len(self._buf)

    @property
    def max_buffer(self) -> int:
        """Upper bound on :attr:`buffered`, whatever the peer sends."""
        return self._cap_tags

    def feed(self, data: bytes) -> None:
        """Consume bytes from the socket; results are queued, never raised.

        The read's complete lines come from one ``split`` (in C); only an
        unfinished line's bytes are kept, each cap checked before copying."""
        if self._skip:  # discarding the tail of an over-long line, up to its LF
            nl = data.find(b"\n")
            if nl < 0:
                return
            self._skip = False
            data = data[nl + 1 :]
        buf = self._buf
        if buf:
            nl = data.find(b"\n")
            end = len(data) if nl < 0 else nl
            if len(buf) + end > (self._cap_tags if buf[0] == _AT else self._cap_body):
                # Checked before copying, so the buffer never exceeds its cap.
                self._out.append(InputTooLong(self._overflowed(data, 0, end)))
                buf.clear()
                if nl < 0:
                    self._skip = True
                    return
                data = data[nl + 1 :]
            elif nl < 0:
                buf += data
                return
            else:
                data = bytes(buf) + data  # (its first line is within its cap: checked again below, passes)
                buf.clear()
        lines = data.split(b"\n")
        rest = lines.pop()  # after the last LF: an unfinished line, or b""
        out = self._out
        max_body = self._max_body
        for raw in lines:
            # (an index, not raw[-1:] (~300 instructions more) nor endswith (a format string parses its arguments))
            line = raw[:-1] if raw and raw[-1] == _CR else raw
            if line and line[0] != _AT and len(line) + 2 <= max_body:
                out.append(line)  # (what _complete makes of it, without the call: within both caps)
            elif line:
                self._complete(raw)
        if rest:
            if len(rest) > (self._cap_tags if rest[0] == _AT else self._cap_body):
                out.append(InputTooLong(self._overflowed(rest, 0, len(rest))))
                self._skip = True
            else:
                buf += rest

    def _complete(self, raw: bytes) -> None:
        """One complete line (its CR, if any, still on; the buffer empty): queued,
        or its InputTooLong. The rule for every line; ``feed`` takes the plain
        ones (no tags, within the body's budget) without asking it."""
        if len(raw) > (self._cap_tags if raw[0] == _AT else self._cap_body):
            self._out.append(InputTooLong(self._overflowed(raw, 0, len(raw))))
            return
        line = raw[:-1] if raw[-1] == _CR else raw
        which = check_length(line, max_body=self._max_body, max_tags=self._max_tags)
        self._out.append(line if which is None else InputTooLong(which))

    def _overflowed(self, data: bytes, pos: int, end: int) -> TooLongPart:
        """Name the budget an over-cap line broke, scanning at most max_tags bytes."""
        buf = self._buf
        if (buf[0] if buf else data[pos]) != _AT:
            return "body"
        limit = self._max_tags  # the tag section's space must sit before this index
        if buf.find(b" ", 0, limit) >= 0:
            return "body"
        room = limit - len(buf)
        if room > 0 and data.find(b" ", pos, min(end, pos + room)) >= 0:
            return "body"
        return "tags"

    def lines(self) -> list[bytes | InputTooLong]:
        """Drain complete raw lines (without CR/LF) and over-long markers, in order."""
        out = self._out[:]
        self._out.clear()
        return out

    def messages(self) -> list[Message | InvalidMessage | InputTooLong]:
        """Drain and parse: a Message, or the error to answer, per line in order.

        Errors are returned, not raised, so one bad line cannot hide the good
        ones queued behind it. Whitespace-only lines (EmptyMessage) are dropped.
        """
        out: list[Message | InvalidMessage | InputTooLong] = []
        for item in self.lines():
            if isinstance(item, InputTooLong):
                out.append(item)
                continue
            try:
                out.append(parse_line(item))
            except EmptyMessage:
                continue
            except InvalidMessage as exc:
                out.append(exc)
        return out
