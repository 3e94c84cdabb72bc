"""Listeners, the connection registry, once-per-tick flushing and shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from chinwag.config import Config
from chinwag.core.events import (
    Command,
    Event,
    Joined,
    Message,
    NickChanged,
    Outbound,
    Parted,
    Registered,
    ServerShutdown,
)
from chinwag.core.hub import Hub
from chinwag.protocols.base import Adapter, RenderCache
from chinwag.protocols.text import TextProtocol
from chinwag.transport.connection import Connection

log = logging.getLogger("chinwag.server")


class Server:
    def __init__(self, config: Config, hub: Hub | None = None) -> None:
        self.config = config
        self.hub = hub or Hub(config.limits)
        self.connections: dict[int, Connection] = {}
        self.listeners: list[asyncio.Server] = []
        self.addresses: dict[str, tuple[str, int]] = {}  # listener name -> bound address
        self._dirty: list[Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        self.stopping = False

    # --- start -----------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        cfg = self.config
        await self._listen(
            "text", cfg.text_port, lambda: TextProtocol(cfg.limits, cfg.default_room)
        )

    async def _listen(self, name: str, port: int, make: Callable[[], Adapter]) -> None:
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(
            lambda: Connection(self, make(), name), self.config.host, port, reuse_address=True
        )
        self.listeners.append(listener)
        sockname = listener.sockets[0].getsockname()
        self.addresses[name] = (sockname[0], sockname[1])
        log.info("%s listener on %s:%d", name, sockname[0], sockname[1])

    def port(self, name: str = "text") -> int:
        return self.addresses[name][1]

    # --- connections -----------------------------------------------------

    def attach(self, conn: Connection) -> None:
        self.connections[conn.sid] = conn
        self._all_gone.clear()
        self.hub.connect(conn.sid)

    def detach(self, conn: Connection) -> None:
        if self.connections.pop(conn.sid, None) is None:
            return
        nick = self.hub.nick_of(conn.sid)
        if nick is not None:
            log.info("%s left (%s)", nick, conn.close_reason)
        self.deliver(self.hub.disconnect(conn.sid, conn.close_reason))
        if not self.connections:
            self._all_gone.set()

    def dispatch(self, conn: Connection, command: Command) -> None:
        outbound = self.hub.handle(conn.sid, command)
        if log.isEnabledFor(logging.INFO):
            self._log(conn, outbound)
        self.deliver(outbound)

    def deliver(self, outbound: Iterable[Outbound]) -> None:
        conns = self.connections
        for out in outbound:
            event = out.event
            cache: RenderCache = {}
            for sid in out.to:
                conn = conns.get(sid)
                if conn is not None:
                    data = conn.adapter.render(event, cache)
                    if data:
                        conn.enqueue(data)

    def mark_dirty(self, conn: Connection) -> None:
        if not self._dirty and self._loop is not None:
            self._loop.call_soon(self._flush)
        self._dirty.append(conn)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    # --- logging ---------------------------------------------------------

    def _log(self, conn: Connection, outbound: list[Outbound]) -> None:
        debug = log.isEnabledFor(logging.DEBUG)
        for out in outbound:
            event: Event = out.event
            match event:
                case Registered(nick):
                    log.info("conn %d from %s is %s", conn.sid, conn.peer, nick)
                case Joined(room, nick):
                    log.info("%s joined %s", nick, room)
                case Parted(room, nick, reason):
                    log.info("%s left %s (%s)", nick, room, reason)
                case NickChanged(old, new):
                    log.info("%s is now known as %s", old, new)
                case Message() if debug:
                    log.debug("%s -> %s [%s]: %s", event.nick, event.target, event.kind, event.text)

    # --- shutdown --------------------------------------------------------

    async def shutdown(self, reason: str = "server is shutting down") -> None:
        """Tell everyone, let the goodbye reach them, close, and wait (bounded)."""
        self.stopping = True
        for listener in self.listeners:
            listener.close()
        notice = ServerShutdown(reason)
        self.deliver([Outbound(list(self.connections), notice)])
        for conn in list(self.connections.values()):
            conn.close(reason)
        try:
            await asyncio.wait_for(self._all_gone.wait(), self.config.shutdown_grace)
        except TimeoutError:
            for conn in list(self.connections.values()):
                conn.close(reason, abort=True)
        for listener in self.listeners:
            await listener.wait_closed()
        log.info("stopped")
