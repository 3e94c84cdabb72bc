"""History kept in process memory: for tests and ``--db :memory:``.

Same contract as the SQLite store, so the shared test suite pins the
semantics of both. Appends are "durable" at once: on_commit fires inside
append, which lets the server deliver without waiting a loop turn.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from chinwag.core.accounts import Secrets
from chinwag.core.events import Message
from chinwag.core.names import casefold
from chinwag.core.roomstate import RoomState
from chinwag.storage.accounts import Account, account_key
from chinwag.storage.base import Departure, Receipt, conversation_key, event_key, room_key, visible

log = logging.getLogger("chinwag.storage")


def _msgid(m: Message) -> str:
    return m.msgid


def _ts(m: Message) -> float:
    return m.ts


class MemoryStore:
    """Per key, a list of messages in msgid order, searched by bisection."""

    def __init__(self) -> None:
        self.on_commit: Callable[[list[Receipt]], None] | None = None
        self.on_fail: Callable[[list[str]], None] | None = None  # (never: memory does not fill up)
        self.on_status: Callable[[str | None], None] | None = None
        self._msgs: dict[str, list[Message]] = {}
        # Keys whose ts never went backwards (the usual case): since() may
        # bisect on ts there; otherwise it scans.
        self._ts_sorted: dict[str, bool] = {}
        self._departures: dict[str, Departure] = {}
        self._rooms: dict[str, RoomState] = {}
        self._accounts: dict[str, Account] = {}
        self._markers: dict[str, dict[str, int]] = {}  # account -> target -> ms (casefolded keys)
        self._credentials: dict[tuple[str, str], tuple[str, float]] = {}  # (kind, value) -> (account key, expires)
        self._playback: dict[str, int | None] = {}  # account key -> its playback on join
        self._last: str | None = None
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    def append(self, msg: Message) -> None:
        if self._closed:
            raise RuntimeError("history store is closed")
        if msg.lines:  # as SQLite: a multi-line message is stored as its text
            msg = replace(msg, lines=())
        key = conversation_key(msg)
        self._insert(key, msg)
        if self.on_commit is not None:
            self.on_commit([Receipt(msg.msgid, key, 0)])

    def append_events(self, events: Sequence[Message]) -> asyncio.Future[None]:
        if self._closed:
            raise RuntimeError("history store is closed")
        for event in events:
            self._insert(event_key(event.target), event)
        return _done()

    def _insert(self, key: str, msg: Message) -> None:
        msgs = self._msgs.setdefault(key, [])
        if msgs and msgs[-1].ts > msg.ts:
            self._ts_sorted[key] = False
        else:
            self._ts_sorted.setdefault(key, True)
        if not msgs or msgs[-1].msgid < msg.msgid:
            msgs.append(msg)
        else:  # out of order: keep the list sorted anyway
            at = bisect_left(msgs, msg.msgid, key=_msgid)
            if at < len(msgs) and msgs[at].msgid == msg.msgid:
                # A reused id: like the SQLite store, keep the first, confirm anyway.
                log.error("msgid %s already stored under %s; the new message was not stored", msg.msgid, key)
            else:
                msgs.insert(at, msg)
                self._ts_sorted[key] = False
        if self._last is None or msg.msgid > self._last:
            self._last = msg.msgid

    async def flush(self) -> None:
        return None

    async def check_writable(self) -> None:
        return None  # memory does not fill up (the process would die first)

    async def close(self) -> None:
        self._closed = True

    # --- reads -----------------------------------------------------------

    async def latest(self, key: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        return self._msgs.get(key, [])[-limit:]

    async def before(self, key: str, msgid: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        msgs = self._msgs.get(key, [])
        end = bisect_left(msgs, msgid, key=_msgid)
        return msgs[max(0, end - limit) : end]

    async def after(self, key: str, msgid: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        msgs = self._msgs.get(key, [])
        start = bisect_right(msgs, msgid, key=_msgid)
        return msgs[start : start + limit]

    async def between(self, key: str, start_msgid: str, end_msgid: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        msgs = self._msgs.get(key, [])
        lo, hi = sorted((start_msgid, end_msgid))
        i = bisect_right(msgs, lo, key=_msgid)
        j = max(i, bisect_left(msgs, hi, key=_msgid))
        if start_msgid <= end_msgid:
            return msgs[i : min(j, i + limit)]
        return msgs[max(i, j - limit) : j]

    async def around(self, key: str, msgid: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        msgs = self._msgs.get(key, [])
        mid = bisect_left(msgs, msgid, key=_msgid)
        older = limit // 2
        return msgs[max(0, mid - older) : mid] + msgs[mid : mid + limit - older]

    async def since(self, key: str, ts: float, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        msgs = self._msgs.get(key, [])
        if self._ts_sorted.get(key, True):
            start = bisect_left(msgs, ts, key=_ts)
            return msgs[start : start + limit]
        found = sorted((m for m in msgs if m.ts >= ts), key=lambda m: (m.ts, m.msgid))[:limit]
        return sorted(found, key=_msgid)

    async def after_many(self, keys: Sequence[str], msgid: str, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        parts = [await self.after(key, msgid, limit) for key in dict.fromkeys(keys)]
        return list(heapq.merge(*parts, key=_msgid))[:limit]

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
        if limit <= 0:
            return []
        lo, hi = sorted((start_ts, end_ts))
        found = sorted(
            (msgs[-1].ts, key)
            for key, msgs in self._msgs.items()
            if msgs and lo < msgs[-1].ts < hi and visible(key, keys, nick, msgs[-1].msgid, private_after, account)
        )
        chosen = found[:limit] if start_ts <= end_ts else found[-limit:]
        return [(key, ts) for ts, key in chosen]

    async def find(self, keys: Sequence[str], msgid: str) -> tuple[str, Message] | None:
        for key in keys:
            msgs = self._msgs.get(key, [])
            at = bisect_left(msgs, msgid, key=_msgid)
            if at < len(msgs) and msgs[at].msgid == msgid:
                return key, msgs[at]
        return None

    async def redact(self, key: str, msgid: str) -> bool:
        msgs = self._msgs.get(key, [])
        at = bisect_left(msgs, msgid, key=_msgid)
        if at == len(msgs) or msgs[at].msgid != msgid:
            return False
        del msgs[at]
        if not msgs:
            del self._msgs[key]
            self._ts_sorted.pop(key, None)
        return True

    async def has_history(self, keys: Collection[str]) -> set[str]:
        return {key for key in keys if self._msgs.get(key)}

    async def last_msgid(self) -> str | None:
        return self._last

    # --- retention and departures ---------------------------------------

    async def prune(self, max_per_room: int, max_age_days: float, now: float) -> int:
        cutoff = now - max_age_days * 86400.0 if max_age_days > 0 else None
        deleted = 0
        for key in list(self._msgs):
            msgs = self._msgs[key]
            kept = msgs if cutoff is None else [m for m in msgs if m.ts >= cutoff]
            if max_per_room > 0:
                kept = kept[-max_per_room:]
            deleted += len(msgs) - len(kept)
            if kept:
                self._msgs[key] = kept
            else:
                del self._msgs[key]
                self._ts_sorted.pop(key, None)
        if cutoff is not None:
            for nick, (_, _, ts) in list(self._departures.items()):
                if ts < cutoff:
                    del self._departures[nick]
        return deleted

    async def record_departure(self, nick: str, rooms: Sequence[str], last_msgid: str, ts: float) -> None:
        self._departures[casefold(nick)] = (tuple(rooms), last_msgid, ts)

    async def departure(self, nick: str) -> Departure | None:
        return self._departures.get(casefold(nick))

    async def forget_departure(self, nick: str) -> None:
        self._departures.pop(casefold(nick), None)

    # --- room rules ----------------------------------------------------------

    async def load_rooms(self) -> list[RoomState]:
        return list(self._rooms.values())

    def save_room(self, state: RoomState) -> asyncio.Future[None]:
        self._rooms[room_key(state.name)] = state
        return _done()

    def delete_room(self, key: str) -> asyncio.Future[None]:
        self._rooms.pop(key, None)
        return _done()


    # --- accounts ------------------------------------------------------------

    async def create_account(self, account: Account) -> bool:
        if account.key in self._accounts:
            return False
        self._accounts[account.key] = account
        return True

    async def get_account(self, name: str) -> Account | None:
        return self._accounts.get(account_key(name))

    async def set_password(self, name: str, secrets: Secrets) -> bool:
        account = self._accounts.get(account_key(name))
        if account is None:
            return False
        self._accounts[account.key] = account.with_secrets(secrets)
        return True

    async def account_names(self) -> list[str]:
        return [account.name for account in self._accounts.values()]

    async def delete_account(self, name: str) -> bool:
        key = account_key(name)
        self._credentials = {k: v for k, v in self._credentials.items() if v[0] != key}
        self._playback.pop(key, None)
        return self._accounts.pop(key, None) is not None

    async def get_playback(self, name: str) -> int | None:
        return self._playback.get(account_key(name))

    async def set_playback(self, name: str, count: int | None) -> bool:
        key = account_key(name)
        if key not in self._accounts:
            return False
        self._playback[key] = count
        return True

    async def touch_account(self, name: str, ts: float) -> None:
        account = self._accounts.get(account_key(name))
        if account is not None:
            self._accounts[account.key] = replace(account, last_seen=ts)


    # --- read markers -----------------------------------------------------------

    async def read_marker(self, account: str, target: str) -> int | None:
        return self._markers.get(casefold(account), {}).get(casefold(target))

    async def set_read_marker(self, account: str, target: str, ms: int, most: int) -> int | None:
        markers = self._markers.setdefault(casefold(account), {})
        key = casefold(target)
        old = markers.get(key)
        if old is None and len(markers) >= most:
            return None
        if old is None or ms > old:
            markers[key] = ms
        return markers[key]
    async def add_credential(self, kind: str, value: str, name: str, expires: float, now: float) -> bool:
        key = account_key(name)
        self._credentials = {k: v for k, v in self._credentials.items() if not (v[0] == key and 0 < v[1] <= now)}
        if key not in self._accounts or (kind, value) in self._credentials:
            return False
        self._credentials[kind, value] = (key, expires)
        return True

    async def find_credential(self, kind: str, value: str, now: float) -> str | None:
        found = self._credentials.get((kind, value))
        if found is None or 0 < found[1] <= now:
            return None
        account = self._accounts.get(found[0])
        return account.name if account is not None else None

    async def delete_credential(self, kind: str, value: str, name: str | None = None) -> bool:
        found = self._credentials.get((kind, value))
        if found is None or (name is not None and found[0] != account_key(name)):
            return False
        del self._credentials[kind, value]
        return True

    async def list_credentials(self, kind: str, name: str) -> list[str]:
        key = account_key(name)
        mine = [(v[1], value) for (k, value), v in self._credentials.items() if k == kind and v[0] == key]
        mine.sort(key=lambda e: (e[0] != 0, -e[0], e[1]))  # forever first, then the latest expiry
        return [value for _, value in mine]


def _done() -> asyncio.Future[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done
