"""IRC over WebSocket (the IRCv3 WebSocket binding): one IRC line per message.

:class:`WsConnection` is a :class:`~chinwag.transport.connection.Connection`
whose bytes travel in WebSocket messages instead of a TCP stream; everything
else (flood control, query gating, the output guard, the once-per-tick flush, shutdown) is
the shared Connection code. aiohttp answers the opening handshake (transport/web.py);
from then on the connection's bytes come here, not to aiohttp: the
:class:`~chinwag.transport.httpgate.HttpGate` in front of aiohttp's protocol
hands them to :meth:`WsConnection.feed`, in the read's own callback, and
:class:`~chinwag.protocols.wsframes.FrameReader` (Sans-I/O) parses them. So a
message costs no coroutine round and no aiohttp queue, as a line on the IRC
port costs none. What differs from TCP:

* input: each message is one IRC line "without trailing \\r or \\n"; the lines
  of a read are handed to the IRC adapter together, with line endings, as if
  they came from a socket, but each message counts as if read on its own (flood
  control sees no more waiting than it would one message at a time), and at most
  ``limits.input_per_tick`` of them per loop iteration, reading paused meanwhile;
* output: the adapter's CRLF-terminated lines become one frame each, built here
  (RFC 6455 5.2, server frames are unmasked) and written to the TCP transport
  together, once per tick, as a TCP connection writes its lines;
* control frames: a ping is answered with a pong (queued like output), a close
  frame with a close frame; a client's protocol error (unmasked frame, bad
  fragmentation, reserved bits or opcodes, a message over ``max_message``, text
  that is not UTF-8) fails the connection with the RFC's close code;
* closing: our close frame after the goodbye, then the client's close frame is
  awaited for ``close_linger`` seconds before the TCP connection is dropped.

No per-message compression is negotiated: for broadcast traffic it costs about
half as much CPU again and twice the memory.
"""

from __future__ import annotations

import asyncio
import struct
from itertools import chain
from typing import TYPE_CHECKING, Any, Final

from chinwag.core.accounts import SetAccount
from chinwag.protocols.base import Adapter
from chinwag.protocols.wsframes import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    FrameReader,
    WsError,
    close_code,
    close_frame,
    pong_frame,
)
from chinwag.transport.admission import Admission, Holder
from chinwag.transport.connection import Connection

if TYPE_CHECKING:
    from chinwag.transport.host import Host

TEXT_PROTOCOL: Final = "text.ircv3.net"
BINARY_PROTOCOL: Final = "binary.ircv3.net"
#: Offered subprotocols; aiohttp picks the first of the client's list that is here,
#: which respects the client's order of preference as the binding requires.
PROTOCOLS: Final = (TEXT_PROTOCOL, BINARY_PROTOCOL)
#: What a message costs of ``limits.input_per_tick`` at least: handling a line
#: (parse, run, a reply framed) costs about as much whatever its length, and
#: a TCP read of tiny lines is cut by flood control sooner than messages are.
LINE_COST: Final = 64
NORMAL: Final = 1000


#: A frame's 2-byte head by payload length (< 126), per opcode: looked up, not built.
_HEADS: Final = {op: [bytes((0x80 | op, n)) for n in range(126)] for op in (OP_TEXT, OP_BINARY)}


def frames(data: bytes, opcode: int = OP_TEXT) -> bytes:
    """CRLF-terminated IRC lines -> one final, unmasked frame per line, no CRLF.

    The IRC adapter encodes every line from ``str`` as UTF-8, so text frames
    never carry invalid UTF-8 (which a browser would answer by disconnecting).
    Lines of 1..125 bytes (nearly all) are framed by iterators in C, with no
    Python per line.
    """
    return frames_in_place(data, opcode)[0]


def frames_in_place(data: bytes, opcode: int = OP_TEXT) -> tuple[bytes, bool]:
    """``frames(data, opcode)``, and whether each frame is exactly as long as
    its line with its CRLF (every line 1..125 bytes, the last one terminated:
    a 2-byte head for a 2-byte CRLF). Then every line starts at the same offset
    in both, and a slice of ``data`` between two line starts is that slice of
    the frames (fan-out cuts a sender's bytes from the shared buffer's frames)."""
    lines = data.split(b"\r\n")
    ended = not lines[-1]
    if ended:
        lines.pop()
    lens = list(map(len, lines))
    if lens and max(lens) < 126 and min(lens):
        return b"".join(chain.from_iterable(zip(map(_HEADS[opcode].__getitem__, lens), lines, strict=True))), ended
    first = 0x80 | opcode
    out: list[bytes] = []
    for line in lines:
        n = len(line)
        if not n:
            continue
        if n < 126:
            out.append(bytes((first, n)))
        elif n < 1 << 16:
            out.append(struct.pack("!BBH", first, 126, n))
        else:
            out.append(struct.pack("!BBQ", first, 127, n))
        out.append(line)
    return b"".join(out), False


def max_message(server: Host) -> int:
    """Largest message accepted: room for tags and body (the binding counts them
    without CRLF), doubled so that a slightly long line gets the IRC adapter's
    417 ERR_INPUTTOOLONG, as on TCP, rather than a closed socket (1009)."""
    limits = server.config.limits
    return 2 * (limits.irc_tags + limits.irc_line)


#: (rendered bytes, opcode, their frames, whether in place: frames_in_place)
_LAST_FRAMED: list[Any] = [b"", OP_TEXT, b"", False]


class WsConnection(Connection):
    """One WebSocket client, served by an aiohttp handler (see transport/web.py)."""

    __slots__ = ("gate", "forwarded", "reader", "want_read", "slicing", "peer_closed",
                 "linger", "done")

    def __init__(
        self,
        server: Host,
        adapter: Adapter,
        gate: Holder | None = None,
        forwarded: str | None = None,
        protocol: str | None = None,
    ) -> None:
        super().__init__(server, adapter, "ws")
        self.gate = gate  # the HTTP connection's admission slot, taken over
        self.forwarded = forwarded  # the client's address, from a trusted proxy's headers
        self.opcode = OP_BINARY if protocol == BINARY_PROTOCOL else OP_TEXT
        self.reader = FrameReader(max_message(server))
        self.want_read = True  # what flow control asks (Connection._reading)
        self.slicing = False  # a slice of input is due next loop iteration (reading paused)
        self.peer_closed = False  # the client's close frame (or EOF) came
        self.linger: asyncio.TimerHandle | None = None  # after our close frame: the client's, or drop
        self.done: asyncio.Future[None] | None = None

    # --- from the HTTP connection (HttpGate) -------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes read from the client (before ``run``: kept for it)."""
        self.reader.feed(data)
        if self.transport is not None and not self.slicing:
            self._take()

    def eof_received(self) -> bool:
        """The client half-closed without a close frame: what it sent is handled, then we close."""
        self.peer_closed = True
        if self.transport is None:
            return True
        if self.closed:
            self.transport.close()
            return True
        if self.slicing or self.reader.pending():
            self.eof_later = True  # after the input before it (_take)
            return True
        return super().eof_received()

    def pause_writing(self) -> None:
        if self.transport is not None:
            super().pause_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.linger is not None:
            self.linger.cancel()
            self.linger = None
        if self.transport is not None:
            super().connection_lost(exc)
        done = self.done
        if done is not None and not done.done():
            done.set_result(None)

    # --- the aiohttp handler ----------------------------------------------------------

    async def run(self, transport: asyncio.Transport, account: str | None = None) -> None:
        """Attach to the server, serve until the connection is gone, detach.
        ``account``: the browser's session cookie logged it in (transport/websession.py)."""
        self.done = done = asyncio.get_running_loop().create_future()
        try:
            if transport.is_closing():
                return
            self.connection_made(transport)
            if account is not None and not self.closed:
                self.log.info("logged in to account %s by its browser session", account)
                self.server.dispatch(self, SetAccount(account))
            if self.reader.pending():
                self._take()
            if self.peer_closed and not self.closed:
                self.eof_received()
            await done
        finally:
            if not done.done():  # cancelled (aiohttp's shutdown): the transport is dropped
                transport.abort()
                self.connection_lost(None)

    # --- input ----------------------------------------------------------------------------

    def _take(self) -> None:
        """Handle the messages read, at most ``input_per_tick`` of them per loop
        iteration; the rest (and reading) wait for the next one."""
        resume = self.slicing  # reading was paused for this slice
        self.slicing = False
        reader = self.reader
        if self.closed:
            self._after_close()
            return
        budget = self.limits.input_per_tick
        room = self._room()
        lines: list[bytes] = []
        item: tuple[int, bytes] | None = None
        try:
            while self.want_read and (item := reader.next()) is not None:
                opcode, payload = item
                if opcode <= OP_BINARY:
                    line = payload
                    # LF, CR: ints (~450 instructions for both; a bytes argument ~2,200 each)
                    if 10 in line or 13 in line:
                        line = payload.rstrip(b"\r\n")  # tolerated from legacy clients
                        if 10 in line or 13 in line:
                            # One message is one line; splitting it would let a page smuggle
                            # commands past whatever checked the message it meant to send.
                            self._hand(lines)
                            self.log.warning("%s: several lines in one WebSocket message", self.peer)
                            self.close("one IRC line per WebSocket message", abort=True)
                            return
                    lines.append(line)
                    cost = len(line) + 2
                    budget -= cost if cost > LINE_COST else LINE_COST  # (not max(): ~1,200 instructions)
                    if len(lines) >= room:
                        self._hand(lines)
                        lines = []
                        if self.closed:
                            return
                        room = self._room()
                elif opcode == OP_PING:
                    self._hand(lines)
                    lines = []
                    self.enqueue_raw(pong_frame(payload))
                    budget -= LINE_COST
                elif opcode == OP_CLOSE:
                    self._hand(lines)
                    self._closed_by_peer(close_code(payload))
                    return
                else:  # OP_PONG: nothing asked for it
                    budget -= LINE_COST
                if budget <= 0 or self.closed:
                    break
        except WsError as exc:
            self._hand(lines)
            self._fail(exc)
            return
        self._hand(lines)
        if self.closed or self.transport is None:
            return
        if item is not None and self.want_read and reader.pending():  # (next() gave None: nothing is)
            # More than a slice came in one read: the rest next iteration, reading paused.
            self.slicing = True
            self.transport.pause_reading()
            asyncio.get_running_loop().call_soon(self._take)
        elif self.eof_later:
            self.eof_later = False
            self.eof_received()
        elif resume and self.want_read:
            self.transport.resume_reading()

    def _room(self) -> int:
        """Lines that may go to the adapter at once: as many as would be waiting
        at most had each come on its own (flood control counts waiting lines)."""
        room = self.limits.flood_backlog - self.adapter.backlog
        return room if room > 1 else 1

    def _hand(self, lines: list[bytes]) -> None:
        if lines and not self.closed:
            lines.append(b"")
            self._handle(b"\n".join(lines))

    def _reading(self, on: bool) -> None:
        self.want_read = on
        transport = self.transport
        if transport is None:
            return
        if not on:
            transport.pause_reading()
        elif not self.slicing:
            if self.reader.pending():
                self.slicing = True  # (reading resumes once what is read is handled)
                asyncio.get_running_loop().call_soon(self._take)
            else:
                transport.resume_reading()

    # --- output -----------------------------------------------------------------------------

    def enqueue(self, data: bytes) -> None:
        """``Connection.enqueue`` of the frames of ``data`` (its body, not a call
        to it: this runs for each event that is not a room's shared buffer)."""
        if self.closed or not data:
            return
        out = self.out
        if not out:
            self.server.mark_dirty([self])
        out.append(self.framed(data))

    def framed(self, data: bytes) -> bytes:
        """``data`` (CRLF-terminated lines) as this connection writes it: one
        frame per line (``frames``). An event is rendered once for everyone,
        so the last framing is reused by identity (``enqueue_shared`` frames a
        shared buffer once per opcode itself, by calling this once)."""
        memo = _LAST_FRAMED
        if data is not memo[0] or self.opcode != memo[1]:
            memo[:] = (data, self.opcode, *frames_in_place(data, self.opcode))  # holds `data`: its id cannot be reused
        framed: bytes = memo[2]
        return framed

    def framed_in_place(self, data: bytes) -> bytes | None:
        """``framed(data)`` if each of its frames is as long as its line (a
        slice of ``data`` between line starts is then that slice of the
        frames: ``frames_in_place``), else None."""
        framed = self.framed(data)
        return framed if _LAST_FRAMED[3] else None

    # --- closing --------------------------------------------------------------------------------

    def close(self, reason: str, *, abort: bool = False) -> None:
        """As for TCP; a graceful close ends with the WebSocket closing handshake:
        the goodbye, our close frame, then the client's (or ``close_linger`` seconds)."""
        if self.closed or self.transport is None:
            return
        if abort:
            super().close(reason, abort=True)
            return
        self.close_reason = reason
        self.flush(force=True)
        self.closed = True
        self._say_close(close_frame(NORMAL))

    def _say_close(self, frame: bytes) -> None:
        transport = self.transport
        assert transport is not None
        self.out.clear()
        transport.write(frame)
        if self.peer_closed:
            transport.close()  # the handshake is complete: the server closes TCP first (RFC 6455 7.1.1)
            return
        loop = self.server.loop
        if loop is not None:
            self.linger = loop.call_later(self.server.config.limits.close_linger, transport.abort)
        if self.reader.pending():
            self._after_close()

    def _closed_by_peer(self, code: int | None) -> None:
        """The client's close frame: ours in answer (its code echoed), and it is gone."""
        self.peer_closed = True
        if self.closed:  # our close frame went first: the handshake is complete
            assert self.transport is not None
            self.transport.close()
            return
        self.close_reason = "connection closed"
        self.flush(force=True)
        self.closed = True
        self._say_close(close_frame(code))

    def _fail(self, exc: WsError) -> None:
        """A protocol error: a close frame with its code, and the connection is dropped."""
        self.log.warning("%s: WebSocket protocol error: %s", self.peer, exc.reason)
        self.close_reason = f"WebSocket protocol error: {exc.reason}"
        self.closed = True
        self.peer_closed = True  # (nothing it sends is read any more)
        self._say_close(close_frame(exc.code))

    def _after_close(self) -> None:
        """After our close frame: data is dropped until the client's close frame."""
        reader = self.reader
        try:
            while (item := reader.next()) is not None:
                if item[0] == OP_CLOSE:
                    self._closed_by_peer(None)
                    return
        except WsError:
            if self.transport is not None:
                self.transport.abort()

    # --- the rest ----------------------------------------------------------------------------

    def _address(self, transport: asyncio.Transport) -> tuple[str, str]:
        peer, ip = super()._address(transport)
        if self.forwarded is None:
            return peer, ip
        return f"{self.forwarded} (via {peer})", self.forwarded

    def admit(self, admission: Admission) -> str:
        if self.gate is None:
            return super().admit(admission)
        return admission.take_over(self.gate, self, self.ip)
