from __future__ import annotations

import pytest

from chinwag.core.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=20, clock=clock)
    assert all(bucket.take() for _ in range(20))  # a 20-line paste goes through
    assert not bucket.take()
    assert bucket.delay() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.delay() == 0.0 and bucket.take()
    clock.now += 100
    assert sum(bucket.take() for _ in range(50)) == 20  # never more than the burst


def test_flood_counts_bytes_as_well_as_lines() -> None:
    from chinwag.core.ratelimit import Flood

    clock = Clock()
    flood = Flood(rate=5, burst=20, byte_rate=1000, byte_burst=4000, clock=clock)
    assert all(flood.take(1000) for _ in range(4))  # 4 lines, 4,000 bytes: the byte burst
    assert not flood.take(1000)  # few lines, but the bytes are spent
    assert flood.take(0)  # a command without text costs a line only
    assert flood.delay(1000) == pytest.approx(1.0)
    clock.now += 1.0
    assert flood.take(1000) and not flood.take(1000)
    clock.now += 100
    assert flood.take(10_000)  # more than the byte burst costs the whole burst, not for ever
    assert not flood.take(1)
