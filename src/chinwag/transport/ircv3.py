"""REDACT and MARKREAD on the server side: the queries of core/types/ircv3.py,
answered with the history store.

Each pauses its connection's input (live traffic goes on reaching it) while a
task talks to the store, as account commands do (transport/accounts.py):

* ``Redact``: the message is looked up where its requester's history is
  (the room, or the private conversation by nick and, when both are logged
  in, by account); the hub decides (core/handlers/redaction.py); when it allows it,
  the message leaves the history store first, then everyone a message to the
  target reaches now hears ``Redacted`` (IRC: REDACT to clients with
  draft/message-redaction; text users see a line).
* ``MarkRead``: read markers are per account (storage/read_markers.py). A
  connection that is not logged in has none: it is told so, and on JOIN gets
  ``*``. A marker set later than now is set to now; one that moved is sent
  to every connection logged in to the account, otherwise only to the asker.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chinwag.core.events import Failed, Outbound
from chinwag.core.handlers import users
from chinwag.core.names import casefold, is_room
from chinwag.core.types.ircv3 import MarkRead, ReadMarker, Redact, Redacted, Redaction, StandardReplyError
from chinwag.storage.base import private_key, room_key
from chinwag.transport.history import account_key, read_mark

if TYPE_CHECKING:
    from chinwag.transport.connection import Connection
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag.server")

V3_QUERIES = (Redact, MarkRead)


class V3Service:
    def __init__(self, server: Server) -> None:
        self.server = server

    def handle(self, conn: Connection, query: Redact | MarkRead) -> None:
        conn.pause(gate=False)  # input only: live traffic goes on reaching it
        self.server.spawn(self._run(conn, query))  # (shutdown waits for it)

    async def _run(self, conn: Connection, query: Redact | MarkRead) -> None:
        try:
            if isinstance(query, Redact):
                await self._redact(conn, query)
            else:
                await self._mark(conn, query)
        except Exception:
            conn.log.exception("%s failed", type(query).__name__)
            if isinstance(query, MarkRead):
                self._fail(conn, "markread", StandardReplyError(
                    "MARKREAD", "INTERNAL_ERROR", (query.target,), "The read timestamp could not be set"))
        finally:
            conn.resume(set())

    def _fail(self, conn: Connection, command: str, error: StandardReplyError) -> None:
        if not conn.closed:
            self.server.deliver([Outbound((conn.sid,), Failed(error, command))], conn.sid)

    # --- REDACT -------------------------------------------------------------------------

    async def _redact(self, conn: Connection, query: Redact) -> None:
        server, hub, store = self.server, self.server.hub, self.server.store
        nick = hub.nick_of(conn.sid)
        if nick is None:
            return
        if is_room(query.target):
            keys = [room_key(query.target)]
        else:
            keys = [private_key(nick, query.target)]
            by_account = await account_key(hub, store, conn.sid, query.target)
            if by_account is not None:
                keys.insert(0, by_account)
        server.store_pending()
        await store.flush()  # a message just sent can be redacted
        found = await store.find(keys, query.msgid) if query.msgid else None
        by_nick = not is_room(query.target) and found is not None and found[0] == keys[-1]
        if by_nick and query.msgid <= read_mark(hub, conn.sid):
            found = None  # by nick, from before it took its nick: not its conversation (as CHATHISTORY)
        author = found[1].nick if found is not None else ""
        if conn.closed:
            return
        outbound = hub.handle(conn.sid, Redaction(query.target, query.msgid, query.reason, author))
        if found is not None and any(type(out.event) is Redacted for out in outbound):
            if not await store.redact(found[0], query.msgid):
                log.warning("message %s was already gone from %s", query.msgid, found[0])
            event = next(out.event for out in outbound if type(out.event) is Redacted)
            assert isinstance(event, Redacted)
            log.info("%s redacted %s (by %s) in %s", event.nick, event.redacted, event.author, event.target)
        server.deliver(outbound, conn.sid)

    # --- MARKREAD -------------------------------------------------------------------------

    async def _mark(self, conn: Connection, query: MarkRead) -> None:
        server, hub = self.server, self.server.hub
        session = hub.session_of(conn.sid)  # (an attached connection's is its user's)
        if session is None or session.nick is None:
            return
        account = session.account
        if account is None:
            if query.join:
                server.deliver([Outbound((conn.sid,), ReadMarker(query.target, None, join=True))], conn.sid)
            else:
                self._fail(conn, "markread", StandardReplyError(
                    "MARKREAD", "ACCOUNT_REQUIRED", (query.target,), "Read markers are kept for accounts: log in"))
            return
        store = server.store
        if query.ms is None:
            ms = await store.read_marker(account, query.target)
            # A JOIN's marker goes to every connection of the user: the JOIN reaches them all
            # (an attached device, core/handlers/users.py), each with its MARKREAD (render_joined).
            asked = users.connections_of(hub, users.user_of(hub, conn.sid)) if query.join else [conn.sid]
            server.deliver([Outbound(asked, ReadMarker(query.target, ms, query.join))], conn.sid)
            return
        before = await store.read_marker(account, query.target)
        # Clamped to now: a marker in the future would hide messages yet to come.
        wanted = min(query.ms, int(hub.clock() * 1000))
        ms = await store.set_read_marker(account, query.target, wanted, server.config.limits.read_markers_max)
        if ms is None:
            self._fail(conn, "markread", StandardReplyError(
                "MARKREAD", "INTERNAL_ERROR", (query.target, "TOO_MANY_TARGETS"),
                f"The read timestamp could not be set: at most {server.config.limits.read_markers_max} targets"))
            return
        if ms == before:  # not moved (an older time): the stored one, to the asker only
            to: list[int] = [conn.sid]
        else:
            folded = casefold(account)
            to = [c for sid, s in hub.sessions.items() if s.account is not None and casefold(s.account) == folded
                  for c in users.connections_of(hub, sid)]
        server.deliver([Outbound(to, ReadMarker(query.target, ms))], conn.sid)
