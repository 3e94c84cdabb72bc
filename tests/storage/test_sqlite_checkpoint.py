"""Issue 15, round 4: SQLite's WAL is checkpointed on a thread of its own
(storage/sqlite_checkpoint.py), not inside a commit: SQLite's automatic checkpoint
(every 1000 pages) put its fsyncs into one commit in ~250 of a paced load, and the
messages of that commit and those queued behind it waited for them (the latency
tail). The WAL must still start over (stay bounded), and nothing may be lost."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from chinwag.core.events import Message
from chinwag.core.limits import Limits
from chinwag.storage.base import Receipt
from chinwag.storage.open import open_store
from chinwag.storage.sqlite import SqliteStore

PAGE = 4096 + 24  # a WAL frame: a page and its header
TEXT = "x" * 200


def message(i: int) -> Message:
    return Message(f"{i + 1:020x}", 1.0 + i, "al", "#lobby", f"line {i} {TEXT}", "privmsg")


async def commit_one_by_one(store: SqliteStore, first: int, count: int) -> None:
    for i in range(first, first + count):
        store.append(message(i))
        await store.flush()  # (one commit per message, as a paced load makes them)


async def autocheckpoint(store: SqliteStore) -> int:
    """The writer connection's wal_autocheckpoint (read on the writer thread)."""
    return int(await store._write(lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]))


def wal_restarts(path: Path) -> int:
    """The WAL header's checkpoint sequence number: how often it started over."""
    with open(f"{path}-wal", "rb") as f:
        return int.from_bytes(f.read(16)[12:16], "big")


async def until(condition: object, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


async def test_checkpoints_run_off_the_writer_and_the_wal_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = SqliteStore(path, checkpoint_every=0.01)
    got: list[Receipt] = []
    store.on_commit = got.extend
    await store.start()
    try:
        checkpointer = store.checkpointer
        assert checkpointer is not None
        # SQLite's own checkpoint is off in the writer: no commit pays for one.
        assert await autocheckpoint(store) == 0
        await commit_one_by_one(store, 0, 150)
        restarts = wal_restarts(path)
        # Commits go on, one at a time, each followed by a background pass,
        # until the WAL starts over: a pass copied it back, the writer's short
        # pass after its next commit finished it, and the commit after that
        # began at its first frame again (the WAL header counts the restarts).
        # Without the checkpointer it would only grow: SQLite's own is off.
        count = 150
        while wal_restarts(path) == restarts:
            assert count < 160, f"the WAL never started over ({checkpointer.finishes} finishes)"
            passes = checkpointer.passes
            await commit_one_by_one(store, count, 1)
            count += 1
            await until(lambda: checkpointer.passes > passes)  # noqa: B023 (awaited in this iteration)
        assert checkpointer.passes >= 1 and checkpointer.finishes >= 1
        names = {t.name for t in threading.enumerate()}
        assert "chinwag-history-checkpoint" in names
        assert [r.msgid for r in got] == [message(i).msgid for i in range(count)]
    finally:
        await store.close()
    assert "chinwag-history-checkpoint" not in {t.name for t in threading.enumerate()}
    # Everything is in the database file now (closing checkpoints the rest), readable without the store.
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == count
    again = SqliteStore(path)
    await again.start()
    try:
        last = [f"line {count - 2} {TEXT}", f"line {count - 1} {TEXT}"]
        assert [m.text for m in await again.latest("#lobby", 2)] == last
    finally:
        await again.close()


async def test_without_the_thread_sqlite_checkpoints_in_the_commits(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "h.db", checkpoint_every=None)
    await store.start()
    try:
        assert store.checkpointer is None
        assert await autocheckpoint(store) == 1000
    finally:
        await store.close()


async def test_the_server_s_store_takes_the_limit(tmp_path: Path) -> None:
    assert Limits().checkpoint_every == 2.0
    store = open_store(str(tmp_path / "h.db"), 5.0, "", 8, 0.25)
    assert isinstance(store, SqliteStore)
    assert store.checkpoint_every == 0.25
    assert SqliteStore(tmp_path / "d.db").checkpoint_every == Limits().checkpoint_every
