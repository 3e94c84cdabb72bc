"""Room rules (core/roomstate.py) in the SQLite database: tables and statements.

Used by :class:`~chinwag.storage.sqlite.SqliteStore`, whose writer thread runs
the writes (so they are ordered with message appends) and whose reader threads
run the reads. One row per room in ``rooms``; its bans in ``room_bans``, in the
order they were set.
"""

from __future__ import annotations

import sqlite3

from chinwag.core.roomstate import RoomState
from chinwag.storage.base import room_key

# Schema version 2 (see sqlite._MIGRATIONS). ``room_key`` is the casefolded name.
SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    flags TEXT NOT NULL,
    password TEXT NOT NULL,
    user_limit INTEGER NOT NULL,
    topic TEXT NOT NULL,
    topic_by TEXT NOT NULL,
    topic_ts REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS room_bans (
    key TEXT NOT NULL,
    pos INTEGER NOT NULL,
    mask TEXT NOT NULL,
    set_by TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (key, pos)
) WITHOUT ROWID;
"""

_COLS = "name, created, flags, password, user_limit, topic, topic_by, topic_ts"


def save(state: RoomState, conn: sqlite3.Connection) -> None:
    key = room_key(state.name)
    conn.execute(
        f"INSERT OR REPLACE INTO rooms (key, {_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (key, state.name, state.created, state.flags, state.key, state.limit, state.topic, state.topic_by,
         state.topic_ts),
    )
    conn.execute("DELETE FROM room_bans WHERE key = ?", (key,))
    conn.executemany(
        "INSERT INTO room_bans (key, pos, mask, set_by, ts) VALUES (?, ?, ?, ?, ?)",
        [(key, pos, mask, by, ts) for pos, (mask, by, ts) in enumerate(state.bans)],
    )


def delete(key: str, conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM rooms WHERE key = ?", (key,))
    conn.execute("DELETE FROM room_bans WHERE key = ?", (key,))


def load(conn: sqlite3.Connection) -> list[RoomState]:
    bans: dict[str, list[tuple[str, str, float]]] = {}
    for key, mask, by, ts in conn.execute("SELECT key, mask, set_by, ts FROM room_bans ORDER BY key, pos"):
        bans.setdefault(key, []).append((mask, by, ts))
    rooms = []
    for key, name, created, flags, password, limit, topic, topic_by, topic_ts in conn.execute(
        f"SELECT key, {_COLS} FROM rooms ORDER BY key"
    ):
        rooms.append(RoomState(name, created, flags, password, limit, tuple(bans.get(key, ())), topic, topic_by,
                               topic_ts))
    return rooms
