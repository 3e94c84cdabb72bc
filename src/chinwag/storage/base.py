"""The history store contract: what the server may ask of any backend.

Nothing outside ``chinwag.storage`` knows which backend is in use; the server
talks to :class:`HistoryStore` only, and :func:`chinwag.storage.open.open_store` picks the backend
from the ``postgres`` and ``db`` settings. Every message is appended before anyone receives it
and the store says when it is durable (``on_commit``), so a crash loses nothing
that was shown to anyone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from chinwag.core.events import Message
from chinwag.core.names import casefold
from chinwag.core.roomstate import RoomState
from chinwag.storage.accounts import AccountStore
from chinwag.storage.read_markers import ReadMarkerStore

PRIVATE_PREFIX = "@"
# Nicks cannot contain a comma (names.validate_nick), so "@a,b" splits back
# into exactly two names, and '@' never starts a room name.
_SEP = ","
ACCOUNT_MARK = "="  # before each name in a key by account (account_private_key)

Departure = tuple[tuple[str, ...], str, float]
"""(rooms as displayed, newest msgid assigned when the nick left, when it left)."""


class Receipt(NamedTuple):
    """A message made durable (``HistoryStore.on_commit``): its msgid, the key it
    is stored under (:func:`conversation_key`) and its per-conversation seq
    (1, 2, 3, ... with no gap, in PostgreSQL; 0 in SQLite and memory)."""

    msgid: str
    key: str
    seq: int


class StorageError(Exception):
    """The history database cannot be used; the message names the path and why."""


def room_key(room: str) -> str:
    """Rooms are stored under their casefolded name, so '#Chat' and '#chat' share history."""
    return casefold(room)


EVENT_PREFIX = "!"  # before a room key: where its events are kept (no room or private key starts so)


def event_key(room: str) -> str:
    """Where the events (joins, parts, ...) of ``room`` are stored, apart from its messages."""
    return EVENT_PREFIX + room_key(room)


def private_key(a: str, b: str) -> str:
    """One key for both directions of a private conversation: '@' + sorted casefolded pair."""
    x, y = sorted((casefold(a), casefold(b)))
    return f"{PRIVATE_PREFIX}{x}{_SEP}{y}"


def key_for(nick: str, target: str) -> str:
    """The key of the conversation ``nick`` has with ``target`` (a room or a nick)."""
    return room_key(target) if target.startswith("#") else private_key(nick, target)


def account_private_key(a: str, b: str) -> str:
    """The key of the private conversation of two accounts: '@=' + sorted
    casefolded names. '=' is in no nick, so no nick's key or party is ever
    equal to one of these (private_parties gives '=name', matching no nick)."""
    x, y = sorted((casefold(a), casefold(b)))
    return f"{PRIVATE_PREFIX}{ACCOUNT_MARK}{x}{_SEP}{ACCOUNT_MARK}{y}"


def conversation_key(msg: Message) -> str:
    """The key a message is stored under: by account when both parties of a
    private message were logged in, else by nick."""
    if msg.accounts is not None:
        return account_private_key(*msg.accounts)
    return key_for(msg.nick, msg.target)


def private_parties(key: str) -> tuple[str, str] | None:
    """The two casefolded nicks of a private key, or None for a room key."""
    if not key.startswith(PRIVATE_PREFIX):
        return None
    a, _, b = key[len(PRIVATE_PREFIX) :].partition(_SEP)
    return a, b


def visible(key: str, keys: Collection[str] | None, nick: str | None, last_msgid: str = "",
            private_after: str = "", account: str | None = None) -> bool:
    """The targets() filter: no filter at all, or in ``keys``, or a private key
    of ``nick`` whose latest message (``last_msgid``) is newer than ``private_after``,
    or a private key of ``account`` (account_private_key)."""
    if keys is None and nick is None and account is None:
        return True
    if keys is not None and key in keys:
        return True
    parties = private_parties(key)
    if parties is None:
        return False
    if account is not None and ACCOUNT_MARK + casefold(account) in parties:
        return True
    return nick is not None and casefold(nick) in parties and last_msgid > private_after


@runtime_checkable
class AppendsAll(Protocol):
    """A history store that also takes a tick's messages in one call (SQLite:
    one item on its writer's queue, not one per message). Optional: the
    server asks ``isinstance(store, AppendsAll)`` once, and calls ``append``
    for each message of a store without it."""

    def append_all(self, msgs: list[Message]) -> None:
        """``append`` of each of ``msgs``, in order, in one step."""


class HistoryStore(Protocol):
    """Durable, ordered message history plus departures for catch-up.

    Keys come from :func:`room_key` / :func:`private_key`. All reads return
    messages oldest first, in the conversation's order: its seq in PostgreSQL
    (the order a cluster delivers in), msgid order in SQLite and memory (one
    node: the same). A reference ``msgid`` is placed in that order: a message
    of the key at itself, any other id just after the last message whose msgid
    is at or below it. ``limit <= 0`` returns nothing. Reads see what has
    been committed (``await flush()`` first to include everything appended).
    """

    on_commit: Callable[[list[Receipt]], None] | None
    """Set before start(). Called on the event loop thread with a receipt for
    each of the appended messages that became durable, in append order (the
    next ones after those confirmed or given up before). The server holds
    messages back from delivery until this confirms them."""

    on_fail: Callable[[list[str]], None] | None
    """Set before start(). Called on the event loop thread with the msgids of
    the appended messages (the next ones in append order, as for on_commit) the
    store gave up on: not stored, so the server never delivers them and tells
    their senders. A store gives up only on writes that keep failing (a full
    disk) for its write timeout, or at close()."""

    on_status: Callable[[str | None], None] | None
    """Set before start(). Called on the event loop thread with what is wrong
    when writes start failing (the database's own words, e.g. "database or
    disk is full"), and with None once a write succeeds again."""

    async def start(self) -> None:
        """Open, create the schema, start any worker; StorageError if unusable."""
        ...

    def append(self, msg: Message) -> None:
        """Queue ``msg`` for storage without blocking; called in msgid order."""
        ...

    def append_events(self, events: Sequence[Message]) -> Awaitable[None]:
        """Queue room events (records whose ``kind`` is a core.events.EventKind,
        ``target`` the room) under :func:`event_key` of their room, in order
        with appends, without blocking. Not counted by on_commit (nobody waits
        for them); await to know they are durable. Read back with the usual
        reads on the event key; pruned as any conversation."""
        ...

    async def flush(self) -> None:
        """Return once everything appended so far is committed and confirmed."""
        ...

    async def check_writable(self) -> None:
        """A cheap real write (rolled back or undone, nothing visible), queued
        behind what is being written; raises with the backend's own words
        ("database or disk is full") if the store could not take a message.
        For /readyz: called at most every second or two."""
        ...

    async def close(self) -> None:
        """Flush, stop workers, close. The store cannot be used afterwards."""
        ...

    async def latest(self, key: str, limit: int) -> list[Message]:
        """The newest ``limit`` messages."""
        ...

    async def before(self, key: str, msgid: str, limit: int) -> list[Message]:
        """The newest ``limit`` messages strictly older than ``msgid``."""
        ...

    async def after(self, key: str, msgid: str, limit: int) -> list[Message]:
        """The oldest ``limit`` messages strictly newer than ``msgid``."""
        ...

    async def between(self, key: str, start_msgid: str, end_msgid: str, limit: int) -> list[Message]:
        """Messages strictly between the two ids, counted from ``start_msgid``.

        As IRCv3 BETWEEN: if start is the older id, the oldest ``limit`` win;
        if start is the newer one, the newest ``limit`` win.
        """
        ...

    async def around(self, key: str, msgid: str, limit: int) -> list[Message]:
        """``limit // 2`` messages older than ``msgid``, then ``msgid`` itself (if
        stored) and newer ones, ``limit`` in all at most."""
        ...

    async def since(self, key: str, ts: float, limit: int) -> list[Message]:
        """The earliest ``limit`` messages with ``ts >=`` the given time."""
        ...

    async def after_many(self, keys: Sequence[str], msgid: str, limit: int) -> list[Message]:
        """Catch-up across conversations: the oldest ``limit`` messages newer
        than ``msgid`` in any of ``keys``, merged in msgid order (each key's
        keeping its own order), each once."""
        ...

    async def targets(
        self,
        start_ts: float,
        end_ts: float,
        limit: int,
        *,
        keys: Collection[str] | None = None,
        nick: str | None = None,
        private_after: str = "",
        account: str | None = None,
    ) -> list[tuple[str, float]]:
        """(key, ts of its latest message) for conversations whose latest message
        is strictly between the two times, ascending by that time. With
        ``account``, that account's private conversations (by account) too.

        As IRCv3 CHATHISTORY TARGETS (BETWEEN semantics): counted from
        ``start_ts``, so if it is the later time the most recent ``limit`` win.
        With ``keys`` and/or ``nick`` only those keys and ``nick``'s private
        conversations whose latest msgid is above ``private_after`` are listed,
        so the limit counts only what the user may see.
        """
        ...

    async def find(self, keys: Sequence[str], msgid: str) -> tuple[str, Message] | None:
        """The message ``msgid`` stored under one of ``keys`` (the first key
        holding it), with that key; None if none holds it."""
        ...

    async def redact(self, key: str, msgid: str) -> bool:
        """Delete the message ``msgid`` of ``key`` (IRCv3 message redaction), durable
        when the await returns; False if it was not stored. Reads no longer return
        it, and the conversation's latest message (``targets``) is the one before."""
        ...

    async def has_history(self, keys: Collection[str]) -> set[str]:
        """Those of ``keys`` with at least one stored message (committed ones:
        ``await flush()`` first to count everything appended)."""
        ...

    async def last_msgid(self) -> str | None:
        """The newest stored msgid, so id generation can resume above it after a restart."""
        ...

    async def prune(self, max_per_room: int, max_age_days: float, now: float) -> int:
        """Delete messages beyond the newest ``max_per_room`` per key and those
        older than ``now - max_age_days``; 0 disables either rule. Departures
        older than the age limit go too. Returns the messages deleted."""
        ...

    async def record_departure(self, nick: str, rooms: Sequence[str], last_msgid: str, ts: float) -> None:
        """Remember where ``nick`` left off so the same name can catch up later."""
        ...

    async def departure(self, nick: str) -> Departure | None:
        """What record_departure stored for ``nick`` (casefolded), or None."""
        ...

    async def forget_departure(self, nick: str) -> None:
        """Drop the departure record for ``nick``; nothing if there is none."""
        ...


class RoomStore(Protocol):
    """The rules of rooms (core/roomstate.py), kept beyond their members.

    Keyed by :func:`room_key` of ``RoomState.name``. Writes are queued when
    called, in call order with every other write (``HistoryStore.append``
    included), and never block the caller; await the result to know the write
    is durable. PostgreSQL (storage/postgres/rooms.py) implements the same methods.
    A registered room's founder, op list (accounts) and quiets are part of its
    ``RoomState``: a backend stores and returns every field (SQLite: the
    ``rooms``, ``room_bans`` and ``room_ops`` tables, sqlite_rooms.py).
    """

    async def load_rooms(self) -> list[RoomState]:
        """Every room's stored rules (at start, before anyone connects)."""
        ...

    def save_room(self, state: RoomState) -> Awaitable[None]:
        """Store ``state`` in place of what its room had."""
        ...

    def delete_room(self, key: str) -> Awaitable[None]:
        """Forget the rules of room ``key``; nothing if it has none."""
        ...


class Store(HistoryStore, RoomStore, AccountStore, ReadMarkerStore, Protocol):
    """What the server needs of a backend: history, room rules, accounts and
    read markers, one database."""
