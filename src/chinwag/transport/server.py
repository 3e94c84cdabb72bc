"""The server: its parts put together, start and shutdown, connections in
and out, and commands dispatched to the hub.

The parts, each with one job: the listeners and the protocol each makes
(transport/listeners.py), the outbox (commit gate, fan-out, the per-tick
flush: transport/outbox.py), the history service (transport/history.py),
and the services that talk to the store off the hub (passwords, accounts,
ircv3). A ``Connection`` sees only the narrow ``Host`` (transport/host.py)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from chinwag.config import Config, networks
from chinwag.core.auth import Auth
from chinwag.core.events import (
    Attached,
    Checked,
    Command,
    Event,
    Joined,
    Message,
    NickChanged,
    Outbound,
    Parted,
    Query,
    Quit,
    Register,
    Registered,
    Say,
    ServerShutdown,
)
from chinwag.core.handlers import registered, users
from chinwag.core.hub import Hub
from chinwag.storage.base import Store
from chinwag.storage.open import open_store
from chinwag.transport import eventlog
from chinwag.transport.accounts import AccountService
from chinwag.transport.admission import Admission
from chinwag.transport.connection import Connection
from chinwag.transport.forwarded import is_in
from chinwag.transport.health import MetricsListener, Readiness
from chinwag.transport.history import HistoryService
from chinwag.transport.ircv3 import V3Service
from chinwag.transport.listeners import ListenError, Listeners
from chinwag.transport.metrics import Metrics
from chinwag.transport.nickguard import NickGuard
from chinwag.transport.outbox import Outbox
from chinwag.transport.output import OutputGuard
from chinwag.transport.passwords import PasswordChecks
from chinwag.transport.ticker import Ticker, tick_period
from chinwag.transport.tls import Certificates
from chinwag.transport.web import WebListener

if TYPE_CHECKING:
    from chinwag.transport.cluster.node import ClusterNode

__all__ = ["ListenError", "Server"]  # (ListenError: where cli.py and the tests find it)

log = logging.getLogger("chinwag.server")


class Deliver(Protocol):
    """``Server.deliver``: every event the hub makes, to its recipients (``sender``: who is told if refused)."""

    def __call__(self, outbound: Iterable[Outbound], sender: int = 0) -> None: ...


def _about(conn: Connection) -> dict[str, object]:
    """A log record's connection fields (see chinwag/logs.py)."""
    return {"conn": conn.sid, "peer": conn.peer}


class Server:
    def __init__(self, config: Config, hub: Hub | None = None, store: Store | None = None) -> None:
        self.config = config
        self.hub = hub or Hub(
            config.limits, auth=Auth(config.password, dict(config.operators)), server_name=config.server_name,
            account_host=config.account_host,
            multiclient=config.multiclient,
            server_operators=config.server_operators,
        )
        self.store = store or open_store(config.db, config.limits.store_timeout, config.postgres,
                                          config.limits.postgres_pool, config.limits.checkpoint_every)
        self._tasks: set[asyncio.Task[None]] = set()
        self._pruner: asyncio.Task[None] | None = None
        # Who may connect: the total cap, per address the unregistered and the
        # registered caps (web connections included from the moment they connect).
        self.admission = Admission(config.limits, networks(config.exempt), networks(config.throttle_exempt))
        self.trusted_proxies = networks(config.trusted_proxies)
        self._departures: list[tuple[str, tuple[str, ...], str, float]] = []  # waiting for the store
        self.connections: dict[int, Connection] = {}
        self.registry = Listeners(self)  # which listeners, which adapter each makes, TLS (transport/listeners.py)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        self.stopping = False
        self.ticker = Ticker(self, tick_period(config.limits))  # PING and deadlines for IRC
        self.passwords = PasswordChecks(self)  # PASS and OPER: in threads, rate-limited
        self.accounts = AccountService(self)  # register, login...: the store and the same threads
        self.v3 = V3Service(self)  # REDACT and MARKREAD: the store (transport/ircv3.py)
        self.output = OutputGuard(self)  # slow readers, and the budget of all output queues
        # The commit gate, fan-out and the once-per-tick flush (transport/outbox.py).
        self.outbox = outbox = Outbox(self)
        self.send_local: Callable[[Connection, bytes], None] = outbox.send_local
        self.settle: Callable[[], None] = outbox.settle
        self.close_after_held: Callable[[Connection], None] = outbox.close_after_held
        self.mark_dirty: Callable[[list[Connection]], None] = outbox.mark_dirty
        # (the one hook that holds this tick's messages back from the store: Outbox.flush calls it)
        self.store_pending: Callable[[], None] = outbox.store_pending
        self._flush: Callable[[], None] = outbox.flush
        # Every event the hub makes goes out through deliver (Outbox.deliver);
        # a node of a cluster publishes it first (_publish_and_deliver, bound in
        # start() when there is a cluster): chosen once, not asked per message.
        self.deliver: Deliver = outbox.deliver
        self.history = HistoryService(self)  # join history, recall, /history, CHATHISTORY (transport/history.py)
        self._crowd_timer: asyncio.TimerHandle | None = None  # big rooms' summaries (core/crowd.py)
        self.metrics = Metrics(self)  # /metrics (transport/metrics.py)
        self.readiness = Readiness(self)  # /readyz (transport/health.py)
        self.nick_guard = NickGuard(self)  # renames at the end of nick grace periods (core/handlers/users.py)
        # A node of a cluster (config `redis`): presence, nicks and messages shared
        # with the other nodes (transport/cluster/node.py); None: on its own.
        self.cluster: ClusterNode | None = None

    # --- start -----------------------------------------------------------

    async def start(self) -> None:
        """Open the store, bind every listener, then serve and announce them.

        Nothing is announced or served until everything is bound: a taken port
        raises :class:`ListenError` (a bad database ``StorageError``) with what
        was already opened closed again.
        """
        self._loop = self.outbox.loop = asyncio.get_running_loop()
        cfg = self.config
        self.outbox.attach_store()
        await self.store.start()
        try:
            last = await self.store.last_msgid()
            if last is not None:
                self.hub.ids.observe(last)
            self.hub.load_rooms(await self.store.load_rooms())
            self.hub.load_accounts(await self.store.account_names())
            registered.register_default(self.hub, cfg.default_room)  # founder: the server (core/types/registered.py)
            self._save_rooms()
            await self.registry.open()  # (closes what it opened if one cannot be bound)
            if cfg.redis:
                from chinwag.transport.cluster.node import ClusterNode  # (redis: imported only for a cluster)

                self.cluster = ClusterNode(self)
                self.deliver = self._publish_and_deliver
                await self.cluster.start()
        except BaseException:
            if self.cluster is not None:
                await self.cluster.close()
            await self.registry.close()
            await self.store.close()
            raise
        self._pruner = asyncio.get_running_loop().create_task(self._prune_forever())
        self.ticker.start()
        self.metrics.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The running loop, once started (timers: transport/host.py)."""
        return self._loop

    def port(self, name: str = "text") -> int:
        return self.registry.port(name)

    # (the listener registry's parts, by their old names: health.py, cli.py, tests)
    @property
    def listeners(self) -> list[asyncio.Server]:
        return self.registry.listeners

    @property
    def web(self) -> WebListener | None:
        return self.registry.web

    @property
    def tls(self) -> Certificates | None:
        return self.registry.tls

    @property
    def addresses(self) -> dict[str, tuple[str, int]]:
        return self.registry.addresses

    @property
    def metrics_listener(self) -> MetricsListener | None:
        return self.registry.metrics_listener

    # --- connections -----------------------------------------------------

    def attach(self, conn: Connection) -> str:
        """Register a new connection; return why it is refused, or ''.
        (Admitting it may evict an older unregistered one from its address.)"""
        self.connections[conn.sid] = conn
        self._all_gone.clear()
        self.hub.connect(conn.sid)
        if self.stopping:
            return "server is shutting down"
        return conn.admit(self.admission)

    def is_trusted_proxy(self, ip: str) -> bool:
        return is_in(ip, self.trusted_proxies)

    def detach(self, conn: Connection) -> None:
        if self.connections.pop(conn.sid, None) is None:
            return
        self.passwords.forget(conn)
        self.metrics.delivered_gone[conn.kind] += conn.delivered
        self.accounts.forget(conn)
        self.admission.release(conn)
        if self.cluster is not None:
            self.cluster.nicks.forget(conn.sid)
        self._departing(conn, conn.close_reason)
        rooms = self.hub.rooms_of(conn.sid)
        outbound = self.hub.disconnect(conn.sid, conn.close_reason)
        self._store_events(outbound, rooms)
        self.deliver(outbound)
        self._save_rooms()
        if self.hub.crowded and self._crowd_timer is None:
            self._arm_crowds()
        if not self.connections:
            self._all_gone.set()

    def _departing(self, conn: Connection, reason: str) -> None:
        """Log a registered user's leaving and remember where it was, so that
        the name can catch up when it comes back (however it left)."""
        nick = self.hub.nick_of(conn.sid)
        if nick is None:
            return
        if not users.is_last(self.hub, conn.sid):
            log.info("%s: one of its connections left (%s)", nick, reason)
            return
        log.info("%s left (%s)", nick, reason)
        rooms = self.hub.rooms_of(conn.sid)
        if rooms:
            # One task records every departure waiting, not one task each: a
            # mass disconnect of 10,000 must stay cheap per departure.
            if not self._departures:
                self.spawn(self._record_departures())
            self._departures.append((nick, rooms, self.hub.mark(), self.hub.clock()))

    async def _record_departures(self) -> None:
        while self._departures:
            batch, self._departures = self._departures, []
            for nick, rooms, mark, now in batch:
                try:
                    await self.store.record_departure(nick, rooms, mark, now)
                except Exception as exc:  # a full disk: catch-up for this name is lost, nothing else
                    # (and the next departure must still find this task gone or running)
                    log.error("cannot record where %s left off: %s", nick, exc)

    def dispatch(self, conn: Connection, command: Command) -> None:
        say = type(command) is Say  # the commonest: no nick claim, no departure, no room event to store
        rooms: tuple[str, ...] = ()
        if not say:
            if self.cluster is not None and self.cluster.nicks.claim_first(conn, command):
                return  # (a nick is claimed across the cluster first; dispatched again then)
            if isinstance(command, Quit):  # the hub forgets the session while handling it
                self._departing(conn, command.reason)
            elif type(command) is Register or (type(command) is Checked and type(command.command) is Register):
                self._register(conn, command)
                return
            if type(command) in eventlog.BEFORE:
                rooms = eventlog.rooms_before(self.hub, conn.sid, command)
        hub = self.hub
        outbound = hub.handle(conn.sid, command)
        if hub.changed:
            self._save_rooms()
        if not say:
            self._store_events(outbound, rooms)
        for out in outbound:  # (usually one: the message, or the command's answer)
            if type(out.event) is Message:
                self.metrics.messages_in[conn.kind] += 1
        if log.isEnabledFor(logging.DEBUG if say else logging.INFO):  # (_log shows a message at DEBUG only)
            self._log(conn, outbound)
        self.deliver(outbound, conn.sid)
        if hub.crowded and self._crowd_timer is None:
            self._arm_crowds()
        if hub.guards:
            self.nick_guard.arm()

    def _arm_crowds(self) -> None:
        if self._loop is not None:
            self._crowd_timer = self._loop.call_later(self.config.limits.crowd_interval, self._crowds)

    def _crowds(self) -> None:
        """Every crowd_interval while any is pending: big rooms' summaries."""
        self._crowd_timer = None
        try:
            self.deliver(self.hub.flush_crowds())
        except Exception:
            log.exception("room summaries failed")

    def _store_events(self, outbound: list[Outbound], rooms: tuple[str, ...]) -> None:
        """Joins, parts, quits, ... for draft/event-playback (transport/eventlog.py),
        queued before the events go out, so in order with the messages around them."""
        try:
            found = eventlog.records(self.hub, outbound, rooms)
            if found:
                self.spawn(self._events_stored(self.store.append_events(found)))
        except RuntimeError as exc:  # the store is closed (shutting down): nobody will read them
            log.debug("room events not stored: %s", exc)
        except Exception:
            log.exception("cannot store room events")

    async def _events_stored(self, write: Awaitable[None]) -> None:
        try:
            await write
        except Exception as exc:  # a full disk: the events are lost, nothing else is
            log.error("storing room events failed: %s", exc)

    def _save_rooms(self) -> None:
        """Hand the rooms whose rules the last command changed to the store.
        Queued now, so they are stored before any message sent after them."""
        changed = self.hub.take_changed()
        if not changed:
            return
        try:
            writes = [self.store.save_room(state) if state else self.store.delete_room(key) for key, state in changed]
        except Exception:
            log.exception("cannot store the rules of %s", ", ".join(key for key, _ in changed))
            return
        self.spawn(self._saved(writes))

    async def _saved(self, writes: list[Awaitable[None]]) -> None:
        for result in await asyncio.gather(*writes, return_exceptions=True):
            if isinstance(result, BaseException):
                log.error("storing the rules of a room failed", exc_info=result)

    def _register(self, conn: Connection, command: Register | Checked) -> None:
        """A registration is where a connection moves from its address's
        unregistered count to its registered one (max_per_ip)."""
        refusal = self.admission.may_register(conn)
        if refusal:
            conn.log.warning("refusing %s: %s", conn.peer, refusal)
            conn.adapter.abort(refusal)  # its Quit is the next command
            return
        outbound = self.hub.handle(conn.sid, command)
        sid = conn.sid
        if any(type(out.event) is Registered and sid in out.to for out in outbound):
            self.admission.register(conn)
            self.metrics.registrations += 1
        if log.isEnabledFor(logging.INFO):
            self._log(conn, outbound)
        self.deliver(outbound, conn.sid)
        if self.hub.guards:
            self.nick_guard.arm()

    # --- the outbox (transport/outbox.py) ----------------------------------
    # Its entry points are bound in __init__ (deliver, send_local,
    # close_after_held, mark_dirty, store_pending, _flush): no extra call per
    # connection on the hot path.

    def _publish_and_deliver(self, outbound: Iterable[Outbound], sender: int = 0) -> None:
        """``deliver`` on a node of a cluster: what the hub changed is
        published for the other nodes too, then delivered (:meth:`Outbox.deliver`)."""
        if self.cluster is not None:
            if type(outbound) is not list:
                outbound = list(outbound)
            self.cluster.local(outbound)
        self.outbox.deliver(outbound, sender)

    def _schedule_flush(self) -> None:
        self.outbox.schedule_flush()

    @property
    def store_trouble(self) -> str | None:
        """Why store writes fail (None: they work); /healthz says it."""
        return self.outbox.store_trouble

    @property
    def given_up(self) -> int:
        """Messages the store gave up on, never delivered (senders told)."""
        return self.outbox.given_up

    @property
    def lost_at_shutdown(self) -> int:
        """Of those, given up while shutting down: exit status 1."""
        return self.outbox.lost_at_shutdown

    @property
    def _held(self) -> deque[Outbound | tuple[Connection, bytes | None]]:
        return self.outbox.held

    @property
    def _unstored(self) -> list[Message]:
        return self.outbox.unstored

    @property
    def _dirty(self) -> list[Connection]:
        return self.outbox.dirty

    # --- queries: answered from the store, off the hub ----------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def query(self, conn: Connection, query: Query) -> None:
        """Answered from the store by the history service (transport/history.py)."""
        self.history.query(conn, query)

    async def _prune_forever(self) -> None:
        cfg = self.config
        while True:
            try:
                now = self.hub.clock()
                removed = await self.store.prune(cfg.retain_messages, cfg.retain_days, now)
                if removed:
                    log.info("pruned %d old messages", removed)
                await self._forget_idle_rules()
            except Exception:
                log.exception("pruning history failed")
            await asyncio.sleep(cfg.prune_interval)

    async def _forget_idle_rules(self) -> None:
        """A room's rules are kept while it has members or stored history:
        drop those of rooms with neither (pruning took their last message, or
        nobody ever spoke there)."""
        hub = self.hub
        idle = [key for key in hub.saved if key not in hub.rooms]
        if not idle:
            return
        revived = hub.revived
        self.store_pending()
        await self.store.flush()
        kept = await self.store.has_history(idle)
        if hub.revived != revived:
            return  # one came back meanwhile and may have history now: next time
        # Nobody re-created any of them meanwhile, so none got a message.
        forgotten = [key for key in idle if key not in kept]
        for key in forgotten:
            hub.forget_rules(key)
        self._save_rooms()
        if forgotten:
            log.info("forgot the rules of %d empty rooms without history", len(forgotten))

    # --- logging ---------------------------------------------------------

    def _log(self, conn: Connection, outbound: list[Outbound]) -> None:
        debug = log.isEnabledFor(logging.DEBUG)
        for out in outbound:
            event: Event = out.event
            match event:  # (a chat message at INFO matches nothing: no dict made for it)
                case Registered(nick):
                    log.info("conn %d from %s is %s", conn.sid, conn.peer, nick, extra=_about(conn))
                case Joined(room, nick):
                    log.info("%s joined %s", nick, room, extra=_about(conn))
                case Parted(room, nick, reason):
                    log.info("%s left %s (%s)", nick, room, reason, extra=_about(conn))
                case NickChanged(old, new):
                    log.info("%s is now known as %s", old, new, extra=_about(conn))
                case Attached(nick, _, connections):
                    log.info("conn %d is %s too (%d connections)", conn.sid, nick, connections, extra=_about(conn))
                case Message() if debug:
                    log.debug("%s -> %s [%s]: %s", event.nick, event.target, event.kind, event.text, extra=_about(conn))

    # --- shutdown --------------------------------------------------------

    async def shutdown(self, reason: str = "server is shutting down") -> None:
        """Tell everyone, let the goodbye reach them, close, and wait (bounded)."""
        self.stopping = True
        if self.cluster is not None:
            reason = self.cluster.shutdown_reason()
        self.registry.stop_accepting()
        # Let messages already sent reach the store and their readers first:
        # the notice must not be queued behind them and then find everyone closed.
        self.store_pending()
        try:
            await asyncio.wait_for(self.store.flush(), self.config.shutdown_grace)
        except TimeoutError:
            log.error("history store did not confirm within %.1f s", self.config.shutdown_grace)
        await asyncio.sleep(0)  # run the commit callbacks the flush raced with
        notice = Outbound(list(self.connections), ServerShutdown(reason))
        if self.store_trouble is None:
            self.deliver([notice])
        else:  # not behind messages a failing store holds: they may never go
            self.outbox.fan_out(notice)
        for conn in list(self.connections.values()):
            conn.close(reason)
        try:
            await asyncio.wait_for(self._all_gone.wait(), self.config.shutdown_grace)
        except TimeoutError:
            for conn in list(self.connections.values()):
                if conn.transport is not None:
                    conn.transport.abort()  # (close() ignores an already closing one)
        await self.registry.close()
        if self.cluster is not None:
            await self.cluster.close()  # (after the quits: they are published as the connections close)
        self.metrics.stop()
        self.nick_guard.stop()
        self.ticker.stop()
        self.passwords.close()
        self.output.stop()
        if self._crowd_timer is not None:
            self._crowd_timer.cancel()
        if self._pruner is not None:
            self._pruner.cancel()
        # Departures recorded as the connections closed must reach the store.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.config.shutdown_grace)
        self.store_pending()
        await self.store.close()
        await asyncio.sleep(0)  # run the store's last callbacks (what it gave up)
        if self.outbox.unconfirmed():  # never confirmed nor given up: the store is gone
            self.outbox.lost_at_shutdown += self.outbox.unconfirmed()
        if self.lost_at_shutdown:
            log.error("%d messages could not be stored and were never delivered", self.lost_at_shutdown)
        log.info("stopped")
