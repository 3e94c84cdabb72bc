"""Room rules (core/roomstate.py) in the SQLite database: tables and statements.

Used by :class:`~chinwag.storage.sqlite.SqliteStore`, whose writer thread runs
the writes (so they are ordered with message appends) and whose reader threads
run the reads. One row per room in ``rooms``; its bans and quiets in
``room_bans`` (``kind`` "b" or "q"), in the order they were set; a registered
room's op list (accounts) in ``room_ops``.
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

# Schema version 5: registered rooms (core/types/registered.py) and quiets.
REGISTERED = """
ALTER TABLE rooms ADD COLUMN registered REAL NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN founder TEXT NOT NULL DEFAULT '';
ALTER TABLE room_bans ADD COLUMN kind TEXT NOT NULL DEFAULT 'b';
CREATE TABLE IF NOT EXISTS room_ops (
    key TEXT NOT NULL,
    pos INTEGER NOT NULL,
    account TEXT NOT NULL,
    PRIMARY KEY (key, pos)
) WITHOUT ROWID;
"""

_COLS = "name, created, flags, password, user_limit, topic, topic_by, topic_ts, registered, founder"


def save(state: RoomState, conn: sqlite3.Connection) -> None:
    key = room_key(state.name)
    conn.execute(
        f"INSERT OR REPLACE INTO rooms (key, {_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (key, state.name, state.created, state.flags, state.key, state.limit, state.topic, state.topic_by,
         state.topic_ts, state.registered, state.founder),
    )
    conn.execute("DELETE FROM room_bans WHERE key = ?", (key,))
    masks = [("b", *ban) for ban in state.bans] + [("q", *quiet) for quiet in state.quiets]
    conn.executemany(
        "INSERT INTO room_bans (key, pos, mask, set_by, ts, kind) VALUES (?, ?, ?, ?, ?, ?)",
        [(key, pos, mask, by, ts, kind) for pos, (kind, mask, by, ts) in enumerate(masks)],
    )
    conn.execute("DELETE FROM room_ops WHERE key = ?", (key,))
    conn.executemany(
        "INSERT INTO room_ops (key, pos, account) VALUES (?, ?, ?)",
        [(key, pos, account) for pos, account in enumerate(state.op_accounts)],
    )


def delete(key: str, conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM rooms WHERE key = ?", (key,))
    conn.execute("DELETE FROM room_bans WHERE key = ?", (key,))
    conn.execute("DELETE FROM room_ops WHERE key = ?", (key,))


def load(conn: sqlite3.Connection) -> list[RoomState]:
    bans: dict[tuple[str, str], list[tuple[str, str, float]]] = {}
    sql = "SELECT key, kind, mask, set_by, ts FROM room_bans ORDER BY key, pos"
    for key, kind, mask, by, ts in conn.execute(sql):
        bans.setdefault((key, kind), []).append((mask, by, ts))
    ops: dict[str, list[str]] = {}
    for key, account in conn.execute("SELECT key, account FROM room_ops ORDER BY key, pos"):
        ops.setdefault(key, []).append(account)
    rooms = []
    for key, name, created, flags, password, limit, topic, topic_by, topic_ts, registered, founder in conn.execute(
        f"SELECT key, {_COLS} FROM rooms ORDER BY key"
    ):
        rooms.append(RoomState(name, created, flags, password, limit, tuple(bans.get((key, "b"), ())), topic,
                               topic_by, topic_ts, registered, founder, tuple(ops.get(key, ())),
                               tuple(bans.get((key, "q"), ()))))
    return rooms
