"""WAL checkpoints mostly off the writer's path: the heavy part on a thread of its own.

SQLite's automatic checkpoint runs inside the ``COMMIT`` that crosses 1000 WAL
pages: it fsyncs the WAL, copies it into the database file and fsyncs that,
10-40 ms on this machine's disk, during which the batch being committed is not
confirmed and every message queued behind it waits. That was most of the
history-on latency tail (docs/performance.md, issue 15 round 4). The fsyncs'
cost grows with the bytes written since the last one, so checkpointing less
often only makes each stall longer.

So the writer's connection has ``wal_autocheckpoint = 0`` and a
:class:`Checkpointer` thread with its own connection runs
``PRAGMA wal_checkpoint(PASSIVE)`` (which never blocks the writer: WAL lets
one writer and one checkpointer work at once), at most every ``every``
seconds, after commits. That pass fsyncs nearly everything. What the writer
appended meanwhile is still in the WAL, and SQLite starts the WAL file over
only when all of it has been copied, so the writer, after its next commit (and
its confirmation), runs a second, short pass itself (:meth:`Checkpointer.finish`):
a few frames and two small fsyncs.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("chinwag.storage")


def checkpoint(conn: sqlite3.Connection) -> bool:
    """One PASSIVE checkpoint; False if it failed (the next one tries again)."""
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:
        log.debug("history checkpoint failed: %s", exc)
        return False
    return True


class Checkpointer:
    """A thread that checkpoints the WAL of ``path`` after commits, at most every ``every`` seconds."""

    def __init__(self, path: str, every: float) -> None:
        self.path = path
        self.every = every
        self.passes = 0  # background passes run
        self.finishes = 0  # short passes the writer ran after them
        self._due = threading.Event()  # a commit happened since the last pass
        self._stop = threading.Event()
        self._done = False  # a background pass ended: the writer finishes it (writer reads, thread sets)
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None

    def start(self) -> None:
        """Open its connection and start the thread."""
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._thread = threading.Thread(target=self._run, name="chinwag-history-checkpoint", daemon=True)
        self._thread.start()

    def committed(self, conn: sqlite3.Connection) -> None:
        """In the writer, after a commit was confirmed: finish a background pass
        that ended (so the WAL starts over), and ask for the next one."""
        if self._done:
            self._done = False
            checkpoint(conn)
            self.finishes += 1
        if not self._due.is_set():
            self._due.set()

    def stop(self) -> None:
        """Stop the thread (a pass in progress finishes) and close its connection."""
        self._stop.set()
        self._due.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        conn = self._conn
        assert conn is not None
        due, stop = self._due, self._stop
        while True:
            due.wait()
            if stop.is_set():
                return
            due.clear()
            if checkpoint(conn):
                self.passes += 1
                self._done = True
            if stop.wait(self.every):
                return
