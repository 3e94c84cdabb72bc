"""Schema step 9: no (key, ts) index. Times are found through msgids
(storage/sqlite_time.py), and every history query still has an index-backed plan."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chinwag.core.events import Message
from chinwag.core.hub import MessageIds
from chinwag.storage import sqlite as sqlite_module
from chinwag.storage.base import room_key
from chinwag.storage.sqlite import SqliteStore
from chinwag.storage.sqlite_time import msgid_floor

T0 = 1_700_000_000.0
KEY = room_key("#room")


@pytest.mark.parametrize("seed", range(20))
def test_every_id_the_hub_gives_is_at_least_the_floor_of_its_time(seed: int) -> None:
    """The rule since() and pruning by age rest on: an id is never below the
    floor of its own ts (the clock stepping back included), and the floor of a
    later time is never below the floor of an earlier one."""
    rnd = random.Random(seed)
    ids = MessageIds(slot=rnd.choice([None, 3]))
    ts = T0
    for _ in range(2000):
        ts += rnd.choice([0.0, 1e-7, 1e-6, 0.001, 1.0, -0.5, -3600.0, 86400.0])  # (the clock steps back too)
        assert ids.next(ts) >= msgid_floor(ts)
    times = sorted(T0 + rnd.uniform(-1e6, 1e6) for _ in range(500))
    floors = [msgid_floor(t) for t in times]
    assert floors == sorted(floors)


def _messages(stepped_back: bool) -> list[Message]:
    ids = MessageIds()
    out = []
    for i in range(60):
        ts = T0 + i * 10 - (400 if stepped_back and 20 <= i < 30 else 0)  # (ten made while the clock was behind)
        out.append(Message(ids.next(ts), ts, "alice", "#room", f"m{i}", "privmsg"))
    return out


async def _stored(tmp_path: Path, messages: list[Message]) -> SqliteStore:
    store = SqliteStore(tmp_path / "h.db")
    await store.start()
    for m in messages:
        store.append(m)
    await store.flush()
    return store


@pytest.mark.parametrize("stepped_back", [False, True])
async def test_since_finds_every_message_at_or_after_a_time(tmp_path: Path, stepped_back: bool) -> None:
    messages = _messages(stepped_back)
    store = await _stored(tmp_path, messages)
    try:
        for t in (0.0, T0 - 1, T0, T0 + 5, T0 + 100, T0 + 195, T0 + 250, T0 + 590, T0 + 600):
            want = [m for m in messages if m.ts >= t]
            assert await store.since(KEY, t, 1000) == want
            # (a limit keeps the oldest by msgid; by ts too, unless the clock stepped back)
            assert await store.since(KEY, t, 5) == want[:5]
    finally:
        await store.close()


@pytest.mark.parametrize("stepped_back", [False, True])
async def test_pruning_by_age_never_deletes_a_message_younger_than_the_cutoff(
    tmp_path: Path, stepped_back: bool
) -> None:
    messages = _messages(stepped_back)
    store = await _stored(tmp_path, messages)
    try:
        days = 100 / 86400  # (max_age_days: 100 s)
        deleted = await store.prune(0, days, T0 + 250)  # (the cutoff: T0 + 150)
        left = await store.latest(KEY, 1000)
        assert all(m.ts < T0 + 150 for m in messages if m not in left)  # only older ones went
        assert deleted == 15 and left == messages[15:]
        # (stepped back: the ten written while the clock was behind, ts T0 - 200 to T0 - 110,
        # have ids of about T0 + 190: they go once that is older than the cutoff)
        assert await store.prune(0, days, T0 + 350) == (15 if stepped_back else 10)
        assert await store.latest(KEY, 1000) == messages[30 if stepped_back else 25 :]
    finally:
        await store.close()


def _plans(conn: sqlite3.Connection, statements: list[str]) -> dict[str, list[str]]:
    """Each statement on messages, with its EXPLAIN QUERY PLAN's details."""
    out = {}
    for sql in statements:
        if "messages" not in sql or sql.startswith(("BEGIN", "COMMIT", "PRAGMA", "INSERT")):
            continue
        out[sql] = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    return out


async def test_every_history_query_on_messages_walks_an_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each read and prune of the messages table, as the store runs it (bound
    values in), searches an index: no full scan, no sort of its own."""
    seen: list[str] = []
    real_in_reader, real_run_job = SqliteStore._in_reader, sqlite_module._run_job

    def in_reader(self: SqliteStore, fn: Any) -> Any:
        conn = self._local.conn
        conn.set_trace_callback(seen.append)
        try:
            return real_in_reader(self, fn)
        finally:
            conn.set_trace_callback(None)

    def run_job(conn: sqlite3.Connection, job: Any) -> None:
        conn.set_trace_callback(seen.append)
        try:
            real_run_job(conn, job)
        finally:
            conn.set_trace_callback(None)

    monkeypatch.setattr(SqliteStore, "_in_reader", in_reader)
    monkeypatch.setattr(sqlite_module, "_run_job", run_job)
    messages = _messages(False)
    store = await _stored(tmp_path, messages)
    a, b = messages[10].msgid, messages[40].msgid
    try:
        await store.latest(KEY, 5)
        await store.before(KEY, b, 5)
        await store.after(KEY, a, 5)
        await store.between(KEY, a, b, 5)
        await store.between(KEY, b, a, 5)
        await store.around(KEY, a, 5)
        await store.since(KEY, T0 + 100, 5)
        await store.after_many([KEY, room_key("#other")], a, 5)
        await store.find([KEY], a)
        await store.targets(T0, T0 + 1000, 5)
        await store.has_history([KEY])
        await store.redact(KEY, a)
        await store.prune(30, 0, T0 + 1000)  # by count
        await store.prune(0, 100 / 86400, T0 + 300)  # by age
        await store.prune(20, 100 / 86400, T0 + 400)  # both
        with sqlite3.connect(tmp_path / "h.db") as conn:
            assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'messages_key_ts'").fetchall() == []
            plans = _plans(conn, seen)
    finally:
        await store.close()
    kinds = {sql.split()[0] for sql in plans}
    assert kinds == {"SELECT", "DELETE"}, kinds
    assert any("ts >=" in sql for sql in plans) and any("ts <" in sql for sql in plans)  # since, pruning by age
    for sql, details in plans.items():
        on_messages = [d for d in details if "messages" in d]
        assert on_messages, (sql, details)
        for detail in on_messages:
            assert detail.startswith("SEARCH messages USING "), (sql, details)
        assert not any("TEMP B-TREE" in d for d in details), (sql, details)


async def test_a_version_8_database_loses_the_index_and_keeps_its_history(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in sqlite_module._MIGRATIONS[:8]:
        if isinstance(step, str):
            conn.executescript(f"BEGIN;\n{step}\nCOMMIT;")
        else:
            conn.execute("BEGIN")
            step(conn)
            conn.execute("COMMIT")
    conn.execute("PRAGMA user_version = 8")
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'messages_key_ts'").fetchall() != []
    msgid = MessageIds().next(T0)
    conn.execute("INSERT INTO messages (key, msgid, ts, nick, target, text, kind) "
                 "VALUES ('#room', ?, ?, 'alice', '#room', 'kept', 'privmsg')", (msgid, T0))
    conn.close()
    store = SqliteStore(path)
    await store.start()
    try:
        assert [m.text for m in await store.since(KEY, T0, 10)] == ["kept"]
        assert await store.since(KEY, T0 + 0.000001, 10) == []
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.SCHEMA_VERSION == 9
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'messages_key_ts'").fetchall() == []
    conn.close()
