"""Room rules (core/roomstate.py) in PostgreSQL: the RoomStore statements.

Writes run in the store's writer task (ordered with message appends), each in
its own transaction; reads on any pool connection. One row per room in
``rooms``, its bans in ``room_bans`` in the order they were set.
"""

from __future__ import annotations

from typing import Any

from chinwag.core.roomstate import RoomState
from chinwag.storage.base import room_key

_COLS = "name, created, flags, password, user_limit, topic, topic_by, topic_ts"


async def save(state: RoomState, conn: Any) -> None:
    key = room_key(state.name)
    await conn.execute(
        f"INSERT INTO rooms (key, {_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (key) DO UPDATE SET name = excluded.name, created = excluded.created,"
        " flags = excluded.flags, password = excluded.password, user_limit = excluded.user_limit,"
        " topic = excluded.topic, topic_by = excluded.topic_by, topic_ts = excluded.topic_ts",
        key, state.name, state.created, state.flags, state.key, state.limit, state.topic, state.topic_by,
        state.topic_ts,
    )
    await conn.execute("DELETE FROM room_bans WHERE key = $1", key)
    if state.bans:
        await conn.executemany(
            "INSERT INTO room_bans (key, pos, mask, set_by, ts) VALUES ($1, $2, $3, $4, $5)",
            [(key, pos, mask, by, ts) for pos, (mask, by, ts) in enumerate(state.bans)],
        )


async def delete(key: str, conn: Any) -> None:
    await conn.execute("DELETE FROM rooms WHERE key = $1", key)
    await conn.execute("DELETE FROM room_bans WHERE key = $1", key)


async def load(conn: Any) -> list[RoomState]:
    bans: dict[str, list[tuple[str, str, float]]] = {}
    for key, mask, by, ts in await conn.fetch("SELECT key, mask, set_by, ts FROM room_bans ORDER BY key, pos"):
        bans.setdefault(key, []).append((mask, by, ts))
    rooms = []
    for key, name, created, flags, password, limit, topic, topic_by, topic_ts in await conn.fetch(
        f"SELECT key, {_COLS} FROM rooms ORDER BY key"
    ):
        rooms.append(RoomState(name, created, flags, password, limit, tuple(bans.get(key, ())), topic, topic_by,
                               topic_ts))
    return rooms
