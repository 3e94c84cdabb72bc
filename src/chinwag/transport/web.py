"""The HTTP listener: the web client's files at ``/``, ``/healthz``, ``/readyz``,
``/metrics`` (transport/health.py), the browser's login at ``/session``
(transport/websession.py), and IRC over
WebSocket at ``/irc``, with aiohttp on the server's own event loop.

A browser sends cookies and credentials with a WebSocket handshake from any
page, so ``/irc`` checks the Origin header: pages of this server itself (the
Origin's host and port are the Host header's) and those in ``web_origins``
("*": any) may connect. Clients that are not browsers send no Origin and are
let in, as on the IRC port.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from aiohttp import web

from chinwag.protocols.base import Adapter
from chinwag.transport import health, websession
from chinwag.transport.forwarded import client_address
from chinwag.transport.httpgate import HttpGate
from chinwag.transport.tls import TlsLayer
from chinwag.transport.websocket import PROTOCOLS, WsConnection, max_message

if TYPE_CHECKING:
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag.web")

STATIC: Final = Path(__file__).resolve().parent.parent / "web"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
#: The client needs nothing from elsewhere; a stray <script> or inline handler
#: that got into the page would not run.
_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _host_port(netloc: str, scheme: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme, 80)


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether a page of ``origin`` may open the WebSocket (see the module docstring)."""
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if "*" in allowed or origin in allowed:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or host is None:
        return False  # "null" (a sandboxed page or a file), or no Host to compare with
    mine = _host_port(host, parts.scheme)
    return mine is not None and _host_port(parts.netloc, parts.scheme) == mine


class _TlsSite(web.BaseSite):
    """An aiohttp site whose connections go through chinwag's TlsLayer (its
    memory per connection is a few KiB, not the 256 KiB of asyncio's own)."""

    __slots__ = ("_host", "_port", "_context", "_timeout", "_gate", "_reuse_port", "address")

    def __init__(self, runner: web.AppRunner, host: str, port: int, context: Callable[[], ssl.SSLContext],
                 handshake_timeout: float, backlog: int, gate: Callable[[], asyncio.Protocol],
                 reuse_port: bool | None = None) -> None:
        super().__init__(runner, backlog=backlog)
        self._host, self._port, self._context, self._timeout = host, port, context, handshake_timeout
        self._gate = gate
        self._reuse_port = reuse_port
        self.address = (host, port)

    @property
    def name(self) -> str:
        return f"https://{self._host}:{self.address[1]}"

    async def start(self) -> None:
        await super().start()
        # Inside the TLS layer, the same HttpGate as on the plain port: counted
        # per address and in total, with the header deadline, before aiohttp.
        context, timeout, gate = self._context, self._timeout, self._gate
        self._server = server = await asyncio.get_running_loop().create_server(
            lambda: TlsLayer(context(), gate(), timeout), self._host, self._port,
            backlog=self._backlog, reuse_address=True, reuse_port=self._reuse_port,
        )
        bound = server.sockets[0].getsockname()
        self.address = (str(bound[0]), int(bound[1]))

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()  # (the listening socket; open connections stay)


class WebListener:
    """aiohttp application and runner; ``start`` returns the bound address."""

    def __init__(self, server: Server, make: Callable[[], Adapter]) -> None:
        self.server = server
        self.make = make
        self.runner: web.AppRunner | None = None
        self.listener: asyncio.Server | None = None
        self.gates: set[HttpGate] = set()  # every open HTTP connection
        self.tls_site: _TlsSite | None = None
        app = web.Application(middlewares=[self._deadline_met])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/irc", self._irc)
        health.add_routes(app, server)  # /readyz, /metrics
        websession.Sessions(server, self._origin_ok).add_routes(app)  # /session
        app.router.add_get("/", self._index)
        app.router.add_get("/favicon.ico", self._favicon)
        app.router.add_static("/", STATIC, follow_symlinks=False)
        app.on_response_prepare.append(self._headers)
        self.app = app

    async def start(self, host: str, port: int) -> tuple[str, int]:
        limits = self.server.config.limits
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                    shutdown_timeout=self.server.config.shutdown_grace,
                                    keepalive_timeout=limits.http_keepalive)
        await self.runner.setup()
        aio = self.runner.server
        assert aio is not None
        proxied = bool(self.server.trusted_proxies)
        # Our own listener rather than web.TCPSite: each connection's protocol
        # is an HttpGate in front of aiohttp's (counted, with a header deadline).
        self.listener = await asyncio.get_running_loop().create_server(
            lambda: HttpGate(self.server, aio, self.gates, proxied), host, port,
            reuse_address=True, reuse_port=self.server.config.reuse_port or None, backlog=limits.listen_backlog)
        bound = self.listener.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def start_tls(
        self, host: str, port: int, context: Callable[[], ssl.SSLContext], handshake_timeout: float
    ) -> tuple[str, int]:
        """The same app over TLS (https, wss), on a second site; call after start()."""
        assert self.runner is not None
        aio = self.runner.server
        assert aio is not None
        proxied = bool(self.server.trusted_proxies)
        site = _TlsSite(self.runner, host, port, context, handshake_timeout, self.server.config.limits.listen_backlog,
                        lambda: HttpGate(self.server, aio, self.gates, proxied), self.server.config.reuse_port or None)
        await site.start()
        self.tls_site = site
        return site.address

    def stop_accepting(self) -> None:
        """No new connections, those open stay (a node sharing its ports with
        others, reuse_port, leaves new ones to them while it drains)."""
        if self.listener is not None:
            self.listener.close()
        if self.tls_site is not None:
            self.tls_site.stop_accepting()

    async def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()  # (its connections: aiohttp's shutdown below, or a gate's linger)
            self.listener = None
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        for gate in list(self.gates):  # answered (408/503) and lingering: done now
            if gate.transport is not None:
                gate.transport.abort()

    # --- handlers -------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        trouble = self.server.store_trouble
        if trouble is not None and not self.server.stopping:
            return web.Response(status=503, text=f"history store unavailable: {trouble}\n"
                                                 "messages are not being sent")
        return await health.healthz(self.server, request)

    @web.middleware
    async def _deadline_met(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        gate = _gate(request)
        if gate is not None:
            gate.headers_complete()
        return await handler(request)

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _favicon(self, request: web.Request) -> web.FileResponse:
        # Browsers ask for /favicon.ico whatever the page links; the icon is an SVG.
        return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml"})

    def _origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin_allowed(origin, request.host, self.server.config.web_origins):
            return True
        log.warning("refusing %s %s from %s: origin %s not allowed", request.method, request.path, request.remote,
                    origin)
        return False

    async def _irc(self, request: web.Request) -> web.StreamResponse:
        cfg = self.server.config
        if not self._origin_ok(request):
            raise web.HTTPForbidden(text="origin not allowed")
        # aiohttp answers the handshake; the frames that follow are read by
        # chinwag (transport/websocket.py), so aiohttp's reader options do not apply.
        ws = web.WebSocketResponse(protocols=PROTOCOLS, compress=False, max_msg_size=max_message(self.server),
                                   timeout=cfg.limits.close_linger, autoping=True)
        ready = ws.can_prepare(request)
        if not ready.ok:
            raise web.HTTPBadRequest(text="this is IRC over WebSocket: connect with a WebSocket client")
        gate = _gate(request)
        if gate is None:  # (WebListener's connections all come through one)
            raise web.HTTPInternalServerError(text="no HTTP gate in front of this connection")
        account = await websession.account_of(self.server, request)  # the session cookie's
        peer = gate.ip
        client = client_address(peer, request.headers.getall("Forwarded", []),
                                request.headers.getall("X-Forwarded-For", []), self.server.trusted_proxies)
        conn = WsConnection(self.server, self.make(), gate, client if client != peer else None, ready.protocol)
        gate.upgrade(conn)  # what the client sends after the 101 is the connection's
        try:
            await ws.prepare(request)
        except BaseException:
            gate.ws = None
            raise
        transport = request.transport
        if transport is None:  # the client is already gone
            return ws
        await conn.run(transport, account)
        return ws

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        if response.status != 101:
            response.headers.update(_HEADERS)


def _gate(request: web.Request) -> HttpGate | None:
    transport = request.transport
    gate = transport.get_protocol() if transport is not None else None
    return gate if isinstance(gate, HttpGate) else None
