"""A node of a cluster: the glue between this server, the bus and PostgreSQL.

docs/cluster.md has the design; in short:

- **Presence** (who is where, who holds which nick) is replicated as effects:
  every change a local user makes becomes presence ops (core/handlers/remote.py
  ``ops_for``), published on the bus numbered per node; the other nodes apply
  them to ghosts of that user (``remote.apply``). A gap in a node's numbers, a
  restarted node or a bus that came back is repaired by that node's snapshot
  (``remote.reconcile``).
- **Messages** are published after they are committed, with the seq their
  conversation gave them in PostgreSQL; every node delivers a conversation's
  messages in seq order (:class:`Sequencer`), refilling a gap from PostgreSQL.
  A poll of the conversations that moved catches what the bus lost at the tail,
  and carries everything while Redis is down.
- **Nicks** are claimed in PostgreSQL before a Register or NICK reaches the hub;
  a node whose lease ended is dead: its ghosts quit and its rows go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from chinwag.core.events import Message, Outbound
from chinwag.core.handlers import remote
from chinwag.core.types.cluster import Join, PresenceOp
from chinwag.storage.base import conversation_key, private_parties, room_key
from chinwag.storage.cluster import ClusterStore
from chinwag.transport.cluster import wire
from chinwag.transport.cluster.bus import Bus
from chinwag.transport.cluster.marks import DeliveryMarks
from chinwag.transport.cluster.nicks import NickRows
from chinwag.transport.cluster.sequencer import Sequencer

if TYPE_CHECKING:
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag.cluster")

PRUNE_EVERY = 30  # polls between two prunes of the conversations followed (a minute while the bus works)


def default_name(irc_port: int, shared: bool = False) -> str:
    """<hostname>:<irc port>, and the process id when nodes share the port (reuse_port)."""
    name = f"{socket.gethostname()}:{irc_port}"
    return f"{name}:{os.getpid()}" if shared else name


class ClusterNode:
    def __init__(self, server: Server) -> None:
        cfg = server.config
        self.server = server
        self.hub = server.hub
        self.limits = cfg.limits
        self.name = cfg.node_name
        # (only PostgresStore has one: the config refuses `redis` without `postgres`)
        self.db: ClusterStore = server.store.cluster  # type: ignore[attr-defined]
        self.db_store = server.store
        self.bus = Bus(cfg.redis, f"chinwag:{cfg.cluster_name}", cfg.limits, self._received, self._bus_status)
        self.epoch = secrets.token_hex(4)
        self.pseq = 0  # presence ops published in this run
        self.peers: dict[str, tuple[str, int]] = {}  # node -> (its epoch, the last pseq applied)
        self.sequencer = Sequencer(self)
        self.marks = DeliveryMarks(self)  # how far each room reached this node's users (for a kill -9)
        self.alive_since: float | None = None  # monotonic: heartbeats working since then
        self.down_since: float | None = None  # wall clock: the bus went down then (None: up)
        self.since = 0.0  # db time of the last poll of moved conversations
        self.stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self.nicks = NickRows(self)  # the nick rows held for this node's users
        self.dead: dict[str, None] = {}  # nodes declared dead (their late ops are ignored until they say hello)
        self.refills = 0  # metrics: gaps refilled from PostgreSQL
        self._own_messages = b"\x00"  # how this node's messages begin on the bus (set once it has its name)

    # --- start and stop ---------------------------------------------------------

    async def start(self) -> None:
        if not self.name:
            self.name = default_name(self.server.port("irc"), self.server.config.reuse_port)
        self._own_messages = wire.own_messages(self.name)
        # A fresh run: what an earlier run of this name left (after kill -9) goes first
        # (its nick rows would refuse this run's users their own names).
        await self.db.forget_node(self.name)
        await self.db.forget_marks(self.name)
        slot = await self.db.join(self.name, self.limits.cluster_lease)
        self._set_slot(slot)
        self.alive_since = time.monotonic()
        self.since = (await self.db.recent(float("inf")))[0]
        self.sequencer.load_heads(await self.db.heads())
        self.server.outbox.on_confirmed = self.sequencer.confirmed
        loop = asyncio.get_running_loop()
        await self.bus.start()
        if self.bus.up:
            self._hello()
        else:
            self.down_since = time.time()
        for coro in (self._heartbeat_forever(), self._poll_forever(), self.nicks.run_forever(),
                     self.marks.run_forever()):
            self._tasks.append(loop.create_task(coro))
        log.info("node %s of cluster %s (slot %d), bus %s", self.name, self.server.config.cluster_name, slot,
                 "up" if self.bus.up else "down (retrying)")

    def _set_slot(self, slot: int) -> None:
        self.sequencer.leaving_slot()
        self.hub.ids.use_slot(slot)

    def shutdown_reason(self) -> str:
        return f"node {self.name} is shutting down: reconnect to another node"

    async def close(self) -> None:
        """After the connections closed (their quits published): say bye, give
        the nicks and the node row back, stop."""
        self.stopping = True
        with contextlib.suppress(Exception):  # (the quits waiting behind their nicks' release go first)
            await asyncio.wait_for(self.nicks.drain(), 2.0)
        self._publish(wire.bye(self.name, self.epoch))
        for task in self._tasks:
            task.cancel()
        self.nicks.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.bus.flush(), 2.0)
        with contextlib.suppress(Exception):
            await self.db.forget_node(self.name)
        with contextlib.suppress(Exception):  # (its users' departures are exact: recorded as they closed)
            await self.db.forget_marks(self.name)
        await self.bus.close()
        self.sequencer.close()

    # --- local changes out ------------------------------------------------------

    def local(self, outbound: list[Outbound]) -> None:
        """Every event this node's hub made (Server.deliver): publish the
        presence ops it amounts to, keep the nick claims in step."""
        ops = remote.ops_for(self.hub, outbound)
        if not ops:
            return
        for op in ops:
            self.pseq += 1
            self._follow(op)
            data = wire.presence(self.name, self.epoch, self.pseq, op)
            if self.nicks.busy():
                # Behind a nick row's change: a Quit is seen once its nick is free
                # (another node's user may take it the moment it sees the quit).
                self.nicks.publish_after(data)
            else:
                self._publish(data)

    def _follow(self, op: PresenceOp) -> None:
        if type(op) is Join:
            self.sequencer.watch(room_key(op.room))
        else:
            self.nicks.follow(op)

    def publish_message(self, key: str, seq: int, msg: Message) -> None:
        self._publish(wire.message(self.name, key, seq, msg))

    def _publish(self, data: bytes) -> None:
        self.bus.publish(data)

    def _hello(self) -> None:
        """I am here (again): my users, and yours please."""
        self._publish(wire.hello(self.name, self.epoch, self.pseq, remote.snapshot(self.hub)))

    # --- the bus in -------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        if data.startswith(self._own_messages):
            return  # this node's own message, back from the bus (most of what a busy node hears)
        item = wire.decode(data)
        if item is None:
            log.warning("undecodable bus message (%d bytes) ignored", len(data))
            return
        if item.node == self.name or self.stopping:
            return
        try:
            self._handle(item)
        except Exception:
            log.exception("bus message %s from %s failed", item.kind, item.node)

    def _handle(self, item: wire.Item) -> None:
        kind, node = item.kind, item.node
        if item.to and item.to != self.name:
            return
        if kind == "m":
            assert item.message is not None
            self.sequencer.remote(item.key, item.seq, item.message)
            return
        if node in self.dead and kind not in ("hello", "snap"):
            return
        if kind == "p":
            assert item.op is not None
            known = self.peers.get(node)
            if known is None or known[0] != item.epoch or item.pseq != known[1] + 1:
                self._publish(wire.want(self.name, node))  # a gap: its snapshot repairs it
            self.peers[node] = (item.epoch, item.pseq)
            self.hub.nodes = len(self.peers) + 1
            self._deliver(remote.apply(self.hub, node, item.op))
        elif kind in ("snap", "hello"):
            self.dead.pop(node, None)
            self.peers[node] = (item.epoch, item.pseq)
            self.hub.nodes = len(self.peers) + 1
            self._deliver(remote.reconcile(self.hub, node, item.presences))
            if kind == "hello":
                self._publish(wire.snap(self.name, self.epoch, self.pseq, remote.snapshot(self.hub), to=node))
        elif kind == "want":
            self._publish(wire.snap(self.name, self.epoch, self.pseq, remote.snapshot(self.hub), to=node))
        elif kind == "bye":
            self._node_gone(node, "left the network")

    def _deliver(self, outbound: Iterable[Outbound]) -> None:
        out = list(outbound)
        if out:
            self.server.outbox.deliver(out)  # (not Server.deliver: nothing to publish again)

    def _node_gone(self, node: str, why: str) -> None:
        self.peers.pop(node, None)
        self.hub.nodes = len(self.peers) + 1
        self.dead[node] = None
        out = remote.drop_node(self.hub, node, f"{node} {why}")
        if out:
            log.warning("node %s %s: its users quit", node, why)
        self._deliver(out)

    def _bus_status(self, up: bool) -> None:
        if up:
            if self.down_since is not None:
                log.warning("bus works again: resynchronising presence")
            self.down_since = None
            if not self.stopping:
                self._hello()  # (every node answers with its snapshot)
        elif self.down_since is None:
            self.down_since = time.time()
            log.error("bus down: messages of other nodes come from PostgreSQL every %.1f s",
                      self.limits.cluster_poll)

    # --- heartbeats, dead nodes, polls ------------------------------------------------

    async def _heartbeat_forever(self) -> None:
        limits = self.limits
        while True:
            await asyncio.sleep(limits.cluster_heartbeat)
            try:
                await self._beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.alive_since = None
                log.error("heartbeat failed: %s", exc)

    async def _beat(self) -> None:
        limits = self.limits
        if not await self.db.heartbeat(self.name, limits.cluster_lease):
            # Others declared this node dead (a long database outage): join
            # again, take the nicks back, tell everyone who is here.
            log.warning("this node's lease had lapsed: joining again")
            self._set_slot(await self.db.join(self.name, limits.cluster_lease))
            self.marks.reset()  # (whoever declared it dead used its marks and forgot them)
            self.alive_since = time.monotonic()
            self.nicks.claim_again()
            self._hello()
            return
        now = time.monotonic()
        if self.alive_since is None:
            self.alive_since = now
        if now - self.alive_since < limits.cluster_lease:
            return  # only a node in steady contact may declare others dead
        ended = await self.db.ended()
        for node in ended:
            if node != self.name:
                await self.db.forget_node(node)
        # Read last, right before comparing: a node that joined (and said hello)
        # while this beat waited is live, not gone.
        live = set(await self.db.nodes())
        gone = {n for n in self.hub.remote.values()} - live
        if gone and self.name == min(live | {self.name}):  # (one node records, the others agree who)
            # Its last heartbeat: what it delivered before then, its users saw.
            beats = [ended[n] - limits.cluster_lease for n in gone if n in ended]
            since = min(beats) if beats else self.hub.clock() - limits.cluster_lease - limits.cluster_heartbeat
            # (recorded before this node announces their quits: a user back on this node finds it)
            await self.marks.record_departures(self._whereabouts(gone), since)
        for node in gone:
            self._node_gone(node, "stopped answering")

    def _whereabouts(self, nodes: set[str]) -> list[tuple[str, str, tuple[str, ...]]]:
        """(node, nick, rooms) of every user of ``nodes`` (as this node's ghosts show them)."""
        hub = self.hub
        found = []
        for sid, node in hub.remote.items():
            session = hub.sessions.get(sid)
            if node in nodes and session is not None and session.nick and session.rooms:
                found.append((node, session.nick,
                              tuple(hub.rooms[k].name for k in session.rooms if k in hub.rooms)))
        return found

    async def _poll_forever(self) -> None:
        polls = 0
        while True:
            limits = self.limits
            await asyncio.sleep(limits.cluster_poll if self.down_since is not None else limits.cluster_tail_poll)
            polls += 1
            if polls % PRUNE_EVERY == 0:
                self.sequencer.prune(self._followed)
            try:
                await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("polling PostgreSQL for new messages failed: %s", exc)

    async def _poll(self) -> None:
        self.since, moved = await self.db.recent(self.since)  # (that time reaches back: see PgCluster.recent)
        sequencer = self.sequencer
        for key, seq in moved:
            if sequencer.knows(key):
                sequencer.moved(key, seq)
            elif seq > sequencer.heads.get(key, 0) and self._followed(key):
                sequencer.adopt(key, seq)  # (its messages never came by the bus)
            sequencer.saw(key, seq)

    def _followed(self, key: str) -> bool:
        """Does a user of this node take part in conversation ``key``?"""
        room = self.hub.rooms.get(key)
        if room is not None:
            return any(sid > 0 for sid in room.members)
        return self._ours(key)

    def _ours(self, key: str) -> bool:
        """A private conversation one of this node's users is part of."""
        parties = private_parties(key)
        if parties is None:
            return False
        hub = self.hub
        for party in parties:
            if party.startswith("="):  # an account's conversation (storage.base.account_private_key)
                sid = hub.accounts.get(party[1:])
            else:
                sid = hub.nicks.get(party)
            if sid is not None and sid > 0:
                return True
        return False

    # --- for the sequencer ----------------------------------------------------

    def key_of(self, msg: Message) -> str:
        return conversation_key(msg)
