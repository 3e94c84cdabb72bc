"""IRC over WebSocket (the IRCv3 WebSocket binding): one IRC line per message.

:class:`WsConnection` is a :class:`~chinwag.transport.connection.Connection`
whose bytes travel in WebSocket messages instead of a TCP stream; everything
else (flood control, query gating, the output guard, the once-per-tick flush, shutdown) is
the shared Connection code. Only three things differ:

* input: each message is one IRC line "without trailing \\r or \\n"; it is
  handed to the IRC adapter with a line ending, as if it came from a socket;
* output: the adapter's CRLF-terminated lines become one frame each, built here
  (RFC 6455 5.2, server frames are unmasked) and written to the TCP transport
  together, once per tick, as a TCP connection writes its lines;
* flow control: reading pauses by not taking messages from aiohttp's queue.

No per-message compression is negotiated: for broadcast traffic it costs about
half as much CPU again and twice the memory.
"""

from __future__ import annotations

import asyncio
import struct
from typing import TYPE_CHECKING, Any, Final, cast

from aiohttp import WSMsgType, web

from chinwag.core.accounts import SetAccount
from chinwag.protocols.base import Adapter
from chinwag.transport.admission import Admission, Holder
from chinwag.transport.connection import Connection

if TYPE_CHECKING:
    from chinwag.transport.host import Host

TEXT_PROTOCOL: Final = "text.ircv3.net"
BINARY_PROTOCOL: Final = "binary.ircv3.net"
#: Offered subprotocols; aiohttp picks the first of the client's list that is here,
#: which respects the client's order of preference as the binding requires.
PROTOCOLS: Final = (TEXT_PROTOCOL, BINARY_PROTOCOL)
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
_DATA: Final = (WSMsgType.TEXT, WSMsgType.BINARY)
#: What a message costs of ``limits.input_per_tick`` at least: handling a line
#: (parse, run, a reply framed) costs about as much whatever its length, and
#: a TCP read of tiny lines is cut by flood control sooner than messages are.
LINE_COST: Final = 64


def frames(data: bytes, opcode: int = OP_TEXT) -> bytes:
    """CRLF-terminated IRC lines -> one final, unmasked frame per line, no CRLF.

    The IRC adapter encodes every line from ``str`` as UTF-8, so text frames
    never carry invalid UTF-8 (which a browser would answer by disconnecting).
    """
    first = 0x80 | opcode
    out: list[bytes] = []
    for line in data.split(b"\r\n"):
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
    return b"".join(out)


def max_message(server: Host) -> int:
    """Largest message accepted: room for tags and body (the binding counts them
    without CRLF), doubled so that a slightly long line gets the IRC adapter's
    417 ERR_INPUTTOOLONG, as on TCP, rather than a closed socket (1009)."""
    limits = server.config.limits
    return 2 * (limits.irc_tags + limits.irc_line)


_LAST_FRAMED: list[Any] = [b"", OP_TEXT, b""]  # (rendered bytes, opcode, their frames)


class WsConnection(Connection):
    """One WebSocket client, served by an aiohttp handler (see transport/web.py)."""

    __slots__ = ("ws", "opcode", "_readable", "_closer", "gate", "forwarded")

    def __init__(
        self,
        server: Host,
        adapter: Adapter,
        ws: web.WebSocketResponse,
        gate: Holder | None = None,
        forwarded: str | None = None,
    ) -> None:
        super().__init__(server, adapter, "ws")
        self.ws = ws
        self.gate = gate  # the HTTP connection's admission slot, taken over
        self.forwarded = forwarded  # the client's address, from a trusted proxy's headers
        self.opcode = OP_BINARY if ws.ws_protocol == BINARY_PROTOCOL else OP_TEXT
        self._readable = asyncio.Event()
        self._readable.set()
        self._closer: asyncio.Task[None] | None = None

    async def run(self, transport: asyncio.Transport, account: str | None = None) -> None:
        """Attach to the server, feed messages until the WebSocket ends, detach.
        ``account``: the browser's session cookie logged it in (transport/websession.py)."""
        ws = self.ws
        step = self.server.config.limits.input_per_tick
        taken = 0  # bytes handled since the loop last ran others
        if hasattr(transport, "max_size"):
            # asyncio reads up to 256 KiB at once, and aiohttp parses every frame
            # of a read in one callback (5,000 PINGs: 80 KiB): read less at a
            # time. (uvloop reads 256 KiB whatever: see docs/reliability.md.)
            cast(Any, transport).max_size = step
        try:
            self.connection_made(transport)  # inside: whatever happens, detach follows
            if account is not None and not self.closed:
                self.log.info("logged in to account %s by its browser session", account)
                self.server.dispatch(self, SetAccount(account))
            while not self.closed:
                if not self._readable.is_set():
                    await self._readable.wait()
                    continue  # closed while paused?
                msg = await ws.receive()
                if msg.type not in _DATA:
                    break  # CLOSE, CLOSING (we close), CLOSED, ERROR (too big, bad UTF-8)
                data: bytes = msg.data.encode() if isinstance(msg.data, str) else msg.data
                line = data.rstrip(b"\r\n")  # tolerated from legacy clients
                if b"\n" in line or b"\r" in line:
                    # One message is one line; splitting it would let a page smuggle
                    # commands past whatever checked the message it meant to send.
                    self.log.warning("%s: several lines in one WebSocket message", self.peer)
                    self.close("one IRC line per WebSocket message", abort=True)
                    break
                self.data_received(line + b"\n")
                # receive() does not yield while aiohttp holds parsed messages
                # (5,000 of them from one read): let the others run.
                taken += max(len(line) + 2, LINE_COST)
                if taken >= step:
                    taken = 0
                    await asyncio.sleep(0)
        finally:
            if self._closer is not None:
                await asyncio.shield(self._closer)
            exc = ws.exception()
            self.connection_lost(exc if isinstance(exc, Exception) else None)

    def _address(self, transport: asyncio.Transport) -> tuple[str, str]:
        peer, ip = super()._address(transport)
        if self.forwarded is None:
            return peer, ip
        return f"{self.forwarded} (via {peer})", self.forwarded

    def admit(self, admission: Admission) -> str:
        if self.gate is None:
            return super().admit(admission)
        return admission.take_over(self.gate, self, self.ip)

    def _reading(self, on: bool) -> None:
        if on:
            self._readable.set()
        else:
            self._readable.clear()

    def enqueue(self, data: bytes) -> None:
        """Frame here, once per event: fan-out hands every recipient the same
        bytes object, so the last framing is reused by identity."""
        memo = _LAST_FRAMED
        if data is memo[0] and self.opcode == memo[1]:
            framed = memo[2]
        else:
            framed = frames(data, self.opcode)
            memo[:] = (data, self.opcode, framed)  # holds `data`: its id cannot be reused
        super().enqueue(framed)

    watch_writes = True  # (aiohttp's transport: no pause_writing reaches us)

    def can_write(self) -> bool:
        return not self.closed and not self.ws.closed

    def written(self, transport: asyncio.Transport) -> None:
        """aiohttp owns the protocol, so no pause_writing() reaches us: look here."""
        if transport.get_write_buffer_size() > self.lowat:
            self.server.output.watch(self)

    def close(self, reason: str, *, abort: bool = False) -> None:
        """As for TCP; a graceful close ends with the WebSocket closing handshake."""
        if self.closed or self.transport is None:
            return
        self._readable.set()  # a paused reader loop wakes up and sees `closed`
        if abort or self.ws.closed:
            super().close(reason, abort=True)
            return
        self.close_reason = reason
        self.flush(force=True)
        self.closed = True
        self._closer = asyncio.get_running_loop().create_task(self._close_handshake())

    async def _close_handshake(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), self.server.config.limits.close_linger)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.abort()
