"""The bus between the nodes of a cluster: one Redis channel (docs/cluster.md).

Two connections to Redis, made with redis-py's asyncio ``Connection`` (no pool,
no hidden retries: reconnecting is this module's business):

- SUBSCRIBE ``channel``: every message on it is handed to ``on_message`` on the
  loop, in the order Redis sends them (the node's own publications included);
- PUBLISH: :meth:`Bus.publish` never blocks. It queues; one writer task sends
  everything queued as one pipelined write, then reads the replies. Beyond
  ``limits.cluster_bus_queue`` waiting, a message is dropped and counted.

The bus is lossy on purpose. While it is down (Redis stopped, unreachable, a
publish that failed or went unanswered), what was queued and what is published
is dropped and counted, never replayed: receivers refill conversations from
PostgreSQL by seq and presence from snapshots (docs/cluster.md). It reconnects
by itself, backing off from 0.1 s doubling to 2 s, and tells ``on_status``:
``False`` once when it breaks, ``True`` each time it is subscribed again.

A silent Redis (a dead host, a cut network: no FIN, no RST) is noticed by the
subscription falling quiet: after ``cluster_heartbeat`` seconds without a reply
a PING goes on it, and more than twice that without anything is a break.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio.connection import AbstractConnection, Connection, parse_url
from redis.exceptions import RedisError

from chinwag.config import Limits

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.1  # seconds before the first retry after a failed attempt
BACKOFF_MAX = 2.0  # ... doubling up to this
# What ends a session or an attempt: Redis errors (ConnectionError, TimeoutError,
# a refused AUTH, ...), socket errors, and our own deadlines.
FAILURES = (RedisError, OSError, TimeoutError, ValueError, IndexError, TypeError)


def shown_url(url: str) -> str:
    """The URL as logs show it: scheme, host, port and db, never the password."""
    kw: dict[str, Any] = dict(parse_url(url))
    host = str(kw.get("host", "localhost"))
    if ":" in host:
        host = f"[{host}]"
    return f"{url.partition('://')[0]}://{host}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


class Bus:
    """Publish to and receive from one Redis channel; see the module docstring."""

    def __init__(self, url: str, channel: str, limits: Limits, on_message: Callable[[bytes], None],
                 on_status: Callable[[bool], None]) -> None:
        self.channel = channel
        self.where = shown_url(url)
        self._limits = limits
        self._on_message = on_message
        self._on_status = on_status
        self._kwargs: dict[str, Any] = dict(parse_url(url))
        self._channel = channel.encode()
        self._queue: collections.deque[bytes] = collections.deque()
        self._in_flight = 0  # messages sent in the current batch, their replies not read yet
        self._wake = asyncio.Event()  # something was queued
        self._idle = asyncio.Event()  # nothing queued nor in flight (flush)
        self._idle.set()
        self._up = False
        self._conns: list[AbstractConnection] = []
        self._task: asyncio.Task[None] | None = None
        self._last_heard = 0.0  # loop time of the last thing the subscription received
        self._dropped_before = 0  # self.dropped when the bus went down (for the log line when it is back)
        self.dropped = 0  # messages given to publish() not known to be published (a batch cut short counts whole)
        self.published = 0  # messages Redis acknowledged
        self.received = 0  # messages on the channel handed to on_message

    @property
    def up(self) -> bool:
        """Subscribed, and the last publish worked."""
        return self._up

    async def start(self) -> None:
        """The first connect and subscribe; then the bus keeps itself up in a
        task. An unreachable Redis is not an error: the bus stays down and
        retries (``on_status(True)`` when it comes up)."""
        if self._task is not None:
            return
        ok = await self._attempt()
        self._task = asyncio.create_task(self._run(ok), name="cluster bus")

    def publish(self, data: bytes) -> None:
        """Queue one message; it goes out with the next batch. Down, or with
        ``limits.cluster_bus_queue`` already waiting: dropped and counted."""
        if not self._up or len(self._queue) >= self._limits.cluster_bus_queue:
            self.dropped += 1
            return
        self._queue.append(data)
        self._idle.clear()
        self._wake.set()

    async def flush(self) -> None:
        """Wait until what is queued has been published (or the bus went down:
        then it was dropped). A leaving node says its last words so."""
        while self._up and (self._queue or self._in_flight):
            self._idle.clear()
            await self._idle.wait()

    async def close(self) -> None:
        """Stop for good: no reconnecting, and ``on_status`` is not called."""
        task, self._task = self._task, None
        self._up = False
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._disconnect(nowait=False)  # the sockets are closed when this returns
        self.dropped += len(self._queue) + self._in_flight
        self._queue.clear()
        self._in_flight = 0

    # --- the connection's life ---

    async def _run(self, ok: bool) -> None:
        delay = BACKOFF_FIRST
        while True:
            if ok:
                delay = BACKOFF_FIRST
                await self._serve()
                await self._disconnect()
                self._went_down()
            await asyncio.sleep(delay)
            if not ok:
                delay = min(delay * 2, BACKOFF_MAX)
            ok = await self._attempt()

    def _connection(self) -> AbstractConnection:
        kwargs = dict(self._kwargs)
        cls = kwargs.pop("connection_class", Connection)
        # No read timeout of redis-py's own: the subscription waits as long as
        # it likes (the watch below notices silence); deadlines are ours.
        kwargs.setdefault("socket_connect_timeout", self._deadline)
        kwargs["socket_timeout"] = None
        # RESP2: messages arrive as plain replies, ["message", channel, data]
        # (RESP3 would hand them to a push handler instead of read_response).
        kwargs["protocol"] = 2
        kwargs["decode_responses"] = False  # bytes in, bytes out, whatever the URL says
        conn: AbstractConnection = cls(**kwargs)
        return conn

    @property
    def _deadline(self) -> float:
        """Seconds a connect, a subscribe or a batch's replies may take."""
        return 2 * self._limits.cluster_heartbeat

    async def _attempt(self) -> bool:
        """Connect both, subscribe; True and on_status(True) if it all worked."""
        pub, sub = self._connection(), self._connection()
        self._conns = [pub, sub]
        try:
            async with asyncio.timeout(self._deadline):
                await pub.connect()  # type: ignore[no-untyped-call]
                await sub.connect()  # type: ignore[no-untyped-call]
                await sub.send_command("SUBSCRIBE", self._channel)
                reply = await sub.read_response()
            if not isinstance(reply, list) or reply[0] != b"subscribe":
                raise ValueError(f"unexpected answer to SUBSCRIBE: {reply!r:.80}")
        except FAILURES as exc:
            await self._disconnect()
            if self._task is None:  # the first attempt: say why once (a lost session says it too)
                log.warning("cluster bus %s: cannot connect (%s); retrying", self.where, _reason(exc))
            return False
        except Exception:  # not a failure we know: a bug, said every time, but the bus keeps trying
            await self._disconnect()
            log.exception("cluster bus %s: connecting failed unexpectedly; retrying", self.where)
            return False
        self._last_heard = asyncio.get_running_loop().time()
        self._up = True
        lost = self.dropped - self._dropped_before
        log.info("cluster bus up: %s channel %s%s", self.where, self.channel,
                 f" ({lost} messages dropped while down)" if lost else "")
        self._tell(True)
        return True

    async def _serve(self) -> None:
        """Until the session breaks: receive, send, watch."""
        pub, sub = self._conns
        tasks = [asyncio.create_task(self._receive(sub)), asyncio.create_task(self._send(pub)),
                 asyncio.create_task(self._watch(sub))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        why = next((t.exception() for t in done if not t.cancelled() and t.exception() is not None), None)
        log.warning("cluster bus %s lost: %s; reconnecting", self.where, _reason(why) if why else "closed",
                    exc_info=why if why is not None and not isinstance(why, FAILURES) else None)

    def _went_down(self) -> None:
        self._dropped_before = self.dropped
        self.dropped += len(self._queue) + self._in_flight
        self._queue.clear()
        self._in_flight = 0
        self._up = False
        self._idle.set()
        self._tell(False)

    async def _disconnect(self, nowait: bool = True) -> None:
        conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=nowait)

    def _tell(self, up: bool) -> None:
        try:
            self._on_status(up)
        except Exception:
            log.exception("cluster bus: on_status(%s) failed", up)

    # --- one session's three tasks: any of them ending ends the session ---

    async def _receive(self, sub: AbstractConnection) -> None:
        loop = asyncio.get_running_loop()
        channel, on_message = self._channel, self._on_message
        while True:
            reply = await sub.read_response()
            self._last_heard = loop.time()
            if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message" and reply[1] == channel:
                self.received += 1
                try:
                    on_message(reply[2])
                except Exception:
                    log.exception("cluster bus: on_message failed")
            # else: the answer to our PING (["pong", ""]); nothing else comes on it

    async def _send(self, pub: AbstractConnection) -> None:
        # PUBLISH <channel> <data> in RESP, packed here: redis-py's general
        # pack_command was 40% of the bus's CPU per message.
        head = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(self._channel), self._channel)
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch, self._queue = self._queue, collections.deque()
            self._in_flight = len(batch)
            async with asyncio.timeout(self._deadline):
                wire = b"".join([b"%s$%d\r\n%s\r\n" % (head, len(d), d) for d in batch])
                await pub.send_packed_command(wire, check_health=False)
                for _ in batch:
                    await pub.read_response()  # the number of subscribers; an error raises
            self.published += len(batch)
            self._in_flight = 0

    async def _watch(self, sub: AbstractConnection) -> None:
        loop = asyncio.get_running_loop()
        beat = self._limits.cluster_heartbeat
        while True:
            await asyncio.sleep(beat / 2)
            quiet = loop.time() - self._last_heard
            if quiet > 2 * beat:
                raise TimeoutError(f"nothing from Redis for {quiet:.1f} s")
            if quiet >= beat:
                async with asyncio.timeout(beat):
                    await sub.send_command("PING", check_health=False)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
