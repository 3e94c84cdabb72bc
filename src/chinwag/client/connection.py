"""The client's only asyncio: one TCP (or TLS) connection at a time, reconnecting.

:class:`Connection` drives a fresh :class:`~chinwag.client.protocol.ClientProtocol`
per TCP connection over one :class:`~chinwag.client.protocol.Session`, so a
reconnect rejoins the rooms and catches up from the last message id (the
protocol does both). It knows one server or several (the nodes of a cluster):
when a connection drops (closed, reset, an ERROR from the server, a shutdown)
or an attempt fails, it reports a :class:`~chinwag.client.events.Status`
("connection lost; reconnecting to HOST:PORT"), waits (exponential backoff with
jitter: 0.5 s doubling to 10 s) and tries the *next* server, round robin, until
:meth:`Connection.quit` or a failure that retrying cannot fix (the server
refused our nick). The wait (``sleep``) and the jitter (``random``) are
injectable, for tests.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chinwag.client import commands as cmd
from chinwag.client.events import ClientEvent, Pong, Registered, Status
from chinwag.client.protocol import ClientProtocol, Session

READ_SIZE = 65536


@dataclass(frozen=True, slots=True)
class Backoff:
    """``initial * factor**attempt`` seconds, capped at ``maximum``, minus up to
    ``jitter`` of it (so clients cut off together do not come back together)."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 10.0
    jitter: float = 0.2
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return base * (1.0 - self.jitter * self.random())


Address = tuple[str, int]


def show_address(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _now() -> datetime:
    return datetime.now(UTC)


class Connection:
    """Keeps one IRC session alive across TCP connections, to one of ``servers``.

    ``servers``: (host, port) pairs, tried in order, round robin (a lost
    connection or a failed attempt moves on to the next one, then wraps).
    ``on_event`` gets every :class:`ClientEvent`, plus :class:`Status` lines
    about the connection itself. ``keepalive``: after that many silent seconds
    we PING; one more silent period and the connection counts as lost.
    ``reconnect=False``: no retry once a connection has been registered, and
    at most one attempt per server before that (the script mode's fail fast).
    ``sleep`` waits between attempts (cut short by :meth:`retry_now`).
    """

    def __init__(
        self,
        servers: Sequence[Address],
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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        connect_timeout: float = 10.0,
    ) -> None:
        if not servers:
            raise ValueError("no server to connect to")
        self.servers: tuple[Address, ...] = tuple(servers)
        self.index = 0  # the server of the current (or next) attempt
        self.sleep = sleep
        self.connect_timeout = connect_timeout  # a server that does not answer at all: try the next
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
        self._again = False  # the connection being registered is a reconnection
        self._pongs: dict[str, asyncio.Future[None]] = {}
        self._tokens = itertools.count(1)

    @property
    def host(self) -> str:
        return self.servers[self.index][0]

    @property
    def port(self) -> int:
        return self.servers[self.index][1]

    @property
    def address(self) -> str:
        """The server of the current (or next) attempt, as HOST:PORT."""
        return show_address(self.servers[self.index])

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
        """Connect, and reconnect after every drop (to the next server), until closed."""
        attempt = 0  # attempts since the last registered connection
        failed = 0  # attempts in a row that never registered (reconnect=False: one round)
        ever = False  # registered once: the next one is a "reconnected"
        try:
            while not self._closing:
                reason = await self._connect_once(ever)
                proto = self.protocol
                registered = proto is not None and proto.registered
                if registered:
                    attempt, failed, ever = 0, 0, True
                else:
                    failed += 1
                self.protocol = None
                if self._closing:
                    break
                if proto is not None and proto.fatal:
                    self._status(f"disconnected: {proto.fatal}")
                    break
                if not self.reconnect and (registered or failed >= len(self.servers)):
                    self._status(f"disconnected: {reason}")
                    break
                self.index = (self.index + 1) % len(self.servers)
                delay = self.backoff.delay(attempt)
                attempt += 1
                lost = f"connection lost: {reason}" if registered else reason
                verb = "reconnecting to" if ever else "trying"
                self._status(f"{lost}; {verb} {self.address} in {delay:.1f}s")
                await self._pause(delay)
        finally:
            self.finished.set()

    async def _pause(self, delay: float) -> None:
        """``sleep(delay)``, or less if :meth:`retry_now` or :meth:`close` is called."""
        self._wake.clear()  # a retry_now() while connected does not count
        if self._closing:
            return
        nap = asyncio.ensure_future(self.sleep(delay))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({nap, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (nap, woken):
                task.cancel()

    async def _connect_once(self, again: bool = False) -> str:
        """One connection's life; returns why it ended. ``again``: we were
        registered before, so registering says "reconnected"."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None
            ), self.connect_timeout)
        except TimeoutError:
            return f"cannot connect to {self.address} (no answer in {self.connect_timeout:g}s)"
        except (OSError, ssl.SSLError) as exc:
            return f"cannot connect to {self.address} ({exc.strerror or exc})"
        user, realname, password = self._identity
        proto = ClientProtocol(self.session, user=user, realname=realname, password=password)
        self.protocol = proto
        self._writer = writer
        self._again = again
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
            if proto.closed_by_server:  # ERROR: the server is closing this link (or shutting down)
                return f"closed by the server ({proto.closed_by_server})"

    def _pump(self, proto: ClientProtocol) -> None:
        """Write what the protocol queued, then hand its events out."""
        data = proto.data_to_send()
        if data and self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)
        for event in proto.events_received():
            if isinstance(event, Registered):
                self.registered.set()
                if self._again:
                    self._again = False
                    self.on_event(event)
                    self._status(f"reconnected to {self.address}")
                    continue
            elif isinstance(event, Pong):
                waiter = self._pongs.get(event.token)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
                if event.token.startswith("chinwag-sync-") or event.token == "keepalive":
                    continue
            self.on_event(event)  # may call perform(), which pumps again: events were taken

    def _status(self, text: str) -> None:
        self.on_event(Status(_now(), text))
