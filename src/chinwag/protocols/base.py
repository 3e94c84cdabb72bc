"""What every protocol adapter offers the transport, and the shared line reader."""

from __future__ import annotations

from typing import Final, Protocol

from chinwag.core.events import Command, Event, Message, Query

RenderCache = dict[object, bytes]


class Adapter(Protocol):
    """The transport's view of a protocol (see transport/connection.py).

    ``receive_data`` buffers bytes; ``next_command`` releases one command (for
    the hub) or query (for the history store, answered asynchronously) at a
    time so that an answer (say, a rejected name) is rendered before the next
    line is read; ``render`` turns a hub event into bytes for this connection,
    sharing ``cache`` with the other recipients of the same event.
    """

    closing: bool
    nick: str | None  # registered as (fan-out: a sender's own messages are rendered for it alone)
    # True: a message this connection sent to a room renders to nothing for it
    # (render returns b""), so fan-out does not ask (IRC without echo-message; text).
    silent_own: bool
    # What the adapter wrote itself (replies, PONG, a goodbye), which data_to_send
    # joins and empties: the transport asks data_to_send only when it is not empty.
    unsent: list[bytes]

    @property
    def backlog(self) -> int:
        """Input lines received but not yet handled (flood control reads it)."""
        ...

    def abort(self, reason: str) -> None:
        """Say goodbye in this protocol's words and make the next command a Quit."""
        ...

    def receive_data(self, data: bytes) -> int:
        """Buffer ``data``; answer ``backlog`` as it is then (one call a read, not two)."""
        ...

    def next_command(self) -> Command | Query | None: ...
    def data_to_send(self) -> bytes: ...
    def render(self, event: Event, cache: RenderCache) -> bytes: ...

    def variant(self, message: Message, senders: frozenset[str]) -> object | None:
        """The key of the bytes this connection gets for ``message`` and for
        every message to the same target in the same fan-out batch (sent by
        ``senders``): connections with equal keys get the very same bytes
        (transport/fanout.py). None: render for this connection alone (it sent
        one of them, or a label captures its output). A sender is then asked
        again with no senders: a key there means every message of the batch
        not sent by ``nick`` has that variant's bytes for it (fan-out cuts them
        from the shared buffer and renders only its own); None, rendered alone."""
        ...


def decode_line(raw: bytes) -> str:
    """UTF-8; a line that is not valid UTF-8 is read as Windows-1252 (old telnet
    clients, Latin-1 terminals), so 'café' does not arrive as 'caf\ufffd'. Per
    line: one client may send both. The five bytes Windows-1252 leaves undefined
    are dropped (in Latin-1 they are C1 controls, which the sanitizer strips anyway)."""
    try:
        return raw.decode()  # (UTF-8; no arguments to parse: ~300 instructions fewer)
    except UnicodeDecodeError:
        return raw.decode("cp1252", "ignore")


class LineTooLong:
    """Marker yielded in place of a line that exceeded the limit."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LINE_TOO_LONG"


LINE_TOO_LONG: Final = LineTooLong()


class LineReader:
    """Splits a byte stream on LF (CR before it dropped), never holding more than
    ``max_line`` bytes of an unfinished line: past that, the line is reported once
    as LINE_TOO_LONG and its remaining bytes are skipped up to the next LF.
    """

    __slots__ = ("max_line", "_buf", "_discarding", "discarded")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buf = b""
        self._discarding = False
        self.discarded = 0  # bytes skipped of the current over-long line

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | LineTooLong]:
        """The read's complete lines (and LINE_TOO_LONG markers), in order.

        In C but for long lines: the CR before each LF goes in one replace (one
        CR: ``x\\r\\r\\n`` is the line ``x\\r``), the lines come from one split,
        and a read no longer than ``max_line`` is not looked at line by line
        (none of its lines can be too long). tests/protocols/test_base.py holds
        it to the obvious implementation, whatever the reads."""
        if self._discarding:
            nl = data.find(b"\n")
            if nl < 0:
                self.discarded += len(data)
                return []
            self._discarding = False
            self.discarded = 0
            data = data[nl + 1 :]
        if self._buf:
            data = self._buf + data
        if 13 in data:  # a CR (an int: memchr; a bytes argument first tries to be an int, ~2,200 instructions)
            data = data.replace(b"\r\n", b"\n")
        lines = data.split(b"\n")
        rest = lines.pop()
        limit = self.max_line
        if len(data) <= limit:  # every line, and the rest, within the limit
            self._buf = rest
            return lines  # type: ignore[return-value]  # (list[bytes]: no marker in it)
        out: list[bytes | LineTooLong] = [line if len(line) <= limit else LINE_TOO_LONG for line in lines]
        if len(rest) > limit + 1:  # +1: a CR may be waiting for its LF
            out.append(LINE_TOO_LONG)
            self._discarding = True
            self.discarded = len(rest)
            rest = b""
        self._buf = rest
        return out
