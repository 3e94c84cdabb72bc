"""Token buckets for flood control (lines and bytes), and Backoff for failed passwords;
injectable clocks for tests.

A person pasting a few lines gets them through at once (the burst); a script
firing lines faster than ``rate`` is slowed to ``rate`` (the caller delays its
input by ``delay()`` seconds: fake lag), and its other users never notice.
:class:`Flood` counts lines and bytes: twenty short lines and twenty lines of
4 KiB are not the same load on everyone who reads them.
"""

from __future__ import annotations

import math
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

    def _left_at(self, now: float, n: float) -> float:
        """Refill to ``now`` and say how many tokens taking ``n`` would leave
        (negative: that many short). More than the burst costs the whole burst:
        it can never be saved up. The one home of the bucket's rule: ``take``,
        ``delay`` and ``Flood`` (one clock reading for two buckets) all ask it.
        (Conditionals, not ``min()``: this runs for every line a client sends.)"""
        burst = self.burst
        tokens = self._tokens + (now - self._stamp) * self.rate
        self._tokens = tokens = burst if tokens > burst else tokens
        self._stamp = now
        return tokens - (burst if n > burst else n)

    def delay(self, n: float = 1) -> float:
        """Seconds until ``n`` tokens are available (0.0: take them now)."""
        left = self._left_at(self.clock(), n)
        return 0.0 if left >= 0 else -left / self.rate

    def take(self, n: float = 1) -> bool:
        """Spend ``n`` tokens (at most the burst) if there are that many."""
        left = self._left_at(self.clock(), n)
        if left < 0:
            return False
        self._tokens = left
        return True


class Backoff:
    """Failures per key (a connection, an address, later an account): a delay
    that doubles with each failure before the key's next attempt, and a block
    once failures pile up.

    Each failure adds 1 to the key's level, which drains at ``max_failures``
    per ``window`` seconds (a leaky bucket): a key that fails more slowly than
    that is never blocked, one that fails faster is blocked after
    ``max_failures`` in a row, until its level has drained below
    ``max_failures - 1`` (one more try). After a failure the key waits
    ``base * 2 ** (level - 1)`` seconds, at most ``cap``, before its next
    attempt. At most ``max_keys`` keys are remembered; the one that failed
    least recently is forgotten first. Pure: the caller does the waiting.
    """

    __slots__ = ("base", "cap", "max_failures", "window", "max_keys", "clock", "_keys")

    def __init__(
        self,
        base: float,
        cap: float,
        max_failures: int,
        window: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if base <= 0 or cap < base or max_failures < 1 or window <= 0 or max_keys < 1:
            raise ValueError("Backoff needs 0 < base <= cap, max_failures >= 1, window > 0, max_keys >= 1")
        self.base = base
        self.cap = cap
        self.max_failures = max_failures
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        # key -> [level at the last failure, time of the last failure, earliest next attempt];
        # insertion order is the order of last failures (oldest first).
        self._keys: dict[str, list[float]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def level(self, key: str) -> float:
        """Failures that still count (drained with time)."""
        entry = self._keys.get(key)
        if entry is None:
            return 0.0
        drained = (self.clock() - entry[1]) * self.max_failures / self.window
        return max(0.0, entry[0] - drained)

    def delay(self, key: str) -> float:
        """Seconds before ``key`` may try again (0.0: now)."""
        entry = self._keys.get(key)
        return 0.0 if entry is None else max(0.0, entry[2] - self.clock())

    def blocked(self, key: str) -> bool:
        """Too many recent failures: no further attempt until they drain."""
        return self.level(key) > self.max_failures - 1 + 1e-9

    def fail(self, key: str) -> float:
        """Record a failure; return the delay it imposes on the next attempt."""
        level = self.level(key) + 1
        keys = self._keys
        if keys.pop(key, None) is None and len(keys) >= self.max_keys:
            del keys[next(iter(keys))]  # the least recent failure
        wait = min(self.cap, self.base * 2.0 ** (math.ceil(level - 1e-9) - 1))
        now = self.clock()
        keys[key] = [level, now, now + wait]
        return wait

    def forget(self, key: str) -> None:
        self._keys.pop(key, None)


class Flood:
    """Lines and bytes: a command passes when both buckets have room for it."""

    __slots__ = ("lines", "bytes", "clock")

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
        self.clock = clock  # (both buckets': one reading serves both)

    def take(self, size: int = 0) -> bool:
        """Spend one line and ``size`` bytes, or nothing if either is short
        (one reading of the clock for both buckets: this runs for every line).

        ``TokenBucket._left_at`` written out for both buckets (two calls fewer,
        ~2,600 instructions of ~5,300): tests/core/test_ratelimit.py holds it to
        ``_left_at``, bucket state included, over random clocks and sizes."""
        now = self.clock()
        lines = self.lines
        burst = lines.burst
        tokens = lines._tokens + (now - lines._stamp) * lines.rate
        if tokens > burst:
            tokens = burst
        lines._stamp = now
        left = tokens - (burst if 1 > burst else 1)
        if left < 0:
            lines._tokens = tokens
            return False
        if size:
            data = self.bytes
            burst = data.burst
            got = data._tokens + (now - data._stamp) * data.rate
            if got > burst:
                got = burst
            data._stamp = now
            rest = got - (burst if size > burst else size)
            if rest < 0:
                data._tokens = got
                lines._tokens = tokens
                return False
            data._tokens = rest
        lines._tokens = left
        return True

    def delay(self, size: int = 0) -> float:
        """Seconds until a command of ``size`` bytes may pass."""
        return max(self.lines.delay(), self.bytes.delay(size) if size else 0.0)
