"""The cluster bus (transport/cluster/bus.py) on a local redis-server:

    python -m benchmarks.bus [--messages 200000] [--size 300] [--burst 1000] [--rounds 3]

Starts its own redis-server (tests/services.py: 127.0.0.1, a free port, nothing
saved; stopped at the end), then per round two Bus objects on one channel, as
two nodes would be: A publishes ``--messages`` messages of ``--size`` bytes in
bursts of ``--burst`` (the next burst when B has received all but one burst),
and both receive everything (a node gets its own publications too). Prints per
round and as medians: messages/s end to end (A's first publish to B's last
receipt) and this process's CPU per message (A's writer, both subscribers);
redis-server's own CPU is not counted. Exit status 1 if B missed, reordered or
A dropped anything. Bounded: a fixed count, each round at most 120 s; loopback
only. Smoke: ``--messages 2000 --rounds 1``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def one_round(url: str, channel: str, messages: int, size: int, burst: int) -> tuple[float, float, bool]:
    from chinwag.config import Limits
    from chinwag.transport.cluster.bus import Bus

    limits = dataclasses.replace(Limits(), cluster_bus_queue=max(Limits().cluster_bus_queue, 2 * burst))
    got = 0
    ordered = True
    target = 0
    reached = asyncio.Event()

    def on_b(data: bytes) -> None:
        nonlocal got, ordered
        if int(data[:10]) != got:
            ordered = False
        got += 1
        if got >= target:
            reached.set()

    a = Bus(url, channel, limits, lambda data: None, lambda up: None)
    b = Bus(url, channel, limits, on_b, lambda up: None)
    await a.start()
    await b.start()
    pad = b"x" * max(size - 10, 0)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        sent = 0
        while sent < messages:
            k = min(burst, messages - sent)
            for i in range(sent, sent + k):
                a.publish(b"%010d" % i + pad)
            sent += k
            target = sent - burst if sent < messages else messages
            if a.dropped:  # the queue bound was hit: the count would never be reached
                break
            if got < target:
                reached.clear()
                await asyncio.wait_for(reached.wait(), 120)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        ok = ordered and got == messages and a.dropped == 0 and a.published == messages
    finally:
        await a.close()
        await b.close()
    return messages / elapsed, cpu / messages * 1e6, ok


async def run(args: argparse.Namespace, url: str) -> int:
    rates: list[float] = []
    cpus: list[float] = []
    bad = False
    for n in range(args.rounds):
        rate, cpu_us, ok = await asyncio.wait_for(
            one_round(url, f"chinwag:bench{n}", args.messages, args.size, args.burst), 130)
        rates.append(rate)
        cpus.append(cpu_us)
        bad |= not ok
        print(f"round {n + 1}: {rate:,.0f} messages/s, {cpu_us:.1f} µs CPU per message"
              f"{'' if ok else '  LOST, DROPPED OR OUT OF ORDER'}")
    print(f"median of {args.rounds}: {statistics.median(rates):,.0f} messages/s, "
          f"{statistics.median(cpus):.1f} µs CPU per message ({args.messages} messages of {args.size} bytes, "
          f"bursts of {args.burst}, 2 subscribers in this process)")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bus", description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=200_000)
    p.add_argument("--size", type=int, default=300, help="bytes per message (at least 10)")
    p.add_argument("--burst", type=int, default=1000, help="messages published at once")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    if args.messages < 1 or args.size < 10 or args.burst < 1 or args.rounds < 1:
        p.error("--messages, --burst and --rounds must be positive, --size at least 10")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "src"))
    from tests.services import Redis

    redis = Redis()

    def terminated(*_: object) -> None:
        # The redis-server is in a session of its own: it would outlive us.
        redis.close()
        os._exit(143)

    signal.signal(signal.SIGTERM, terminated)
    try:
        redis.start()
        try:
            import uvloop
        except ImportError:
            return asyncio.run(run(args, redis.url))
        return uvloop.run(run(args, redis.url))
    finally:
        redis.close()


if __name__ == "__main__":
    sys.exit(main())
