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
