from __future__ import annotations

import random

import pytest

from chinwag.core.ratelimit import Backoff, Flood, TokenBucket


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


def test_backoff_doubles_the_wait_up_to_the_cap() -> None:
    clock = Clock()
    limiter = Backoff(base=1, cap=8, max_failures=100, window=10_000, clock=clock)
    assert limiter.delay("ip 10.0.0.1") == 0.0  # never failed: try now
    waits = []
    for _ in range(6):
        clock.now += limiter.delay("ip 10.0.0.1")  # the caller waits, then fails again
        waits.append(limiter.fail("ip 10.0.0.1"))
    assert waits == pytest.approx([1, 2, 4, 8, 8, 8], abs=0.01)
    assert limiter.delay("ip 10.0.0.1") == pytest.approx(8)
    clock.now += 3
    assert limiter.delay("ip 10.0.0.1") == pytest.approx(5)
    assert limiter.delay("ip 10.0.0.2") == 0.0  # keys are independent


def test_backoff_blocks_after_max_failures_until_they_drain() -> None:
    clock = Clock()
    limiter = Backoff(base=1, cap=30, max_failures=5, window=600, clock=clock)  # drains 1 per 120 s
    for n in range(5):
        assert not limiter.blocked("conn 1"), n
        limiter.fail("conn 1")
    assert limiter.blocked("conn 1")  # the fifth failure was the last try
    clock.now += 119
    assert limiter.blocked("conn 1")
    clock.now += 2
    assert not limiter.blocked("conn 1")  # one failure drained: one more try
    limiter.fail("conn 1")
    assert limiter.blocked("conn 1")
    clock.now += 600
    assert limiter.level("conn 1") == 0.0 and not limiter.blocked("conn 1")


def test_backoff_a_slow_failer_is_never_blocked_and_waits_less() -> None:
    clock = Clock()
    limiter = Backoff(base=1, cap=30, max_failures=5, window=600, clock=clock)
    for _ in range(50):  # one failure every 2 minutes: exactly the drain rate
        assert not limiter.blocked("ip a")
        assert limiter.fail("ip a") == 1.0
        clock.now += 120


def test_backoff_forgets_and_stays_bounded() -> None:
    clock = Clock()
    limiter = Backoff(base=1, cap=30, max_failures=3, window=600, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        limiter.fail(key)
        clock.now += 1
    limiter.fail("a")  # a is now the most recent
    limiter.fail("d")  # over max_keys: b, the least recent failure, is forgotten
    assert len(limiter) == 3
    assert limiter.level("b") == 0.0 and limiter.level("a") > 1.9
    limiter.forget("a")
    assert limiter.delay("a") == 0.0 and len(limiter) == 2


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(base=2, cap=1, max_failures=3, window=10)
    with pytest.raises(ValueError):
        Backoff(base=1, cap=1, max_failures=0, window=10)
def test_flood_counts_bytes_as_well_as_lines() -> None:

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


def test_flood_take_agrees_with_two_token_buckets() -> None:
    """Flood.take (one clock reading, TokenBucket._left_at written out for
    both buckets) against the general form: two plain TokenBuckets, a command
    passing when both have room and spending from both; each bucket left in
    the very same state (tokens, stamp) after every command."""
    rng = random.Random(15)
    cases = ((5, 20, 1000, 4000), (0.5, 1, 10, 30), (2, 0.5, 100, 50), (1e9, 1e9, 1e12, 1e12))
    for rate, burst, byte_rate, byte_burst in cases:
        clock = Clock()
        flood = Flood(rate=rate, burst=burst, byte_rate=byte_rate, byte_burst=byte_burst, clock=clock)
        lines, data = TokenBucket(rate, burst, clock), TokenBucket(byte_rate, byte_burst, clock)
        for _ in range(2_000):
            clock.now += rng.choice((0.0, 0.0, 0.01, 0.1, 0.5, 3.0))
            size = rng.choice((0, 1, 10, 200, 1000, 5000))
            expected = lines.delay(1) == 0.0 and (size == 0 or data.delay(size) == 0.0)
            if expected:
                assert lines.take(1) and (size == 0 or data.take(size))
            assert flood.take(size) is expected
            for mine, general in ((flood.lines, lines), (flood.bytes, data)):
                assert (mine._tokens, mine._stamp) == (general._tokens, general._stamp)
            assert flood.delay(size) == pytest.approx(max(lines.delay(1), data.delay(size) if size else 0.0))
