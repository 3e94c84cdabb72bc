"""Slow readers and the output budget: readers that keep up are never cut off.

Output waits in each connection's transport until the kernel takes it. A paste
storm can put megabytes in front of every member at once; that is not a reason
to cut off people who are reading as fast as they can. So:

- A reader is cut off only when it makes no progress: more than ``sendq``
  bytes wait for it and the kernel has taken none of them for
  ``output_stall`` seconds.
- All connections' output together is bounded by ``output_budget``. When it
  is reached, the senders wait, not the readers: a message a connection wants
  to send is held and its input paused (``Connection._next``) until the
  readers have brought the total under three quarters of the budget.
- Throttling cannot last for ever: if the budget stays reached for
  ``output_stall`` seconds, the connection holding the most (over ``sendq``)
  is cut off, since it is the one holding everybody up.

Only "backed-up" connections are watched: those whose transport holds more
than ``kernel_sendq`` bytes (asyncio's ``pause_writing``; WebSocket: checked
after each write). One timer looks at them while there are any, so readers
that keep up cost nothing here. Output not written yet is estimated per
message (size times recipients) so that a burst within one tick already
counts; the estimate is dropped when a tick's output is written and no
transport is backed up (``written``: the kernel took it all), else it adds
up until the next look. (It used to add up until the next look in any
case: past ~600 MiB of fan-out in 0.1 s, readers all keeping up, senders were
throttled for nothing; issue 15, round 7.)
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chinwag.transport.connection import Connection
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag.output")
PERIOD = 0.1  # seconds between looks at the backed-up connections
LINE_OVERHEAD = 64  # bytes a rendered message adds to its text (prefix, time, CRLF), for the estimate


class OutputGuard:
    __slots__ = ("server", "sendq", "stall", "budget", "backed", "held", "pending", "throttled", "since",
                 "waiting", "_timer")

    def __init__(self, server: Server) -> None:
        limits = server.config.limits
        self.server = server
        self.sendq = limits.sendq
        self.stall = limits.output_stall
        self.budget = limits.output_budget
        self.backed: dict[Connection, None] = {}  # transport over kernel_sendq, in order
        self.held = 0  # bytes the backed-up transports held at the last look
        self.pending = 0  # estimated bytes of messages fanned out and maybe not written (see write_out)
        self.throttled = False  # messages wait (Connection._next reads this)
        self.since = 0.0  # when throttling began
        self.waiting: dict[Connection, None] = {}  # senders whose message waits for the budget
        self._timer: asyncio.TimerHandle | None = None

    # --- called by connections and the server ------------------------------------------

    def watch(self, conn: Connection) -> None:
        """``conn``'s transport holds more than kernel_sendq: watch its progress."""
        if conn not in self.backed and conn.transport is not None:
            self.backed[conn] = None
            conn.drained = conn.wrote - conn.transport.get_write_buffer_size()
            conn.drained_at = self._now()
            self._arm()

    def unwatch(self, conn: Connection) -> None:
        """``conn``'s transport drained under the low-water mark (resume_writing)."""
        self.backed.pop(conn, None)

    def forget(self, conn: Connection) -> None:
        """``conn`` is gone."""
        self.backed.pop(conn, None)
        self.waiting.pop(conn, None)

    def message(self, size: int) -> None:
        """A message of ``size`` bytes for everyone it goes to is on its way."""
        self.pending += size
        if not self.throttled and self.held + self.pending >= self.budget:
            self._throttle(self._now())
        if self._timer is None:
            self._arm()

    def written(self) -> None:
        """This tick's output was handed to the transports (``Outbox.write_out``).
        If none is backed up, each took what it was given (less than
        kernel_sendq waits in any): the estimate of what is queued starts over.
        Else it adds up until the next look measures the backed-up ones."""
        if not self.backed:
            self.pending = 0

    def wait(self, conn: Connection) -> None:
        """``conn`` has a message ready while throttled: hold it, pause its input."""
        if conn not in self.waiting:
            self.waiting[conn] = None
            conn.budget_wait = True
            if conn.transport is not None and not conn.closed:
                conn._reading(False)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- the look ------------------------------------------------------------------------

    def _now(self) -> float:
        loop = self.server._loop
        return loop.time() if loop is not None else 0.0

    def _arm(self) -> None:
        loop = self.server._loop
        if self._timer is None and loop is not None:
            self._timer = loop.call_later(PERIOD, self._look)

    def _throttle(self, now: float) -> None:
        self.throttled = True
        self.since = now
        log.warning("output budget reached (%d bytes queued): messages wait", self.held + self.pending)

    def _look(self) -> None:
        self._timer = None
        try:
            self._check(self._now())
        except Exception:  # never let the guard's timer die
            log.exception("output check failed")
        if self.backed or self.throttled or self.pending:
            self._arm()

    def _check(self, now: float) -> None:
        total = 0
        biggest: Connection | None = None
        most = 0
        low = self.server.config.limits.kernel_sendq // 4
        for conn in list(self.backed):
            transport = conn.transport
            if conn.closed or transport is None or transport.is_closing():
                del self.backed[conn]
                continue
            size = transport.get_write_buffer_size()
            drained = conn.wrote - size  # bytes the kernel has taken, ever
            if conn.out:
                size += sum(map(len, conn.out))  # waiting in the connection (paused: see flush)
            if drained > conn.drained:
                conn.drained, conn.drained_at = drained, now
            elif size > self.sendq and now - conn.drained_at >= self.stall:
                del self.backed[conn]
                self.server.metrics.slow_readers_cut += 1
                conn.close(f"output queue over {self.sendq} bytes and nothing read for {self.stall} s", abort=True)
                continue
            if size <= low:
                del self.backed[conn]
                continue
            total += size
            if size > most:
                biggest, most = conn, size
        self.held, self.pending = total, 0
        if total >= self.budget:
            if not self.throttled:
                self._throttle(now)
            elif now - self.since >= self.stall and biggest is not None and most > self.sendq:
                # Still throttled after output_stall: the biggest queue is holding everyone up.
                self.backed.pop(biggest, None)
                self.since = now
                self.server.metrics.slow_readers_cut += 1
                biggest.close(f"output queue over {self.sendq} bytes, read too slowly for {self.stall} s",
                              abort=True)
        elif self.throttled and total < self.budget * 3 // 4:
            self._release()

    def _release(self) -> None:
        self.throttled = False
        log.info("output budget: %d bytes queued, messages flow again", self.held)
        waiting, self.waiting = self.waiting, {}
        for conn in waiting:
            conn.budget_released()
