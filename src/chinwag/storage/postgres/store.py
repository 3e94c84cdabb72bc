"""The PostgreSQL store: a pool, one writer task on the event loop, reads on the pool.

``append`` queues a message and wakes the writer task; the writer takes
everything queued (all that was appended during the last loop tick, or more
while a transaction was in flight) and stores it in one transaction
(history.insert), then confirms the batch (on_commit) in append order. Every
other write (rooms, accounts, departures) is a job on the same queue, run in
its own transaction in call order with the appends, as in the SQLite store.
Reads and pruning take any pool connection: PostgreSQL's MVCC lets them run
beside the writer.

PostgreSQL unreachable (or refusing writes): the batch is retried for
``write_timeout`` seconds, then given up (on_fail: the server tells the
senders "not sent" and delivers nothing of it), exactly as a full disk is
with SQLite; later batches are tried once each until one works. The pool
opens new connections as needed, so service resumes by itself when
PostgreSQL is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from functools import partial
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from chinwag.core.accounts import Secrets
from chinwag.core.events import Message
from chinwag.core.roomstate import RoomState
from chinwag.storage.accounts import Account
from chinwag.storage.base import Departure, Receipt, StorageError
from chinwag.storage.postgres import accounts as pg_accounts
from chinwag.storage.postgres import history, read_markers, rooms, schema
from chinwag.storage.postgres.cluster import PgCluster

log = logging.getLogger("chinwag.storage")

T = TypeVar("T")

BATCH_MAX = 32768  # messages in one insert transaction at most
POOL_MIN = 1
POOL_MAX = 8  # one for the writer, the rest for reads and pruning
CONNECT_TIMEOUT = 5.0  # seconds to open a connection
RETRY_MAX_DELAY = 2.0

# The database cannot be used (unreachable, shutting down, out of space, ...).
_FAILURES: tuple[type[BaseException], ...] = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
# Another node's transaction was in the way: try again at once.
_CONTENTION: tuple[type[BaseException], ...] = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


def describe(url: str) -> str:
    """The URL without its password, for logs and errors."""
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            host = parts.hostname or ""
            netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
            return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "(a PostgreSQL URL)"
    return url


def _words(exc: BaseException) -> str:
    """What went wrong, in PostgreSQL's (or the OS's) own words."""
    if isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError):
        return f"PostgreSQL unreachable: {exc or type(exc).__name__}"
    return f"PostgreSQL: {exc}"


Job = Callable[[Any], Awaitable[T]]


class _Job(Generic[T]):
    """A write other than appending, run by the writer in its own transaction
    (``fn`` None: nothing to run, only to wait for what was queued before)."""

    __slots__ = ("fn", "future")

    def __init__(self, fn: Job[T] | None, future: asyncio.Future[T]) -> None:
        self.fn = fn
        self.future = future


_Item = Message | _Job[Any] | None  # None stops the writer once everything before it is done


class PostgresStore:
    """A :class:`~chinwag.storage.base.Store` in a PostgreSQL database."""

    def __init__(self, url: str, write_timeout: float = 5.0, *, pool_max: int = POOL_MAX) -> None:
        self.url = url
        self.where = describe(url)
        self.write_timeout = write_timeout
        self.pool_max = pool_max
        self.on_commit: Callable[[list[Receipt]], None] | None = None
        self.on_fail: Callable[[list[str]], None] | None = None
        self.on_status: Callable[[str | None], None] | None = None
        self._queue: deque[_Item] = deque()
        self._wake: asyncio.Event | None = None
        self._pool: Any = None
        self._wconn: Any = None  # the writer's connection (_writer_conn)
        self._writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._stopping = False
        self._abandoned = False
        self._trouble: str | None = None
        self._down = False
        self._given_up = 0
        # The cluster's tables (storage/cluster.py ClusterStore): node rows,
        # nick claims, reads by seq; on the pool, beside the writer.
        self.cluster = PgCluster(self)

    # --- lifecycle -------------------------------------------------------

    async def start(self) -> None:
        if self._writer is not None or self._closed:
            raise RuntimeError("history store already started")
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        timeout = max(self.write_timeout, CONNECT_TIMEOUT)
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=POOL_MIN, max_size=self.pool_max, timeout=CONNECT_TIMEOUT,
                command_timeout=timeout, max_inactive_connection_lifetime=60.0,
            )
        except (*_FAILURES, ValueError) as exc:  # type: ignore[misc]  # (mypy and starred tuples)
            self._closed = True
            raise StorageError(f"cannot use PostgreSQL database {self.where}: {exc}") from None
        try:
            async with self._pool.acquire() as conn:
                before = await schema.migrate(conn, self.where)
        except BaseException as exc:
            self._closed = True
            await self._pool.close()
            if isinstance(exc, _FAILURES):
                raise StorageError(f"cannot use PostgreSQL database {self.where}: {exc}") from None
            raise
        if before < schema.SCHEMA_VERSION:
            log.info("PostgreSQL database %s: schema version %d -> %d", self.where, before, schema.SCHEMA_VERSION)
        self._writer = asyncio.create_task(self._writer_main(), name="chinwag-history-writer")

    def append(self, msg: Message) -> None:
        if self._closed:
            raise RuntimeError("history store is closed")
        self._queue.append(msg)
        assert self._wake is not None
        self._wake.set()

    async def flush(self) -> None:
        await self._submit(None)

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
            self._queue.append(None)
            assert self._wake is not None
            self._wake.set()
            with contextlib.suppress(Exception):  # a writer that failed has logged why
                await self._writer
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), CONNECT_TIMEOUT)
            except _FAILURES:
                self._pool.terminate()

    # --- reads -----------------------------------------------------------

    async def latest(self, key: str, limit: int) -> list[Message]:
        return [] if limit <= 0 else await self._read(history.latest, key, limit)

    async def before(self, key: str, msgid: str, limit: int) -> list[Message]:
        return [] if limit <= 0 else await self._read(history.before, key, msgid, limit)

    async def after(self, key: str, msgid: str, limit: int) -> list[Message]:
        return [] if limit <= 0 else await self._read(history.after, key, msgid, limit)

    async def between(self, key: str, start_msgid: str, end_msgid: str, limit: int) -> list[Message]:
        return [] if limit <= 0 else await self._read(history.between, key, start_msgid, end_msgid, limit)

    async def around(self, key: str, msgid: str, limit: int) -> list[Message]:
        return [] if limit <= 0 else await self._read(history.around, key, msgid, limit)

    async def since(self, key: str, ts: float, limit: int) -> list[Message]:
        return [] if limit <= 0 else await self._read(history.since, key, ts, limit)

    async def after_many(self, keys: Sequence[str], msgid: str, limit: int) -> list[Message]:
        unique = list(dict.fromkeys(keys))
        if limit <= 0 or not unique:
            return []
        return await self._read(history.after_many, unique, msgid, limit)

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
        found = await self._read(history.targets, lo, hi, order, limit, wanted, nick, private_after, account)
        return found if order == "ASC" else found[::-1]

    async def find(self, keys: Sequence[str], msgid: str) -> tuple[str, Message] | None:
        wanted = list(dict.fromkeys(keys))
        return None if not wanted else await self._read(history.find, wanted, msgid)

    async def redact(self, key: str, msgid: str) -> bool:
        return await self._write(partial(history.redact, key, msgid))

    async def has_history(self, keys: Collection[str]) -> set[str]:
        wanted = list(keys)
        return set() if not wanted else await self._read(history.has_history, wanted)

    async def last_msgid(self) -> str | None:
        return await self._read(history.last_msgid)

    # --- retention and departures ---------------------------------------

    async def prune(self, max_per_room: int, max_age_days: float, now: float) -> int:
        cutoff = now - max_age_days * 86400.0 if max_age_days > 0 else None
        if cutoff is None and max_per_room <= 0:
            return 0
        plan = await self._read(history.prune_plan, max_per_room, cutoff)
        deleted = i = 0
        while i < len(plan):  # small transactions, so no lock is held for long
            n, i = await self._transaction(partial(history.prune_step, plan, i, cutoff))
            deleted += n
        if cutoff is not None:
            await self._write(partial(history.prune_departures, cutoff))
        return deleted

    async def record_departure(self, nick: str, rooms: Sequence[str], last_msgid: str, ts: float) -> None:
        await self._write(partial(history.record_departure, nick, list(rooms), last_msgid, ts))

    async def departure(self, nick: str) -> Departure | None:
        return await self._read(history.departure, nick)

    async def forget_departure(self, nick: str) -> None:
        await self._write(partial(history.forget_departure, nick))

    # --- room rules (rooms.py) ---------------------------------------------

    async def load_rooms(self) -> list[RoomState]:
        return await self._read(rooms.load)

    def append_events(self, events: Sequence[Message]) -> asyncio.Future[None]:
        return self._submit(partial(history.insert_events, history.event_rows(events)))

    def save_room(self, state: RoomState) -> asyncio.Future[None]:
        return self._submit(partial(rooms.save, state))

    def delete_room(self, key: str) -> asyncio.Future[None]:
        return self._submit(partial(rooms.delete, key))

    # --- accounts (accounts.py) ----------------------------------------------

    async def create_account(self, account: Account) -> bool:
        return await self._write(partial(pg_accounts.create, account))

    async def get_account(self, name: str) -> Account | None:
        return await self._read(lambda conn: pg_accounts.get(name, conn))

    async def set_password(self, name: str, secrets: Secrets) -> bool:
        return await self._write(partial(pg_accounts.set_password, name, secrets))

    async def account_names(self) -> list[str]:
        return await self._read(pg_accounts.names)

    async def delete_account(self, name: str) -> bool:
        return await self._write(partial(pg_accounts.delete, name))

    async def touch_account(self, name: str, ts: float) -> None:
        await self._write(partial(pg_accounts.touch, name, ts))

    async def add_credential(self, kind: str, value: str, name: str, expires: float, now: float) -> bool:
        return await self._write(partial(pg_accounts.add_credential, kind, value, name, expires, now))

    async def find_credential(self, kind: str, value: str, now: float) -> str | None:
        return await self._read(pg_accounts.find_credential, kind, value, now)

    async def delete_credential(self, kind: str, value: str, name: str | None = None) -> bool:
        return await self._write(partial(pg_accounts.delete_credential, kind, value, name))

    async def list_credentials(self, kind: str, name: str) -> list[str]:
        return await self._read(pg_accounts.list_credentials, kind, name)

    async def get_playback(self, name: str) -> int | None:
        return await self._read(pg_accounts.get_playback, name)

    async def set_playback(self, name: str, count: int | None) -> bool:
        return await self._write(partial(pg_accounts.set_playback, name, count))

    # --- read markers (read_markers.py) ------------------------------------------

    async def read_marker(self, account: str, target: str) -> int | None:
        return await self._read(read_markers.get, account, target)

    async def set_read_marker(self, account: str, target: str, ms: int, most: int) -> int | None:
        return await self._write(partial(read_markers.set_forward, account, target, ms, most))

    # --- plumbing: loop side ---------------------------------------------

    def _submit(self, fn: Job[T] | None) -> asyncio.Future[T]:
        """Queue a write now (ordered with appends); the future says when it is committed."""
        if self._closed or self._writer is None or self._loop is None:
            raise RuntimeError("history store is not open")
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.append(_Job(fn, future))
        assert self._wake is not None
        self._wake.set()
        return future

    async def _write(self, fn: Job[T]) -> T:
        return await self._submit(fn)

    async def _read(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        if self._closed or self._pool is None:
            raise RuntimeError("history store is not open")
        try:
            async with self._pool.acquire() as conn:
                return await fn(conn, *args)
        except _FAILURES as exc:
            raise StorageError(_words(exc)) from exc

    async def _transaction(self, fn: Job[T]) -> T:
        if self._closed or self._pool is None:
            raise RuntimeError("history store is not open")
        return await self._in_transaction(fn)

    async def _in_transaction(self, fn: Job[T]) -> T:
        """(The writer's jobs come here directly: those queued before close() still run.)"""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                return await fn(conn)
        except _FAILURES as exc:
            raise StorageError(_words(exc)) from exc

    # --- plumbing: the writer task -----------------------------------------

    async def _writer_main(self) -> None:
        try:
            await self._write_loop()
            await self._drop_writer_conn()
        except BaseException:
            log.exception("history writer failed; no more messages will be stored")
            self._closed = True
            self._fail_queued()
            raise

    async def _write_loop(self) -> None:
        q, wake = self._queue, self._wake
        assert wake is not None
        while True:
            if not q:
                wake.clear()
                await wake.wait()
                continue
            batch: list[Message] = []
            for _ in range(min(len(q), BATCH_MAX)):
                item = q.popleft()
                if isinstance(item, Message):
                    batch.append(item)
                    continue
                # A job sees every message appended before it committed.
                if batch:
                    await self._store(batch)
                    batch = []
                if item is None:
                    return
                await self._run_job(item)
            if batch:
                await self._store(batch)

    async def _run_job(self, job: _Job[Any]) -> None:
        if job.future.done():
            return  # the caller stopped waiting
        if job.fn is None:
            job.future.set_result(None)
            return
        try:
            result = await self._in_transaction(job.fn)
        except BaseException as exc:
            if not job.future.done():
                job.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if not job.future.done():
                job.future.set_result(result)

    async def _store(self, batch: list[Message]) -> None:
        """Commit ``batch`` and confirm it, or give it up (on_fail) if
        PostgreSQL keeps failing for ``write_timeout`` seconds (at once if the
        previous batch was given up too, or at shutdown). A batch is confirmed
        or given up whole, in order; each receipt has the message's seq (of
        the block the insert took, or as stored already when the careful path
        skipped it)."""
        rows = history.rows(batch)
        careful = False
        seqs: history.Seqs = {}
        delay = 0.05
        deadline: float | None = None
        assert self._pool is not None
        while True:
            try:
                conn = await self._writer_conn()
                # One statement: atomic by itself. (Careful: another node may
                # store one of the ids between the two; then this goes round again.)
                if careful:
                    todo, seqs = await history.fresh(conn, rows)
                    seqs.update(await history.insert(conn, todo))
                else:
                    seqs = await history.insert(conn, rows)
                break
            except asyncpg.UniqueViolationError:
                # A reused msgid, a commit whose answer was lost, or another
                # node storing the same id meanwhile: skip what is stored.
                careful = True
                continue
            except _CONTENTION:
                continue
            except Exception as exc:  # _FAILURES, or a row PostgreSQL cannot take
                await self._drop_writer_conn()
                if not isinstance(exc, _FAILURES):
                    log.exception("storing %d messages failed", len(batch))
                self._report(_words(exc))
                now = time.monotonic()
                if deadline is None:
                    deadline = now if self._down else now + self.write_timeout
                if self._abandoned or now >= deadline or (self._stopping and delay >= RETRY_MAX_DELAY):
                    self._give_up([m.msgid for m in batch], exc)  # unconfirmed, so never delivered
                    return
                if delay == 0.05:
                    log.error("storing %d messages failed (%s); retrying for up to %.1f s",
                              len(batch), _words(exc), deadline - now)
                await asyncio.sleep(min(delay, max(0.0, deadline - now)))
                delay = min(delay * 2, RETRY_MAX_DELAY)
                careful = True  # the last attempt may have committed before its answer was lost
        if self._trouble is not None:
            log.warning("history store writes again (%d messages were given up meanwhile)", self._given_up)
            self._down, self._given_up = False, 0
            self._report(None)
        receipts = []
        for key, msgid, *_ in rows:
            seq = seqs.get((key, msgid))
            if seq is None:  # (cannot be: stored now or before)
                log.error("no seq for stored message %s under %s", msgid, key)
                seq = 0
            receipts.append(Receipt(msgid, key, seq))
        self._call(self.on_commit, receipts)

    async def _writer_conn(self) -> Any:
        """The writer's own connection, kept between batches (a pool release
        costs a reset round trip); a new one after a failure."""
        if self._wconn is None:
            self._wconn = await self._pool.acquire()
        return self._wconn

    async def _drop_writer_conn(self) -> None:
        conn, self._wconn = self._wconn, None
        if conn is not None:
            with contextlib.suppress(*_FAILURES):
                await self._pool.release(conn, timeout=CONNECT_TIMEOUT)

    def _give_up(self, msgids: list[str], exc: BaseException) -> None:
        count = len(msgids)
        if self._stopping:
            log.error("giving up storing %d messages at shutdown: %s", count, _words(exc))
            self._abandoned = True
        elif not self._down:
            log.error("giving up storing %d messages (%s); refusing messages until a write works",
                      count, _words(exc))
        self._down = True
        self._given_up += count
        self._call(self.on_fail, msgids)

    def _report(self, trouble: str | None) -> None:
        if trouble != self._trouble:
            self._trouble = trouble
            self._call(self.on_status, trouble)

    def _call(self, callback: Callable[[Any], None] | None, arg: Any) -> None:
        if callback is not None and self._loop is not None:
            self._loop.call_soon(callback, arg)

    def _fail_queued(self) -> None:
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, _Job) and not item.future.done():
                item.future.set_exception(RuntimeError("history writer failed"))


_PROBE_NICK = "\x01probe"  # no nick holds a control character: never a real departure


async def _probe(conn: Any) -> None:
    """A row written and deleted in one transaction: PostgreSQL takes writes."""
    await conn.execute("INSERT INTO departures (nick, rooms, last_msgid, ts) VALUES ($1, '{}', '', 0)"
                       " ON CONFLICT (nick) DO NOTHING", _PROBE_NICK)
    await conn.execute("DELETE FROM departures WHERE nick = $1", _PROBE_NICK)
