"""Messages and departures in PostgreSQL: the HistoryStore statements.

``insert`` stores one batch (everything appended in a loop tick or more) in
one statement, so one round trip and one transaction: an upsert on
``conversations`` takes, per key, a block of ``seq`` numbers (``UPDATE ...
RETURNING``, the row lock making writers of a conversation on every node take
turns), and an INSERT from arrays (``unnest``) writes the rows, each with its
seq: gap-free, and in msgid order within a node's batch. seq is the order of
truth (the cluster delivers each conversation in seq order on every node), so
the reads follow it too: see "reads" below.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Collection, Sequence
from typing import Any

from chinwag.core.events import Message
from chinwag.core.names import casefold
from chinwag.storage.base import Departure, conversation_key, event_key, visible

log = logging.getLogger("chinwag.storage")

COLS = "msgid, ts, nick, target, text, kind, account"

# One statement, so one round trip and atomic without BEGIN/COMMIT: the upsert
# takes each key's block of seq numbers (keys in sorted order, so two nodes'
# statements lock conversation rows in the same order and cannot deadlock
# each other), and the INSERT gives each row its number from the block:
# seq_after - n + pos, pos counting 1.. in msgid order within the key. The
# statement returns each key's block end (seq_after), so the caller knows every
# message's seq (insert). ``touched`` is PostgreSQL's clock when the block was
# taken, for the cluster's poll (cluster.recent). (A data-modifying WITH part
# always runs to completion, whether or not the SELECT reads it.)
_STORE = """
WITH bumped AS (
    INSERT INTO conversations AS c (key, seq, count, last_msgid, last_ts, touched)
    SELECT k, n, n, m, t, extract(epoch from clock_timestamp())
    FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[]) AS u(k, n, m, t) ORDER BY 1
    ON CONFLICT (key) DO UPDATE SET
        seq = c.seq + excluded.seq,
        count = c.count + excluded.count,
        last_ts = CASE WHEN excluded.last_msgid > c.last_msgid THEN excluded.last_ts ELSE c.last_ts END,
        last_msgid = greatest(c.last_msgid, excluded.last_msgid),
        touched = extract(epoch from clock_timestamp())
    RETURNING key, seq
), stored AS (
    INSERT INTO messages (key, msgid, seq, ts, nick, target, text, kind, account)
    SELECT r.key, r.msgid, b.seq - r.n + r.pos, r.ts, r.nick, r.target, r.text, r.kind, r.account
    FROM unnest($5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::float8[], $10::text[], $11::text[],
                $12::text[], $13::text[], $14::text[]) AS r(key, msgid, pos, n, ts, nick, target, text, kind, account)
    JOIN bumped AS b ON b.key = r.key
)
SELECT key, seq FROM bumped
"""
_STORED = """
SELECT m.key, m.msgid, m.seq FROM messages m
JOIN unnest($1::text[], $2::text[]) AS b(key, msgid) ON m.key = b.key AND m.msgid = b.msgid
"""

Seqs = dict[tuple[str, str], int]
"""(key, msgid) -> the message's seq in its conversation."""

Row = tuple[str, str, float, str, str, str, str, str]  # key, msgid, ts, nick, target, text, kind, account


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL (SQLite can); delivery never shows one
    # either (protocols/sanitize.py), so history shows what was seen.
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def rows(batch: Sequence[Message]) -> list[Row]:
    return [(conversation_key(m), m.msgid, m.ts, _text(m.nick), _text(m.target), _text(m.text), m.kind,
             _text(m.account)) for m in batch]


def event_rows(events: Sequence[Message]) -> list[Row]:
    """Room events, stored as messages are under their room's event key (no account)."""
    return [(event_key(e.target), e.msgid, e.ts, _text(e.nick), _text(e.target), _text(e.text), e.kind, "")
            for e in events]


async def fresh(conn: Any, batch: list[Row], *, quiet: bool = False) -> tuple[list[Row], Seqs]:
    """``batch`` without the msgids already stored (or repeated in it): a
    reused msgid keeps the first message, as in every backend (logged unless
    ``quiet``); and the seqs of those already stored."""
    found = await conn.fetch(_STORED, [r[0] for r in batch], [r[1] for r in batch])
    seqs: Seqs = {(k, i): seq for k, i, seq in found}
    stored = set(seqs)
    out = []
    for row in batch:
        if (row[0], row[1]) in stored:
            if not quiet:
                log.error("msgid %s already stored under %s; the new message was not stored", row[1], row[0])
            continue
        stored.add((row[0], row[1]))
        out.append(row)
    return out, seqs


async def insert(conn: Any, batch: list[Row]) -> Seqs:
    """Store ``batch`` (no msgid in it stored yet) in one statement; the seq
    each message got (from its key's block: block end - n + 1 .. block end,
    in msgid order)."""
    if not batch:
        return {}
    by_key: dict[str, list[Row]] = {}
    for row in batch:
        by_key.setdefault(row[0], []).append(row)
    keys = sorted(by_key)
    counts, lasts, last_ts = [], [], []
    cols: list[list[Any]] = [[] for _ in range(10)]
    for key in keys:
        group = by_key[key]
        group.sort(key=lambda r: r[1])  # appends come in msgid order; be sure
        counts.append(len(group))
        lasts.append(group[-1][1])
        last_ts.append(group[-1][2])
        for pos, (k, msgid, ts, nick, target, text, kind, account) in enumerate(group, start=1):
            values = (k, msgid, pos, len(group), ts, nick, target, text, kind, account)
            for col, value in zip(cols, values, strict=True):
                col.append(value)
    ends = {key: end for key, end in await conn.fetch(_STORE, keys, counts, lasts, last_ts, *cols)}
    seqs: Seqs = {}
    for key in keys:
        group, end = by_key[key], ends[key]
        first = end - len(group) + 1
        for pos, row in enumerate(group):
            seqs[(key, row[1])] = first + pos
    return seqs


async def insert_events(batch: list[Row], conn: Any) -> None:
    """Room events, in a job's transaction: those not stored yet (a repeat is ignored, as in SQLite)."""
    if batch:
        await insert(conn, (await fresh(conn, batch, quiet=True))[0])


def message(r: Sequence[Any]) -> Message:
    msgid, ts, nick, target, text, kind, account = r
    return Message(msgid, ts, nick, target, text, kind, account=account)


def messages(records: Sequence[Any]) -> list[Message]:
    return [message(r) for r in records]


# --- reads (conn: any pool connection) ------------------------------------------
#
# Within a conversation every read follows seq, the order every node delivered
# it in (a msgid is made by the sending node before commit, so two nodes'
# messages may have msgids in the other order). A reference id R is placed by
# seq: a message of the key at its own seq; any other id (a mark, a time made
# an id, another key's message) just after the greatest seq among the key's
# messages with msgid <= R (0 if none). ``_LO`` is the seq a read "after R"
# starts above, ``_HI`` the one a read "before R" stays below. Both are
# uncorrelated subqueries (InitPlans, run once, the second only if the first
# is NULL), so the outer scan is an index range scan on (key, seq) (the
# UNIQUE constraint's index) with the bound as its index condition.


def _exact(k: str, r: str) -> str:
    return f"(SELECT seq FROM messages WHERE key = {k} AND msgid = {r})"


def _below(k: str, r: str) -> str:
    # The (key, seq) index walked down from the newest until a msgid <= R (a
    # recent R: a few rows), or the (key, msgid) index up to R and the top seq
    # of that (an old R): the planner takes the cheaper one.
    return f"(SELECT seq FROM messages WHERE key = {k} AND msgid <= {r} ORDER BY seq DESC LIMIT 1)"


def _lo(k: str, r: str) -> str:
    """SQL: messages "after" R have seq > this."""
    return f"coalesce({_exact(k, r)}, {_below(k, r)}, 0)"


def _hi(k: str, r: str) -> str:
    """SQL: messages "before" R have seq < this."""
    return f"coalesce({_exact(k, r)}, {_below(k, r)} + 1, 1)"


_LATEST = f"SELECT {COLS} FROM messages WHERE key = $1 ORDER BY seq DESC LIMIT $2"
_BEFORE = f"SELECT {COLS} FROM messages WHERE key = $1 AND seq < {_hi('$1', '$2')} ORDER BY seq DESC LIMIT $3"
_AFTER = f"SELECT {COLS} FROM messages WHERE key = $1 AND seq > {_lo('$1', '$2')} ORDER BY seq LIMIT $3"
_FROM = f"SELECT {COLS} FROM messages WHERE key = $1 AND seq >= {_hi('$1', '$2')} ORDER BY seq LIMIT $3"
_PLACES = f"SELECT {_exact('$1', '$2')}, {_lo('$1', '$2')}, {_exact('$1', '$3')}, {_lo('$1', '$3')}"
_RANGE = "SELECT {cols} FROM messages WHERE key = $1 AND seq > $2 AND seq < $3 ORDER BY seq {order} LIMIT $4"
_SINCE = f"SELECT seq, {COLS} FROM messages WHERE key = $1 AND ts >= $2 ORDER BY ts, seq LIMIT $3"
# One index range scan per key, each stopping at ``limit`` (LATERAL): its
# bound first (a lateral row, so the scan's index condition), then the rows.
_AFTER_MANY = (
    f"SELECT k.key, {', '.join('m.' + c for c in COLS.split(', '))} FROM unnest($1::text[]) AS k(key)"
    f" CROSS JOIN LATERAL (SELECT {_lo('k.key', '$2')} AS lo) AS p"
    f" CROSS JOIN LATERAL (SELECT {COLS} FROM messages WHERE key = k.key AND seq > p.lo"
    " ORDER BY seq LIMIT $3) AS m"
)


async def latest(conn: Any, key: str, limit: int) -> list[Message]:
    return messages(await conn.fetch(_LATEST, key, limit))[::-1]


async def before(conn: Any, key: str, msgid: str, limit: int) -> list[Message]:
    return messages(await conn.fetch(_BEFORE, key, msgid, limit))[::-1]


async def after(conn: Any, key: str, msgid: str, limit: int) -> list[Message]:
    return messages(await conn.fetch(_AFTER, key, msgid, limit))


async def between(conn: Any, key: str, start_msgid: str, end_msgid: str, limit: int) -> list[Message]:
    # Counted from the start: forward if it lies before the end (by seq),
    # else backward; strictly between either way.
    s_at, s_lo, e_at, e_lo = await conn.fetchrow(_PLACES, key, start_msgid, end_msgid)
    s_hi = s_lo + 1 if s_at is None else s_at
    e_hi = e_lo + 1 if e_at is None else e_at
    if s_lo <= e_lo:
        return messages(await conn.fetch(_RANGE.format(cols=COLS, order="ASC"), key, s_lo, e_hi, limit))
    return messages(await conn.fetch(_RANGE.format(cols=COLS, order="DESC"), key, e_lo, s_hi, limit))[::-1]


async def around(conn: Any, key: str, msgid: str, limit: int) -> list[Message]:
    # The halves meet where ``msgid`` is placed: it (if a message of the key) starts the newer half.
    early = await before(conn, key, msgid, limit // 2) if limit // 2 else []
    return early + messages(await conn.fetch(_FROM, key, msgid, limit - limit // 2))


async def since(conn: Any, key: str, ts: float, limit: int) -> list[Message]:
    # The earliest by time walk the (key, ts) index; shown in seq order like every other read.
    found = sorted(await conn.fetch(_SINCE, key, ts, limit), key=lambda r: r[0])
    return [message(r[1:]) for r in found]


async def after_many(conn: Any, keys: list[str], msgid: str, limit: int) -> list[Message]:
    # Each key's messages in seq order; merged across keys by msgid (heapq.merge
    # only ever takes the head of a part, so each part keeps its order).
    parts: dict[str, list[Message]] = {}
    for r in await conn.fetch(_AFTER_MANY, keys, msgid, limit):
        parts.setdefault(r[0], []).append(message(r[1:]))
    return list(heapq.merge(*parts.values(), key=lambda m: m.msgid))[:limit]


async def targets(
    conn: Any, lo: float, hi: float, order: str, limit: int, wanted: Collection[str] | None, nick: str | None,
    private_after: str, account: str | None,
) -> list[tuple[str, float]]:
    sql = (
        "SELECT key, last_ts, last_msgid FROM conversations WHERE count > 0 AND last_ts > $1 AND last_ts < $2"
        f" ORDER BY last_ts {order}, key {order}"
    )
    found: list[tuple[str, float]] = []
    async with conn.transaction():  # a cursor: stop reading at ``limit`` visible keys
        async for key, ts, last in conn.cursor(sql, lo, hi, prefetch=max(50, min(limit * 2, 1000))):
            if visible(key, wanted, nick, last, private_after, account):
                found.append((key, ts))
                if len(found) == limit:
                    break
    return found


async def find(conn: Any, keys: list[str], msgid: str) -> tuple[str, Message] | None:
    sql = f"SELECT key, {COLS} FROM messages WHERE key = ANY($1::text[]) AND msgid = $2"
    found = {r[0]: message(r[1:]) for r in await conn.fetch(sql, keys, msgid)}
    for key in keys:  # the first key holding it
        if key in found:
            return key, found[key]
    return None


async def redact(key: str, msgid: str, conn: Any) -> bool:
    """Delete one message (in a job's transaction); its conversation's row follows
    (count, latest message). The row is locked first, as inserts lock it, so
    writers of the conversation on other nodes take turns with this. An
    emptied conversation keeps its row (count 0), so seq never goes back."""
    if await conn.fetchval("SELECT 1 FROM conversations WHERE key = $1 FOR UPDATE", key) is None:
        return False
    status: str = await conn.execute("DELETE FROM messages WHERE key = $1 AND msgid = $2", key, msgid)
    if status != "DELETE 1":
        return False
    row = await conn.fetchrow("SELECT msgid, ts FROM messages WHERE key = $1 ORDER BY msgid DESC LIMIT 1", key)
    if row is None:
        await conn.execute("UPDATE conversations SET count = 0 WHERE key = $1", key)
    else:
        await conn.execute("UPDATE conversations SET count = count - 1, last_msgid = $1, last_ts = $2 WHERE key = $3",
                           row[0], row[1], key)
    return True


async def has_history(conn: Any, keys: list[str]) -> set[str]:
    sql = "SELECT key FROM conversations WHERE count > 0 AND key = ANY($1::text[])"
    return {r[0] for r in await conn.fetch(sql, keys)}


async def last_msgid(conn: Any) -> str | None:
    found: str | None = await conn.fetchval("SELECT max(last_msgid) FROM conversations WHERE count > 0")
    return found


# --- departures -------------------------------------------------------------------


async def record_departure(nick: str, rooms: Sequence[str], last_msgid: str, ts: float, conn: Any) -> None:
    await conn.execute(
        "INSERT INTO departures (nick, rooms, last_msgid, ts) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (nick) DO UPDATE SET rooms = excluded.rooms, last_msgid = excluded.last_msgid,"
        " ts = excluded.ts, mark_keys = '{}', mark_seqs = '{}'",  # (exact: no per-room marks of a dead node)
        casefold(nick), [_text(r) for r in rooms], last_msgid, ts,
    )


async def departure(conn: Any, nick: str) -> Departure | None:
    row = await conn.fetchrow("SELECT rooms, last_msgid, ts FROM departures WHERE nick = $1", casefold(nick))
    if row is None:
        return None
    return tuple(row[0]), row[1], row[2]


async def forget_departure(nick: str, conn: Any) -> None:
    await conn.execute("DELETE FROM departures WHERE nick = $1", casefold(nick))


# --- pruning (its own small transactions, beside the writer: MVCC lets them run together) ---

PRUNE_BUDGET = 5000  # rows one prune transaction may delete
PRUNE_KEYS = 256  # keys one prune transaction visits

PrunePlan = list[tuple[str, int | None, int]]


async def prune_plan(conn: Any, max_per_room: int, cutoff: float | None) -> PrunePlan:
    """Per key to visit: (key, delete seqs below this for the count limit, newest seq now).
    Fixed before deleting anything, so a busy room cannot keep the prune chasing it.
    By seq, as reads are: the newest ``max_per_room`` are the last ones every node showed."""
    rows = await conn.fetch("SELECT key, count, seq FROM conversations WHERE count > $1",
                            max_per_room if cutoff is None else 0)
    plan: PrunePlan = []
    for key, count, newest in rows:
        below = None
        if 0 < max_per_room < count:
            below = await conn.fetchval(
                "SELECT seq FROM messages WHERE key = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2",
                key, max_per_room - 1)
        if below is not None or cutoff is not None:
            plan.append((key, below, newest))
    return plan


async def prune_step(plan: PrunePlan, start: int, cutoff: float | None, conn: Any) -> tuple[int, int]:
    """Prune keys from ``start`` within one budget; (deleted, where to go on)."""
    budget, i, deleted = PRUNE_BUDGET, start, 0
    end = min(len(plan), start + PRUNE_KEYS)
    while i < end:
        key, below, newest = plan[i]
        deleted += await _prune_key(conn, key, below, newest, cutoff, budget - deleted)
        if deleted >= budget:
            break  # this key may have more: the next step starts with it again
        i += 1
    return deleted, i


async def _prune_key(conn: Any, key: str, below: int | None, newest: int, cutoff: float | None, budget: int) -> int:
    deleted = 0
    if cutoff is not None:
        status = await conn.execute(
            "DELETE FROM messages WHERE key = $1 AND seq IN"
            " (SELECT seq FROM messages WHERE key = $1 AND ts < $2 AND seq <= $3 LIMIT $4)",
            key, cutoff, newest, budget)
        deleted += int(status.split()[-1])
    if below is not None and deleted < budget:
        status = await conn.execute(
            "DELETE FROM messages WHERE key = $1 AND seq IN"
            " (SELECT seq FROM messages WHERE key = $1 AND seq < $2 ORDER BY seq LIMIT $3)",
            key, below, budget - deleted)
        deleted += int(status.split()[-1])
    if deleted:
        await conn.execute("UPDATE conversations SET count = count - $1 WHERE key = $2", deleted, key)
    return deleted


async def prune_departures(cutoff: float, conn: Any) -> None:
    await conn.execute("DELETE FROM departures WHERE ts < $1", cutoff)
