"""IRCv3 CHATHISTORY selections, built on the :class:`HistoryStore` reads.

Messages are ordered by msgid (which is time order, see core/hub.MessageIds).
A time reference is in whole milliseconds, as clients see times in the
``time`` tag: a message is "at" a millisecond if its tag shows that
millisecond, and every bound excludes what is at it (the spec's
"after and excluding").
"""

from __future__ import annotations

from collections.abc import Callable

from chinwag.core.events import ChatHistory, Message, MsgRef
from chinwag.storage.base import HistoryStore


def ms(ts: float) -> int:
    """The millisecond a time tag shows for ``ts`` (datetime rounds to µs, the tag truncates)."""
    return round(ts * 1_000_000) // 1000


def _seconds(at_ms: int) -> float:
    """A time just below ``at_ms`` (so ``since`` includes it despite float rounding)."""
    return (at_ms * 1000 - 1) / 1_000_000


def _newer(ref: MsgRef) -> Callable[[Message], bool]:
    if ref.ms is not None:
        at = ref.ms
        return lambda m: ms(m.ts) > at
    return lambda m: m.msgid > ref.msgid


def _older(ref: MsgRef) -> Callable[[Message], bool]:
    if ref.ms is not None:
        at = ref.ms
        return lambda m: ms(m.ts) < at
    return lambda m: m.msgid < ref.msgid


async def _first_from(store: HistoryStore, key: str, at_ms: int) -> Message | None:
    """The first message at or after millisecond ``at_ms``."""
    found = await store.since(key, _seconds(at_ms), 4)
    return next((m for m in found if ms(m.ts) >= at_ms), None)


async def before(store: HistoryStore, key: str, ref: MsgRef, limit: int) -> list[Message]:
    if ref.ms is None:
        return await store.before(key, ref.msgid, limit)
    first = await _first_from(store, key, ref.ms)
    found = await (store.before(key, first.msgid, limit) if first else store.latest(key, limit))
    return [m for m in found if _older(ref)(m)]


async def after(store: HistoryStore, key: str, ref: MsgRef, limit: int) -> list[Message]:
    if ref.ms is None:
        return await store.after(key, ref.msgid, limit)
    found = await store.since(key, _seconds(ref.ms + 1), limit + 2)
    return [m for m in found if _newer(ref)(m)][:limit]


async def select(store: HistoryStore, key: str, q: ChatHistory, limit: int) -> list[Message]:
    """The messages a CHATHISTORY query selects from conversation ``key``, oldest first."""
    start = q.start
    if q.verb == "latest":
        found = await store.latest(key, limit)
        if start.msgid or start.ms is not None:
            keep = _newer(start)
            found = [m for m in found if keep(m)]
        return found
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
        forward = [m for m in await after(store, key, start, limit) if _older(end)(m)]
        if forward:
            return forward
        return [m for m in await before(store, key, start, limit) if _newer(end)(m)]
    raise ValueError(f"not a message selection: {q.verb}")
