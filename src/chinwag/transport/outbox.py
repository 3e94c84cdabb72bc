"""The outbox: every event the hub makes goes out through here.

A message waits (is *held*) until the store confirms it (``on_commit``), and
whatever comes behind a waiting message waits too, so that everyone sees one
order; released messages to one room fan out as one batch per tick
(transport/fanout.py), and each connection's output is written once per tick
(``flush``). A connection's local replies (PONG, 461...) queue here too while
output for it is held, so they never overtake it (``send_local``), unless the
store is failing: then nothing local waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from chinwag.core.errors import NotSent
from chinwag.core.events import Failed, Message, Outbound
from chinwag.protocols.base import RenderCache
from chinwag.protocols.sanitize import safe_event
from chinwag.storage.base import AppendsAll, Receipt, conversation_key
from chinwag.transport.bulk import flush_all
from chinwag.transport.fanout import Batch
from chinwag.transport.fanout import deliver as deliver_batch
from chinwag.transport.fanout import one as deliver_one
from chinwag.transport.output import LINE_OVERHEAD

if TYPE_CHECKING:
    from chinwag.transport.connection import Connection
    from chinwag.transport.host import OutboxHost

log = logging.getLogger("chinwag.server")


class Outbox:
    """Commit gate, fan-out and the once-per-tick flush of one server."""

    def __init__(self, server: OutboxHost) -> None:
        self.server = server
        self.limits = server.config.limits
        self.held: deque[Outbound | tuple[Connection, bytes | None]] = deque()
        self.confirmed: deque[Receipt] = deque()  # confirmations (on_commit) not applied to held yet
        self.refused: deque[str] = deque()  # msgids the store gave up (on_fail) not applied yet
        # The cluster's hook (transport/cluster): called with each message the
        # store confirmed, and its seq; when it returns False the message is not
        # fanned out here (the cluster delivers it later, in seq order).
        self.on_confirmed: Callable[[Outbound, Message, int], bool] | None = None
        self.released_seq = 0  # the seq of the last message confirmed (0 outside PostgreSQL)
        self.senders: deque[int] = deque()  # who sent each message in held, in order
        self.store_trouble: str | None = None  # why store writes fail (on_status); /healthz says it
        self.given_up = 0  # messages the store gave up on, never delivered (senders told)
        self.lost_at_shutdown = 0  # of those, given up while shutting down: exit status 1
        self.unstored: list[Message] = []  # this tick's messages, for the store
        self.dirty: list[Connection] = []  # connections with output to write this tick
        self.flush_scheduled = False
        self.merging: asyncio.TimerHandle | None = None  # output held for a commit in flight (merge)
        self.merged = False  # the last flush held its output: the next one writes
        self.released = False  # messages were fanned out since the last write (merge)
        self.batch: Batch | None = None  # released messages not fanned out yet (transport/fanout.py)
        self.gathering = False  # store_pending: settle the batch once, after every append
        # Confirmed while gathering (a store that confirms inside append: memory),
        # applied once when store_pending is done: one release per tick, not per message.
        self.commits = 0
        self.loop: asyncio.AbstractEventLoop | None = None  # set when the server starts
        self.append_all: Callable[[list[Message]], None] | None = None  # the store's, if it has one (attach_store)

    def attach_store(self) -> None:
        """Hear from the store: what it committed, gave up, and whether it works."""
        store = self.server.store
        store.on_commit = self.committed
        store.on_fail = self.store_gave_up
        store.on_status = self.store_status
        self.append_all = store.append_all if isinstance(store, AppendsAll) else None

    # --- in: events to deliver --------------------------------------------

    def deliver(self, outbound: Iterable[Outbound], sender: int = 0) -> None:
        """Fan out, except that a message goes to the store first and nothing
        overtakes a message that is waiting for the store. A message beyond
        ``held_messages`` waiting is refused: ``sender`` is told it was not sent.

        Every event the hub makes passes here first, and is made terminal-safe
        here (``safe_event``), once per event and before any protocol renders
        it: what anyone typed reaches nobody's terminal raw, and is stored clean.
        """
        held = self.held
        server = self.server
        for out in outbound:
            event = safe_event(out.event)
            if event is not out.event:
                out = Outbound(out.to, event)
            if type(event) is Message:
                if len(self.senders) >= self.limits.held_messages:
                    self.not_sent(sender, event)
                    continue
                # The output budget: how much this message puts in front of its readers.
                server.output.message((len(event.text) + LINE_OVERHEAD) * len(out.to))
                metrics = server.metrics  # (its accept time: a plain append, no call to a method)
                metrics.accepted.append((event.msgid, metrics.clock()))
                held.append(out)
                self.senders.append(sender)
                # Stored at the end of the tick, all together: the writer thread
                # then commits one batch per tick, not one transaction per message.
                if not self.unstored:
                    self.schedule_flush()
                self.unstored.append(event)
            elif held:
                held.append(out)
            else:
                self.fan_out(out)

    def holds_for(self, conn: Connection) -> bool:
        """Is output for ``conn`` waiting for the store? (The scan is over what
        the store has not confirmed yet: short unless the disk stalls.)"""
        sid = conn.sid
        return any(out[0] is conn if isinstance(out, tuple) else sid in out.to for out in reversed(self.held))

    def send_local(self, conn: Connection, data: bytes) -> None:
        """Output a connection's adapter made itself (PONG, 461, a goodbye):
        it waits behind held output for the same connection, so it never
        overtakes a reply to an earlier command."""
        if self.batch is not None:
            self.settle()  # (other nodes' messages gathered before it go first)
        if self.held and self.store_trouble is None and self.holds_for(conn):
            self.held.append((conn, data))
        else:
            conn.enqueue(data)

    def close_after_held(self, conn: Connection) -> None:
        """Close a connection that is done (quit, end of input) once what is
        held for it (the echo of its last message, a reply) has gone out."""
        if self.held and self.store_trouble is None and self.holds_for(conn):
            self.held.append((conn, None))
        else:
            conn.close(conn.close_reason)

    # --- the store's answers -------------------------------------------------

    def committed(self, receipts: list[Receipt]) -> None:
        """The store made these messages durable (the next ones held, in order).

        What they release is written now, by this callback (``flush``: unless a
        merge holds it for the next commit), not on the loop's next iteration:
        input read meanwhile would otherwise go first, and every reader wait
        for it (issue 15, round 5). A store that confirms inside ``append``
        (memory) does so while ``store_pending`` hands it the tick's messages:
        those confirmations are applied once, when it is done (``apply_commits``),
        and flushed by the tick's flush, as before."""
        self.confirmed.extend(receipts)
        if self.gathering:
            self.commits += len(receipts)
            return
        self.apply_commits(len(receipts))
        if self.loop is not None and (self.dirty or self.unstored):
            self.flush()

    def apply_commits(self, count: int) -> None:
        """What ``count`` confirmations (already in ``confirmed``) do: the
        metrics, the release of what they free, the end of a merge."""
        self.server.metrics.stored(count)
        self.release()
        self.end_merge()

    def store_gave_up(self, msgids: list[str]) -> None:
        """The store could not take these messages (the next ones held): they
        are never delivered, and each sender is told."""
        count = len(msgids)
        self.refused.extend(msgids)
        self.given_up += count
        self.server.metrics.stored(count, committed=False)
        if self.server.stopping:
            self.lost_at_shutdown += count
        self.release()
        self.end_merge()

    def store_status(self, trouble: str | None) -> None:
        self.settle()  # (released messages go before the local replies below)
        self.store_trouble = trouble
        self.end_merge()
        if trouble is None:
            log.warning("history store works again")
            return
        log.error("history store failing: %s; messages wait for it up to %d s, local replies no longer do",
                  trouble, self.limits.store_timeout)
        # Local replies already waiting (a PONG) go now: their connection is alive.
        waiting = [out for out in self.held if isinstance(out, tuple)]
        if waiting:
            self.held = deque(out for out in self.held if not isinstance(out, tuple))
            for conn, data in waiting:
                if data is None:
                    conn.close(conn.close_reason)
                else:
                    conn.enqueue(data)

    def not_sent(self, sender: int, msg: Message) -> None:
        if self.server.connections.get(sender) is not None:
            command = "notice" if msg.kind == "notice" else "privmsg"
            self.fan_out(Outbound([sender], Failed(NotSent(msg.target), command)))

    def release(self) -> None:
        """Deliver what the store confirmed, drop what it gave up, and what
        waited behind them, up to the next unconfirmed message. Consecutive
        messages to one room go out as one batch (transport/fanout.py)."""
        try:
            self._release_held()
        finally:
            if not self.gathering:
                self.settle()

    def _release_held(self) -> None:
        held = self.held
        confirmed, refused, senders = self.confirmed, self.refused, self.senders
        hook = self.on_confirmed
        while held:
            out = held[0]
            if isinstance(out, tuple):
                self.settle()
                held.popleft()
                conn, data = out
                if data is None:
                    conn.close(conn.close_reason)
                else:
                    conn.enqueue(data)
                continue
            event = out.event
            if type(event) is Message:
                msgid = event.msgid
                # Answers come in append order: the head of one of them is this message
                # (the commonest case, a confirmation of it, tested first and once).
                receipt = confirmed[0] if confirmed else None
                if receipt is None or receipt.msgid != msgid:
                    if refused and (receipt is None or refused[0] == msgid):
                        given_up = refused.popleft()
                        if given_up != msgid:
                            log.error("store gave up %s but %s was next; not sent", given_up, msgid)
                        held.popleft()
                        self.not_sent(senders.popleft(), event)
                        continue
                    if receipt is None:
                        return
                    log.error("store confirmed %s but %s was next; released anyway", receipt.msgid, msgid)
                confirmed.popleft()
                senders.popleft()
                held.popleft()
                self.released_seq = receipt.seq
                if hook is not None and hook(out, event, receipt.seq) is False:
                    continue  # the cluster delivers it, in seq order
                batch = self.batch
                if batch is None or not batch.join(out, event):  # (gather's commonest case, without its call)
                    self.gather(out, event)
                continue
            held.popleft()
            self.fan_out(out)
            if type(out.event) is not Message and self.loop is not None:
                # A reply that waited here (a registration or join answer, an
                # error) may be what a connection's held-back input waits for.
                for sid in out.to:
                    waiting = self.server.connections.get(sid)
                    if waiting is not None and waiting.adapter.backlog and not waiting.pump_due:
                        waiting.pump_due = True
                        self.loop.call_soon(waiting.pump)

    # --- out: fan-out and the flush ----------------------------------------------

    def gather(self, out: Outbound, event: Message, local: bool = True) -> None:
        """A released message joins the batch of its room, or starts one.
        ``local=False``: another node's message (transport/cluster/sequencer.py);
        the batch is settled by whatever comes next, at the latest by this tick's flush."""
        batch = self.batch
        if batch is not None:
            if batch.join(out, event, local):
                return
            self.settle()
        self.batch = Batch(out, event, local)
        if not local:
            self.schedule_flush()

    def settle(self) -> None:
        """Fan the pending batch out: before anything else is queued, so
        that nothing overtakes it."""
        batch = self.batch
        if batch is not None:
            self.batch = None
            self.released = True
            deliver_batch(self.server, batch)

    def fan_out(self, out: Outbound, local: bool = True) -> None:
        """``local=False``: a message of another node (transport/cluster/sequencer.py),
        which this node's fan-out latency does not count (it never accepted it)."""
        if self.batch is not None:
            self.settle()
        server = self.server
        conns = server.connections
        event = out.event
        cache: RenderCache = {}
        is_message = type(event) is Message
        if isinstance(event, Message):
            if local:
                server.metrics.fanning_out((event,))  # (its latency ends at this tick's flush)
            self.schedule_flush()
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
            deliver_one(conn, event, cache)

    def mark_dirty(self, conns: list[Connection]) -> None:
        """``conns`` had nothing queued and now have: written at this tick's flush."""
        if not self.dirty:
            self.schedule_flush()
        self.dirty.extend(conns)

    def schedule_flush(self) -> None:
        if not self.flush_scheduled and self.loop is not None:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def store_pending(self) -> None:
        """Hand this tick's messages to the store (the memory store confirms,
        and so releases them for delivery, at once)."""
        if self.unstored:
            batch, self.unstored = self.unstored, []
            self.server.metrics.to_store(len(batch))
            append = self.server.store.append
            # (a store that confirms at once releases them here: one fan-out batch for all)
            gathering, self.gathering = self.gathering, True
            try:
                if self.append_all is not None:
                    try:
                        self.append_all(batch)
                        batch = []
                    except Exception:
                        pass  # (one by one, below: each is stored, or delivered unstored, as without it)
                for message in batch:
                    try:
                        append(message)
                    except Exception:
                        # The store is gone (its writer died): say so loudly, and
                        # keep the chat going rather than hold everything forever.
                        log.exception("history store failed; message %s delivered unstored", message.msgid)
                        self.committed([Receipt(message.msgid, conversation_key(message), 0)])
            finally:
                try:
                    if not gathering:
                        count, self.commits = self.commits, 0
                        if count:
                            self.apply_commits(count)  # (still gathering: one batch, settled below)
                finally:
                    self.gathering = gathering
                    if not gathering:
                        self.settle()

    def flush(self) -> None:
        """Once per loop tick: store the tick's messages, then write each
        connection's pending output in one write()."""
        try:
            # (may release messages: their output joins this flush; called
            # through the server, whose store_pending is the one hook to hold them)
            self.server.store_pending()
        finally:
            self.flush_scheduled = False  # never wedged, whatever happened above
        self.settle()  # (other nodes' messages gathered in this tick)
        if self.merging is not None:
            return  # the output waits for the commit in flight (or merge_wait): see merge()
        if self.dirty and self.released and self.merge():
            return
        self.merged = self.released = False
        self.write_out()

    def write_out(self) -> None:
        """Write each dirty connection's pending output, one write() each."""
        dirty, self.dirty = self.dirty, []
        flush_all(dirty)
        self.server.output.written()
        if self.server.metrics.fanned:
            self.server.metrics.written()

    def merge(self) -> bool:
        """Under load, hold this tick's output for the store's next commit, once,
        so that what it releases goes out in the same write() per connection.

        Only when this tick's output has released messages in it, while more
        (at least ``merge_min_waiting``: a load, not one message at a time)
        wait for a commit that is in flight (a store that confirms later than
        ``append``: SQLite, PostgreSQL) and the store works; never twice in a
        row, and never longer than ``merge_wait``."""
        if (self.merged or len(self.senders) < self.limits.merge_min_waiting or self.store_trouble is not None
                or self.loop is None):
            return False
        self.merged = True
        self.merging = self.loop.call_later(self.limits.merge_wait, self.end_merge)
        return True

    def end_merge(self) -> None:
        """The commit came (or merge_wait passed): write what waited, with it
        (nothing if no output waits)."""
        timer, self.merging = self.merging, None
        if timer is not None:
            timer.cancel()
            if not self.flush_scheduled and self.loop is not None:
                self.flush_scheduled = True
                self.loop.call_soon(self.flush)

    def unconfirmed(self) -> int:
        """Messages neither confirmed nor given up yet (at shutdown: lost)."""
        return len(self.senders)
