"""``python -m benchmarks.storetail``: the SQLite history store's commit latency, alone.

Appends messages at a steady rate (one per loop tick, as a paced chat load
makes them) to a throwaway SQLite file and times each one from ``append`` to
its ``on_commit`` on the loop: the part of a message's latency that the store
adds. One run per ``--modes`` value: ``inline`` (SQLite's automatic checkpoint
inside the commit that crosses 1000 WAL pages, as before issue 15 round 4) or a
number of seconds (``limits.checkpoint_every``: checkpoints on their own thread,
storage/sqlite_checkpoint.py), interleaved for ``--rounds`` rounds so that a
drifting machine moves all alike. A fresh database starts with an empty WAL: run
long enough to cross several checkpoints (``--seconds``; about 4 pages a commit).
Bounded: at most 60 s a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time

from benchmarks.cluster import pct
from chinwag.core.events import Message
from chinwag.storage.base import Receipt
from chinwag.storage.sqlite import SqliteStore


def _pct(xs: list[float]) -> str:
    def at(p: float) -> float:
        return pct(xs, p) * 1000

    return (f"n {len(xs)}  p50 {at(50):.3f}  p90 {at(90):.3f}  p99 {at(99):.3f}  p99.9 {at(99.9):.3f}  "
            f"max {at(100):.3f} ms")


async def one(mode: str, rate: float, seconds: float, pad: int) -> tuple[list[float], int]:
    with tempfile.TemporaryDirectory(prefix="chinwag-storetail-") as tmp:
        store = SqliteStore(os.path.join(tmp, "h.db"), checkpoint_every=None if mode == "inline" else float(mode))
        sent: dict[str, float] = {}
        lat: list[float] = []

        def committed(receipts: list[Receipt]) -> None:
            now = time.perf_counter()
            for r in receipts:
                t = sent.pop(r.msgid, None)
                if t is not None:
                    lat.append(now - t)

        store.on_commit = committed
        await store.start()
        try:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            k = 0
            text = "x" * pad
            while (now := loop.time()) - t0 < seconds:
                k += 1
                msgid = f"{k:020x}"
                sent[msgid] = time.perf_counter()
                store.append(Message(msgid, time.time(), "bench", "#lobby", f"~tok {k} 0 {text}", "privmsg"))
                await asyncio.sleep(max(0.0, t0 + k / rate - now))
            await store.flush()
            wal = os.path.getsize(os.path.join(tmp, "h.db-wal"))
        finally:
            await store.close()
        return lat, wal


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.storetail", description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=200.0, help="messages/s (200)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per run (10, at most 60)")
    p.add_argument("--rounds", type=int, default=2, help="rounds of one run per --modes value (2)")
    p.add_argument("--modes", default="inline,2",
                   help="one run each: inline (SQLite's checkpoint in the commit, every 1000 pages) or SECONDS "
                        "(limits.checkpoint_every: the checkpoint thread) (inline,2)")
    p.add_argument("--pad", type=int, default=40, help="filler characters per message (40)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    modes = args.modes.split(",")
    if not 0 < args.seconds <= 60 or not 0 < args.rate <= 50_000 or not 1 <= args.rounds <= 10:
        print("benchmarks.storetail: --seconds 0..60, --rate 0..50000, --rounds 1..10", file=sys.stderr)
        return 2
    for rnd in range(1, args.rounds + 1):
        for mode in modes:
            lat, wal = asyncio.run(one(mode, args.rate, args.seconds, args.pad))
            print(f"round {rnd}  {mode:>6}  append -> on_commit  {_pct(lat)}  (WAL file {wal / 2**20:.1f} MiB)",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
