"""The SQLite writer's batches: many rows a statement (storage/sqlite_rows.py),
the same rows, receipts and conversation counts as one statement a row."""

from __future__ import annotations

from pathlib import Path

import pytest

from chinwag.core.events import Message
from chinwag.storage import sqlite as sqlite_module
from chinwag.storage.base import Receipt, conversation_key
from chinwag.storage.sqlite import SqliteStore


def batch(count: int) -> list[Message]:
    """Three conversations interleaved: two spellings of one room, another room, a private one."""
    targets = ("#Lobby", "#lobby", "#other", "bob")
    return [Message(f"{0x100 + i:016x}", 1000.0 + i, "alice", targets[i % 4], f"hello {i}", "privmsg",
                    account="acct" if i % 3 == 0 else "") for i in range(count)]


@pytest.mark.parametrize("count", [1, 63, 64, 67, 200])
def test_a_batch_is_stored_whole_with_its_receipts(tmp_path: Path, count: int) -> None:
    store = SqliteStore(tmp_path / "h.db", checkpoint_every=None)
    confirmed: list[list[Receipt]] = []
    store._confirm = confirmed.append  # type: ignore[method-assign]
    conn = sqlite_module._open_writer(str(tmp_path / "h.db"))
    messages = batch(count)
    store._store(conn, messages)
    assert confirmed == [[Receipt(m.msgid, conversation_key(m), 0) for m in messages]]
    assert all(type(r) is Receipt for r in confirmed[0])
    rows = conn.execute("SELECT key, msgid, ts, nick, target, text, kind, account FROM messages ORDER BY msgid")
    assert rows.fetchall() == [(conversation_key(m), m.msgid, m.ts, m.nick, m.target, m.text, m.kind, m.account)
                               for m in messages]
    counts = dict(conn.execute("SELECT key, count FROM conversations").fetchall())
    expected: dict[str, int] = {}
    for m in messages:
        expected[conversation_key(m)] = expected.get(conversation_key(m), 0) + 1
    assert counts == expected
    conn.close()


def test_a_reused_msgid_inside_a_big_batch_loses_only_that_message(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "h.db", checkpoint_every=None)
    confirmed: list[list[Receipt]] = []
    store._confirm = confirmed.append  # type: ignore[method-assign]
    conn = sqlite_module._open_writer(str(tmp_path / "h.db"))
    first = batch(100)
    store._store(conn, first[:1])
    again = Message(first[0].msgid, 5.0, "mallory", first[0].target, "not me", "privmsg")
    store._store(conn, [*first[1:70], again, *first[70:]])  # (in the second 64-row statement)
    assert [len(c) for c in confirmed] == [1, 100]  # confirmed, all of them (the first keeps the id)
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 100
    assert conn.execute("SELECT text FROM messages WHERE msgid = ?", (first[0].msgid,)).fetchone() == ("hello 0",)
    conn.close()
