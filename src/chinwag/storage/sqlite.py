"""History in a SQLite file: one batching writer thread, reads on worker threads.

The event loop never touches the disk. ``append`` puts the message on a queue;
the writer thread takes everything queued, stores it in one transaction and,
once committed, tells the loop how many messages are now durable. WAL with
synchronous=NORMAL means a commit has reached the OS, so it survives the
process being killed (not necessarily a power cut) without an fsync per batch,
which is what lets one thread store well over 100k messages a second.

Every other write (prune, departures) goes through the same queue, so the
database has exactly one writer and never waits on its own locks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any, Generic, TypeVar

from chinwag.core.accounts import Secrets
from chinwag.core.events import Message
from chinwag.core.names import casefold
from chinwag.core.roomstate import RoomState
from chinwag.storage import accounts as sqlite_accounts
from chinwag.storage import read_markers as sqlite_markers
from chinwag.storage import sqlite_playback, sqlite_refold, sqlite_rooms, sqlite_time
from chinwag.storage.accounts import Account
from chinwag.storage.base import Departure, Receipt, StorageError, event_key, visible
from chinwag.storage.sqlite_checkpoint import Checkpointer
from chinwag.storage.sqlite_rows import RoomRows, conversation_rows, insert_rows, message_rows, receipts

log = logging.getLogger("chinwag.storage")

T = TypeVar("T")

_SCHEMA_V1 = """
-- Clustered by conversation: every history read is one range scan.
CREATE TABLE IF NOT EXISTS messages (
    key TEXT NOT NULL,
    msgid TEXT NOT NULL,
    ts REAL NOT NULL,
    nick TEXT NOT NULL,
    target TEXT NOT NULL,
    text TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (key, msgid)
) WITHOUT ROWID;
-- For since() and pruning by age without scanning a whole conversation.
CREATE INDEX IF NOT EXISTS messages_key_ts ON messages (key, ts);
-- One row per conversation, kept by the writer: the latest message for
-- targets() and a count so pruning by count only visits keys that are over.
CREATE TABLE IF NOT EXISTS conversations (
    key TEXT PRIMARY KEY,
    last_msgid TEXT NOT NULL,
    last_ts REAL NOT NULL,
    count INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversations_last_ts ON conversations (last_ts);
CREATE TABLE IF NOT EXISTS departures (
    nick TEXT PRIMARY KEY,
    rooms TEXT NOT NULL,
    last_msgid TEXT NOT NULL,
    ts REAL NOT NULL
) WITHOUT ROWID;
"""
# Each step takes the database from the version before it to its own number
# (PRAGMA user_version: 1 for the first), in one transaction. A later schema
# (accounts, registered rooms) is a new step at the end, never an edit.
# A step is SQL, or a function run inside the step's transaction.
_MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    _SCHEMA_V1,
    sqlite_rooms.SCHEMA,
    sqlite_refold.migrate,  # keys re-folded for names in every script (PRECIS)
    sqlite_accounts.SCHEMA,  # accounts (argon2id hash, SCRAM-SHA-256 credentials)
    sqlite_markers.SCHEMA,  # read markers per account and target (IRCv3 draft/read-marker)
    sqlite_accounts.CREDENTIALS_SCHEMA,  # certificate fingerprints and web sessions of accounts
    sqlite_playback.SCHEMA,  # the sender's account of each message; each account's playback on join
    sqlite_rooms.REGISTERED,  # registered rooms: founder, op list; quiets
    sqlite_time.SCHEMA,  # no (key, ts) index: since() and pruning by age find times through msgids
)
SCHEMA_VERSION = len(_MIGRATIONS)

_COLS = "msgid, ts, nick, target, text, kind, account"
_INSERT = "INSERT INTO messages (key, msgid, ts, nick, target, text, kind, account) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_UPSERT_CONVERSATION = """
INSERT INTO conversations (key, last_msgid, last_ts, count) VALUES (?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    count = count + excluded.count,
    last_ts = CASE WHEN excluded.last_msgid > last_msgid THEN excluded.last_ts ELSE last_ts END,
    last_msgid = max(last_msgid, excluded.last_msgid)
"""

# A huge backlog is stored in several commits so the first messages are
# confirmed (and delivered) without waiting for the last. Big enough that with
# many busy rooms each commit still writes many rows per dirtied page
# (8192 gave ~95k rows/s over 1000 rooms, 32768 ~135k/s).
BATCH_MAX = 32768
# Rows one prune transaction may delete, so appends queued behind it wait
# milliseconds, not seconds.
PRUNE_BUDGET = 5000
PRUNE_KEYS = 256  # keys one prune transaction visits
READERS = 2
RETRY_MAX_DELAY = 2.0


class _Job(Generic[T]):
    """A write other than appending, run by the writer thread in its own transaction."""

    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[sqlite3.Connection], T]) -> None:
        self.fn = fn
        self.future: concurrent.futures.Future[T] = concurrent.futures.Future()


# None on the queue stops the writer once everything before it is done.
_Item = Message | list[Message] | _Job[Any] | None  # (a list: append_all)


def _size(item: _Item) -> int:
    """Messages in a queue item (BATCH_MAX counts messages)."""
    return len(item) if isinstance(item, list) else 1


def _messages(rows: Iterable[Any]) -> list[Message]:
    return [Message(msgid, ts, nick, target, text, kind, account=account)
            for msgid, ts, nick, target, text, kind, account in rows]


class SqliteStore:
    """A :class:`~chinwag.storage.base.HistoryStore` in a SQLite file."""

    def __init__(self, path: str | Path, write_timeout: float = 5.0, checkpoint_every: float | None = 2.0) -> None:
        self.path = str(path)
        self.write_timeout = write_timeout
        # WAL checkpoints on a thread of their own (storage/sqlite_checkpoint.py), at
        # most every checkpoint_every seconds (limits.checkpoint_every); None: SQLite's
        # own, inside the commit that crosses 1000 pages (benchmarks compare them).
        self.checkpoint_every = checkpoint_every
        self.checkpointer: Checkpointer | None = None
        self.on_commit: Callable[[list[Receipt]], None] | None = None
        self.on_fail: Callable[[list[str]], None] | None = None
        self.on_status: Callable[[str | None], None] | None = None
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: threading.Thread | None = None
        self._readers: concurrent.futures.ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._closed = False
        self._stopping = False  # set when close() gives the writer its last batch
        self._abandoned = False  # the disk failed during shutdown: stop retrying
        # Writer thread only: why writes fail (None: they work), and whether the
        # last batch was given up (then the next is tried once, not for
        # write_timeout: its senders hear at once, and a success is recovery).
        self._trouble: str | None = None
        self._down = False
        self._given_up = 0  # messages given up since writes last worked

    # --- lifecycle -------------------------------------------------------

    async def start(self) -> None:
        if self._writer is not None or self._closed:
            raise RuntimeError("history store already started")
        self._loop = asyncio.get_running_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        writer = threading.Thread(target=self._writer_main, args=(ready,), name="chinwag-history-writer", daemon=True)
        writer.start()
        try:
            await asyncio.wrap_future(ready)
        except BaseException:
            await asyncio.to_thread(writer.join)
            self._closed = True
            raise
        self._writer = writer
        self._readers = concurrent.futures.ThreadPoolExecutor(
            READERS, thread_name_prefix="chinwag-history-read", initializer=self._open_reader
        )

    def append(self, msg: Message) -> None:
        if self._closed:
            raise RuntimeError("history store is closed")
        self._queue.put(msg)

    def append_all(self, msgs: list[Message]) -> None:
        """A tick's messages as one queue item (storage.base.AppendsAll): one
        put, and one wake-up of the writer, per tick instead of per message."""
        if self._closed:
            raise RuntimeError("history store is closed")
        self._queue.put(msgs)

    async def flush(self) -> None:
        await self._write(_nothing)

    async def check_writable(self) -> None:
        if self._closed:
            raise StorageError("the history writer has stopped")
        await self._write(_probe)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._stopping = True
            self._queue.put(None)
            await asyncio.to_thread(self._writer.join)
        if self._readers is not None:
            await asyncio.to_thread(self._readers.shutdown)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    # --- reads -----------------------------------------------------------

    async def latest(self, key: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        sql = f"SELECT {_COLS} FROM messages WHERE key = ? ORDER BY msgid DESC LIMIT ?"
        return (await self._select(sql, (key, limit)))[::-1]

    async def before(self, key: str, msgid: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        sql = f"SELECT {_COLS} FROM messages WHERE key = ? AND msgid < ? ORDER BY msgid DESC LIMIT ?"
        return (await self._select(sql, (key, msgid, limit)))[::-1]

    async def after(self, key: str, msgid: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        sql = f"SELECT {_COLS} FROM messages WHERE key = ? AND msgid > ? ORDER BY msgid LIMIT ?"
        return await self._select(sql, (key, msgid, limit))

    async def between(self, key: str, start_msgid: str, end_msgid: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        lo, hi = sorted((start_msgid, end_msgid))
        order = "ASC" if start_msgid <= end_msgid else "DESC"
        sql = f"SELECT {_COLS} FROM messages WHERE key = ? AND msgid > ? AND msgid < ? ORDER BY msgid {order} LIMIT ?"
        found = await self._select(sql, (key, lo, hi, limit))
        return found if order == "ASC" else found[::-1]

    async def around(self, key: str, msgid: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        older = limit // 2

        def read(conn: sqlite3.Connection) -> list[Message]:
            sql = f"SELECT {_COLS} FROM messages WHERE key = ? AND msgid < ? ORDER BY msgid DESC LIMIT ?"
            before = _messages(conn.execute(sql, (key, msgid, older)))[::-1]
            sql = f"SELECT {_COLS} FROM messages WHERE key = ? AND msgid >= ? ORDER BY msgid LIMIT ?"
            return before + _messages(conn.execute(sql, (key, msgid, limit - older)))

        return await self._read(read)

    async def since(self, key: str, ts: float, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        # The primary key from the first id of ``ts`` on (storage/sqlite_time.py).
        return await self._select(sqlite_time.SINCE, (key, sqlite_time.msgid_floor(ts), ts, limit))

    async def after_many(self, keys: Sequence[str], msgid: str, limit: int) -> list[Message]:
        unique = list(dict.fromkeys(keys))
        if limit <= 0 or not unique:
            return []

        def read(conn: sqlite3.Connection) -> list[Message]:
            # One range scan per key, each stopping at ``limit``: a single
            # "key IN (...) ORDER BY msgid" would sort everything since
            # ``msgid`` first, which after a long absence is a lot.
            sql = f"SELECT {_COLS} FROM messages WHERE key = ? AND msgid > ? ORDER BY msgid LIMIT ?"
            parts = [_messages(conn.execute(sql, (key, msgid, limit))) for key in unique]
            return list(heapq.merge(*parts, key=lambda m: m.msgid))[:limit]

        return await self._read(read)

    async def targets(
        self,
        start_ts: float,
        end_ts: float,
        limit: int,
        *,
        keys: Collection[str] | None = None,
        nick: str | None = None,
        private_after: str = "",
        account: str | None = None,
    ) -> list[tuple[str, float]]:
        if limit <= 0:
            return []
        lo, hi = sorted((start_ts, end_ts))
        order = "ASC" if start_ts <= end_ts else "DESC"
        wanted = None if keys is None else frozenset(keys)

        def read(conn: sqlite3.Connection) -> list[tuple[str, float]]:
            sql = (
                "SELECT key, last_ts, last_msgid FROM conversations WHERE last_ts > ? AND last_ts < ?"
                f" ORDER BY last_ts {order}, key {order}"
            )
            found: list[tuple[str, float]] = []
            for key, ts, last in conn.execute(sql, (lo, hi)):
                if visible(key, wanted, nick, last, private_after, account):
                    found.append((key, ts))
                    if len(found) == limit:
                        break
            return found if order == "ASC" else found[::-1]

        return await self._read(read)

    async def find(self, keys: Sequence[str], msgid: str) -> tuple[str, Message] | None:
        wanted = list(dict.fromkeys(keys))

        def read(conn: sqlite3.Connection) -> tuple[str, Message] | None:
            sql = f"SELECT {_COLS} FROM messages WHERE key = ? AND msgid = ?"
            for key in wanted:
                found = _messages(conn.execute(sql, (key, msgid)))
                if found:
                    return key, found[0]
            return None

        return await self._read(read)

    async def redact(self, key: str, msgid: str) -> bool:
        return await self._write(partial(_redact, key, msgid))

    async def has_history(self, keys: Collection[str]) -> set[str]:
        wanted = list(keys)

        def read(conn: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for i in range(0, len(wanted), 500):  # under SQLite's bound-parameter limit
                chunk = wanted[i : i + 500]
                sql = f"SELECT key FROM conversations WHERE key IN ({','.join('?' * len(chunk))})"
                found.update(key for (key,) in conn.execute(sql, chunk))
            return found

        return await self._read(read)

    async def last_msgid(self) -> str | None:
        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT max(last_msgid) FROM conversations").fetchone()
            return None if row is None else row[0]

        return await self._read(read)

    # --- retention and departures ---------------------------------------

    async def prune(self, max_per_room: int, max_age_days: float, now: float) -> int:
        cutoff = now - max_age_days * 86400.0 if max_age_days > 0 else None
        if cutoff is None and max_per_room <= 0:
            return 0
        plan = await self._read(partial(_prune_plan, max_per_room, cutoff))
        deleted = i = 0
        # Small transactions, each queued behind whatever was appended
        # meanwhile, so pruning a large database never stalls delivery.
        while i < len(plan):
            n, i = await self._write(partial(_prune_step, plan, i, cutoff))
            deleted += n
        if cutoff is not None:
            await self._write(partial(_execute, "DELETE FROM departures WHERE ts < ?", (cutoff,)))
        return deleted

    async def record_departure(self, nick: str, rooms: Sequence[str], last_msgid: str, ts: float) -> None:
        sql = "INSERT OR REPLACE INTO departures (nick, rooms, last_msgid, ts) VALUES (?, ?, ?, ?)"
        await self._write(partial(_execute, sql, (casefold(nick), json.dumps(list(rooms)), last_msgid, ts)))

    async def departure(self, nick: str) -> Departure | None:
        def read(conn: sqlite3.Connection) -> Departure | None:
            sql = "SELECT rooms, last_msgid, ts FROM departures WHERE nick = ?"
            row = conn.execute(sql, (casefold(nick),)).fetchone()
            if row is None:
                return None
            return tuple(json.loads(row[0])), row[1], row[2]

        return await self._read(read)

    async def forget_departure(self, nick: str) -> None:
        await self._write(partial(_execute, "DELETE FROM departures WHERE nick = ?", (casefold(nick),)))

    # --- room rules (sqlite_rooms.py) ---------------------------------------

    async def load_rooms(self) -> list[RoomState]:
        return await self._read(sqlite_rooms.load)

    def append_events(self, events: Sequence[Message]) -> asyncio.Future[None]:
        rows = [(event_key(e.target), e.msgid, e.ts, e.nick, e.target, e.text, e.kind, "") for e in events]
        return self._submit(partial(_insert_events, rows))

    def save_room(self, state: RoomState) -> asyncio.Future[None]:
        return self._submit(partial(sqlite_rooms.save, state))

    def delete_room(self, key: str) -> asyncio.Future[None]:
        return self._submit(partial(sqlite_rooms.delete, key))

    # --- accounts (storage/accounts.py) ---------------------------------------

    async def create_account(self, account: Account) -> bool:
        return await self._write(partial(sqlite_accounts.create, account))

    async def get_account(self, name: str) -> Account | None:
        return await self._read(partial(sqlite_accounts.get, name))

    async def set_password(self, name: str, secrets: Secrets) -> bool:
        return await self._write(partial(sqlite_accounts.set_password, name, secrets))

    async def account_names(self) -> list[str]:
        return await self._read(sqlite_accounts.names)

    async def delete_account(self, name: str) -> bool:
        return await self._write(partial(sqlite_accounts.delete, name))

    async def touch_account(self, name: str, ts: float) -> None:
        await self._write(partial(sqlite_accounts.touch, name, ts))

    # --- read markers (storage/read_markers.py) ---------------------------------

    async def read_marker(self, account: str, target: str) -> int | None:
        return await self._read(partial(sqlite_markers.get, account, target))

    async def set_read_marker(self, account: str, target: str, ms: int, most: int) -> int | None:
        return await self._write(partial(sqlite_markers.set_forward, account, target, ms, most))

    async def add_credential(self, kind: str, value: str, name: str, expires: float, now: float) -> bool:
        return await self._write(partial(sqlite_accounts.add_credential, kind, value, name, expires, now))

    async def find_credential(self, kind: str, value: str, now: float) -> str | None:
        return await self._read(partial(sqlite_accounts.find_credential, kind, value, now))

    async def delete_credential(self, kind: str, value: str, name: str | None = None) -> bool:
        return await self._write(partial(sqlite_accounts.delete_credential, kind, value, name))

    async def list_credentials(self, kind: str, name: str) -> list[str]:
        return await self._read(partial(sqlite_accounts.list_credentials, kind, name))

    async def get_playback(self, name: str) -> int | None:
        return await self._read(partial(sqlite_playback.get_playback, name))

    async def set_playback(self, name: str, count: int | None) -> bool:
        return await self._write(partial(sqlite_playback.set_playback, name, count))

    # --- plumbing: loop side ---------------------------------------------

    def _submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue a write now (ordered with appends); the future says when it is committed."""
        if self._closed or self._writer is None:
            raise RuntimeError("history store is not open")
        job = _Job(fn)
        self._queue.put(job)
        return asyncio.wrap_future(job.future)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._submit(fn)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed or self._readers is None:
            raise RuntimeError("history store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._in_reader, fn)

    async def _select(self, sql: str, args: tuple[Any, ...]) -> list[Message]:
        return await self._read(lambda conn: _messages(conn.execute(sql, args)))

    # --- plumbing: reader threads ----------------------------------------

    def _open_reader(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        self._local.conn = conn
        with self._reader_lock:
            self._reader_conns.append(conn)

    def _in_reader(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection = self._local.conn
        return fn(conn)

    # --- plumbing: the writer thread -------------------------------------

    def _writer_main(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            conn = _open_writer(self.path)
        except BaseException as exc:
            ready.set_exception(exc)
            return
        self.checkpointer = self._start_checkpointer(conn)
        ready.set_result(None)
        try:
            self._write_loop(conn)
        except BaseException:
            log.exception("history writer failed; no more messages will be stored")
            self._closed = True
            self._fail_queued()
        finally:
            if self.checkpointer is not None:
                self.checkpointer.stop()
            try:
                conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass
            conn.close()

    def _start_checkpointer(self, conn: sqlite3.Connection) -> Checkpointer | None:
        """WAL checkpoints on their own thread (storage/sqlite_checkpoint.py), if
        asked for and in WAL mode; else (or if that fails) SQLite's, in the commits."""
        if self.checkpoint_every is None:
            return None
        checkpointer: Checkpointer | None = None
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                return None
            checkpointer = Checkpointer(self.path, self.checkpoint_every)
            checkpointer.start()
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # (the thread does it, off the commit path)
            return checkpointer
        except Exception as exc:  # (sqlite3.Error, or no thread to be had: never keep the writer from starting)
            log.warning("history checkpoints stay in the writer's commits: %s", exc)
            if checkpointer is not None:
                checkpointer.stop()
            return None

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        q = self._queue
        while True:
            items = [q.get()]
            size = _size(items[0])
            while size < BATCH_MAX:
                try:
                    items.append(q.get_nowait())
                except queue.Empty:
                    break
                size += _size(items[-1])
            batch: list[Message] = []
            for item in items:
                if isinstance(item, Message):
                    batch.append(item)
                    continue
                if isinstance(item, list):
                    batch.extend(item)
                    continue
                # A job sees every message appended before it committed.
                if batch:
                    self._store(conn, batch)
                    batch = []
                if item is None:
                    return
                _run_job(conn, item)
            if batch:
                self._store(conn, batch)

    def _store(self, conn: sqlite3.Connection, batch: list[Message]) -> None:
        """Commit ``batch`` and confirm it, or give it up (on_fail) if the disk
        keeps refusing for ``write_timeout`` seconds (at once if the previous
        batch was given up too, or at shutdown).

        Confirmations cover a prefix of what was appended: a batch is
        confirmed or given up whole, in order, and never skipped in favour of
        a later one. (A message whose msgid was stored already is confirmed
        too: the first message keeps the id, as in every backend.)
        """
        rows = message_rows(batch)
        delay, one_by_one = 0.05, False
        deadline: float | None = None
        while True:
            try:
                (_insert_each if one_by_one else _insert)(conn, rows)
                break
            except sqlite3.Error as exc:
                if isinstance(exc, _ROW_ERRORS) and not one_by_one:
                    # Some row cannot be stored (a reused msgid): store the others
                    # one by one so the rest of the batch is not held up for ever.
                    one_by_one = True
                    continue
                self._report(str(exc))
                now = time.monotonic()
                if deadline is None:
                    deadline = now if self._down else now + self.write_timeout
                if self._abandoned or now >= deadline or (self._stopping and delay >= RETRY_MAX_DELAY):
                    # Unconfirmed, so never delivered: nobody saw what is lost.
                    self._give_up([r[1] for r in rows], exc)
                    return
                if delay == 0.05:
                    log.error("storing %d messages failed (%s); retrying for up to %.1f s",
                              len(rows), exc, deadline - now)
                time.sleep(min(delay, max(0.0, deadline - now)))
                delay = min(delay * 2, RETRY_MAX_DELAY)
        if self._trouble is not None:
            log.warning("history store writes again (%d messages were given up meanwhile)", self._given_up)
            self._down, self._given_up = False, 0
            self._report(None)
        self._confirm(receipts(rows))
        if self.checkpointer is not None:  # (after the confirmation: nobody waits for it)
            self.checkpointer.committed(conn)

    def _give_up(self, msgids: list[str], exc: sqlite3.Error) -> None:
        count = len(msgids)
        if self._stopping:
            log.error("giving up storing %d messages at shutdown: %s", count, exc)
            self._abandoned = True
        elif not self._down:
            log.error("giving up storing %d messages (%s); refusing messages until a write works", count, exc)
        self._down = True
        self._given_up += count
        self._call(self.on_fail, msgids)

    def _report(self, trouble: str | None) -> None:
        """Tell the loop when writes start failing and when they work again."""
        if trouble != self._trouble:
            self._trouble = trouble
            self._call(self.on_status, trouble)

    def _confirm(self, receipts: list[Receipt]) -> None:
        self._call(self.on_commit, receipts)

    def _call(self, callback: Callable[[Any], None] | None, arg: Any) -> None:
        loop = self._loop
        if callback is None or loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback, arg)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _fail_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job) and item.future.set_running_or_notify_cancel():
                item.future.set_exception(RuntimeError("history writer failed"))


# --- writer-thread helpers -------------------------------------------------


def _open_writer(path: str) -> sqlite3.Connection:
    """Open (creating if needed) and check the database; StorageError says why not."""
    where = Path(path)
    if where.is_dir():
        raise StorageError(f"cannot use {path!r} as the history database: it is a directory")
    if not where.parent.is_dir():
        raise StorageError(f"cannot create history database {path!r}: directory {str(where.parent)!r} does not exist")
    try:
        # (cached_statements: a room's batch is inserted with a statement of its
        # size, 1 to 64 rows (storage/sqlite_rows.py): all of them kept prepared)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=256)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open history database {path!r}: {exc}") from None
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() == "wal":
            conn.execute("PRAGMA synchronous = NORMAL")
        else:  # e.g. a filesystem without shared memory: stay durable the slow way
            log.warning("history database %s cannot use WAL (journal_mode=%s); using synchronous=FULL", path, mode)
            conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        conn.execute("PRAGMA cache_size = -32768")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"history database {path!r} has schema version {version}; this chinwag knows up to {SCHEMA_VERSION}"
            )
        for number, step in enumerate(_MIGRATIONS[version:], start=version + 1):
            if isinstance(step, str):
                conn.executescript(f"BEGIN IMMEDIATE;\n{step}\nPRAGMA user_version = {number};\nCOMMIT;")
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                step(conn)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
    except sqlite3.Error as exc:
        conn.close()
        raise StorageError(f"cannot use history database {path!r}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _conversation_rows(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Per key in a batch: [key, newest msgid, its ts, how many]."""
    if type(rows) is RoomRows:
        return conversation_rows(rows)
    if rows and len(set(map(_row_key, rows))) == 1:  # one conversation (a room's batch): in C
        newest = max(rows, key=_row_msgid)
        return [[newest[0], newest[1], newest[2], len(rows)]]
    out: dict[str, list[Any]] = {}
    for row in rows:  # (indexing: no list per row, as ``key, msgid, ts, *_ = row`` makes)
        key = row[0]
        agg = out.get(key)
        if agg is None:
            out[key] = [key, row[1], row[2], 1]
        else:
            agg[3] += 1
            if row[1] > agg[1]:
                agg[1], agg[2] = row[1], row[2]
    return list(out.values())


_row_key, _row_msgid = itemgetter(0), itemgetter(1)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _insert(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
        insert_rows(conn, rows)  # (64 rows a statement: storage/sqlite_rows.py)
        conn.executemany(_UPSERT_CONVERSATION, _conversation_rows(rows))
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


# Errors that one bad row causes, as opposed to the database or disk failing.
_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError)


def _insert_each(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    stored = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for row in rows:
            try:
                inserted = conn.execute(_INSERT.replace("INSERT", "INSERT OR IGNORE", 1), row).rowcount == 1
            except (sqlite3.InterfaceError, sqlite3.ProgrammingError) as exc:
                log.error("message %s cannot be stored (%s); it was not stored", row[1], exc)
                continue
            if inserted:
                stored.append(row)
            else:
                log.error("msgid %s already stored under %s; the new message was not stored", row[1], row[0])
        conn.executemany(_UPSERT_CONVERSATION, _conversation_rows(stored))
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _insert_events(rows: Sequence[tuple[Any, ...]], conn: sqlite3.Connection) -> None:
    """Room events, in a job's transaction: rows as messages have them, under event keys."""
    conn.executemany(_INSERT.replace("INSERT", "INSERT OR IGNORE", 1), rows)
    conn.executemany(_UPSERT_CONVERSATION, _conversation_rows(rows))


def _run_job(conn: sqlite3.Connection, job: _Job[Any]) -> None:
    if not job.future.set_running_or_notify_cancel():
        return  # the caller stopped waiting
    try:
        conn.execute("BEGIN IMMEDIATE")
        result = job.fn(conn)
        conn.execute("COMMIT")
    except BaseException as exc:
        _rollback(conn)
        job.future.set_exception(exc)
    else:
        job.future.set_result(result)


# Free room below which the store reports itself full (check_writable).
PROBE_FREE_PAGES = 16
PROBE_FREE_BYTES = 1 << 20
_PROBE_NICK = "\x00probe"  # no nick holds a NUL: never a real departure


def _probe(conn: sqlite3.Connection) -> None:
    """A page-sized row written and deleted in one transaction (committed, so
    the journal is written too), then the room left: in the database (its page
    limit) and on the disk under it."""
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("INSERT OR REPLACE INTO departures (nick, rooms, last_msgid, ts) VALUES (?, zeroblob(?), '', 0)",
                 (_PROBE_NICK, page))
    conn.execute("DELETE FROM departures WHERE nick = ?", (_PROBE_NICK,))
    count, most, free = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                         for p in ("page_count", "max_page_count", "freelist_count"))
    if most - count + free < PROBE_FREE_PAGES:
        raise sqlite3.OperationalError("database or disk is full")
    name = conn.execute("PRAGMA database_list").fetchone()[2]
    if name:
        stat = os.statvfs(Path(name).parent)
        if stat.f_bavail * stat.f_frsize < PROBE_FREE_BYTES:
            raise sqlite3.OperationalError(f"database or disk is full ({stat.f_bavail * stat.f_frsize} bytes free)")


def _redact(key: str, msgid: str, conn: sqlite3.Connection) -> bool:
    """Delete one message; its conversation's row follows (count, latest message)."""
    if conn.execute("DELETE FROM messages WHERE key = ? AND msgid = ?", (key, msgid)).rowcount != 1:
        return False
    row = conn.execute("SELECT msgid, ts FROM messages WHERE key = ? ORDER BY msgid DESC LIMIT 1", (key,)).fetchone()
    if row is None:
        conn.execute("DELETE FROM conversations WHERE key = ?", (key,))
    else:
        conn.execute("UPDATE conversations SET count = count - 1, last_msgid = ?, last_ts = ? WHERE key = ?",
                     (row[0], row[1], key))
    return True


def _nothing(conn: sqlite3.Connection) -> None:
    return None


def _execute(sql: str, args: tuple[Any, ...], conn: sqlite3.Connection) -> None:
    conn.execute(sql, args)


_PrunePlan = list[tuple[str, str | None, str]]


def _prune_plan(max_per_room: int, cutoff: float | None, conn: sqlite3.Connection) -> _PrunePlan:
    """Per key to visit: (key, delete ids below this for the count limit, newest id now).

    Fixed before deleting anything, so a busy room cannot keep the prune
    chasing messages that arrive while it runs.
    """
    sql = "SELECT key, count, last_msgid FROM conversations WHERE count > ?"
    rows = conn.execute(sql, (max_per_room if cutoff is None else 0,)).fetchall()
    plan: _PrunePlan = []
    for key, count, newest in rows:
        below = None
        if 0 < max_per_room < count:
            sql = "SELECT msgid FROM messages WHERE key = ? ORDER BY msgid DESC LIMIT 1 OFFSET ?"
            row = conn.execute(sql, (key, max_per_room - 1)).fetchone()
            below = None if row is None else row[0]
        if below is not None or cutoff is not None:
            plan.append((key, below, newest))
    return plan


def _prune_step(plan: _PrunePlan, start: int, cutoff: float | None, conn: sqlite3.Connection) -> tuple[int, int]:
    """Prune keys from ``start`` within one budget; returns (deleted, where to go on)."""
    budget, i = PRUNE_BUDGET, start
    deleted = 0
    end = min(len(plan), start + PRUNE_KEYS)
    while i < end:
        key, below, newest = plan[i]
        deleted += _prune_key(conn, key, below, newest, cutoff, budget - deleted)
        if deleted >= budget:
            break  # this key may have more: the next step starts with it again
        i += 1
    return deleted, i


def _prune_key(
    conn: sqlite3.Connection, key: str, below: str | None, newest: str, cutoff: float | None, budget: int
) -> int:
    deleted = 0
    if cutoff is not None:  # (the primary key up to the first id of the cutoff: storage/sqlite_time.py)
        args = (key, cutoff, newest, budget, sqlite_time.msgid_floor(cutoff))
        deleted += conn.execute(sqlite_time.PRUNE_BY_AGE, args).rowcount
    if below is not None and deleted < budget:
        sql = (
            "DELETE FROM messages WHERE key = ?1 AND msgid IN"
            " (SELECT msgid FROM messages WHERE key = ?1 AND msgid < ?2 ORDER BY msgid LIMIT ?3)"
        )
        deleted += conn.execute(sql, (key, below, budget - deleted)).rowcount
    if deleted:
        conn.execute("UPDATE conversations SET count = count - ? WHERE key = ?", (deleted, key))
        conn.execute("DELETE FROM conversations WHERE key = ? AND count <= 0", (key,))
    return deleted
