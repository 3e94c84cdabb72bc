"""The history service: everything answered from the history store, off the hub.

* join history, the catch-up of a returning name (``Recall``), ``/history``
  (``HistoryRequest``) and IRC CHATHISTORY with draft/event-playback
  (``ChatHistory``): :class:`HistoryService`, which pauses the asking
  connection (its live messages wait, see ``Connection.pause``) while the
  store answers;
* who may read what (below): the access rules, also used by REDACT and
  MARKREAD (transport/ircv3.py).

Who may read what in CHATHISTORY (the spec leaves it to the server):


* a room's history: only its current members (someone who left, was kicked
  or never joined gets INVALID_TARGET, the same answer as for a room that
  does not exist, so nothing is revealed);
* a private conversation: only what its requester took part in. The
  conversation is the requester's with the nick given
  (``private_key(requester, other)``), and only its messages since the
  requester took its current nick (``Session.nick_mark``): chinwag has no
  accounts yet, so the previous holder of a name may have been someone else,
  and a new holder of ``bob`` sees nothing bob was sent before. A reconnect
  or a nick change starts from nothing too.

With accounts: a private message between two logged-in users is stored by
their accounts (``account_private_key``). A logged-in requester reads that
conversation whole, from any connection and under any nick, when the nick it
asks for is someone logged in now (their account) or, if nobody holds that nick
now, an account of that name; otherwise the rule above applies. Someone who
takes a logged-in user's nick is not logged in to their account, so gets the
nick rule: nothing from before.

TARGETS also lists a logged-in requester's conversations by account (named by
the other account). Otherwise it lists only those conversations, and a private one only if it has a
message its requester may read.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from chinwag.core.errors import ChatError
from chinwag.core.events import ChatHistory, ChatHistoryReply, History, Join, Query, Recall
from chinwag.core.hub import Hub
from chinwag.core.names import casefold, is_room, validate_nick
from chinwag.protocols.sanitize import safe_event
from chinwag.storage.base import (
    ACCOUNT_MARK,
    EVENT_PREFIX,
    HistoryStore,
    Store,
    account_private_key,
    private_key,
    private_parties,
    room_key,
)
from chinwag.storage.chathistory import Capped, Floored, Reads, merge, ms, select, select_with_events

if TYPE_CHECKING:
    from chinwag.config import Config
    from chinwag.core.events import Command
    from chinwag.transport.cluster.node import ClusterNode
    from chinwag.transport.connection import Connection

log = logging.getLogger("chinwag.server")


class QueryCount(Protocol):
    history_queries: int


class HistoryHost(Protocol):
    """What the history service asks of the server (``Server`` implements it):
    the hub for the access rules, the store, the cluster's delivery marks,
    and a Join dispatched for a returning text user's rooms."""

    @property
    def config(self) -> Config: ...

    @property
    def hub(self) -> Hub: ...

    @property
    def store(self) -> Store: ...

    @property
    def metrics(self) -> QueryCount: ...

    @property
    def cluster(self) -> ClusterNode | None: ...

    def store_pending(self) -> None:
        """Hand what this tick appended to the store now (the answer then includes it)."""

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...

    def dispatch(self, conn: Connection, command: Command) -> None: ...


def _key(hub: Hub, sid: int, nick: str, target: str) -> str | None:
    """The store key of ``target`` if ``nick`` may read it, else None."""
    if is_room(target):
        key = room_key(target)
        return key if key in (room_key(r) for r in hub.rooms_of(sid)) else None
    try:
        validate_nick(target, hub.limits.nick_len)
    except ChatError:
        return None
    return private_key(nick, target)


async def account_key(hub: Hub, store: Store, sid: int, other: str) -> str | None:
    """The key of the private conversation between ``sid``'s account and the
    account ``other`` stands for, if ``sid`` is logged in and ``other`` does."""
    session = hub.session_of(sid)
    if session is None or session.account is None:
        return None
    online = hub.nicks.get(casefold(other))
    if online is not None:
        account = hub.sessions[online].account
    else:
        found = await store.get_account(other)
        account = found.name if found is not None else None
    return account_private_key(session.account, account) if account is not None else None


def read_mark(hub: Hub, sid: int) -> str:
    """Where the private history ``sid`` may read starts."""
    session = hub.session_of(sid)
    return session.nick_mark if session is not None else "~"  # (above any msgid)


async def answer(hub: Hub, store: Store, sid: int, q: ChatHistory, most: int, cap: str) -> ChatHistoryReply | None:
    """Answer ``q`` for session ``sid`` (None if it is no longer registered);
    at most ``most`` messages or targets; counted from the newest end, as
    history stood at ``cap`` (``Capped``)."""
    nick = hub.nick_of(sid)
    if nick is None:
        return None
    limit = min(q.limit, most)
    try:
        if q.verb == "targets":
            return ChatHistoryReply(q, targets=await _targets(hub, store, sid, nick, q, limit))
        key = _key(hub, sid, nick, q.target)
        if key is None:
            return ChatHistoryReply(q, error="INVALID_TARGET")
        reads: Reads = Capped(store, cap)
        if private_parties(key) is not None:
            by_account = await account_key(hub, store, sid, q.target)
            if by_account is not None:
                key = by_account
            else:
                reads = Floored(reads, read_mark(hub, sid))
        if q.events and private_parties(key) is None:  # a room's events too (draft/event-playback)
            return ChatHistoryReply(q, tuple(await select_with_events(reads, key, EVENT_PREFIX + key, q, limit)))
        return ChatHistoryReply(q, tuple(await select(reads, key, q, limit)))
    except Exception:
        log.exception("CHATHISTORY %s %s failed", q.verb, q.target)
        return ChatHistoryReply(q, error="MESSAGE_ERROR")


async def _targets(
    hub: Hub, store: HistoryStore, sid: int, nick: str, q: ChatHistory, limit: int
) -> tuple[tuple[str, float], ...]:
    if q.start.ms is None or q.end is None or q.end.ms is None:
        return ()
    lo, hi = sorted((q.start.ms, q.end.ms))
    rooms = {room_key(r): r for r in hub.rooms_of(sid)}
    session = hub.session_of(sid)
    account = session.account if session is not None else None
    found = await store.targets(q.start.ms / 1000, q.end.ms / 1000, limit, keys=rooms, nick=nick,
                                private_after=read_mark(hub, sid), account=account)
    me = casefold(nick)
    mine = ACCOUNT_MARK + casefold(account) if account is not None else None
    out: dict[str, float] = {}  # target -> latest (a nick's and an account's talk may share a name)
    for key, ts in found:
        if not lo < ms(ts) < hi:  # the bounds are whole milliseconds, as the client saw them
            continue
        parties = private_parties(key)
        if parties is None:
            name = rooms.get(key, key)
        elif mine is not None and mine in parties:  # by account: named by the other account
            name = (parties[1] if parties[0] == mine else parties[0]).removeprefix(ACCOUNT_MARK)
        else:
            other = parties[1] if parties[0] == me else parties[0]
            online = hub.nicks.get(other)
            name = hub.nick_of(online) or other if online is not None else other
        out[name] = max(ts, out.get(name, ts))
    return tuple(sorted(out.items(), key=lambda item: item[1]))  # ascending, as the store gives them


class HistoryService:
    """Queries answered from the store: the connection waits, the hub does not."""

    def __init__(self, server: HistoryHost) -> None:
        self.server = server

    def query(self, conn: Connection, query: Query) -> None:
        self.server.metrics.history_queries += 1
        conn.pause()  # live messages from now on are held for after the answer ...
        hub = self.server.hub
        cap = hub.ids.mark(hub.clock())  # ... and the answer is history as it stood now
        self.server.spawn(self._answer(conn, query, cap))

    async def _answer(self, conn: Connection, query: Query, cap: str) -> None:
        shown: set[str] = set()
        try:
            for history in await self._histories(conn, query, cap):
                shown.update(m.msgid for m in history.messages)
                if not conn.closed:  # (stored clean; made safe again in case it was not)
                    conn.enqueue(conn.adapter.render(safe_event(history), {}))
        except Exception:
            conn.log.exception("history query failed")
            conn.close("internal error", abort=True)
        finally:
            conn.resume(shown)

    async def _histories(self, conn: Connection, query: Query, cap: str) -> list[History] | list[ChatHistoryReply]:
        """The answer, as history stood at ``cap`` where it counts from the newest
        end (``Capped``: what came later follows live, in order)."""
        server = self.server
        store, cfg, hub = server.store, server.config, server.hub
        nick = hub.nick_of(conn.sid)
        if nick is None:
            return []
        server.store_pending()
        await store.flush()  # what was delivered before the query is in the answer
        if isinstance(query, ChatHistory):
            reply = await answer(hub, store, conn.sid, query, cfg.history_max, cap)
            return [reply] if reply is not None else []
        if isinstance(query, Recall):
            departed = await store.departure(nick)
            # A user of a node that died: per room, after the seq its node's
            # delivery marks say it had received (transport/cluster/marks.py).
            seqs = await server.cluster.marks.departure_marks(nick) if departed and server.cluster is not None else {}
            rooms = departed[0] if departed else query.rooms
            for room in rooms:
                server.dispatch(conn, Join(room))
            joined = hub.rooms_of(conn.sid)
            reads = Capped(store, hub.ids.mark(hub.clock()))  # (joined just now: history up to here)
            if departed is not None:
                try:
                    await store.forget_departure(nick)
                except Exception as exc:  # a full disk must not cost the user its connection
                    log.error("cannot forget where %s left off: %s", nick, exc)
                keys = [room_key(r) for r in joined]
                # The newest history_max of what came after the mark (placed
                # by the store: in a cluster by seq, the order users saw):
                # per room all of it, or the newest that many if it has as
                # many (it may have more: left to /history); rooms merged by
                # msgid, each in its own order.
                parts, more, most = [], False, cfg.history_max
                for key in keys:
                    seq = seqs.get(key)
                    if seq is not None and server.cluster is not None:
                        newer = await server.cluster.marks.after_seq(key, seq, most)
                    else:
                        newer = await store.after(key, departed[1], most)
                    if len(newer) == most:
                        more, newer = True, await reads.latest(key, most)
                    parts.append(newer)
                found = merge(parts)
                more = more or len(found) > most
                return [History(None, "away", tuple(found[-cfg.history_max :]), more)]
            if not cfg.history_on_join:
                return []
            out = []
            for room in joined:
                found = await reads.latest(room_key(room), cfg.history_on_join)
                out.append(History(room, "join", tuple(found)))
            return out
        limit = min(query.limit or cfg.history_max, cfg.history_max)
        key = room_key(query.room)
        if key not in (room_key(r) for r in hub.rooms_of(conn.sid)):
            return []  # a room's history is for its members only (left, kicked, never let in)
        if query.mode == "since":
            since = hub.clock() - query.seconds
            found = await store.since(key, since, limit + 1)
            return [History(query.room, "since", tuple(found[:limit]), len(found) > limit, query.seconds)]
        found = await Capped(store, cap).latest(key, limit)
        return [History(query.room, query.mode, tuple(found))]
