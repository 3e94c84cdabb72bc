"""Chaos: well-behaved users chat while others flood, stall, send garbage and vanish.

    python -m benchmarks.chaos --duration 60

Reports, for the well-behaved users only, loss and duplicates (both must be 0),
whether any control or escape byte reached them, and the server's RSS before
and after. Loopback only; every actor stops at the deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import sys
import time
from collections import Counter
from typing import Any

from benchmarks.procinfo import SpawnedServer, rss_kib

GARBAGE = [
    b"\xff\xfe\xfd invalid utf-8 \xc3\x28\n",
    b"nul\x00byte\n",
    b"\x1b[2J\x1b[31mred\x1b]0;title\x07\x1bP+q\x1b\\ \xe2\x80\xae reversed\n",
    b"\xff\xfb\x01\xff\xfd\x03\xff\xfa\x18\x00x\xff\xf0 telnet\n",
    b"x" * 10_000 + b"\n",  # over max_line
    bytes(range(256)) + b"\n",
]


# Long enough lines that a reader who never reads passes sendq (1 MiB) within
# the run, so the cut-off path is exercised under load.
PAD = 600


class Stats:
    def __init__(self) -> None:
        self.sent: dict[int, int] = {}  # well-behaved sender -> messages sent
        self.seen: dict[int, Counter[tuple[int, int]]] = {}
        self.dirty_lines = 0  # lines with control bytes that reached a well-behaved user
        self.actor_sessions: Counter[str] = Counter()


async def open_named(
    port: int, name: str, rcvbuf: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
    writer.write(name.encode() + b"\n")
    return reader, writer


async def well_behaved(k: int, port: int, stats: Stats, start: asyncio.Event, stop: float, rate: float) -> None:
    reader, writer = await open_named(port, f"good{k}")
    seen: Counter[tuple[int, int]] = Counter()
    stats.seen[k] = seen
    stats.sent[k] = 0
    while b"* in #lobby" not in await reader.readline():
        pass

    async def read() -> None:
        while line := await reader.readline():
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if any(ord(c) < 32 and c != "\t" or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in text):
                stats.dirty_lines += 1
            if ": wb " in text:
                _, _, payload = text.partition(": wb ")
                sender, seq, _ = payload.split(" ", 2)
                seen[(int(sender), int(seq))] += 1

    reading = asyncio.create_task(read())
    pad = "." * PAD
    await start.wait()
    while time.monotonic() < stop:
        writer.write(f"wb {k} {stats.sent[k]} {pad}\n".encode())
        stats.sent[k] += 1
        await asyncio.sleep(1 / rate)
    writer.write(b"/who\n")  # then wait for the last deliveries: the drain below
    await asyncio.sleep(0)
    return await finish(reading, writer)


async def finish(reading: asyncio.Task[None], writer: asyncio.StreamWriter) -> None:
    try:
        await asyncio.wait_for(asyncio.shield(reading), 3)
    except TimeoutError:
        pass
    reading.cancel()
    writer.close()


async def flooder(k: int, port: int, stats: Stats, stop: float) -> None:
    while time.monotonic() < stop:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            reader, writer = await open_named(port, f"flood{k}x{stats.actor_sessions['flood']}")
            stats.actor_sessions["flood"] += 1
            writer.write(b"".join(b"spam spam spam %d\n" % i for i in range(3000)))
            while time.monotonic() < stop and await reader.read(65536):  # until cut off
                pass
            writer.close()


async def staller(k: int, port: int, stats: Stats, stop: float) -> None:
    while time.monotonic() < stop:
        with contextlib.suppress(OSError):
            reader, writer = await open_named(port, f"stall{k}x{stats.actor_sessions['stall']}", rcvbuf=4096)
            stats.actor_sessions["stall"] += 1
            # never read: the server must cut it off without anyone noticing
            while time.monotonic() < stop and not writer.transport.is_closing():
                await asyncio.sleep(1)
                if reader.at_eof():
                    break
            writer.transport.abort()


async def garbage(k: int, port: int, stats: Stats, stop: float) -> None:
    rng = random.Random(k)
    while time.monotonic() < stop:
        with contextlib.suppress(OSError):
            reader, writer = await open_named(port, f"junk{k}x{stats.actor_sessions['junk']}")
            stats.actor_sessions["junk"] += 1
            for _ in range(20):
                writer.write(rng.choice(GARBAGE) if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 300)))
                await asyncio.sleep(0.05)
            writer.transport.abort()


async def vanisher(k: int, port: int, stats: Stats, stop: float) -> None:
    while time.monotonic() < stop:
        with contextlib.suppress(OSError):
            _, writer = await open_named(port, f"gone{k}x{stats.actor_sessions['gone']}")
            stats.actor_sessions["gone"] += 1
            writer.write(b"half a li")  # mid-line, then a reset
            await asyncio.sleep(0.1)
            writer.transport.abort()
        await asyncio.sleep(0.1)


async def run(opts: argparse.Namespace, server: SpawnedServer) -> dict[str, Any]:
    port = server.port
    stats = Stats()
    await asyncio.sleep(0.5)
    rss_before = rss_kib(server.pid) or 0
    start = asyncio.Event()
    stop = time.monotonic() + opts.duration + 1
    good = [asyncio.create_task(well_behaved(k, port, stats, start, stop, opts.rate)) for k in range(opts.good)]
    while len(stats.seen) < opts.good:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # everyone is in #lobby before the first message
    start.set()
    actors = [
        *(flooder(k, port, stats, stop) for k in range(opts.flooders)),
        *(staller(k, port, stats, stop) for k in range(opts.stallers)),
        *(garbage(k, port, stats, stop) for k in range(opts.garbage)),
        *(vanisher(k, port, stats, stop) for k in range(opts.vanishers)),
    ]
    await asyncio.gather(*good, *actors)
    await asyncio.sleep(1)
    rss_after = rss_kib(server.pid) or 0
    sent = sum(stats.sent.values())
    expected = missing = dups = 0
    for k, seen in stats.seen.items():
        for sender, count in stats.sent.items():
            if sender == k:
                continue
            for seq in range(count):
                expected += 1
                n = seen.get((sender, seq), 0)
                missing += n == 0
                dups += max(0, n - 1)
    return {
        "duration_s": opts.duration,
        "well_behaved": opts.good,
        "messages_sent": sent,
        "deliveries_expected": expected,
        "loss": missing,
        "duplicates": dups,
        "dirty_lines": stats.dirty_lines,
        "actor_sessions": dict(stats.actor_sessions),
        "server_rss_before_kib": rss_before,
        "server_rss_after_kib": rss_after,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--good", type=int, default=30, help="well-behaved users")
    p.add_argument("--rate", type=float, default=2.0, help="messages/s per well-behaved user")
    for name in ("flooders", "stallers", "garbage", "vanishers"):
        p.add_argument(f"--{name}", type=int, default=3)
    p.add_argument("--db", default=":memory:")
    p.add_argument("--json", action="store_true")
    opts = p.parse_args(argv)
    if not 1 <= opts.duration <= 600 or not 2 <= opts.good <= 500:
        p.error("--duration 1..600, --good 2..500")
    server = SpawnedServer("127.0.0.1", db=opts.db, env={"CHINWAG_LOG_LEVEL": "WARNING"})
    # The real flood limits: chaos is about the defaults people run.
    server.env.update({"CHINWAG_LIMITS__FLOOD_RATE": "5", "CHINWAG_LIMITS__FLOOD_BURST": "20",
                       "CHINWAG_LIMITS__FLOOD_BACKLOG": "200",
                       # every user comes from 127.0.0.1 and connects at once
                       "CHINWAG_LIMITS__MAX_UNREGISTERED_PER_IP": "1000"})
    server.start(30)
    try:
        result = asyncio.run(run(opts, server))
    finally:
        server.stop()
    ok = result["loss"] == 0 and result["duplicates"] == 0 and result["dirty_lines"] == 0
    result["result"] = "OK" if ok else "FAILED"
    if opts.json:
        print(json.dumps(result, indent=1))
    else:
        for key, value in result.items():
            print(f"{key:24} {value}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
