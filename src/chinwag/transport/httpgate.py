"""One HTTP connection of the web port, from the moment it is accepted.

aiohttp reads requests for as long as a client cares to send them (it has no
deadline for a request's headers), and the web port's connections were not
counted anywhere until a WebSocket session attached. :class:`HttpGate` stands
in front of aiohttp's own protocol object for each connection (it is the
protocol the transport talks to, and passes everything on):

* it is counted by the server's :class:`~chinwag.transport.admission.Admission`
  as soon as the connection is accepted: over the total cap it answers
  ``503`` itself and aiohttp never sees the connection; evicted to make room
  for a newer connection from the same address, it answers ``503`` too (or
  just closes, if a request was already answered on it);
* the first request's headers must be complete within ``http_header_timeout``
  seconds, or the client gets ``408`` and the connection is closed; after
  that aiohttp's keep-alive timeout (``http_keepalive``) bounds an idle
  connection and a half-sent next request alike;
* an upgrade to IRC over WebSocket hands the counted slot to the
  :class:`~chinwag.transport.websocket.WsConnection` (``Admission.take_over``),
  and the connection's bytes too (``upgrade``): from then on they go to its
  ``feed``, not to aiohttp, in the read's own callback (and ``pause_writing``
  reaches it, as on a TCP connection).

A client behind a trusted proxy is only known from its request's headers, so
a connection from a trusted proxy counts in the total only until then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, cast

if TYPE_CHECKING:
    from chinwag.transport.server import Server
    from chinwag.transport.websocket import WsConnection

log = logging.getLogger("chinwag.web")

_REASONS: Final = {408: "Request Timeout", 503: "Service Unavailable"}


def response(status: int, text: str) -> bytes:
    """A whole, minimal HTTP/1.1 response that ends the connection."""
    body = (text + "\n").encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class HttpGate(asyncio.Protocol):
    __slots__ = ("server", "make", "live", "inner", "transport", "ip", "peer", "timer", "answered", "done", "proxied",
                 "ws")

    def __init__(self, server: Server, make: Callable[[], asyncio.Protocol], live: set[HttpGate],
                 proxied: bool) -> None:
        self.server = server
        self.make = make  # aiohttp's protocol factory (web.Server)
        self.live = live  # every open gate, for shutdown
        self.proxied = proxied  # the peer may be a trusted proxy: count it by its requests
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.ip = ""
        self.peer = "?"
        self.timer: asyncio.TimerHandle | None = None
        self.answered = False  # a request's headers arrived (aiohttp handled one)
        self.done = False  # we said our last word; input is discarded
        self.ws: WsConnection | None = None  # upgraded: the bytes are its, not aiohttp's

    # --- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # (uvloop's is not a subclass)
        self.live.add(self)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.ip, self.peer = str(peer[0]), f"{peer[0]}:{peer[1]}"
        server = self.server
        trusted = self.proxied and server.is_trusted_proxy(self.ip)
        refusal = "server is shutting down" if server.stopping else server.admission.admit(
            self, None if trusted else self.ip)
        if refusal:
            log.warning("refusing %s (web): %s", self.peer, refusal)
            self._answer(503, refusal)
            return
        self.inner = inner = self.make()
        inner.connection_made(transport)
        limit = server.config.limits.http_header_timeout
        self.timer = asyncio.get_running_loop().call_later(limit, self._too_slow, limit)

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        if ws is not None:
            ws.feed(data)
        elif self.inner is not None and not self.done:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.ws is not None:
            return self.ws.eof_received()
        if self.inner is not None and not self.done:
            return self.inner.eof_received()
        return None  # the transport closes

    def pause_writing(self) -> None:
        if self.ws is not None:
            self.ws.pause_writing()
        elif self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.ws is not None:
            self.ws.resume_writing()
        elif self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.live.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.server.admission.release(self)  # (nothing, if a WebSocket took the slot over)
        if self.inner is not None:
            self.inner.connection_lost(exc)
        if self.ws is not None:
            self.ws.connection_lost(exc)

    # --- used by the web listener and admission ------------------------------

    def upgrade(self, ws: WsConnection) -> None:
        """Before the 101 goes out: the bytes that follow are the WebSocket's
        (its frames parsed by chinwag, not by aiohttp: transport/websocket.py)."""
        self.ws = ws

    def headers_complete(self) -> None:
        """A request reached the application: the header deadline is met."""
        self.answered = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def evict(self, reason: str) -> None:
        """Make way for a newer connection from the same address."""
        log.warning("closing %s (web): %s", self.peer, reason)
        if self.answered:  # an idle keep-alive connection: clients expect it to close
            if self.transport is not None:
                self.transport.close()
            return
        self._answer(503, reason)

    # --- inside ----------------------------------------------------------------

    def _too_slow(self, limit: int) -> None:
        self.timer = None
        log.info("closing %s (web): no complete request within %d seconds", self.peer, limit)
        self._answer(408, f"no complete request within {limit} seconds")

    def _answer(self, status: int, text: str) -> None:
        """Our last word, then a lingering close (the unread request must not
        turn the close into a reset that destroys the answer)."""
        transport = self.transport
        if self.done or transport is None or transport.is_closing():
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        transport.write(response(status, text))
        if not transport.can_write_eof():
            transport.close()
            return
        try:
            transport.write_eof()
        except OSError:
            transport.close()
            return
        asyncio.get_running_loop().call_later(self.server.config.limits.close_linger, transport.abort)
