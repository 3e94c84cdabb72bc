"""The RoomStore contract (room rules beyond their members), for every backend."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.core.events import Message
from chinwag.core.roomstate import RoomState
from chinwag.storage import sqlite as sqlite_module
from chinwag.storage.base import Store, private_key, room_key
from chinwag.storage.memory import MemoryStore
from chinwag.storage.postgres import PostgresStore
from chinwag.storage.sqlite import SqliteStore

T0 = 1_700_000_000.0

VAULT = RoomState(
    "#Vault", T0, "imnt", "s3cret", 5,
    (("mallory!*@*", "owner", T0 + 1), ("*!*@evil", "owner", T0 + 2), ("eve!*@*", "op2", T0 + 3)),
    "the plans", "owner", T0 + 4,
)


def new_store(kind: str, path: Path, request: pytest.FixtureRequest) -> Store:
    if kind == "postgres":
        return PostgresStore(request.getfixturevalue("pg_url"))
    return MemoryStore() if kind == "memory" else SqliteStore(path)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s = new_store(request.param, tmp_path / "rooms.db", request)
    await s.start()
    yield s
    await s.close()


async def test_nothing_stored_at_first(store: Store) -> None:
    assert await store.load_rooms() == []


async def test_save_load_round_trip_keeps_every_rule_and_ban_order(store: Store) -> None:
    await store.save_room(VAULT)
    plain = RoomState("#dev", T0, topic="hello", topic_by="bob", topic_ts=T0 + 9)
    await store.save_room(plain)
    assert sorted(await store.load_rooms(), key=lambda s: s.name) == [VAULT, plain]


async def test_save_replaces_the_whole_state_bans_included(store: Store) -> None:
    await store.save_room(VAULT)
    changed = RoomState("#vault", T0, "nt", "", 0, (("eve!*@*", "op2", T0 + 3),), "", "", 0.0)
    await store.save_room(changed)  # same room (casefolded), fewer bans, no key
    assert await store.load_rooms() == [changed]


async def test_delete_forgets_and_deleting_nothing_is_fine(store: Store) -> None:
    await store.save_room(VAULT)
    await store.delete_room(room_key("#VAULT"))
    await store.delete_room(room_key("#never"))
    assert await store.load_rooms() == []


async def test_writes_are_queued_when_called_in_order(store: Store) -> None:
    # Not awaited one by one: the later save must win because it was called later.
    first = store.save_room(VAULT)
    second = store.save_room(RoomState("#vault", T0, "nt", topic="new"))
    third = store.delete_room("#other")
    for write in (first, second, third):
        await write
    assert await store.load_rooms() == [RoomState("#vault", T0, "nt", topic="new")]


async def test_has_history_names_the_keys_with_messages(store: Store) -> None:
    store.append(Message("0000000000000001", T0, "alice", "#dev", "hi", "privmsg"))
    store.append(Message("0000000000000002", T0, "alice", "bob", "psst", "privmsg"))
    await store.flush()
    keys = [room_key("#dev"), room_key("#vault"), private_key("alice", "bob"), *(f"#r{i}" for i in range(1200))]
    assert await store.has_history(keys) == {room_key("#dev"), private_key("alice", "bob")}
    assert await store.has_history([]) == set()


async def test_targets_hides_private_conversations_older_than_private_after(store: Store) -> None:
    store.append(Message("0000000000000010", T0 + 1, "alice", "bob", "old", "privmsg"))
    store.append(Message("0000000000000030", T0 + 3, "alice", "carol", "new", "privmsg"))
    store.append(Message("0000000000000040", T0 + 4, "alice", "#dev", "room", "privmsg"))
    await store.flush()
    seen = await store.targets(T0, T0 + 9, 10, keys=[room_key("#dev")], nick="alice",
                               private_after="0000000000000020")
    assert seen == [(private_key("alice", "carol"), T0 + 3), (room_key("#dev"), T0 + 4)]
    # the limit counts only what may be seen
    seen = await store.targets(T0, T0 + 9, 1, nick="alice", private_after="0000000000000020")
    assert seen == [(private_key("alice", "carol"), T0 + 3)]


async def test_sqlite_rooms_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "chinwag.db"
    first = SqliteStore(path)
    await first.start()
    await first.save_room(VAULT)
    await first.close()
    again = SqliteStore(path)
    await again.start()
    try:
        assert await again.load_rooms() == [VAULT]
    finally:
        await again.close()


async def test_a_version_1_database_gains_the_room_tables_and_keeps_its_history(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(sqlite_module._MIGRATIONS[0])
    conn.execute("INSERT INTO messages VALUES ('#dev', '0000000000000001', ?, 'alice', '#dev', 'kept', 'privmsg')",
                 (T0,))
    conn.execute("INSERT INTO conversations VALUES ('#dev', '0000000000000001', ?, 1)", (T0,))
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    store = SqliteStore(path)
    await store.start()
    try:
        assert [m.text for m in await store.latest(room_key("#dev"), 10)] == ["kept"]
        await store.save_room(VAULT)
        assert await store.load_rooms() == [VAULT]
    finally:
        await store.close()
    # (3: names re-folded, 4: accounts, 5: read markers, 6: credentials, 7: playback, 8: registered rooms,
    # 9: no (key, ts) index)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.SCHEMA_VERSION == 9
    conn.close()
