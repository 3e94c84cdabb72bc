"""Listeners, the connection registry, once-per-tick flushing and shutdown."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from chinwag.config import Config, networks
from chinwag.core.auth import Auth
from chinwag.core.events import (
    ChatHistory,
    ChatHistoryReply,
    Checked,
    Command,
    Event,
    History,
    Join,
    Joined,
    Message,
    NickChanged,
    Outbound,
    Parted,
    Query,
    Quit,
    Recall,
    Register,
    Registered,
    ServerShutdown,
)
from chinwag.core.hub import Hub
from chinwag.protocols.base import Adapter, RenderCache
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol
from chinwag.protocols.sanitize import safe_event
from chinwag.protocols.text import TextProtocol
from chinwag.storage.base import Store, open_store, room_key
from chinwag.transport import chathistory
from chinwag.transport.accounts import AccountService
from chinwag.transport.admission import Admission
from chinwag.transport.connection import Connection
from chinwag.transport.forwarded import is_in
from chinwag.transport.passwords import PasswordChecks
from chinwag.transport.ticker import Ticker, tick_period
from chinwag.transport.web import WebListener

log = logging.getLogger("chinwag.server")

LISTENER_NAMES = {"text": "telnet/netcat", "irc": "IRC", "web": "the web client"}


class ListenError(Exception):
    """A listener could not bind; ``key`` is the config key to change (its port,
    or the host when the address itself is the problem)."""

    def __init__(self, name: str, host: str, port: int, exc: OSError) -> None:
        if isinstance(exc, socket.gaierror):  # not an address we can resolve
            reason, self.key = str(exc.strerror).lower(), "host"
        else:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            self.key = "host" if exc.errno == errno.EADDRNOTAVAIL else f"{name}_port"
        super().__init__(f"cannot listen for {LISTENER_NAMES.get(name, name)} on {host}:{port}: {reason}")
        self.name = name


def _about(conn: Connection) -> dict[str, object]:
    """A log record's connection fields (see chinwag/logs.py)."""
    return {"conn": conn.sid, "peer": conn.peer}


class Server:
    def __init__(self, config: Config, hub: Hub | None = None, store: Store | None = None) -> None:
        self.config = config
        self.hub = hub or Hub(config.limits, auth=Auth(config.password, dict(config.operators)))
        self.store = store or open_store(config.db)
        # Messages wait here until the store confirms them (on_commit); events
        # behind a waiting message wait too, so everyone sees one order.
        # A connection's local replies (PONG, 461...) queue here too while
        # output for it is held, so they never overtake it (send_local).
        self._held: deque[Outbound | tuple[Connection, bytes | None]] = deque()
        self._confirmed = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._pruner: asyncio.Task[None] | None = None
        # Who may connect: the total cap, per address the unregistered and the
        # registered caps (web connections included from the moment they connect).
        self.admission = Admission(config.limits, networks(config.exempt))
        self.trusted_proxies = networks(config.trusted_proxies)
        self._unstored: list[Message] = []  # this tick's messages, for the store
        self._flush_scheduled = False
        self.connections: dict[int, Connection] = {}
        self.listeners: list[asyncio.Server] = []
        self.web: WebListener | None = None  # HTTP: the web client and IRC over WebSocket
        self.addresses: dict[str, tuple[str, int]] = {}  # listener name -> bound address
        self._dirty: list[Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        self.stopping = False
        self.ticker = Ticker(self, tick_period(config.limits))  # PING and deadlines for IRC
        self.passwords = PasswordChecks(self)  # PASS and OPER: in threads, rate-limited
        self.accounts = AccountService(self)  # register, login...: the store and the same threads

    # --- start -----------------------------------------------------------

    async def start(self) -> None:
        """Open the store, bind every listener, then serve and announce them.

        Nothing is announced or served until everything is bound: a taken port
        raises :class:`ListenError` (a bad database ``StorageError``) with what
        was already opened closed again.
        """
        self._loop = asyncio.get_running_loop()
        cfg = self.config
        self.store.on_commit = self._committed
        await self.store.start()
        try:
            last = await self.store.last_msgid()
            if last is not None:
                self.hub.ids.observe(last)
            self.hub.load_rooms(await self.store.load_rooms())
            await self._listen(
                "text",
                cfg.text_port,
                lambda: TextProtocol(cfg.limits, cfg.default_room, cfg.history_on_join, bool(cfg.password)),
            )
            irc = IrcInfo.from_config(cfg)
            await self._listen("irc", cfg.irc_port, lambda: IrcProtocol(irc))
            self.web = WebListener(self, lambda: IrcProtocol(irc))
            try:
                self.addresses["web"] = await self.web.start(cfg.host, cfg.web_port)
            except OSError as exc:
                raise ListenError("web", cfg.host, cfg.web_port, exc) from None
            for listener in self.listeners:
                await listener.start_serving()
        except BaseException:
            for listener in self.listeners:
                listener.close()
                await listener.wait_closed()
            self.listeners.clear()
            if self.web is not None:
                await self.web.stop()
            await self.store.close()
            raise
        for name, address in self.addresses.items():
            log.info("%s listener on %s:%d", name, *address)
        self._pruner = asyncio.get_running_loop().create_task(self._prune_forever())
        self.ticker.start()

    async def _listen(self, name: str, port: int, make: Callable[[], Adapter]) -> None:
        """Bind (not yet serving: start() serves once every listener is bound)."""
        loop = asyncio.get_running_loop()
        try:
            listener = await loop.create_server(
                lambda: Connection(self, make(), name),
                self.config.host,
                port,
                reuse_address=True,
                backlog=self.config.limits.listen_backlog,
                start_serving=False,
            )
        except OSError as exc:
            raise ListenError(name, self.config.host, port, exc) from None
        self.listeners.append(listener)
        sockname = listener.sockets[0].getsockname()
        self.addresses[name] = (sockname[0], sockname[1])

    def port(self, name: str = "text") -> int:
        return self.addresses[name][1]

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
        self.accounts.forget(conn)
        self.admission.release(conn)
        self._departing(conn, conn.close_reason)
        self.deliver(self.hub.disconnect(conn.sid, conn.close_reason))
        self._save_rooms()
        if not self.connections:
            self._all_gone.set()

    def _departing(self, conn: Connection, reason: str) -> None:
        """Log a registered user's leaving and remember where it was, so that
        the name can catch up when it comes back (however it left)."""
        nick = self.hub.nick_of(conn.sid)
        if nick is None:
            return
        log.info("%s left (%s)", nick, reason)
        rooms = self.hub.rooms_of(conn.sid)
        if rooms:
            mark, now = self.hub.mark(), self.hub.clock()
            self.spawn(self.store.record_departure(nick, rooms, mark, now))

    def dispatch(self, conn: Connection, command: Command) -> None:
        if isinstance(command, Quit):  # the hub forgets the session while handling it
            self._departing(conn, command.reason)
        elif type(command) is Register or (type(command) is Checked and type(command.command) is Register):
            self._register(conn, command)
            return
        outbound = self.hub.handle(conn.sid, command)
        self._save_rooms()
        if log.isEnabledFor(logging.INFO):
            self._log(conn, outbound)
        self.deliver(outbound)

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
        if log.isEnabledFor(logging.INFO):
            self._log(conn, outbound)
        self.deliver(outbound)

    def deliver(self, outbound: Iterable[Outbound]) -> None:
        """Fan out, except that a message goes to the store first and nothing
        overtakes a message that is waiting for the store.

        Every event the hub makes passes here first, and is made terminal-safe
        here (``safe_event``), once per event and before any protocol renders
        it: what anyone typed reaches nobody's terminal raw, and is stored clean.
        """
        held = self._held
        for out in outbound:
            event = safe_event(out.event)
            if event is not out.event:
                out = Outbound(out.to, event)
            if type(event) is Message:
                held.append(out)
                # Stored at the end of the tick, all together: the writer thread
                # then commits one batch per tick, not one transaction per message.
                if not self._unstored:
                    self._schedule_flush()
                self._unstored.append(event)
            elif held:
                held.append(out)
            else:
                self._fan_out(out)

    def _committed(self, count: int) -> None:
        self._confirmed += count
        held = self._held
        while held:
            out = held[0]
            if isinstance(out, tuple):
                held.popleft()
                conn, data = out
                if data is None:
                    conn.close(conn.close_reason)
                else:
                    conn.enqueue(data)
                continue
            if type(out.event) is Message:
                if not self._confirmed:
                    return
                self._confirmed -= 1
            held.popleft()
            self._fan_out(out)
            if type(out.event) is not Message and self._loop is not None:
                # A reply that waited here (a registration or join answer, an
                # error) may be what a connection's held-back input waits for.
                for sid in out.to:
                    waiting = self.connections.get(sid)
                    if waiting is not None and waiting.adapter.backlog and not waiting.pump_due:
                        waiting.pump_due = True
                        self._loop.call_soon(waiting.pump)

    def _holds_for(self, conn: Connection) -> bool:
        """Is output for ``conn`` waiting for the store? (The scan is over what
        the store has not confirmed yet: short unless the disk stalls.)"""
        sid = conn.sid
        return any(out[0] is conn if isinstance(out, tuple) else sid in out.to for out in reversed(self._held))

    def send_local(self, conn: Connection, data: bytes) -> None:
        """Output a connection's adapter made itself (PONG, 461, a goodbye):
        it waits behind held output for the same connection, so it never
        overtakes a reply to an earlier command."""
        if self._held and self._holds_for(conn):
            self._held.append((conn, data))
        else:
            conn.enqueue(data)

    def close_after_held(self, conn: Connection) -> None:
        """Close a connection that is done (quit, end of input) once what is
        held for it (the echo of its last message, a reply) has gone out."""
        if self._held and self._holds_for(conn):
            self._held.append((conn, None))
        else:
            conn.close(conn.close_reason)

    def _fan_out(self, out: Outbound) -> None:
        conns = self.connections
        event = out.event
        cache: RenderCache = {}
        is_message = type(event) is Message
        for sid in out.to:
            conn = conns.get(sid)
            if conn is None:
                continue
            gated = conn.gated
            # While a query runs, its messages wait; once one waits, so does
            # everything after it (a "has left" must not overtake the "bye").
            if gated is not None and (is_message or gated):
                gated.append(event)
                continue
            try:
                data = conn.adapter.render(event, cache)
            except Exception:
                conn.log.exception("cannot render %s; closing this connection", type(event).__name__)
                conn.close("internal error", abort=True)
                continue
            if data:
                conn.enqueue(data)

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
        conn.pause()
        self.spawn(self._answer(conn, query))

    async def _answer(self, conn: Connection, query: Query) -> None:
        shown: set[str] = set()
        try:
            for history in await self._histories(conn, query):
                shown.update(m.msgid for m in history.messages)
                if not conn.closed:  # (stored clean; made safe again in case it was not)
                    conn.enqueue(conn.adapter.render(safe_event(history), {}))
        except Exception:
            conn.log.exception("history query failed")
            conn.close("internal error", abort=True)
        finally:
            conn.resume(shown)

    async def _histories(self, conn: Connection, query: Query) -> list[History] | list[ChatHistoryReply]:
        store, cfg = self.store, self.config
        nick = self.hub.nick_of(conn.sid)
        if nick is None:
            return []
        self.store_pending()
        await store.flush()  # what was delivered before the query is in the answer
        if isinstance(query, ChatHistory):
            reply = await chathistory.answer(self.hub, store, conn.sid, query, cfg.history_max)
            return [reply] if reply is not None else []
        if isinstance(query, Recall):
            departed = await store.departure(nick)
            rooms = departed[0] if departed else query.rooms
            for room in rooms:
                self.dispatch(conn, Join(room))
            joined = self.hub.rooms_of(conn.sid)
            if departed is not None:
                await store.forget_departure(nick)
                keys = [room_key(r) for r in joined]
                # The newest history_max of what came after the mark: per room
                # the newest that many, merged; a room that filled its quota
                # may have more (left to /history).
                found, more = [], False
                for key in keys:
                    recent = await store.latest(key, cfg.history_max)
                    newer = [m for m in recent if m.msgid > departed[1]]
                    more = more or len(newer) == cfg.history_max
                    found += newer
                found.sort(key=lambda m: m.msgid)
                more = more or len(found) > cfg.history_max
                return [History(None, "away", tuple(found[-cfg.history_max :]), more)]
            if not cfg.history_on_join:
                return []
            out = []
            for room in joined:
                found = await store.latest(room_key(room), cfg.history_on_join)
                out.append(History(room, "join", tuple(found)))
            return out
        limit = min(query.limit or cfg.history_max, cfg.history_max)
        key = room_key(query.room)
        if key not in (room_key(r) for r in self.hub.rooms_of(conn.sid)):
            return []  # a room's history is for its members only (left, kicked, never let in)
        if query.mode == "since":
            since = self.hub.clock() - query.seconds
            found = await store.since(key, since, limit + 1)
            return [History(query.room, "since", tuple(found[:limit]), len(found) > limit, query.seconds)]
        found = await store.latest(key, limit)
        return [History(query.room, query.mode, tuple(found))]

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

    def mark_dirty(self, conn: Connection) -> None:
        if not self._dirty:
            self._schedule_flush()
        self._dirty.append(conn)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def store_pending(self) -> None:
        """Hand this tick's messages to the store (the memory store confirms,
        and so releases them for delivery, at once)."""
        if self._unstored:
            batch, self._unstored = self._unstored, []
            append = self.store.append
            for message in batch:
                try:
                    append(message)
                except Exception:
                    # The store is gone (its writer died): say so loudly, and
                    # keep the chat going rather than hold everything forever.
                    log.exception("history store failed; message %s delivered unstored", message.msgid)
                    self._committed(1)

    def _flush(self) -> None:
        """Once per loop tick: store the tick's messages, then write each
        connection's pending output in one write()."""
        try:
            self.store_pending()  # (may release messages: their output joins this flush)
        finally:
            self._flush_scheduled = False  # never wedged, whatever happened above
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

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
                case Message() if debug:
                    log.debug("%s -> %s [%s]: %s", event.nick, event.target, event.kind, event.text, extra=_about(conn))

    # --- shutdown --------------------------------------------------------

    async def shutdown(self, reason: str = "server is shutting down") -> None:
        """Tell everyone, let the goodbye reach them, close, and wait (bounded)."""
        self.stopping = True
        for listener in self.listeners:
            listener.close()
        # Let messages already sent reach the store and their readers first:
        # the notice must not be queued behind them and then find everyone closed.
        self.store_pending()
        try:
            await asyncio.wait_for(self.store.flush(), self.config.shutdown_grace)
        except TimeoutError:
            log.error("history store did not confirm within %.1f s", self.config.shutdown_grace)
        await asyncio.sleep(0)  # run the commit callbacks the flush raced with
        notice = ServerShutdown(reason)
        self.deliver([Outbound(list(self.connections), notice)])
        for conn in list(self.connections.values()):
            conn.close(reason)
        try:
            await asyncio.wait_for(self._all_gone.wait(), self.config.shutdown_grace)
        except TimeoutError:
            for conn in list(self.connections.values()):
                if conn.transport is not None:
                    conn.transport.abort()  # (close() ignores an already closing one)
        for listener in self.listeners:
            await listener.wait_closed()
        if self.web is not None:
            await self.web.stop()
        self.ticker.stop()
        self.passwords.close()
        if self._pruner is not None:
            self._pruner.cancel()
        # Departures recorded as the connections closed must reach the store.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.config.shutdown_grace)
        self.store_pending()
        await self.store.close()
        log.info("stopped")
