"""The HTTP listener: the web client's files at ``/``, ``/healthz``, ``/readyz``,
``/metrics`` (transport/health.py), and IRC over
WebSocket at ``/irc``, with aiohttp on the server's own event loop.

A browser sends cookies and credentials with a WebSocket handshake from any
page, so ``/irc`` checks the Origin header: pages of this server itself (the
Origin's host and port are the Host header's) and those in ``web_origins``
("*": any) may connect. Clients that are not browsers send no Origin and are
let in, as on the IRC port.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from aiohttp import web

from chinwag.protocols.base import Adapter
from chinwag.transport import health
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


class WebListener:
    """aiohttp application and runner; ``start`` returns the bound address."""

    def __init__(self, server: Server, make: Callable[[], Adapter]) -> None:
        self.server = server
        self.make = make
        self.runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/irc", self._irc)
        health.add_routes(app, server)  # /readyz, /metrics
        app.router.add_get("/", self._index)
        app.router.add_get("/favicon.ico", self._favicon)
        app.router.add_static("/", STATIC, follow_symlinks=False)
        app.on_response_prepare.append(self._headers)
        self.app = app

    async def start(self, host: str, port: int) -> tuple[str, int]:
        limits = self.server.config.limits
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                    shutdown_timeout=self.server.config.shutdown_grace)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port, reuse_address=True, backlog=limits.listen_backlog)
        await site.start()
        bound = self.runner.addresses[0]
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    # --- handlers -------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        return await health.healthz(self.server, request)

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _favicon(self, request: web.Request) -> web.FileResponse:
        # Browsers ask for /favicon.ico whatever the page links; the icon is an SVG.
        return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml"})

    async def _irc(self, request: web.Request) -> web.StreamResponse:
        cfg = self.server.config
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, request.host, cfg.web_origins):
            log.warning("refusing WebSocket from %s: origin %s not allowed", request.remote, origin)
            raise web.HTTPForbidden(text="origin not allowed")
        ws = web.WebSocketResponse(protocols=PROTOCOLS, compress=False, max_msg_size=max_message(self.server),
                                   timeout=cfg.limits.close_linger, autoping=True)
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="this is IRC over WebSocket: connect with a WebSocket client")
        await ws.prepare(request)
        transport = request.transport
        if transport is None:  # the client is already gone
            return ws
        conn = WsConnection(self.server, self.make(), ws)
        await conn.run(transport)
        return ws

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        if response.status != 101:
            response.headers.update(_HEADERS)
