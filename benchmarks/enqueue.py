"""CPU cost of the per-recipient output path alone: ``Connection.enqueue`` and
the once-per-tick ``Connection.flush``, in process, with a transport that
discards what it is given.

    python -m benchmarks.enqueue

200 text connections, 80 lines of ~40 bytes each per tick (what 10 senders with
a window of 8 give), 300 ticks; CPU time (``time.process_time``), best of 7, so
that other processes on a shared machine disturb it less than the end-to-end
fan-out benchmark. A comparison tool (run it on two versions, interleaved), not
a throughput figure: no socket, no render, no fan-out loop.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from chinwag.config import Config
from chinwag.protocols.text import TextProtocol
from chinwag.transport.connection import Connection
from chinwag.transport.server import Server


class NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False


def measure(clients: int, lines: int, ticks: int, repeats: int) -> float:
    """Best CPU nanoseconds per delivery (one enqueue, and its share of a flush)."""
    srv = Server(Config(db=":memory:"))
    conns = []
    for _ in range(clients):
        c = Connection(srv, TextProtocol(srv.config.limits), "text")
        c.transport = NullTransport()  # type: ignore[assignment]
        conns.append(c)
    batch = [b"[12:00] someone: ~tok %d 123456789\r\n" % i for i in range(lines)]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(ticks):
            for data in batch:
                for c in conns:
                    c.enqueue(data)
            dirty, srv._dirty = srv._dirty, []  # what Server._flush does, without a loop
            for c in dirty:
                c.flush()
        best = min(best, time.process_time() - t0)
    return best / (ticks * lines * clients) * 1e9


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.enqueue", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--lines", type=int, default=80, help="lines per connection per tick (80)")
    p.add_argument("--ticks", type=int, default=300)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    if not (1 <= args.clients <= 5000 and 1 <= args.lines <= 1000 and 1 <= args.ticks <= 10_000
            and 1 <= args.repeats <= 50):
        p.error("out of range")
    result: Any = measure(args.clients, args.lines, args.ticks, args.repeats)
    print(f"enqueue+flush: {result:.1f} ns CPU per delivery (best of {args.repeats})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
