"""A cluster node's nick rows in PostgreSQL (``cluster_nicks``, docs/cluster.md).

* A Register or NICK of a local user waits for its nick's row before it
  reaches the hub (:meth:`NickRows.claim_first`): a nick held by a user of
  another node is "in use" here too.
* Rows follow what the hub did itself (a server rename, a quit), in order,
  one at a time (:meth:`NickRows.run_forever`); presence ops published while
  rows are being changed wait behind them, so another node sees a quit only
  once its nick is free.
* A claim of a nick whose row this node is still releasing (its user just
  left) waits for that release, or the returning user would be refused its
  own name.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from chinwag.core.commands import COMMANDS
from chinwag.core.errors import NickInUse
from chinwag.core.events import ChangeNick, Checked, Command, Failed, Outbound, Register
from chinwag.core.handlers import remote, users
from chinwag.core.names import casefold, free_variant
from chinwag.core.types.cluster import Arrive, Nick, PresenceOp, Quit

if TYPE_CHECKING:
    from chinwag.transport.cluster.node import ClusterNode
    from chinwag.transport.connection import Connection

log = logging.getLogger("chinwag.cluster")


class NickRows:
    """The nick rows a node holds for its users, and the queue that changes them."""

    def __init__(self, node: ClusterNode) -> None:
        self.node = node
        self.hub = node.hub
        self.claimed: dict[int, str] = {}  # sid -> casefolded nick claimed for it in PostgreSQL
        self.holders: dict[str, set[int]] = {}  # the same, by nick (a quit finds its row without a scan)
        # Nick rows to claim or release, and presence ops waiting behind them: in order.
        self._queue: asyncio.Queue[tuple[str, str, int, bytes]] = asyncio.Queue()
        self._working = False  # run_forever is on an item
        # Nicks whose row's release is queued (how many times): a claim of one here waits
        # for it, or the row of a user just gone would refuse the name ("name taken").
        self.releasing: dict[str, int] = {}
        self._released = asyncio.Event()  # set (and replaced) after each release

    def busy(self) -> bool:
        """Rows are being changed: a presence op published now waits behind them."""
        return self._working or self._queue.qsize() > 0

    def publish_after(self, data: bytes) -> None:
        """Publish ``data`` once the row changes queued before it are done."""
        self._queue.put_nowait(("publish", "", 0, data))

    def follow(self, op: PresenceOp) -> None:
        """Nick rows follow what the hub did (renames by the server too)."""
        if type(op) is Arrive:
            self.claim_later(op.user.nick)
        elif type(op) is Nick:
            self.release_later(op.old)
            self.claim_later(op.new)
        elif type(op) is Quit:
            self.release_later(op.nick)

    def claim_again(self) -> None:
        """Claim every row held here once more (the node's lease had lapsed)."""
        for sid, key in list(self.claimed.items()):
            self._queue.put_nowait(("claim", key, sid, b""))

    async def drain(self) -> None:
        """Until every queued row change (and what waits behind) is done."""
        await self._queue.join()

    def stop(self) -> None:
        """No claim waits for a release that will not come."""
        self.releasing.clear()
        self._released.set()

    def claim_later(self, nick: str) -> None:
        key = casefold(nick)
        sid = self.hub.nicks.get(key)
        if sid is not None and sid > 0 and self.claimed.get(sid) != key:
            self._hold(sid, key)
            self._queue.put_nowait(("claim", key, sid, b""))

    def release_later(self, nick: str) -> None:
        key = casefold(nick)
        for sid in list(self.holders.get(key, ())):
            if self.hub.nicks.get(key) != sid:
                self._unhold(sid)
                self._release(key, sid)

    def _release(self, key: str, sid: int) -> None:
        """Queue the release of ``key``'s row (held for ``sid``); claims of ``key`` wait for it."""
        self.releasing[key] = self.releasing.get(key, 0) + 1
        self._queue.put_nowait(("release", key, sid, b""))

    def _released_one(self, key: str) -> None:
        left = self.releasing.pop(key, 0) - 1
        if left > 0:
            self.releasing[key] = left
        released, self._released = self._released, asyncio.Event()
        released.set()

    def _hold(self, sid: int, key: str) -> None:
        """``claimed[sid] = key``, with its index by nick."""
        self._unhold(sid)
        self.claimed[sid] = key
        self.holders.setdefault(key, set()).add(sid)

    def _unhold(self, sid: int) -> None:
        key = self.claimed.pop(sid, None)
        if key is not None:
            sids = self.holders[key]
            sids.discard(sid)
            if not sids:
                del self.holders[key]

    async def run_forever(self) -> None:
        """The nick rows of changes the hub made itself, in order, one at a
        time, and the presence ops behind them."""
        while True:
            what, key, sid, data = await self._queue.get()
            self._working = True
            try:
                if what == "publish":
                    self.node.bus.publish(data)
                elif what == "claim":
                    session = self.hub.sessions.get(sid)
                    nick = session.nick if session is not None and session.nick else key
                    holder = await self.node.db.claim_nick(key, nick, self.node.name, sid)
                    if holder == self.node.name:  # (by another connection of the same user: a second device's rename)
                        log.info("%s is held here by another connection of its user", nick)
                    elif holder is not None:
                        log.warning("%s is held by node %s: its user here (renamed to it by the server) becomes"
                                    " a guest", nick, holder)
                        self.node.server.deliver(users.lost_claim(self.hub, sid, key))
                else:
                    await self.node.db.release_nick(key, self.node.name, sid)
            except Exception as exc:
                log.error("cannot %s nick %s: %s", what, key, exc)
            finally:
                if what == "release":
                    self._released_one(key)
                self._working = self._queue.qsize() > 0
                self._queue.task_done()


    def claim_first(self, conn: Connection, command: Command) -> bool:
        """A Register or NICK waits for its nick's row in PostgreSQL (True:
        taken over, dispatched when claimed)."""
        inner = command.command if type(command) is Checked else command
        if type(inner) is not Register and type(inner) is not ChangeNick:
            return False
        nick: str = inner.nick
        try:
            key = casefold(nick)
        except Exception:
            return False  # not a name: the hub refuses it
        if self.claimed.get(conn.sid) == key or self.node.stopping:
            return False
        holder = self.hub.nicks.get(key)
        if holder is not None and holder > 0:
            return False  # held on this node (its row is that user's): the hub decides (in use, or a device attaching)
        conn.pause(gate=False)  # input only, as for a password check
        self.node.server.spawn(self._claim(conn, command, inner, key, nick))
        return True

    async def _claim(self, conn: Connection, command: Command, inner: Register | ChangeNick, key: str,
                     nick: str) -> None:
        try:
            while key in self.releasing:  # (a user of this node just left it: its row goes first)
                await self._released.wait()
            holder = await self.node.db.claim_nick(key, nick, self.node.name, conn.sid)
        except Exception as exc:
            log.error("cannot claim %s: %s", nick, exc)
            holder = ""
        server = self.node.server
        if server.connections.get(conn.sid) is not conn:  # gone meanwhile
            if holder is None:
                self._release(key, conn.sid)
            return
        if holder is None:
            previous = self.claimed.get(conn.sid)
            self._hold(conn.sid, key)
            ghost = self.hub.nicks.get(key)
            if ghost is not None and ghost < 0:  # its node's row lapsed: that ghost is stale
                server.outbox.deliver(remote.apply(self.hub, self.hub.remote.get(ghost, ""),
                                                   Quit(nick, "gone from its node")))
            server.dispatch(conn, command)
            if self.hub.nick_of(conn.sid) is None or casefold(self.hub.nick_of(conn.sid) or "") != key:
                self._unhold(conn.sid)  # the hub refused it (bad name...)
                if previous is not None:
                    self._hold(conn.sid, previous)
                self._release(key, conn.sid)
            elif previous is not None and previous != key:
                self._release(previous, conn.sid)
        else:
            # (held by a user of another node: the usual "in use"; no answer from the database: say so)
            if holder:  # a suggestion for a newcomer, as a lone server gives one (free here, claimed when taken)
                hub = self.hub
                registering = hub.nick_of(conn.sid) is None
                suggestion = free_variant(nick, hub.nicks, hub.limits.nick_len, hub.skeletons) if registering else ""
                error = NickInUse(nick, suggestion=suggestion)
            else:
                error = NickInUse(nick, "cannot be checked now (the database is down)")
            server.deliver([Outbound((conn.sid,), Failed(error, COMMANDS[type(inner)].name))], conn.sid)
        conn.resume(set())

    def forget(self, sid: int) -> None:
        """A connection closed: its nick row goes with its user (Quit op), if it was the last."""
        key = self.claimed.get(sid)
        if key is not None and self.hub.nicks.get(key) != sid:
            self._unhold(sid)
            self._release(key, sid)
