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
