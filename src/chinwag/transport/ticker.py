"""One periodic timer for the whole server: it lends adapters a clock.

Adapters stay Sans-I/O; one that needs time (IRC: PING after silence, "Ping
timeout", the registration deadline) has a ``tick(now)`` method. Every
``period`` seconds the ticker calls it on each connection with the loop's
monotonic clock, then pumps the connection so that what the tick produced
(a PING, an ERROR and a Quit) is sent and acted on. One timer for all
connections costs one heap entry, not one per connection.

The pump also releases input an adapter held back until an answer arrived
(a registration whose answer was delivered later), and closes a connection
whose adapter decided to close while rendering someone else's event (KILL).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from chinwag.config import Limits

if TYPE_CHECKING:
    from chinwag.transport.server import Server


@runtime_checkable
class Ticking(Protocol):
    def tick(self, now: float) -> None: ...


def tick_period(limits: Limits) -> float:
    """Fine enough for the shortest deadline, at most a second."""
    shortest = min(limits.ping_interval, limits.ping_timeout, limits.register_timeout)
    return max(0.05, min(1.0, shortest / 4))


_TICKS: dict[type, bool] = {}


class Ticker:
    def __init__(self, server: Server, period: float) -> None:
        self.server = server
        self.period = period
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(self.period, self._run)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _run(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        ticks = _TICKS
        for conn in list(self.server.connections.values()):
            adapter = conn.adapter
            cls = type(adapter)
            ticking = ticks.get(cls)
            if ticking is None:  # isinstance on a runtime Protocol costs ~10 us: once per class
                ticking = ticks[cls] = isinstance(adapter, Ticking)
            if conn.closed or not (ticking or adapter.closing):
                continue
            try:
                if ticking:
                    cast(Ticking, adapter).tick(now)
                conn._pump()
            except Exception:
                conn.log.exception("error in periodic tick; closing this connection")
                conn.close("internal error", abort=True)
        self._handle = loop.call_later(self.period, self._run)
