"""``/healthz`` (alive), ``/readyz`` (ready to serve) and ``/metrics``.

``/healthz`` answers when the event loop does: ``ok`` as plain text (as it
always has) or ``{"status":"ok"}`` to a client that accepts JSON; 503 while
shutting down. ``/readyz`` checks what serving needs: every listener up and
the store writable, by a real tiny write in the store's own writer (behind
whatever it is writing), given at most ``PROBE_TIMEOUT`` and cached for
``PROBE_TTL`` so that scrapers and load balancers cost one write a second or
two at most. 200 ``{"status":"ok"}`` or 503 ``{"status":"unready","problems":
["store: database or disk is full"]}``.

The same routes are served on ``metrics_address`` when it is set, so an
operator can keep ``/metrics`` off the public web port's firewall rules.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from aiohttp import web

from chinwag.transport.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag.health")

PROBE_TIMEOUT: Final = 1.0  # seconds the store has to commit the probe
PROBE_TTL: Final = 1.5  # seconds a store verdict is reused


class Readiness:
    """The checks behind ``/readyz``; ``clock`` is injectable for tests."""

    def __init__(self, server: Server, clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.clock = clock
        self._verdict: tuple[float, str | None] | None = None  # (when, problem or None)
        self._probe: asyncio.Future[str | None] | None = None  # one probe at a time, shared

    async def problems(self) -> list[str]:
        server, found = self.server, []
        if server.stopping:
            found.append("server: shutting down")
        for listener in server.listeners:
            if not listener.is_serving():
                host, port = listener.sockets[0].getsockname()[:2] if listener.sockets else ("?", 0)
                found.append(f"listener: {host}:{port} is not accepting connections")
        if server.web is None or server.web.runner is None:
            found.append("listener: web is not accepting connections")
        trouble = server.store_trouble  # the writer already gave messages up (a full disk)
        store = trouble if trouble is not None else await self.store()
        if store is not None:
            found.append(f"store: {store}")
        return found

    async def store(self) -> str | None:
        cached = self._verdict
        if cached is not None and self.clock() - cached[0] < PROBE_TTL:
            return cached[1]
        if self._probe is None or self._probe.done():  # (done: its awaiter was cancelled)
            self._probe = asyncio.ensure_future(self._check_store())
        probe = self._probe
        try:
            problem = await asyncio.shield(probe)
        finally:
            if probe.done() and self._probe is probe:
                self._probe = None
        return problem

    async def _check_store(self) -> str | None:
        try:
            await asyncio.wait_for(self.server.store.check_writable(), PROBE_TIMEOUT)
            problem = None
        except TimeoutError:
            problem = f"a write did not complete within {PROBE_TIMEOUT:g} s"
        except Exception as exc:
            problem = str(exc) or type(exc).__name__
        if problem is not None:
            log.warning("not ready: store: %s", problem)
        self._verdict = (self.clock(), problem)
        return problem


def _json(status: int, body: dict[str, object]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def add_routes(app: web.Application, server: Server) -> None:
    """``/readyz`` and ``/metrics`` (``/healthz`` stays with the web listener)."""

    async def readyz(request: web.Request) -> web.Response:
        problems = await server.readiness.problems()
        if problems:
            return _json(503, {"status": "unready", "problems": problems})
        return _json(200, {"status": "ok"})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=server.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


async def healthz(server: Server, request: web.Request) -> web.Response:
    """Alive: the loop answered. JSON for clients that ask for it, else ``ok``."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    if server.stopping:
        return _json(503, {"status": "stopping"}) if wants_json else web.Response(status=503, text="stopping")
    return _json(200, {"status": "ok"}) if wants_json else web.Response(text="ok")


class MetricsListener:
    """``/metrics``, ``/healthz`` and ``/readyz`` alone on ``metrics_address``."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.runner: web.AppRunner | None = None
        app = web.Application()
        add_routes(app, server)

        async def alive(request: web.Request) -> web.Response:
            return await healthz(server, request)

        app.router.add_get("/healthz", alive)
        self.app = app

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port, reuse_address=True)
        await site.start()
        bound = self.runner.addresses[0]
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
