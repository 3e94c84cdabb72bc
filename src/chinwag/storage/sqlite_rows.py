"""The SQLite writer's per-message work, kept small: rows, inserts, receipts.

A busy tick commits one batch of tens of messages, mostly to one room. Per
message the writer builds one row (the conversation key computed once per room
of the batch, not once per message), and the rows go in as a few multi-row
``INSERT ... VALUES (...), (...)`` statements: 64 rows a statement, then 32,
16, ... 1 for the rest (seven statement texts in all, each prepared once and
kept in the connection's statement cache), instead of one statement execution
per row (``executemany``). The receipts are built in C (``tuple.__new__``).
A statement fails whole, as ``executemany`` did: the caller's transaction is
rolled back and its one-by-one path finds the bad row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache, partial
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from chinwag.core.events import Message
from chinwag.storage.base import Receipt, conversation_key, room_key

COLUMNS = "key, msgid, ts, nick, target, text, kind, account"
ROWS_PER_STATEMENT = 64  # 512 parameters: below SQLite's oldest limit (999)

Row = tuple[str, str, float, str, str, str, str, str]


def message_rows(batch: list[Message]) -> list[Row]:
    """One row per message: (key, msgid, ts, nick, target, text, kind, account)."""
    keys: dict[str, str] = {}  # a room's key, per target spelling in this batch
    rows: list[Row] = []
    append = rows.append
    for m in batch:
        target = m.target
        if m.private or m.accounts is not None:
            key = conversation_key(m)
        else:
            key = keys.get(target) or keys.setdefault(target, room_key(target))
        append((key, m.msgid, m.ts, m.nick, target, m.text, m.kind, m.account))
    return rows


@cache
def insert_sql(count: int) -> str:
    """``count`` rows in one statement."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * count)
    return f"INSERT INTO messages ({COLUMNS}) VALUES {values}"


@cache
def insert_shared_sql(count: int) -> str:
    """``count`` rows that share key, target, kind and account: those four are
    bound once for the statement (?1-?4) and each row binds its own four
    (msgid, ts, nick, text): half the values SQLite copies in."""
    own = ((5 + 4 * i, 6 + 4 * i, 7 + 4 * i, 8 + 4 * i) for i in range(count))
    values = ", ".join(f"(?1, ?{msgid}, ?{ts}, ?{nick}, ?2, ?{text}, ?3, ?4)" for msgid, ts, nick, text in own)
    return f"INSERT INTO messages ({COLUMNS}) VALUES {values}"


_shared, _own = itemgetter(0, 4, 6, 7), itemgetter(1, 2, 3, 5)  # a row's (key, target, kind, account); the rest


def insert_rows(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (inside the caller's transaction), 64 to a statement;
    when every row has the same key, target, kind and account (a room's
    messages, most batches), those are bound once a statement (insert_shared_sql)."""
    done, total = 0, len(rows)
    shared = list(_shared(rows[0])) if total and len(set(map(_shared, rows))) == 1 else None
    while done < total:
        left = total - done
        size = ROWS_PER_STATEMENT if left >= ROWS_PER_STATEMENT else 1 << (left.bit_length() - 1)
        if shared is not None:
            shared.extend(chain.from_iterable(map(_own, rows[done : done + size])))
            conn.execute(insert_shared_sql(size), shared)
            del shared[4:]
        else:
            conn.execute(insert_sql(size), list(chain.from_iterable(rows[done : done + size])))
        done += size


_receipt = partial(tuple.__new__, Receipt)
_key, _msgid = itemgetter(0), itemgetter(1)


def receipts(rows: list[Row]) -> list[Receipt]:
    """A receipt (msgid, key, seq 0) per row."""
    return list(map(_receipt, zip(map(_msgid, rows), map(_key, rows), repeat(0))))
