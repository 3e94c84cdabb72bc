"""Delivery in seq order: the same order on every node.

PostgreSQL gives each message of a conversation the next number (seq) in the
transaction that stores it. A node delivers a conversation's messages only in
that order, whatever order they reach it in: its own (confirmed by the store,
``confirmed``), other nodes' (from the bus, ``remote``) or read back from
PostgreSQL to fill a gap (``_refill``).

- ``seq == next``: delivered, ``next`` moves on, and whatever waited behind it.
- ``seq > next``: kept; if the bus does not bring the missing ones within
  ``cluster_gap_wait``, they are read from PostgreSQL. A seq PostgreSQL does
  not have once a later one is committed was redacted or pruned: skipped.
- ``seq < next``: delivered already (a duplicate): dropped.

A conversation starts to be followed here at the seq after the highest this
node knows of it (``heads``: the store's at start, then everything seen since),
whatever arrives first: a message committed after a local user joined a room
has a higher seq than any committed before, whichever node sent it.
This node's own messages are never read back for a gap: their confirmation
is on its way (a node commits one batch at a time, in order).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from chinwag.core.events import Message, Outbound
from chinwag.core.handlers import remote

if TYPE_CHECKING:
    from chinwag.transport.cluster.node import ClusterNode

log = logging.getLogger("chinwag.cluster")

REFILL_RETRY_MAX = 2.0  # seconds between reads while PostgreSQL fails


class _Conversation:
    __slots__ = ("next", "pending", "timer", "refilling", "upto", "delay", "base")

    def __init__(self, next_seq: int = 0) -> None:
        self.next = next_seq  # the seq to deliver next
        self.base = next_seq - 1  # where this node started to follow it (delivery marks: transport/cluster/marks.py)
        # seq -> (message, its local Outbound if it was sent here) or None: a seq that does not exist (skip)
        self.pending: dict[int, tuple[Message, Outbound | None] | None] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.refilling = False
        self.upto = 0  # the highest seq known to exist (a poll saw it)
        self.delay = 0.0


class Sequencer:
    def __init__(self, node: ClusterNode) -> None:
        self.node = node
        self.convs: dict[str, _Conversation] = {}
        # The highest seq known of EVERY conversation, followed here or not: the
        # store's at start (load_heads), then every message on the bus, every
        # confirmation, read and poll. A conversation a local user starts to
        # follow (a join) is delivered from the one after it: whatever is
        # committed after the join has a higher seq, whichever node sends it.
        self.heads: dict[str, int] = {}
        # msgids below this were not made by this run: every id it makes is above
        # the last one handed out or observed (the store's) before it started.
        # (Not set at the first confirmation: a gap's read may meet that message before it.)
        self.first_own = f"{node.hub.ids.last + 1:016x}"
        # slots this run held before its current one -> the last id it made there
        # (a lease that lapsed: the node joined again, its unconfirmed messages keep the old slot)
        self.earlier: dict[int, str] = {}
        # Conversations whose ``next`` moved (or that started to be followed)
        # since the delivery marks last took them (transport/cluster/marks.py).
        self.moved_keys: dict[str, None] = {}

    def leaving_slot(self) -> None:
        """The node is about to take another slot (ClusterNode._set_slot)."""
        ids = self.node.hub.ids
        if ids.slot is not None:
            self.earlier[ids.slot] = f"{ids.last:016x}"

    # --- in ------------------------------------------------------------------------

    def confirmed(self, out: Outbound, msg: Message, seq: int) -> bool:
        """The store committed ``msg`` of this node (Outbox.on_confirmed):
        published now; True: the outbox fans it out at once (it is next)."""
        node = self.node
        key = node.key_of(msg)
        if self.earlier:  # (confirmed in the order made: what an earlier slot made is all in once one is past it)
            self.earlier = {r: last for r, last in self.earlier.items() if msg.msgid < last}
        node.publish_message(key, seq, msg)
        conv = self.convs.get(key)
        if conv is None:
            conv = self.convs[key] = _Conversation(self.heads.get(key, 0) + 1)
        self.saw(key, seq)
        if seq == conv.next and not conv.pending:
            conv.next += 1
            self.moved_keys[key] = None
            return True
        if seq < conv.next:
            log.debug("own message %s (seq %d of %s) after %d: delivered late", msg.msgid, seq, key, conv.next)
            return True
        conv.pending[seq] = (msg, out)
        self._drain(key, conv)
        return False

    def remote(self, key: str, seq: int, msg: Message) -> None:
        """Another node's message, from the bus."""
        conv = self.convs.get(key)
        if conv is None:
            conv = self.convs[key] = _Conversation(self.heads.get(key, 0) + 1)
        self.saw(key, seq)
        if seq < conv.next or seq in conv.pending:
            return  # delivered already, or waiting
        conv.pending[seq] = (msg, None)
        self._drain(key, conv)

    def saw(self, key: str, seq: int) -> None:
        if seq > self.heads.get(key, 0):
            self.heads[key] = seq

    def load_heads(self, heads: dict[str, int]) -> None:
        """The store's seqs at start (PgCluster.heads)."""
        for key, seq in heads.items():
            self.saw(key, seq)

    def take_moved(self) -> dict[str, None]:
        """The conversations whose ``next`` moved since the last call."""
        moved, self.moved_keys = self.moved_keys, {}
        return moved

    def knows(self, key: str) -> bool:
        return key in self.convs

    def watch(self, key: str) -> None:
        """A local user joined room ``key``: from now on its messages are
        delivered here, from the one after the highest known."""
        if key not in self.convs:
            self.convs[key] = _Conversation(self.heads.get(key, 0) + 1)
            self.moved_keys[key] = None

    def moved(self, key: str, seq: int) -> None:
        """A poll saw ``key`` at ``seq``: anything up to it not delivered yet is a gap."""
        conv = self.convs[key]
        if seq >= conv.next and seq > conv.upto:
            conv.upto = seq
            self._arm(key, conv, 0.0)

    def adopt(self, key: str, seq: int) -> None:
        """A conversation a local user takes part in, not followed yet, that a
        poll saw move (its first messages lost, or the bus down): followed from
        the one after the highest known (before this poll), up to ``seq``."""
        self.convs[key] = _Conversation(self.heads.get(key, 0) + 1)
        self.moved_keys[key] = None
        self.moved(key, seq)

    def prune(self, wanted: Callable[[str], bool]) -> int:
        """Forget the conversations nothing waits in and ``wanted`` says no local
        user follows (a room nobody here is in): memory stays bounded by what
        this node's users take part in. One that comes back starts afresh."""
        idle = [key for key, conv in self.convs.items()
                if not conv.pending and conv.timer is None and not conv.refilling and not wanted(key)]
        for key in idle:
            del self.convs[key]
        return len(idle)

    def close(self) -> None:
        for conv in self.convs.values():
            if conv.timer is not None:
                conv.timer.cancel()

    # --- out -------------------------------------------------------------------------

    def _drain(self, key: str, conv: _Conversation) -> None:
        pending = conv.pending
        self._drain_now(key, conv)
        if (pending or conv.upto >= conv.next) and conv.timer is None and not conv.refilling:
            self._arm(key, conv, self.node.limits.cluster_gap_wait)

    def _deliver(self, msg: Message, out: Outbound | None) -> None:
        node = self.node
        outbox = node.server.outbox
        if out is not None:  # this node's own, held back by a gap
            outbox.fan_out(out)
            return
        to = remote.recipients(node.hub, msg)
        if to:  # (consecutive ones to one room: one shared buffer per variant, as for this node's own)
            outbox.gather(Outbound(to, msg), msg, local=False)

    def _arm(self, key: str, conv: _Conversation, delay: float) -> None:
        loop = self.node.server.loop
        if conv.timer is not None or conv.refilling or loop is None:
            return
        conv.timer = loop.call_later(max(delay, conv.delay), self._gap, key)

    def _gap(self, key: str) -> None:
        conv = self.convs.get(key)
        if conv is None:
            return
        conv.timer = None
        if not conv.pending and conv.upto < conv.next:
            return
        conv.refilling = True
        self.node.server.spawn(self._refill(key, conv))

    async def _refill(self, key: str, conv: _Conversation) -> None:
        node = self.node
        batch = node.limits.cluster_refill_batch
        try:
            while True:
                upto = max([conv.upto, *(s - 1 for s in conv.pending)], default=0)
                if upto < conv.next:
                    break
                start = conv.next
                try:
                    rows: list[tuple[int, Message]] = await node.db.messages_by_seq(
                        key, start - 1, min(upto, start - 1 + batch), batch)
                except Exception as exc:
                    conv.delay = min(max(conv.delay * 2, 0.1), REFILL_RETRY_MAX)
                    log.error("cannot refill %s from seq %d: %s", key, start, exc)
                    return
                conv.delay = 0.0
                node.refills += 1
                found = dict(rows)
                if rows:
                    self.saw(key, rows[-1][0])
                end = min(upto, start - 1 + batch)
                for seq in range(start, end + 1):
                    if seq < conv.next or seq in conv.pending:
                        continue
                    msg = found.get(seq)
                    if msg is None:
                        conv.pending[seq] = None  # redacted or pruned: nothing to wait for
                    elif self._own(msg):
                        break  # its confirmation is on its way: it goes then, with what follows
                    else:
                        conv.pending[seq] = (msg, None)
                before = conv.next
                self._drain_now(key, conv)
                if conv.next == before:
                    break  # waits for an own message's confirmation
        finally:
            conv.refilling = False
            self._drain(key, conv)

    def _drain_now(self, key: str, conv: _Conversation) -> None:
        pending = conv.pending
        if conv.next in pending:
            self.moved_keys[key] = None
        while conv.next in pending:
            item = pending.pop(conv.next)
            conv.next += 1
            if item is not None:
                self._deliver(*item)

    def _own(self, msg: Message) -> bool:
        """Made by this run of this node (its confirmation will come)?"""
        slot = self.node.hub.ids.slot
        if slot is None or msg.msgid < self.first_own:
            return False
        residue = int(msg.msgid, 16) % 16
        if residue == slot:
            return True
        last = self.earlier.get(residue)
        return last is not None and msg.msgid <= last
