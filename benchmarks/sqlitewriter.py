"""``python -m benchmarks.sqlitewriter``: the SQLite writer thread's work per stored message.

What the history writer does for each commit of a busy tick, without the
server: ``SqliteStore._store`` (rows built from the messages, one transaction
of inserts and the conversation upsert, the receipts) over ``--batch`` messages
at a time (a busy tick's 67 by default), ``--batches`` times, into a throwaway
file (WAL, ``synchronous=NORMAL`` as the server opens it; SQLite's automatic
checkpoints inline, as the checkpoint thread would run them). Messages look
like the fan-out load's: one room, 10 senders, ``hello N``.

Prints CPU time per message; on a shared machine count instructions instead:

    valgrind --tool=callgrind --dump-before=os_getppid --callgrind-out-file=/tmp/w \\
        python -m benchmarks.sqlitewriter --batches 20
    valgrind ... --batches 220

(summary of ``/tmp/w.2``: the measured window) difference / (200 x 67) is
the writer's instructions per message. Loopback-free, bounded: at most
``--batches`` x ``--batch`` rows.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from chinwag.core.events import Message
from chinwag.storage import sqlite as sqlite_store


def messages(count: int, start: int) -> list[Message]:
    base = int(1_700_000_000 * 1_000_000) << 8
    return [Message(f"{base + ((start + i) << 8):016x}", 1_700_000_000.0 + (start + i) / 1e4, f"u{(start + i) % 10}",
                    "#lobby", f"hello {start + i}", "privmsg", user="u") for i in range(count)]


def run(batches: int, batch: int) -> float:
    with tempfile.TemporaryDirectory(prefix="chinwag-writer-") as tmp:
        path = os.path.join(tmp, "h.db")
        store = sqlite_store.SqliteStore(path, checkpoint_every=None)
        conn = sqlite_store._open_writer(path)
        ticks = [messages(batch, k * batch) for k in range(batches + 1)]
        store._store(conn, ticks[0])  # (warm: the statements prepared, the tables' first pages)
        os.getppid()  # the window's start (valgrind --dump-before=os_getppid)
        start = time.process_time()
        for tick in ticks[1:]:
            store._store(conn, tick)
        spent = time.process_time() - start
        os.getppid()  # its end
        stored = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        assert stored == (batches + 1) * batch, stored
        conn.close()
    return spent / (batches * batch) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sqlitewriter", description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, default=200, help="commits measured (default 200)")
    p.add_argument("--batch", type=int, default=67, help="messages per commit (default 67: a busy tick)")
    args = p.parse_args()
    cost = run(args.batches, args.batch)
    print(f"{args.batches} commits of {args.batch} messages: {cost:.2f} us CPU per message", flush=True)


if __name__ == "__main__":
    main()
