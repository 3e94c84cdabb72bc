"""IRCv3 CHATHISTORY selections, built on the :class:`HistoryStore` reads
(or a :class:`Floored` view of them, for a reader who may not see the start).

Within a conversation the store's order is the order: seq in PostgreSQL (the
order every node of a cluster delivered it in), msgid order (time order, see
core/hub.MessageIds) in SQLite and memory, where the two are the same. A msgid
reference is placed as the store places it (storage/base.py HistoryStore): a
message at itself, any other id (a mark) after the last message whose msgid is
at or below it. Nothing here sorts one conversation by msgid; only merging
two (a room's messages and its events) goes by msgid, each keeping its order.
A time reference is in whole milliseconds, as clients see times in the
``time`` tag: a message is "at" a millisecond if its tag shows that
millisecond, and every bound excludes what is at it (the spec's
"after and excluding").
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Protocol

from chinwag.core.events import ChatHistory, Message, MsgRef


class Reads(Protocol):
    """The :class:`~chinwag.storage.base.HistoryStore` reads a selection uses."""

    async def latest(self, key: str, limit: int) -> list[Message]: ...
    async def before(self, key: str, msgid: str, limit: int) -> list[Message]: ...
    async def after(self, key: str, msgid: str, limit: int) -> list[Message]: ...
    async def between(self, key: str, start_msgid: str, end_msgid: str, limit: int) -> list[Message]: ...
    async def around(self, key: str, msgid: str, limit: int) -> list[Message]: ...
    async def since(self, key: str, ts: float, limit: int) -> list[Message]: ...


def _cut(found: list[Message], ref: str) -> int:
    """Where ``ref`` falls in ``found`` (one conversation, the store's order):
    the index of the first message after it. A message of ``found`` is at
    itself; any other id after the last message whose msgid is at or below it
    (exact when ``found`` reaches that message, as a read up to the newest does)."""
    for i in range(len(found) - 1, -1, -1):
        if found[i].msgid == ref:
            return i + 1
    cut = 0
    for i, m in enumerate(found):
        if m.msgid <= ref:
            cut = i + 1
    return cut


def after_ref(found: list[Message], ref: str) -> list[Message]:
    """What of ``found`` (one conversation, the store's order) comes after ``ref``."""
    return found[_cut(found, ref) :]


def before_ref(found: list[Message], ref: str) -> list[Message]:
    """What of ``found`` (one conversation, the store's order) comes before ``ref``."""
    cut = _cut(found, ref)
    return found[: cut - 1 if cut and found[cut - 1].msgid == ref else cut]


def merge(parts: list[list[Message]]) -> list[Message]:
    """Several conversations' messages in one list: by msgid across them, each
    keeping its own order (heapq.merge only ever takes a part's head)."""
    return list(heapq.merge(*parts, key=lambda m: m.msgid))


class Floored:
    """``store``'s reads, seeing only what comes after ``floor`` (an id no
    message has: where the reader's nick began), placed as the store places it.

    What is hidden is always the oldest part of a conversation: reads that
    count from the newest end simply lose it; reads that count from the
    oldest end start at the floor, so they still fill their limit from what
    is visible.
    """

    def __init__(self, store: Reads, floor: str) -> None:
        self.store = store
        self.floor = floor

    def _keep(self, found: list[Message]) -> list[Message]:
        return after_ref(found, self.floor)

    async def latest(self, key: str, limit: int) -> list[Message]:
        return self._keep(await self.store.latest(key, limit))

    async def before(self, key: str, msgid: str, limit: int) -> list[Message]:
        return self._keep(await self.store.before(key, msgid, limit))

    async def after(self, key: str, msgid: str, limit: int) -> list[Message]:
        found = await self.store.after(key, msgid, limit)
        if len(self._keep(found)) < len(found):  # msgid is below the floor: start at the floor
            return await self.store.after(key, self.floor, limit)
        return found

    async def between(self, key: str, start_msgid: str, end_msgid: str, limit: int) -> list[Message]:
        # The older bound moves up to the floor (an id no message has), so a
        # selection counted from it is still ``limit`` long.
        if start_msgid <= end_msgid:
            start_msgid = max(start_msgid, self.floor)
        else:
            end_msgid = max(end_msgid, self.floor)
        return self._keep(await self.store.between(key, start_msgid, end_msgid, limit))

    async def around(self, key: str, msgid: str, limit: int) -> list[Message]:
        return self._keep(await self.store.around(key, msgid, limit))

    async def since(self, key: str, ts: float, limit: int) -> list[Message]:
        found = await self.store.since(key, ts, limit)
        if len(self._keep(found)) < len(found):  # some are below the floor: start at the floor
            found = [m for m in await self.store.after(key, self.floor, limit) if m.ts >= ts]
        return found


class Capped:
    """``store``'s reads as they stood at ``cap`` (``MessageIds.mark``: when a
    query began): the reads that count from the newest end count from there.

    Messages after the cap reach the asker live once the answer is shown (the
    connection holds them meanwhile, transport/history.py). Were a read taken
    late, under load, to count the newest ``limit`` from the top, it would show
    those later messages as history and leave the older ones it skipped to
    follow it live: out of order. Reads that count from a given point or from
    the oldest end cannot skip any, so they are left as they are (a message
    both in the answer and held is shown once, in the answer).
    """

    def __init__(self, store: Reads, cap: str) -> None:
        self.store = store
        self.cap = cap

    async def latest(self, key: str, limit: int) -> list[Message]:
        return await self.store.before(key, self.cap, limit)

    async def before(self, key: str, msgid: str, limit: int) -> list[Message]:
        return await self.store.before(key, min(msgid, self.cap), limit)

    async def after(self, key: str, msgid: str, limit: int) -> list[Message]:
        return await self.store.after(key, msgid, limit)

    async def between(self, key: str, start_msgid: str, end_msgid: str, limit: int) -> list[Message]:
        return await self.store.between(key, start_msgid, end_msgid, limit)

    async def around(self, key: str, msgid: str, limit: int) -> list[Message]:
        return await self.store.around(key, msgid, limit)

    async def since(self, key: str, ts: float, limit: int) -> list[Message]:
        return await self.store.since(key, ts, limit)


def ms(ts: float) -> int:
    """The millisecond a time tag shows for ``ts`` (datetime rounds to µs, the tag truncates)."""
    return round(ts * 1_000_000) // 1000


def _seconds(at_ms: int) -> float:
    """A time just below ``at_ms`` (so ``since`` includes it despite float rounding)."""
    return (at_ms * 1000 - 1) / 1_000_000


def _newer(ref: MsgRef) -> Callable[[list[Message]], list[Message]]:
    """What of a list (one conversation, the store's order) comes after ``ref``."""
    if ref.ms is not None:
        at = ref.ms
        return lambda found: [m for m in found if ms(m.ts) > at]
    return lambda found: after_ref(found, ref.msgid)


def _older(ref: MsgRef) -> Callable[[list[Message]], list[Message]]:
    """What of a list (one conversation, the store's order) comes before ``ref``."""
    if ref.ms is not None:
        at = ref.ms
        return lambda found: [m for m in found if ms(m.ts) < at]
    return lambda found: before_ref(found, ref.msgid)


async def _first_from(store: Reads, key: str, at_ms: int) -> Message | None:
    """The first message at or after millisecond ``at_ms``."""
    found = await store.since(key, _seconds(at_ms), 4)
    return next((m for m in found if ms(m.ts) >= at_ms), None)


async def before(store: Reads, key: str, ref: MsgRef, limit: int) -> list[Message]:
    if ref.ms is None:
        return await store.before(key, ref.msgid, limit)
    first = await _first_from(store, key, ref.ms)
    found = await (store.before(key, first.msgid, limit) if first else store.latest(key, limit))
    return _older(ref)(found)


async def after(store: Reads, key: str, ref: MsgRef, limit: int) -> list[Message]:
    if ref.ms is None:
        return await store.after(key, ref.msgid, limit)
    found = await store.since(key, _seconds(ref.ms + 1), limit + 2)
    return _newer(ref)(found)[:limit]


async def select(store: Reads, key: str, q: ChatHistory, limit: int) -> list[Message]:
    """The messages a CHATHISTORY query selects from conversation ``key``, oldest first."""
    start = q.start
    if q.verb == "latest":
        if start.msgid and start.ms is None:
            # Placed by the store: all that came after it, or, if that is
            # ``limit`` or more, the newest ``limit`` (all after it then).
            newer = await store.after(key, start.msgid, limit)
            return newer if len(newer) < limit else await store.latest(key, limit)
        found = await store.latest(key, limit)
        return _newer(start)(found) if start.ms is not None else found
    if q.verb == "before":
        return await before(store, key, start, limit)
    if q.verb == "after":
        return await after(store, key, start, limit)
    if q.verb == "around":
        if start.ms is None:
            return await store.around(key, start.msgid, limit)
        first = await _first_from(store, key, start.ms)
        return await (store.around(key, first.msgid, limit) if first else store.latest(key, limit // 2))
    if q.verb == "between" and q.end is not None:
        end = q.end
        if start.ms is None and end.ms is None:
            return await store.between(key, start.msgid, end.msgid, limit)
        # Counted from start, towards end in whichever direction it lies: at
        # most one of the two directions finds anything.
        forward = _older(end)(await after(store, key, start, limit))
        if forward:
            return forward
        return _newer(end)(await before(store, key, start, limit))
    raise ValueError(f"not a message selection: {q.verb}")


def _forward(q: ChatHistory) -> bool:
    """Does a BETWEEN count from the older end (start older than end)?"""
    start, end = q.start, q.end
    if end is None:
        return True
    if start.ms is not None and end.ms is not None:
        return start.ms < end.ms
    if start.msgid and end.msgid:
        return start.msgid < end.msgid
    return True


async def select_with_events(store: Reads, key: str, events_key: str, q: ChatHistory, limit: int) -> list[Message]:
    """``select`` over a room's messages and its events (draft/event-playback),
    merged in id order (each keeping the store's order) and cut to ``limit``
    from the end the query counts from."""
    found = merge([await select(store, key, q, limit), await select(store, events_key, q, limit)])
    if len(found) <= limit:
        return found
    if q.verb in ("latest", "before") or (q.verb == "between" and not _forward(q)):
        return found[-limit:]
    if q.verb == "around":
        cut = (len(found) - limit) // 2
        return found[cut : cut + limit]
    return found[:limit]
