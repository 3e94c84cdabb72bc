"""OutputGuard driven with fake connections and an explicit clock (no sockets:
the socket-level behaviour is in tests/hostile/test_output.py)."""

from __future__ import annotations

from typing import Any

from chinwag.transport.output import OutputGuard
from chinwag.transport.server import Server
from tests.conftest import make_config


class FakeTransport:
    def __init__(self) -> None:
        self.buffered = 0

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False


class FakeConn:
    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.wrote = 0
        self.drained = 0
        self.drained_at = 0.0
        self.out: list[bytes] = []
        self.closed = False
        self.reason = ""
        self.budget_wait = False
        self.reading = True
        self.released = 0

    def hold(self, n: int) -> None:
        """The server wrote ``n`` more bytes that the kernel did not take."""
        self.wrote += n
        self.transport.buffered += n

    def drain(self, n: int) -> None:
        self.transport.buffered -= n

    def close(self, reason: str, *, abort: bool = False) -> None:
        self.closed, self.reason = True, reason

    def _reading(self, on: bool) -> None:
        self.reading = on

    def budget_released(self) -> None:
        self.budget_wait = False
        self.released += 1


def guard(**limits: int) -> OutputGuard:
    return OutputGuard(Server(make_config(**limits)))


def watched(g: OutputGuard, held: int) -> Any:
    conn = FakeConn()
    conn.hold(held)
    g.watch(conn)  # type: ignore[arg-type]
    return conn


def test_a_reader_that_keeps_reading_is_never_cut_one_that_stops_is() -> None:
    g = guard(sendq=1000, output_stall=10, kernel_sendq=100)
    reader, sloth = watched(g, 5000), watched(g, 5000)
    for t in range(1, 60):  # a minute: the reader drains a little every second, more keeps coming
        reader.drain(50)
        reader.hold(50)
        sloth.hold(50)
        g._check(float(t))
        if t < 10:
            assert not sloth.closed
    assert not reader.closed
    assert sloth.closed and sloth.reason == "output queue over 1000 bytes and nothing read for 10 s"


def test_the_budget_makes_senders_wait_and_lets_them_go() -> None:
    g = guard(output_budget=10_000, sendq=100_000, output_stall=10, kernel_sendq=100)
    reader = watched(g, 8000)
    g._check(0.0)
    assert not g.throttled
    sender = FakeConn()
    g.message(5000)  # 8,000 held + 5,000 on its way: the budget is reached
    assert g.throttled
    g.wait(sender)  # type: ignore[arg-type]
    assert sender.budget_wait and not sender.reading
    g.unwatch(sender)  # type: ignore[arg-type]  (its own transport drained: it still waits to send)
    g._check(1.0)
    assert g.throttled and sender.released == 0  # 8,000: over 3/4 of the budget still
    reader.drain(4000)
    g._check(2.0)
    assert not g.throttled and sender.released == 1 and not reader.closed


def test_a_budget_held_for_output_stall_cuts_the_biggest_queue() -> None:
    g = guard(output_budget=10_000, sendq=1000, output_stall=5, kernel_sendq=100)
    trickle, small = watched(g, 9000), watched(g, 2000)
    for t in range(0, 7):  # both read a byte a second: progress, but the budget stays reached
        trickle.drain(1)
        trickle.hold(1)
        small.drain(1)
        small.hold(1)
        g._check(float(t))
    assert trickle.closed and trickle.reason == "output queue over 1000 bytes, read too slowly for 5 s"
    assert not small.closed


def test_ticks_the_kernel_took_whole_never_add_up_to_the_budget() -> None:
    """Issue 15, round 7: the estimate of unwritten output used to add up until
    the next look (0.1 s) even when every tick's output had gone to the kernel:
    past ~600 MiB of fan-out a look (the benchmark's 40k messages/s to 200),
    senders were throttled with every reader keeping up."""
    g = guard(output_budget=10_000, sendq=100_000, kernel_sendq=100)
    for _ in range(50):  # 50 ticks of 4,000 bytes, no look between them: 200,000 in all
        g.message(4000)
        assert not g.throttled
        g.written()  # (Outbox.write_out: nothing backed up after the writes)
    assert not g.throttled and g.pending == 0


def test_while_a_reader_is_backed_up_the_estimate_adds_up_until_the_next_look() -> None:
    g = guard(output_budget=10_000, sendq=100_000, kernel_sendq=100)
    watched(g, 1000)  # a slow reader: what was written may still be queued
    for _ in range(2):
        g.message(4000)
        g.written()
    assert not g.throttled  # 1,000 held at most + 8,000 since the last look
    g.message(4000)
    assert g.throttled
