"""The client's only asyncio: one TCP (or TLS) connection at a time, reconnecting.

:class:`Connection` drives a fresh :class:`~chinwag.client.protocol.ClientProtocol`
per TCP connection over one :class:`~chinwag.client.protocol.Session`, so a
reconnect rejoins the rooms and catches up from the last message id (the
protocol does both). When the connection drops it reports a
:class:`~chinwag.client.events.Status`, waits (exponential backoff with a
little jitter) and tries again, until :meth:`Connection.quit` or a failure that
retrying cannot fix (the server refused our nick).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from chinwag.client import commands as cmd
from chinwag.client.events import ClientEvent, Pong, Registered, Status
from chinwag.client.protocol import ClientProtocol, Session

READ_SIZE = 65536


@dataclass(frozen=True, slots=True)
class Backoff:
    """``initial * factor**attempt`` seconds, capped at ``maximum``, minus up to ``jitter``."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.1

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return base * (1.0 - self.jitter * random.random())


def _now() -> datetime:
    return datetime.now(UTC)


class Connection:
    """Keeps one IRC session alive across TCP connections.

    ``on_event`` gets every :class:`ClientEvent`, plus :class:`Status` lines
    about the connection itself. ``keepalive``: after that many silent seconds
    we PING; one more silent period and the connection counts as lost.
    """

    def __init__(
        self,
        host: str,
        port: int,
        session: Session,
        on_event: Callable[[ClientEvent], None],
        *,
        tls: ssl.SSLContext | None = None,
        backoff: Backoff = Backoff(),
        reconnect: bool = True,
        keepalive: float = 90.0,
        user: str = "chinwag",
        realname: str = "chinwag connect",
        password: str = "",
    ) -> None:
        self.host = host
        self.port = port
        self.session = session
        self.on_event = on_event
        self.tls = tls
        self.backoff = backoff
        self.reconnect = reconnect
        self.keepalive = keepalive
        self._identity = (user, realname, password)
        self.protocol: ClientProtocol | None = None
        self.registered = asyncio.Event()
        self.finished = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self._pongs: dict[str, asyncio.Future[None]] = {}
        self._tokens = itertools.count(1)

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    # ------------------------------------------------------------------ API

    def perform(self, intent: cmd.Intent) -> bool:
        """Send ``intent`` now; False (nothing sent) while not registered."""
        proto = self.protocol
        if proto is None or not proto.registered or self._writer is None:
            return False
        proto.perform(intent)
        self._pump(proto)
        return True

    async def roundtrip(self, timeout: float = 10.0) -> None:
        """PING and wait for the PONG: everything sent before has been processed."""
        proto = self.protocol
        if proto is None or self._writer is None:
            raise ConnectionError("not connected")
        token = f"chinwag-sync-{next(self._tokens)}"
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs[token] = waiter
        proto.ping(token)
        self._pump(proto)
        try:
            await asyncio.wait_for(waiter, timeout)
        finally:
            self._pongs.pop(token, None)

    async def quit(self, reason: str = "leaving", timeout: float = 5.0) -> None:
        """Say QUIT, give the server ``timeout`` seconds to close, then stop."""
        self._closing = True
        self._wake.set()
        if self.perform(cmd.QuitChat(reason)):
            try:
                await asyncio.wait_for(self.finished.wait(), timeout)
            except TimeoutError:
                pass
        self.close()

    def retry_now(self) -> None:
        """Cut a backoff wait short: reconnect now (no effect while connected)."""
        self._wake.set()

    def close(self) -> None:
        """Stop now: no QUIT, no reconnect."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            self._writer.close()

    # ------------------------------------------------------------------ loop

    async def run(self) -> None:
        """Connect, and reconnect after every drop, until closed."""
        attempt = 0
        try:
            while not self._closing:
                reason = await self._connect_once()
                proto = self.protocol
                if proto is not None and proto.registered:
                    attempt = 0
                self.protocol = None
                if self._closing:
                    break
                if proto is not None and proto.fatal:
                    self._status(f"disconnected: {proto.fatal}")
                    break
                if not self.reconnect:
                    self._status(f"disconnected: {reason}")
                    break
                delay = self.backoff.delay(attempt)
                attempt += 1
                self._status(f"disconnected: {reason}; reconnecting in {delay:.1f}s")
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except TimeoutError:
                    pass
        finally:
            self.finished.set()

    async def _connect_once(self) -> str:
        """One connection's life; returns why it ended."""
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None
            )
        except (OSError, ssl.SSLError) as exc:
            return f"cannot connect to {self.address} ({exc.strerror or exc})"
        user, realname, password = self._identity
        proto = ClientProtocol(self.session, user=user, realname=realname, password=password)
        self.protocol = proto
        self._writer = writer
        proto.start()
        self._pump(proto)
        try:
            return await self._read(reader, proto)
        finally:
            self._writer = None
            self.registered.clear()
            for waiter in self._pongs.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("connection lost"))
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass

    async def _read(self, reader: asyncio.StreamReader, proto: ClientProtocol) -> str:
        pinged = False
        while True:
            try:
                data = await asyncio.wait_for(reader.read(READ_SIZE), self.keepalive)
            except TimeoutError:
                if pinged:
                    return "the server stopped answering"
                pinged = True
                proto.ping("keepalive")
                self._pump(proto)
                continue
            except (OSError, ssl.SSLError) as exc:
                return f"connection lost ({exc.strerror or exc})"
            if not data:
                return "connection closed by the server"
            pinged = False
            proto.receive_data(data)
            self._pump(proto)

    def _pump(self, proto: ClientProtocol) -> None:
        """Write what the protocol queued, then hand its events out."""
        data = proto.data_to_send()
        if data and self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)
        for event in proto.events_received():
            if isinstance(event, Registered):
                self.registered.set()
            elif isinstance(event, Pong):
                waiter = self._pongs.get(event.token)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
                if event.token.startswith("chinwag-sync-") or event.token == "keepalive":
                    continue
            self.on_event(event)  # may call perform(), which pumps again: events were taken

    def _status(self, text: str) -> None:
        self.on_event(Status(_now(), text))
