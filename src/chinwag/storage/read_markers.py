"""The read-marker store contract (IRCv3 draft/read-marker), and its SQLite statements.

One marker per account and target: the time (whole milliseconds since the
epoch) of the last message that account's user read there, on any device.
Keys are casefolded (``names.casefold``) account names and targets (a room
or a nick), so ``#Dev`` and ``#dev`` share a marker. A marker only moves
forward. Both the memory store and SQLite implement :class:`ReadMarkerStore`
(SQLite: the ``read_markers`` table, schema step 5); PostgreSQL implements
the same two methods in storage/postgres/read_markers.py.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol

from chinwag.core.names import casefold


class ReadMarkerStore(Protocol):
    async def read_marker(self, account: str, target: str) -> int | None:
        """The marker of ``account`` for ``target`` (any case), or None if it has none."""
        ...

    async def set_read_marker(self, account: str, target: str, ms: int, most: int) -> int | None:
        """Move the marker forward to ``ms`` (never back) and return the marker
        now stored, durable when the await returns. An account with ``most``
        markers already gets no marker for a further target: None."""
        ...


# --- SQLite (used by storage/sqlite.py's threads) ---------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS read_markers (
    account TEXT NOT NULL,
    target TEXT NOT NULL,
    ms INTEGER NOT NULL,
    PRIMARY KEY (account, target)
) WITHOUT ROWID;
"""


def get(account: str, target: str, conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT ms FROM read_markers WHERE account = ? AND target = ?",
                       (casefold(account), casefold(target))).fetchone()
    return None if row is None else int(row[0])


def set_forward(account: str, target: str, ms: int, most: int, conn: sqlite3.Connection) -> int | None:
    key = (casefold(account), casefold(target))
    row = conn.execute("SELECT ms FROM read_markers WHERE account = ? AND target = ?", key).fetchone()
    if row is None:
        (count,) = conn.execute("SELECT count(*) FROM read_markers WHERE account = ?", key[:1]).fetchone()
        if count >= most:
            return None
        conn.execute("INSERT INTO read_markers (account, target, ms) VALUES (?, ?, ?)", (*key, ms))
        return ms
    if ms > row[0]:
        conn.execute("UPDATE read_markers SET ms = ? WHERE account = ? AND target = ?", (ms, *key))
        return ms
    return int(row[0])
