"""Password checks off the event loop, rate-limited per connection and per address.

A command that carries a password (a Register when the server has one: IRC
PASS, the text protocol's password prompt; an IRC OPER) is not dispatched at
once. Its connection's input pauses, as for a history query, so the lines
after it stay behind it; the check

1. waits its turn: one check at a time per address,
2. waits out the delay that earlier failures of this connection or this
   address earned (``Backoff``: 1 s, 2 s, 4 s ... by default), or is refused
   if the address has failed too often (the connection is closed),
3. hashes in a worker thread, at most ``auth_checks`` at once server-wide,
4. hands the hub a ``Checked`` verdict; after a failure that leaves no more
   tries the connection is told and closed.

A password accepted once since start skips all of it (``Auth.accepted_before``):
the delays stop guessing, not the class behind one NAT who know the password.
Failures are logged at WARNING with the address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from chinwag.core.auth import Credential, verify
from chinwag.core.events import Checked, Register
from chinwag.core.ratelimit import Backoff
from chinwag.core.types.lookup import Sync
from chinwag.core.types.moderation import Oper

if TYPE_CHECKING:
    from chinwag.transport.connection import Connection
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag.auth")
_KINDS = {"server password": "server", "operator password": "operator"}  # metric labels
T = TypeVar("T")


class _Turn:
    """One address's queue of checks: a lock and how many hold or want it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class PasswordChecks:
    def __init__(self, server: Server) -> None:
        limits = server.config.limits
        self.server = server
        self.auth = server.hub.auth
        base, cap = limits.auth_delay_ms / 1000, limits.auth_delay_max_ms / 1000
        window, tracked = limits.auth_window, limits.auth_tracked
        self.per_conn = Backoff(base, cap, limits.auth_failures, window, tracked)
        self.per_ip = Backoff(base, cap, limits.auth_failures_per_ip, window, tracked)
        # Account logins (transport/accounts.py) also count per account, from anywhere.
        self.per_account = Backoff(base, cap, limits.account_failures, window, tracked)
        self._pool = ThreadPoolExecutor(max_workers=limits.auth_checks, thread_name_prefix="chinwag-auth")
        # Bounds what waits in the pool's queue too: a check takes a slot
        # before it is submitted and gives it back when its thread is done.
        self._slots = asyncio.Semaphore(limits.auth_checks)
        self._turns: dict[str, _Turn] = {}
        self._running: dict[int, asyncio.Task[None]] = {}  # conn sid -> its check

    def credential(self, command: object) -> Credential | None:
        """The password ``command`` carries, if it must be checked first."""
        return self.auth.credential(command)

    def check(self, conn: Connection, command: Register | Oper, credential: Credential, barrier: Sync | None) -> None:
        """Check, then dispatch ``Checked(command, ...)`` (``barrier`` right before it)."""
        if self.auth.accepted_before(credential):
            self._dispatch(conn, barrier, Checked(command, True))
            return
        conn.pause(gate=False)  # input only: live traffic goes on reaching it
        task = asyncio.get_running_loop().create_task(self._check(conn, command, credential, barrier))
        self._running[conn.sid] = task
        task.add_done_callback(self._done)

    def forget(self, conn: Connection) -> None:
        """The connection is gone: stop its check (a thread already hashing
        finishes, still holding its slot) and its per-connection count."""
        task = self._running.pop(conn.sid, None)
        if task is not None:
            task.cancel()
        self.per_conn.forget(f"conn {conn.sid}")

    def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        self._running.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- the check ------------------------------------------------------------------

    async def _check(self, conn: Connection, command: Register | Oper, cred: Credential, barrier: Sync | None) -> None:
        ip, conn_key, ip_key = conn.ip, f"conn {conn.sid}", f"ip {conn.ip}"
        try:
            async with self._turn(ip):
                while not self.per_ip.blocked(ip_key):  # (else: it is, now or after a wait)
                    wait = max(self.per_conn.delay(conn_key), self.per_ip.delay(ip_key))
                    if wait <= 0:
                        break
                    await asyncio.sleep(wait)
                else:
                    self.server.metrics.auth_failure(_KINDS.get(cred.kind, cred.kind), "refused")
                    log.warning(
                        "refusing %s check from %s (conn %d): %d recent failures from this address",
                        cred.kind, ip, conn.sid, round(self.per_ip.level(ip_key)),
                    )
                    conn.adapter.abort(f"too many failed passwords from {ip}")
                    return
                ok = await self._verify(cred)
                if ok:
                    self.auth.remember(cred)
                    self.per_conn.forget(conn_key)
                    verdict = Checked(command, True)
                else:
                    wait = max(self.per_conn.fail(conn_key), self.per_ip.fail(ip_key))
                    final = self.per_conn.blocked(conn_key) or self.per_ip.blocked(ip_key)
                    verdict = Checked(command, False, wait, final)
                    self.server.metrics.auth_failure(_KINDS.get(cred.kind, cred.kind), "wrong")
                    log.warning(
                        "wrong %s%s from %s (conn %d; failures: %d on this connection, %d from this address); %s",
                        cred.kind, f" for {cred.name!r}" if cred.name else "", ip, conn.sid,
                        round(self.per_conn.level(conn_key)), round(self.per_ip.level(ip_key)),
                        "closing it" if final else f"next try in {wait:g} s",
                    )
            if conn.closed:
                return
            self._deliver(conn, barrier, verdict, ip_key, conn_key)
        except Exception:
            conn.log.exception("password check failed")
            conn.close("internal error", abort=True)
        finally:
            if self._running.get(conn.sid) is asyncio.current_task():
                del self._running[conn.sid]
            conn.resume(set())

    def _deliver(self, conn: Connection, barrier: Sync | None, verdict: Checked, ip_key: str, conn_key: str) -> None:
        if not verdict.final:
            self._dispatch(conn, barrier, verdict)
            return
        # No label batch for the last one: the goodbye must not be captured in it.
        self.server.dispatch(conn, verdict)
        by_address = self.per_ip.blocked(ip_key) and not self.per_conn.blocked(conn_key)
        conn.adapter.abort("too many failed passwords" + (f" from {conn.ip}" if by_address else ""))

    def _dispatch(self, conn: Connection, barrier: Sync | None, verdict: Checked) -> None:
        if barrier is not None:
            self.server.dispatch(conn, barrier)
        self.server.dispatch(conn, verdict)

    async def _verify(self, cred: Credential) -> bool:
        return await self.in_thread(verify, cred)

    def track(self, conn: Connection, task: asyncio.Task[None]) -> None:
        """A check run by someone else (transport/accounts.py): cancelled with its connection."""
        self._running[conn.sid] = task
        task.add_done_callback(self._done)
        task.add_done_callback(lambda t: self._running.pop(conn.sid, None) if self._running.get(conn.sid) is t
                               else None)

    def turn(self, ip: str) -> contextlib.AbstractAsyncContextManager[None]:
        """One check at a time per address (see the module docstring)."""
        return self._turn(ip)

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run slow ``fn(*args)`` in the password pool, at most auth_checks at once."""
        await self._slots.acquire()
        try:
            future = asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        # A cancelled check (its connection closed) leaves the thread to finish.
        return await asyncio.shield(future)

    @contextlib.asynccontextmanager
    async def _turn(self, ip: str) -> AsyncIterator[None]:
        turn = self._turns.get(ip)
        if turn is None:
            turn = self._turns[ip] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[ip]

    def _done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("password check failed", exc_info=task.exception())
