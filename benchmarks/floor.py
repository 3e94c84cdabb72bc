"""The floor of the fan-out's latency on this machine (issue 15): N one-line
loopback writes per message, with nothing else to do.

    python -m benchmarks.floor                       # C writer, then Python writer, 99 sockets, 200 msgs/s, 10 s
    python -m benchmarks.floor --writer c --rounds 2

A writer pinned to ``--writer-cpu`` writes one 64-byte line carrying the
message's moment (CLOCK_MONOTONIC) to each of ``--members`` sockets, ``--rate``
times a second; a reader pinned to ``--reader-cpu`` reads them all with epoll
(benchmarks/floor.c, compiled now with cc), as the benchmark's C receiver reads
chinwag's. Printed: the writer's spread (its first write to its last, per
message) and the latency of every delivery and of the first socket's. The C
writer is what the kernel alone costs; the Python writer (``socket.send`` in a
loop, no event loop) adds the interpreter's least per write. Loopback only;
bounded by ``--seconds`` (at most 60).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SOURCE = Path(__file__).with_name("floor.c")


def build(out: str) -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("no C compiler (cc) on PATH")
    exe = os.path.join(out, "floor")
    subprocess.run([cc, "-O2", "-o", exe, str(SOURCE)], check=True, timeout=120)
    return exe


def run_c(exe: str, args: argparse.Namespace) -> str:
    proc = subprocess.run([exe, "all", str(args.members), str(args.rate), str(args.seconds), str(args.writer_cpu),
                           str(args.reader_cpu)], capture_output=True, text=True, timeout=args.seconds + 60)
    return proc.stdout


def run_python(exe: str, args: argparse.Namespace) -> str:
    listener = socket.create_server(("127.0.0.1", 0))
    clients, servers = [], []
    for _ in range(args.members):
        c = socket.create_connection(listener.getsockname())
        s, _ = listener.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        clients.append(c)
        servers.append(s)
    listener.close()
    fds = [c.fileno() for c in clients]
    reader = subprocess.Popen([exe, "read", str(args.reader_cpu), ",".join(map(str, fds))], pass_fds=fds,
                              stdout=subprocess.PIPE, text=True)
    for c in clients:
        c.close()
    os.sched_setaffinity(0, {args.writer_cpu})
    sends = [s.send for s in servers]
    period = 1.0 / args.rate
    spreads = []
    clock = time.perf_counter_ns  # CLOCK_MONOTONIC, as the reader's
    next_at = time.perf_counter() + 0.1
    for _ in range(int(args.rate * args.seconds)):
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t0 = clock()
        line = b"%020d %-42s\n" % (t0, b"x")
        for send in sends:
            send(line)
        spreads.append(clock() - t0)
        next_at += period
    for s in servers:
        s.close()
    out, _ = reader.communicate(timeout=60)
    spreads.sort()
    n = len(spreads)

    def at(p: float) -> float:
        return spreads[min(n - 1, int(p / 100 * n))] / 1e6

    head = f"writes per message {args.members}, {args.rate:.0f} messages/s, {n} messages\n"
    return head + (f"spread n {n} p50 {at(50):.3f} p90 {at(90):.3f} p99 {at(99):.3f} p99.9 {at(99.9):.3f} "
                   f"max {spreads[-1] / 1e6:.3f}\n") + out


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=99, help="sockets written to per message (99)")
    p.add_argument("--rate", type=float, default=200.0, help="messages/s (200)")
    p.add_argument("--seconds", type=float, default=10.0, help="how long (10; at most 60)")
    p.add_argument("--writer", choices=("c", "python", "both"), default="both")
    p.add_argument("--writer-cpu", type=int, default=0)
    p.add_argument("--reader-cpu", type=int, default=1)
    p.add_argument("--rounds", type=int, default=1, help="C and Python writers interleaved, this many times")
    args = p.parse_args()
    if not (1 <= args.members <= 10_000 and 0 < args.rate <= 100_000 and 0 < args.seconds <= 60):
        raise SystemExit("--members 1..10000, --rate up to 100000, --seconds up to 60")
    with tempfile.TemporaryDirectory(prefix="chinwag-floor-") as out:
        exe = build(out)
        writers = ("c", "python") if args.writer == "both" else (args.writer,)
        for r in range(args.rounds):
            for w in writers:
                with open("/proc/stat") as f:
                    before = [int(x) for x in f.readline().split()[1:]]
                text = run_c(exe, args) if w == "c" else run_python(exe, args)
                with open("/proc/stat") as f:
                    after = [int(x) for x in f.readline().split()[1:]]
                busy = sum(after) - sum(before) - (after[3] - before[3]) - (after[4] - before[4])
                ticks = os.sysconf("SC_CLK_TCK")
                print(f"--- round {r + 1}, {w} writer; machine busy {busy / ticks / args.seconds:.2f} CPUs "
                      f"(this run's writer and reader included)")
                print(text.rstrip())


if __name__ == "__main__":
    main()
