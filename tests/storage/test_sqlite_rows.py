"""The SQLite writer's batches: many rows a statement (storage/sqlite_rows.py),
the same rows, receipts and conversation counts as one statement a row."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from chinwag.core.events import Message
from chinwag.storage import sqlite as sqlite_module
from chinwag.storage.base import Receipt, conversation_key
from chinwag.storage.sqlite import SqliteStore
from chinwag.storage.sqlite_rows import RoomRows, general_rows, insert_sql, message_rows, receipts


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


def room_batch(count: int, start: int = 0, kind: str = "privmsg") -> list[Message]:
    """One room's messages from several senders (one account among them): key,
    target, kind and account the same in every row when ``kind`` is."""
    return [Message(f"{0x100 + start + i:016x}", 1000.0 + (start + i) / 7, f"u{i % 3}", "#Lobby", f"hi é {i}",
                    kind if kind != "mixed" else ("action" if i % 5 == 0 else "privmsg"), account="")
            for i in range(count)]


def stored(conn: Any) -> tuple[list[Any], list[Any]]:
    rows = conn.execute("SELECT key, msgid, ts, nick, target, text, kind, account FROM messages ORDER BY msgid")
    return rows.fetchall(), conn.execute("SELECT * FROM conversations ORDER BY key").fetchall()


@pytest.mark.parametrize("count", [1, 2, 63, 64, 67, 130])
@pytest.mark.parametrize("kind", ["privmsg", "notice", "mixed"])
def test_rows_that_share_key_target_kind_and_account_are_stored_as_the_general_form_stores_them(
    tmp_path: Path, count: int, kind: str
) -> None:
    shared = sqlite_module._open_writer(str(tmp_path / "shared.db"))
    general = sqlite_module._open_writer(str(tmp_path / "general.db"))
    for start in (0, count):  # (twice: the conversation's count and newest message updated)
        rows = message_rows(room_batch(count, start, kind))
        sqlite_module._insert(shared, rows)
        general.execute("BEGIN IMMEDIATE")
        for row in rows:
            general.execute(insert_sql(1), row)
        general.executemany(sqlite_module._UPSERT_CONVERSATION, conversations_one_by_one(rows))
        general.execute("COMMIT")
    assert stored(shared) == stored(general)
    assert len(stored(shared)[0]) == 2 * count
    shared.close()
    general.close()


def conversations_one_by_one(rows: list[Any]) -> list[list[Any]]:
    """The general form of _conversation_rows: per key, the newest msgid (the first of equals), its ts, a count."""
    out: dict[str, list[Any]] = {}
    for key, msgid, ts, *_ in rows:
        agg = out.setdefault(key, [key, msgid, ts, 0])
        agg[3] += 1
        if msgid > agg[1]:
            agg[1], agg[2] = msgid, ts
    return list(out.values())


@pytest.mark.parametrize("seed", range(20))
def test_conversation_rows_is_the_general_form(seed: int) -> None:
    rnd = random.Random(seed)
    keys = ["#a", "#b", "acct:x"][: rnd.randint(1, 3)]
    rows = [(rnd.choice(keys), f"{rnd.randrange(50):016x}", rnd.random(), "n", "t", "x", "privmsg", "")
            for _ in range(rnd.randint(1, 70))]
    assert sqlite_module._conversation_rows(rows) == conversations_one_by_one(rows)


def random_batch(rnd: random.Random, start: int) -> list[Message]:
    """Mostly one room's messages (as a busy tick's), sometimes with one that
    differs: another spelling or room, a private one, by account, another kind or account."""
    count = rnd.randint(1, 140)
    out = []
    for i in range(count):
        target, kind, account, accounts = "#Lobby", "privmsg", "acct", None
        odd = rnd.random() < 0.02 and i > 0
        if odd:
            what = rnd.randrange(6)
            target = ("#lobby", "#other", "bob", "bob", "#Lobby", "#Lobby")[what]
            accounts = ("acct", "b2") if what == 3 else None
            kind = "notice" if what == 4 else kind
            account = "" if what == 5 else account
        ts = 1000.0 + rnd.random() * 10
        msgid = f"{0x100 + start + (i if rnd.random() < 0.9 else rnd.randrange(count)):016x}"  # (equal ids: max's ties)
        out.append(Message(msgid, ts, f"u{rnd.randrange(4)}", target, f"x {i} é", kind, account=account,
                           accounts=accounts))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_room_rows_are_the_general_rows_with_the_same_receipts_and_conversation(seed: int) -> None:
    """A room's batch kept flat (RoomRows) is, row by row, what general_rows
    makes; its receipts and conversation row are the general form's."""
    rnd = random.Random(seed)
    messages = random_batch(rnd, 1000 * seed)
    rows = message_rows(messages)
    general = general_rows(messages)
    one_room = len({(m.target, m.kind, m.account, m.accounts) for m in messages}) == 1
    assert (type(rows) is RoomRows) == one_room
    assert len(rows) == len(general)
    assert list(rows) == general
    assert [rows[i] for i in range(-len(rows), len(rows))] == general + general
    assert rows[1:-1:2] == general[1:-1:2]
    assert receipts(rows) == receipts(general) == [Receipt(m.msgid, conversation_key(m), 0) for m in messages]
    assert all(type(r) is Receipt for r in receipts(rows))
    assert sqlite_module._conversation_rows(rows) == conversations_one_by_one(general)
    with pytest.raises(IndexError):
        rows[len(rows)]


@pytest.mark.parametrize("count", [1, 2, 50, 64, 67, 130, 300])
def test_a_rooms_rows_are_stored_as_the_general_form_stores_them(tmp_path: Path, count: int) -> None:
    fast = sqlite_module._open_writer(str(tmp_path / "fast.db"))
    general = sqlite_module._open_writer(str(tmp_path / "general.db"))
    for start in (0, count, 2 * count):
        messages = room_batch(count, start)
        rows = message_rows(messages)
        assert type(rows) is RoomRows
        sqlite_module._insert(fast, rows)
        general.execute("BEGIN IMMEDIATE")
        for row in general_rows(messages):
            general.execute(insert_sql(1), row)
        general.executemany(sqlite_module._UPSERT_CONVERSATION, conversations_one_by_one(general_rows(messages)))
        general.execute("COMMIT")
    assert stored(fast) == stored(general)
    assert len(stored(fast)[0]) == 3 * count
    fast.close()
    general.close()
