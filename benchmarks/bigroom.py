"""One room of N text users: how fast it fills, and how fast the server absorbs them all leaving.

    python -m benchmarks.bigroom                 # 10,000 clients
    python -m benchmarks.bigroom --smoke         # 300 clients, a few seconds

Every client is a telnet user that sends its name on connecting and so joins
``#lobby``; it is in once the server says ``* in #lobby``. Up to
``--concurrency`` joins are in flight at once (a crowd arriving, not one queue).
Then all of them close at the same moment, and a new user (connected just
before, on a thread of its own) gives its name. The figures: how long the room
took to fill, how many connections failed (reset, refused, timed out), how long
until the new user was answered (its ``* in #lobby``) and until its ``/who``
showed the room empty of the others (every departure absorbed).

Connections come from 127.0.0.1 .. 127.0.0.N source addresses, ``--per-ip`` each,
as from many machines. The server is spawned on loopback with ``--db :memory:``;
the run is bounded in count (at most 20,000) and in time (``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import sys
import threading
import time
from collections.abc import Coroutine
from typing import Any, cast

from benchmarks.procinfo import SpawnedServer, cpu_seconds, own_cpu_seconds, rss_kib

READY = b"* in #lobby"


class Member(asyncio.Protocol):
    """A text user that names itself, then reads (and drops) whatever comes."""

    def __init__(self, name: str, ready: asyncio.Future[float]) -> None:
        self.name = name
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.tail = b""
        self.received = 0
        self.lost: Exception | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's is not a subclass)
        self.transport.write(f"{self.name}\n".encode())

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if not self.ready.done():
            chunk = self.tail + data
            if READY in chunk:
                self.ready.set_result(time.monotonic())
            self.tail = chunk[-len(READY) :]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = exc
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed before joining"))


class Newcomer:
    """The user who arrives as the crowd leaves, on a thread of its own with a
    blocking socket, so that the generator's loop (busy closing N connections)
    does not delay what it measures. It connects before the crowd leaves and
    sends its name the moment they do: answered when it gets ``* in #lobby``;
    then it asks ``/who`` until the room holds only itself."""

    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=("127.0.0.2", 0))
        self.buf = b""
        self.go = threading.Event()
        self.answered = self.empty = float("nan")
        self.left_at = 0.0
        self.thread = threading.Thread(target=self._run, name="newcomer", daemon=True)
        self._line(b"What is your name?")
        self.thread.start()

    def _line(self, fragment: bytes) -> bytes:
        while True:
            while b"\n" not in self.buf:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("the server closed the newcomer")
                self.buf += data
            line, self.buf = self.buf.split(b"\n", 1)
            if fragment in line:
                return line.rstrip(b"\r")

    def _run(self) -> None:
        self.go.wait()
        try:
            self.sock.sendall(b"newcomer\n")
            self._line(READY)
            self.answered = time.monotonic() - self.left_at
            while True:
                self.sock.sendall(b"/who\n")
                if self._line(READY).endswith(b"(1)"):
                    self.empty = time.monotonic() - self.left_at
                    return
                time.sleep(0.02)
        except OSError:  # (socket.timeout included: the figures stay NaN)
            return

    def start(self, left_at: float) -> None:
        self.left_at = left_at
        self.go.set()

    def finish(self, timeout: float) -> None:
        self.thread.join(timeout)
        self.sock.close()


def source_address(i: int, per_ip: int) -> str:
    n = i // per_ip
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


async def run(n: int, concurrency: int, per_ip: int, timeout: float, port: int, pid: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0.5)  # let the server settle
    rss_idle = rss_kib(pid) or 0
    members: list[Member] = []
    failures: dict[str, int] = {}
    gate = asyncio.Semaphore(concurrency)
    deadline = time.monotonic() + timeout

    async def join(i: int) -> float | None:
        async with gate:
            ready: asyncio.Future[float] = loop.create_future()
            try:
                _, member = await asyncio.wait_for(
                    loop.create_connection(
                        lambda: Member(f"u{i}", ready), "127.0.0.1", port, local_addr=(source_address(i, per_ip), 0)
                    ),
                    max(0.1, deadline - time.monotonic()),
                )
                members.append(member)
                return await asyncio.wait_for(ready, max(0.1, deadline - time.monotonic()))
            except (OSError, TimeoutError) as exc:
                kind = type(exc).__name__
                failures[kind] = failures.get(kind, 0) + 1
                if not ready.done():
                    ready.cancel()
                return None

    cpu0, own0 = cpu_seconds(pid), own_cpu_seconds()
    started = time.monotonic()
    times = await asyncio.gather(*(join(i) for i in range(n)))
    joined = [t for t in times if t is not None]
    fill = (max(joined) - started) if joined else float("nan")
    cpu1, own1 = cpu_seconds(pid), own_cpu_seconds()
    # Halfway and last: how joins slow down as the room grows.
    ordered = sorted(joined)
    half = (ordered[len(ordered) // 2] - started) if ordered else float("nan")
    rss_full = rss_kib(pid) or 0
    dropped_while_in = sum(1 for m in members if m.closed and m.ready.done() and not m.ready.exception())

    # Everyone leaves at once; a newcomer arrives at the same moment.
    newcomer = await loop.run_in_executor(None, Newcomer, port, timeout)
    left_at = time.monotonic()
    for m in members:
        if m.transport is not None and not m.closed:
            m.transport.close()
    newcomer.start(left_at)
    await loop.run_in_executor(None, newcomer.finish, timeout)
    end = left_at + timeout
    while time.monotonic() < end and not all(m.closed for m in members):
        await asyncio.sleep(0.05)
    all_closed = time.monotonic() - left_at
    cpu2, own2 = cpu_seconds(pid), own_cpu_seconds()

    def cpu(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float:
        return round(sum(b) - sum(a), 2) if a and b else float("nan")

    return {
        "clients": n,
        "joined": len(joined),
        "failed": dict(sorted(failures.items())),
        "dropped_after_joining": dropped_while_in,
        "half_joined_s": round(half, 2),
        "all_joined_s": round(fill, 2),
        "joins_per_s": round(len(joined) / fill, 1) if joined and fill > 0 else 0.0,
        "server_cpu_join_s": cpu(cpu0, cpu1),
        "generator_cpu_join_s": cpu(own0, own1),
        "newcomer_answered_s": round(newcomer.answered, 3),
        "room_empty_s": round(newcomer.empty, 3),
        "all_closed_s": round(all_closed, 3),
        "server_cpu_leave_s": cpu(cpu1, cpu2),
        "generator_cpu_leave_s": cpu(own1, own2),
        "server_rss_idle_kib": rss_idle,
        "server_rss_full_kib": rss_full,
    }


def _run(main: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bigroom", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, help="users joining #lobby (default 10000; --smoke: 300)")
    p.add_argument("--concurrency", type=int, default=500, help="joins in flight at once (500)")
    p.add_argument("--per-ip", type=int, default=100, help="connections per loopback source address (100)")
    p.add_argument("--timeout", type=float, default=120.0, help="bound of each phase, seconds (120)")
    p.add_argument("--server-cpu", type=int, help="pin the spawned server to this CPU (taskset)")
    p.add_argument("--port", type=int, help="use a running server's text port on 127.0.0.1 instead of spawning one "
                   "(it needs max_per_ip >= --per-ip)")
    p.add_argument("--server-pid", type=int, default=0, help="with --port: its pid, for CPU and RSS figures")
    p.add_argument("--smoke", action="store_true", help="300 clients: a correctness run of a few seconds")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    n = args.clients if args.clients is not None else (300 if args.smoke else 10_000)
    if not 1 <= n <= 20_000 or not 1 <= args.concurrency <= 5000 or not 0 < args.timeout <= 600:
        p.error("--clients must be 1..20000, --concurrency 1..5000, --timeout 0..600")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 1000
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(hard, want), hard))
    if args.port is not None:
        result = _run(run(n, args.concurrency, args.per_ip, args.timeout, args.port, args.server_pid))
    else:
        env = {"CHINWAG_LIMITS__MAX_PER_IP": str(args.per_ip), "CHINWAG_LIMITS__MAX_CONNECTIONS": str(n + 100)}
        server = SpawnedServer("127.0.0.1", args.server_cpu, env=env)
        server.start(30)
        try:
            result = _run(run(n, args.concurrency, args.per_ip, args.timeout, server.port, server.pid))
        finally:
            server.stop()
    # What issue 10 item 11 asks: a room of 10,000 fills within 30 s, nobody is
    # reset, and the server absorbs them all leaving within 5 s.
    ok = (
        result["joined"] == n
        and not result["failed"]
        and not result["dropped_after_joining"]
        and result["all_joined_s"] <= 30
        and result["room_empty_s"] <= 5
    )
    if args.json:
        print(json.dumps({**result, "ok": ok}, indent=1))
    else:
        for key, value in result.items():
            print(f"{key:24} {value}")
        print(f"{'result':24} {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
