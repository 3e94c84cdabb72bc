"""Read markers (storage/read_markers.py, IRCv3 draft/read-marker) in PostgreSQL.

One row per casefolded (account, target) in ``read_markers``; a marker only
moves forward. The write runs in the store's writer task, in one transaction:
the account's existing row is locked (FOR UPDATE) so two nodes moving one
marker take turns, and a new row is inserted with ON CONFLICT so a row
another node inserted meanwhile is moved forward instead of failing.
"""

from __future__ import annotations

from typing import Any

from chinwag.core.names import casefold


async def get(conn: Any, account: str, target: str) -> int | None:
    found = await conn.fetchval("SELECT ms FROM read_markers WHERE account = $1 AND target = $2",
                                casefold(account), casefold(target))
    return None if found is None else int(found)


async def set_forward(account: str, target: str, ms: int, most: int, conn: Any) -> int | None:
    key = (casefold(account), casefold(target))
    row = await conn.fetchval("SELECT ms FROM read_markers WHERE account = $1 AND target = $2 FOR UPDATE", *key)
    if row is None:
        count = await conn.fetchval("SELECT count(*) FROM read_markers WHERE account = $1", key[0])
        if count >= most:
            return None
        sql = ("INSERT INTO read_markers (account, target, ms) VALUES ($1, $2, $3) ON CONFLICT (account, target)"
               " DO UPDATE SET ms = greatest(read_markers.ms, excluded.ms) RETURNING ms")
    else:
        sql = ("UPDATE read_markers SET ms = greatest(ms, $3) WHERE account = $1 AND target = $2"
               " RETURNING ms")
    stored = await conn.fetchval(sql, *key, ms)
    return int(stored)
