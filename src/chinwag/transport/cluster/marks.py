"""Delivery marks: how far each room's messages reached this node's users.

A node that is killed (``kill -9``) cannot say where its users left off; the
node that declares it dead records their departures from what the dead node
last wrote here, so that a text user coming back on another node is shown
exactly what it did not receive (transport/history.py, the Recall), not
everything since the dead node's last heartbeat.

Every ``cluster_mark_every`` seconds :meth:`DeliveryMarks.round`:

1. takes the rooms whose delivery moved since the last round (the sequencer
   notes them: one dict assignment per message, never per recipient) and, for
   each, the seq up to which this node has handed its messages to fan-out
   (``next - 1``: nothing at or below it will be delivered here again);
2. lets the loop run the flush that fan-out scheduled (``call_soon``): from
   then on, a connection whose output queue and transport buffer are empty
   and whose messages are not held back by a query has handed everything up
   to those seqs to the kernel (which still delivers it if the node dies);
3. looks at the local members of those rooms (once per round, not per
   message): one that has not taken it all (a slow reader) is *held*: its own
   marks, for each of its rooms, stay where the node's were when it last had
   taken everything, until a later round finds it caught up (its marks are
   then deleted: the node's apply again);
4. writes the node's changed marks and the held users' new ones in one
   statement (``ClusterStore.write_marks``), and deletes those released.

When the node dies, each of its users' rooms gets the user's own mark if it
is held, else the node's; a room with neither (joined in the last interval)
falls back to the dead node's last heartbeat, as before (node.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from chinwag.core.events import Message
from chinwag.core.names import casefold
from chinwag.storage.base import room_key
from chinwag.storage.cluster import Left

if TYPE_CHECKING:
    from chinwag.transport.cluster.node import ClusterNode
    from chinwag.transport.connection import Connection

log = logging.getLogger("chinwag.cluster")

SEQ_MAX = (1 << 63) - 1  # above every seq (a bigint)
PRUNE_EVERY = 240  # rounds between two prunes of the marks of rooms no longer followed (a minute)


class DeliveryMarks:
    def __init__(self, node: ClusterNode) -> None:
        self.node = node
        self.written: dict[str, int] = {}  # room key -> the node's mark as last written
        # sid -> (casefolded nick the rows are under, room key -> seq): users held back
        self.held: dict[int, tuple[str, dict[str, int]]] = {}
        self.rounds = 0
        self.failed = False  # the last write failed (logged once until one works)

    def reset(self) -> None:
        """Write every followed room's mark again next round, as if none were
        written (this node's rows were deleted: it had been declared dead)."""
        self.written.clear()
        self.held.clear()
        sequencer = self.node.sequencer
        sequencer.moved_keys.update(dict.fromkeys(sequencer.convs))

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.node.limits.cluster_mark_every)
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self.failed:
                    log.error("cannot write delivery marks: %s", exc)
                self.failed = True
            else:
                if self.failed:
                    log.warning("delivery marks written again")
                self.failed = False

    def behind(self, sid: int) -> bool:
        """Has a connection of user ``sid`` not handed everything given to it
        to the kernel? (Its output queue, its transport's buffer, or messages
        a query holds back.)"""
        node = self.node
        conns = node.server.connections
        for c in node.hub.devices.get(sid) or (sid,):
            conn: Connection | None = conns.get(c)
            if conn is None or conn.closed:
                continue  # (gone: its departure is recorded by its own node, exactly)
            if conn.out or conn.gated is not None:
                return True
            transport = conn.transport
            if transport is not None and transport.get_write_buffer_size():
                return True
        return False

    def _behind_in(self, snap: dict[str, int]) -> set[int]:
        """The local users of the rooms in ``snap`` that are behind. Once per
        round: each local member of those rooms is looked at once or, when
        those rooms hold more than a quarter as many members as the node has
        connections, each connection (faster per connection: no lookups)."""
        node = self.node
        hub = node.hub
        rooms = hub.rooms
        conns = node.server.connections
        found: set[int] = set()
        moved = [rooms[k] for k in snap if k in rooms]  # (one may have emptied since the snapshot)
        if 4 * sum(len(room.members) for room in moved) > len(conns):
            links, sessions = hub.links, hub.sessions
            for conn in conns.values():
                if (conn.out or conn.gated is not None or
                        (t := conn.transport) is not None and t.get_write_buffer_size()) and not conn.closed:
                    sid = links.get(conn.sid, conn.sid)
                    session = sessions.get(sid)
                    if session is not None and any(k in snap for k in session.rooms):
                        found.add(sid)
            return found
        seen: set[int] = set()
        devices = hub.devices
        for room in moved:
            for sid in room.members:
                if sid > 0 and sid not in seen:
                    seen.add(sid)
                    if devices:
                        if self.behind(sid):
                            found.add(sid)
                        continue
                    one = conns.get(sid)
                    if one is not None and (one.out or one.gated is not None or (
                            (t := one.transport) is not None and t.get_write_buffer_size())) and not one.closed:
                        found.add(sid)
        return found

    async def round(self) -> None:
        node = self.node
        hub = node.hub
        sequencer = node.sequencer
        moved = sequencer.take_moved()
        convs = sequencer.convs
        rooms = hub.rooms
        snap: dict[str, int] = {}
        for key in moved:
            conv = convs.get(key)
            if conv is not None and key in rooms:
                snap[key] = conv.next - 1
        if not snap and not self.held:
            return
        await asyncio.sleep(0)  # the flush scheduled with what was handed to fan-out runs first
        written = self.written
        held = dict(self.held)
        rows: list[tuple[str, str, int]] = []
        released: list[str] = []
        # Those held back before: caught up now (released), or still behind
        # (with the rooms that moved which they joined meanwhile: from the
        # node's mark before this round).
        for sid, (nick, marks) in self.held.items():
            now = hub.nick_of(sid)
            if now is None or not self.behind(sid):
                del held[sid]
                released.append(nick)
                continue
            user = hub.sessions[sid]
            joined = {k: written.get(k, self._base(k)) for k in user.rooms if k in snap and k not in marks}
            key_now = casefold(now)
            if key_now != nick:  # renamed meanwhile: its rows follow its nick
                released.append(nick)
                marks = {**marks, **joined}
                rows += [(key_now, k, seq) for k, seq in marks.items()]
            elif joined:
                marks = {**marks, **joined}  # (self.held unchanged until written)
                rows += [(nick, k, seq) for k, seq in joined.items()]
            held[sid] = (key_now, marks)
        # The others behind, in a room whose mark moves: held, each room at
        # the node's mark before this round (the last they had taken it all).
        for sid in self._behind_in(snap):
            session = hub.sessions.get(sid)
            if sid in held or session is None or session.nick is None:
                continue
            nick = casefold(session.nick)
            marks = {k: written.get(k, self._base(k)) for k in session.rooms}
            held[sid] = (nick, marks)
            if nick in released:  # (held again under a name just released: keep its rows)
                released.remove(nick)
            rows += [(nick, k, seq) for k, seq in marks.items()]
        rows += [("", key, seq) for key, seq in snap.items() if written.get(key) != seq]
        try:
            await node.db.write_marks(node.name, rows, released)
        except BaseException:
            sequencer.moved_keys.update(dict.fromkeys(snap))  # (tried again next round)
            raise
        written.update(snap)
        self.held = held
        self.rounds += 1
        if self.rounds % PRUNE_EVERY == 0:
            for key in [k for k in written if k not in convs]:
                del written[key]

    # --- a dead node's users (node.py), and their catch-up (transport/history.py) ---

    async def record_departures(self, users: list[tuple[str, str, tuple[str, ...]]], since: float) -> None:
        """The users of a node that died never said where they left off: the
        text protocol's catch-up (its Recall) starts each room after the seq
        the dead node's delivery marks say its user had received
        (transport/cluster/marks.py); a room without one, from the node's
        last heartbeat (``since``, db clock): nothing after the failure is
        missed."""
        if not users:
            return
        now = self.node.hub.clock()
        mark = f"{int(since * 1_000_000) << 8:016x}"  # (a MessageIds id of that time)
        nodes = sorted({node for node, _, _ in users})
        try:
            marks = await self.node.db.marks(nodes)
        except Exception as exc:
            log.error("cannot read the delivery marks of %s: %s", ", ".join(nodes), exc)
            marks = {}
        left = []
        for node, nick, rooms in users:
            theirs = marks.get(node, {})
            own, base = theirs.get(casefold(nick), {}), theirs.get("", {})
            seqs = {}
            for room in rooms:
                key = room_key(room)
                seq = own.get(key, base.get(key))
                if seq is not None:
                    seqs[key] = seq
            left.append(Left(nick, rooms, mark, now, seqs))
        try:
            await self.node.db.record_departures(left)
        except Exception as exc:
            log.error("cannot record where %d users of %s left off: %s", len(left), ", ".join(nodes), exc)
            return
        for node in nodes:
            with contextlib.suppress(Exception):
                await self.node.db.forget_marks(node)

    async def departure_marks(self, nick: str) -> dict[str, int]:
        """Room key -> the seq ``nick`` had received when its node died (none:
        an exact departure, or the database cannot say: the reference id is used)."""
        try:
            return await self.node.db.departure_marks(nick)
        except Exception as exc:
            log.error("cannot read where %s left off: %s", nick, exc)
            return {}

    async def after_seq(self, key: str, seq: int, limit: int) -> list[Message]:
        """Up to ``limit`` messages of ``key`` after ``seq``, in seq order."""
        return [m for _, m in await self.node.db.messages_by_seq(key, seq, SEQ_MAX, limit)]

    def _base(self, key: str) -> int:
        """Where this node started to follow room ``key`` (no mark written yet)."""
        conv = self.node.sequencer.convs.get(key)
        return conv.base if conv is not None else 0
