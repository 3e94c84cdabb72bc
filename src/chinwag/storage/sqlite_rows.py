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

A batch of one room's messages (the same target, kind and account: a busy
room's tick, the commonest batch) is not made into rows at all:
:class:`RoomRows` keeps the four values they share once and each message's own
four (msgid, ts, nick, text) in one flat list, which is what the statements
bind (``insert_shared_sql``), in statements of the batch's own size (1 to 64
rows: one statement for a tick of 50, not 32 + 16 + 2; the writer's connection
keeps them all prepared); the receipts and the conversation's row are sliced
from it in C. It is a ``Sequence`` of the same rows ``message_rows``
makes otherwise (built only when asked: the one-by-one path after a bad row,
a failure's msgids), and ``tests/storage/test_sqlite_rows.py`` stores batches
both ways and compares the tables, the receipts and the conversations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache
from itertools import chain
from operator import itemgetter
from typing import Any, overload

from chinwag.core.events import Message
from chinwag.storage.base import Receipt, conversation_key, room_key

COLUMNS = "key, msgid, ts, nick, target, text, kind, account"
ROWS_PER_STATEMENT = 64  # 512 parameters: below SQLite's oldest limit (999)

Row = tuple[str, str, float, str, str, str, str, str]


class RoomRows(Sequence[Row]):
    """The rows of a batch of one room's messages, kept as the statements bind
    them: key, target, kind and account once, then each message's msgid, ts,
    nick and text in ``own`` (four values a message, in order)."""

    __slots__ = ("key", "target", "kind", "account", "own")

    def __init__(self, key: str, target: str, kind: str, account: str, own: list[Any]) -> None:
        self.key, self.target, self.kind, self.account, self.own = key, target, kind, account, own

    def __len__(self) -> int:
        return len(self.own) >> 2

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        msgid, ts, nick, text = self.own[4 * index : 4 * index + 4]
        return (self.key, msgid, ts, nick, self.target, text, self.kind, self.account)


def room_rows(batch: list[Message]) -> RoomRows | None:
    """The batch as :class:`RoomRows` if all its messages go to one room under
    one spelling, with one kind and one account (else None): one pass, four
    values a message appended to one list, no tuple kept per message."""
    first = batch[0]
    target, kind, account = first.target, first.kind, first.account
    if first.private:
        return None
    own: list[Any] = []
    for m in batch:
        if m.target != target or m.kind != kind or m.account != account or m.accounts is not None:
            return None
        own += (m.msgid, m.ts, m.nick, m.text)
    return RoomRows(room_key(target), target, kind, account, own)


def message_rows(batch: list[Message]) -> Sequence[Row]:
    """One row per message: (key, msgid, ts, nick, target, text, kind, account);
    one room's batch as :class:`RoomRows` (the same rows, kept flat)."""
    if batch:
        rows = room_rows(batch)
        if rows is not None:
            return rows
    return general_rows(batch)


def general_rows(batch: list[Message]) -> list[Row]:
    """One row tuple per message (any batch: several rooms, private messages)."""
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
    if type(rows) is RoomRows:
        insert_room_rows(conn, rows)
        return
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


def insert_room_rows(conn: sqlite3.Connection, rows: RoomRows) -> None:
    """:func:`insert_rows` for one room's rows: the shared four and slices of ``own``."""
    own, shared = rows.own, [rows.key, rows.target, rows.kind, rows.account]
    done, total = 0, len(own)
    execute = conn.cursor().execute
    while done < total:
        left = (total - done) >> 2
        size = ROWS_PER_STATEMENT if left >= ROWS_PER_STATEMENT else left
        execute(insert_shared_sql(size), shared + own[done : done + 4 * size])
        done += 4 * size


def conversation_rows(rows: RoomRows) -> list[list[Any]]:
    """The conversation's row for one room's rows: [key, newest msgid (the
    first of equals), its ts, how many], in C."""
    own = rows.own
    msgids = own[0::4]
    newest = max(msgids)
    return [[rows.key, newest, own[4 * msgids.index(newest) + 1], len(msgids)]]


_new = tuple.__new__


def receipts(rows: Sequence[Row]) -> list[Receipt]:
    """A receipt (msgid, key, seq 0) per row."""
    if type(rows) is RoomRows:
        key = rows.key
        return [_new(Receipt, (msgid, key, 0)) for msgid in rows.own[0::4]]
    return [_new(Receipt, (row[1], row[0], 0)) for row in rows]
