"""Token buckets for flood control, with an injectable clock for tests.

A person pasting a few lines gets them through at once (the burst); a script
firing lines faster than ``rate`` is slowed to ``rate`` (the caller delays its
input by ``delay()`` seconds: fake lag), and its other users never notice.
:class:`Flood` counts lines and bytes: twenty short lines and twenty lines of
4 KiB are not the same load on everyone who reads them.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    __slots__ = ("rate", "burst", "clock", "_tokens", "_stamp")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = burst
        self._stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def delay(self, n: float = 1) -> float:
        """Seconds until ``n`` tokens are available (0.0: take them now). More
        than the burst costs the whole burst: it can never be saved up."""
        self._refill()
        n = min(n, self.burst)
        return 0.0 if self._tokens >= n else (n - self._tokens) / self.rate

    def take(self, n: float = 1) -> bool:
        """Spend ``n`` tokens (at most the burst) if there are that many."""
        self._refill()
        n = min(n, self.burst)
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False


class Flood:
    """Lines and bytes: a command passes when both buckets have room for it."""

    __slots__ = ("lines", "bytes")

    def __init__(
        self,
        rate: float,
        burst: float,
        byte_rate: float,
        byte_burst: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lines = TokenBucket(rate, burst, clock)
        self.bytes = TokenBucket(byte_rate, byte_burst, clock)

    def take(self, size: int = 0) -> bool:
        """Spend one line and ``size`` bytes, or nothing if either is short."""
        if size and self.bytes.delay(size) > 0:
            return False
        if not self.lines.take():
            return False
        if size:
            self.bytes.take(size)
        return True

    def delay(self, size: int = 0) -> float:
        """Seconds until a command of ``size`` bytes may pass."""
        return max(self.lines.delay(), self.bytes.delay(size) if size else 0.0)
