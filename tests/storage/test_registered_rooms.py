"""Registered rooms in the RoomStore (schema 5): founder, op list and quiets, for every backend."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.core.roomstate import RoomState
from chinwag.storage import sqlite as sqlite_module
from chinwag.storage.base import Store
from chinwag.storage.sqlite import SqliteStore
from tests.storage.test_rooms import new_store

T0 = 1_700_000_000.0

DEN = RoomState(
    "#Den", T0, "int", "sesame", 0, (("~a:mallory", "alice", T0 + 1), ("troll!*@*", "alice", T0 + 2)),
    "alice's den", "alice", T0 + 3,
    registered=T0 + 4, founder="Alice", op_accounts=("carol", "Dave"), quiets=(("bob!*@*", "carol", T0 + 5),),
)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s = new_store(request.param, tmp_path / "rooms.db", request)
    await s.start()
    yield s
    await s.close()


def test_a_registered_room_is_never_a_default_one() -> None:
    assert not RoomState("#x", registered=T0).is_default()
    assert not RoomState("#x", quiets=(("a!*@*", "b", T0),)).is_default()
    assert RoomState("#x").is_default()


async def test_founder_op_list_and_quiets_round_trip(store: Store) -> None:
    await store.save_room(DEN)
    assert await store.load_rooms() == [DEN]
    fewer = dataclasses.replace(DEN, op_accounts=("Dave",), quiets=(), registered=0.0, founder="")
    await store.save_room(fewer)
    assert await store.load_rooms() == [fewer]
    await store.delete_room("#den")
    assert await store.load_rooms() == []


async def test_a_version_4_database_gains_registered_rooms_and_keeps_its_rooms(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in sqlite_module._MIGRATIONS[:4]:
        if isinstance(step, str):
            conn.executescript(step)
        else:
            step(conn)
    conn.execute("INSERT INTO rooms VALUES ('#old', '#Old', ?, 'nt', '', 0, 'kept', 'ann', ?)", (T0, T0))
    conn.execute("INSERT INTO room_bans VALUES ('#old', 0, 'eve!*@*', 'ann', ?)", (T0,))
    conn.execute("PRAGMA user_version = 4")
    conn.close()
    store = SqliteStore(path)
    await store.start()
    try:
        assert await store.load_rooms() == [
            RoomState("#Old", T0, "nt", "", 0, (("eve!*@*", "ann", T0),), "kept", "ann", T0)]
        await store.save_room(DEN)
        assert [r.name for r in await store.load_rooms()] == ["#Den", "#Old"]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.SCHEMA_VERSION
    conn.close()
