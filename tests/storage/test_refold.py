"""Schema version 3 (storage/sqlite_refold.py): a database written with the RFC
1459 fold keeps working with the PRECIS one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from chinwag.storage import sqlite as sqlite_module
from chinwag.storage.base import private_key, room_key
from chinwag.storage.sqlite import SqliteStore
from chinwag.storage.sqlite_refold import refold_key

T0 = 1_700_000_000.0
_OLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")


def old_fold(name: str) -> str:
    """The fold before version 3: RFC 1459, ASCII only."""
    return name.translate(_OLD)


def version_2_database(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(sqlite_module._MIGRATIONS[0])  # type: ignore[arg-type]
    conn.executescript(sqlite_module._MIGRATIONS[1])  # type: ignore[arg-type]
    rows = [
        ("#Кафе", "0000000000000001", "bob", "first, in #Кафе"),
        ("#кафе", "0000000000000002", "bob", "second, in #кафе"),
        ("#Dev[x]", "0000000000000003", "alice", "ascii keys stay"),
        ("#Кафе", "0000000000000004", "bob", "third, in #Кафе"),
    ]
    for target, msgid, nick, text in rows:
        conn.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, 'privmsg')",
                     (old_fold(target), msgid, T0, nick, target, text))
    conn.execute("INSERT INTO conversations VALUES ('#Кафе', '0000000000000004', ?, 2)", (T0 + 4,))
    conn.execute("INSERT INTO conversations VALUES ('#кафе', '0000000000000002', ?, 1)", (T0 + 2,))
    conn.execute("INSERT INTO conversations VALUES ('#dev{x}', '0000000000000003', ?, 1)", (T0 + 3,))
    room = "INSERT INTO rooms VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    conn.execute(room, ("#Кафе", "#Кафе", T0, "iknt", "s3cret", 0, "newer rules", "bob", T0 + 10))
    conn.execute(room, ("#кафе", "#кафе", T0, "nt", "", 0, "older rules", "eve", T0 + 5))
    conn.execute("INSERT INTO room_bans VALUES ('#Кафе', 0, 'Вася!*@*', 'bob', ?)", (T0,))
    conn.execute("INSERT INTO room_bans VALUES ('#кафе', 0, 'eve!*@*', 'eve', ?)", (T0,))
    conn.execute("INSERT INTO departures VALUES ('Вася', '[\"#Кафе\"]', '0000000000000002', ?)", (T0,))
    conn.execute("INSERT INTO departures VALUES ('вася', '[\"#dev\"]', '0000000000000003', ?)", (T0 + 1,))
    conn.execute("PRAGMA user_version = 2")
    conn.close()


def test_keys_are_refolded_the_way_room_key_and_private_key_make_them() -> None:
    assert refold_key("#Кафе") == room_key("#КАФЕ") == "#кафе"
    assert refold_key("@Вася,bob") == private_key("bob", "ВАСЯ") == "@bob,вася"
    assert refold_key("#dev{x}") == "#dev{x}"


async def test_a_version_2_database_is_refolded_and_merged(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    version_2_database(path)
    store = SqliteStore(path)
    await store.start()
    try:
        merged = await store.latest(room_key("#КАФЕ"), 10)
        assert [m.text for m in merged] == ["first, in #Кафе", "second, in #кафе", "third, in #Кафе"]
        assert [m.text for m in await store.latest(room_key("#DEV[X]"), 10)] == ["ascii keys stay"]
        (rules,) = [r for r in await store.load_rooms() if room_key(r.name) == "#кафе"]
        assert (rules.name, rules.key, rules.topic) == ("#Кафе", "s3cret", "newer rules")  # the newer one
        assert rules.bans == (("вася!*@*", "bob", T0),)
        assert await store.departure("ВАСЯ") == (("#dev",), "0000000000000003", T0 + 1)
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.SCHEMA_VERSION == 5
    assert conn.execute("SELECT key, count, last_msgid FROM conversations ORDER BY key").fetchall() == [
        ("#dev{x}", 1, "0000000000000003"), ("#кафе", 3, "0000000000000004")]
    assert conn.execute("SELECT count(*) FROM room_bans").fetchone()[0] == 1
    conn.close()
