"""Room rules (core/roomstate.py) in PostgreSQL: the RoomStore statements.

Writes run in the store's writer task (ordered with message appends), each in
its own transaction; reads on any pool connection. One row per room in
``rooms``; its bans and quiets in ``room_bans`` (``kind`` "b" or "q") in the
order they were set; a registered room's op list (accounts) in ``room_ops``.
As sqlite_rooms.py, statement for statement.
"""

from __future__ import annotations

from typing import Any

from chinwag.core.roomstate import RoomState
from chinwag.storage.base import room_key

_COLS = "name, created, flags, password, user_limit, topic, topic_by, topic_ts, registered, founder"


async def save(state: RoomState, conn: Any) -> None:
    key = room_key(state.name)
    await conn.execute(
        f"INSERT INTO rooms (key, {_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (key) DO UPDATE SET name = excluded.name, created = excluded.created,"
        " flags = excluded.flags, password = excluded.password, user_limit = excluded.user_limit,"
        " topic = excluded.topic, topic_by = excluded.topic_by, topic_ts = excluded.topic_ts,"
        " registered = excluded.registered, founder = excluded.founder",
        key, state.name, state.created, state.flags, state.key, state.limit, state.topic, state.topic_by,
        state.topic_ts, state.registered, state.founder,
    )
    await conn.execute("DELETE FROM room_bans WHERE key = $1", key)
    masks = [("b", *ban) for ban in state.bans] + [("q", *quiet) for quiet in state.quiets]
    if masks:
        await conn.executemany(
            "INSERT INTO room_bans (key, pos, mask, set_by, ts, kind) VALUES ($1, $2, $3, $4, $5, $6)",
            [(key, pos, mask, by, ts, kind) for pos, (kind, mask, by, ts) in enumerate(masks)],
        )
    await conn.execute("DELETE FROM room_ops WHERE key = $1", key)
    if state.op_accounts:
        await conn.executemany(
            "INSERT INTO room_ops (key, pos, account) VALUES ($1, $2, $3)",
            [(key, pos, account) for pos, account in enumerate(state.op_accounts)],
        )


async def delete(key: str, conn: Any) -> None:
    await conn.execute("DELETE FROM rooms WHERE key = $1", key)
    await conn.execute("DELETE FROM room_bans WHERE key = $1", key)
    await conn.execute("DELETE FROM room_ops WHERE key = $1", key)


async def load(conn: Any) -> list[RoomState]:
    bans: dict[tuple[str, str], list[tuple[str, str, float]]] = {}
    sql = "SELECT key, kind, mask, set_by, ts FROM room_bans ORDER BY key, pos"
    for key, kind, mask, by, ts in await conn.fetch(sql):
        bans.setdefault((key, kind), []).append((mask, by, ts))
    ops: dict[str, list[str]] = {}
    for key, account in await conn.fetch("SELECT key, account FROM room_ops ORDER BY key, pos"):
        ops.setdefault(key, []).append(account)
    rooms = []
    for key, name, created, flags, password, limit, topic, topic_by, topic_ts, registered, founder in await conn.fetch(
        f"SELECT key, {_COLS} FROM rooms ORDER BY key"
    ):
        rooms.append(RoomState(name, created, flags, password, limit, tuple(bans.get((key, "b"), ())), topic,
                               topic_by, topic_ts, registered, founder, tuple(ops.get(key, ())),
                               tuple(bans.get((key, "q"), ()))))
    return rooms
