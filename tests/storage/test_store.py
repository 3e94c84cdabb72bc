"""One suite for every HistoryStore, so the backends cannot drift apart.

Messages get ids from the hub's own MessageIds and times from a fake clock
that ticks one second per message unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from chinwag.core.events import Message
from chinwag.core.hub import MessageIds
from chinwag.storage import sqlite as sqlite_module
from chinwag.storage.base import (
    AppendsAll,
    HistoryStore,
    Receipt,
    StorageError,
    conversation_key,
    event_key,
    key_for,
    private_key,
    private_parties,
    room_key,
)
from chinwag.storage.memory import MemoryStore
from chinwag.storage.open import open_store
from chinwag.storage.postgres import PostgresStore
from chinwag.storage.postgres import history as pg_history
from chinwag.storage.sqlite import SqliteStore

T0 = 1_700_000_000.0
DAY = 86400.0
ROOM = "#room"
KEY = room_key(ROOM)


class History:
    """A store under test, the hub's id generator, a clock and what on_commit saw."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.ids = MessageIds()
        self.now = T0
        self.sent: list[Message] = []
        self.commits: list[int] = []  # how many each on_commit confirmed
        self.receipts: list[Receipt] = []
        self.commit_threads: set[int] = set()
        store.on_commit = self._committed

    def _committed(self, receipts: list[Receipt]) -> None:
        self.commits.append(len(receipts))
        self.receipts.extend(receipts)
        self.commit_threads.add(threading.get_ident())

    def say(self, target: str = ROOM, nick: str = "alice", *, ts: float | None = None) -> Message:
        self.now = self.now + 1.0 if ts is None else ts
        msg = Message(self.ids.next(self.now), self.now, nick, target, f"m{len(self.sent)}", "privmsg")
        self.store.append(msg)
        self.sent.append(msg)
        return msg

    def many(self, n: int, target: str = ROOM, nick: str = "alice") -> list[Message]:
        return [self.say(target, nick) for _ in range(n)]

    async def settled(self) -> None:
        await self.store.flush()
        assert sum(self.commits) == len(self.sent)
        # one receipt per message, in append order, with the key it is stored under
        assert [(r.msgid, r.key) for r in self.receipts] == [(m.msgid, conversation_key(m)) for m in self.sent]


def new_store(kind: str, path: Path, request: pytest.FixtureRequest) -> HistoryStore:
    if kind == "postgres":
        return PostgresStore(request.getfixturevalue("pg_url"))
    return MemoryStore() if kind == "memory" else SqliteStore(path)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def h(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[History]:
    history = History(new_store(request.param, tmp_path / "history.db", request))
    await history.store.start()
    yield history
    await history.store.close()


def ids(msgs: list[Message]) -> list[str]:
    return [m.msgid for m in msgs]


# --- keys ----------------------------------------------------------------


def test_room_key_is_casefolded() -> None:
    assert room_key("#Chat[1]") == room_key("#chat{1}") == "#chat{1}"


def test_private_key_is_the_same_both_ways_and_casefolded() -> None:
    assert private_key("Alice", "bob") == private_key("BOB", "alice") == "@alice,bob"
    assert private_key("a[b]", "z") == private_key("Z", "A{B}")
    assert private_parties("@alice,bob") == ("alice", "bob")
    assert private_parties("#room") is None


def test_conversation_key_of_messages() -> None:
    to_bob = Message("1", T0, "Alice", "bob", "hi", "privmsg")
    to_alice = Message("2", T0, "Bob", "ALICE", "hi", "privmsg")
    in_room = Message("3", T0, "Alice", "#Room", "hi", "privmsg")
    assert conversation_key(to_bob) == conversation_key(to_alice) == key_for("bob", "alice")
    assert conversation_key(in_room) == key_for("anyone", "#ROOM") == "#room"
    # A private key can never collide with a room key.
    assert not conversation_key(to_bob).startswith("#")


def test_open_store_chooses_by_db(tmp_path: Path) -> None:
    assert isinstance(open_store(":memory:"), MemoryStore)
    assert isinstance(open_store(str(tmp_path / "x.db")), SqliteStore)
    # A PostgreSQL URL wins over db (nothing is opened before start()).
    assert isinstance(open_store(str(tmp_path / "x.db"), postgres="postgresql://u@127.0.0.1:1/d"), PostgresStore)


# --- appending and confirmation -------------------------------------------


async def test_ids_stay_ordered_even_if_the_clock_steps_back(h: History) -> None:
    for i in range(30):
        h.say(ts=T0 + (i % 7) - 3 * (i % 2))  # the clock wanders
    await h.settled()
    got = await h.store.latest(KEY, 100)
    assert got == h.sent
    assert ids(got) == sorted(ids(got))
    assert len(set(ids(got))) == 30


async def test_on_commit_counts_sum_to_appends_on_the_loop_thread(h: History) -> None:
    h.many(500)
    h.many(20, "#other")
    h.say("bob")
    await h.settled()
    assert all(n > 0 for n in h.commits)
    assert h.commit_threads == {threading.get_ident()}


async def test_memory_store_confirms_inside_append() -> None:
    history = History(MemoryStore())
    await history.store.start()
    history.say()
    assert history.commits == [1]


async def test_sqlite_takes_a_ticks_messages_in_one_queue_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """append_all (storage.base.AppendsAll): one item on the writer's queue for a
    tick's messages, stored and confirmed in order among single appends."""
    monkeypatch.setattr(sqlite_module, "BATCH_MAX", 3)  # (a commit ends after 3 messages, or one whole list)
    history = History(SqliteStore(tmp_path / "history.db"))
    assert isinstance(history.store, AppendsAll)
    assert not isinstance(MemoryStore(), AppendsAll)  # (the server appends one by one there)
    puts: list[object] = []

    class Counted(queue.Queue[object]):
        def put(self, item: object, block: bool = True, timeout: float | None = None) -> None:
            puts.append(item)
            super().put(item, block, timeout)

    history.store._queue = Counted()  # type: ignore[assignment]
    await history.store.start()
    try:
        history.say()
        tick = []
        for n in range(5):
            history.now += 1.0
            tick.append(Message(history.ids.next(history.now), history.now, "bob", ROOM, f"t{n}", "privmsg"))
        history.store.append_all(tick)
        history.sent.extend(tick)
        history.say("#other")
        assert len(puts) == 3  # one for the five
        await history.settled()
        assert await history.store.latest(KEY, 10) == history.sent[:6]
        assert [m.text for m in await history.store.latest(room_key("#other"), 10)] == ["m6"]
    finally:
        await history.store.close()


async def test_flush_makes_everything_appended_readable(h: History) -> None:
    sent = h.many(10)
    await h.store.flush()
    assert sum(h.commits) == 10
    assert await h.store.latest(KEY, 10) == sent


async def test_burst_of_20k_appends_all_retrievable(h: History) -> None:
    for i in range(20_000):
        h.say("#a" if i % 2 else "#b")
    await h.settled()
    a = await h.store.latest("#a", 20_000)
    b = await h.store.latest("#b", 20_000)
    assert len(a) == len(b) == 10_000
    assert sorted(ids(a) + ids(b)) == ids(h.sent)


async def test_reused_msgid_keeps_the_first_and_still_confirms(h: History, caplog: pytest.LogCaptureFixture) -> None:
    first = h.say()
    again = Message(first.msgid, first.ts, "mallory", ROOM, "impostor", "privmsg")
    with caplog.at_level(logging.ERROR, logger="chinwag.storage"):
        h.store.append(again)
        h.sent.append(again)
        h.say()
        await h.settled()
    got = await h.store.latest(KEY, 10)
    assert [m.text for m in got] == [first.text, h.sent[-1].text]
    assert "already stored" in caplog.text


# --- reads ---------------------------------------------------------------


async def test_latest(h: History) -> None:
    sent = h.many(10)
    h.many(3, "#other")
    await h.settled()
    assert await h.store.latest(KEY, 3) == sent[-3:]
    assert await h.store.latest(KEY, 100) == sent
    assert await h.store.latest(KEY, 0) == []
    assert await h.store.latest("#nowhere", 5) == []


async def test_before_is_strict_and_keeps_the_newest(h: History) -> None:
    sent = h.many(10)
    await h.settled()
    assert await h.store.before(KEY, sent[5].msgid, 3) == sent[2:5]
    assert await h.store.before(KEY, sent[5].msgid, 100) == sent[:5]
    assert await h.store.before(KEY, sent[0].msgid, 5) == []
    assert await h.store.before(KEY, "f" * 16, 2) == sent[-2:]
    assert await h.store.before(KEY, sent[5].msgid, 0) == []


async def test_after_is_strict_and_keeps_the_oldest(h: History) -> None:
    sent = h.many(10)
    await h.settled()
    assert await h.store.after(KEY, sent[5].msgid, 2) == sent[6:8]
    assert await h.store.after(KEY, sent[5].msgid, 100) == sent[6:]
    assert await h.store.after(KEY, sent[-1].msgid, 5) == []
    assert await h.store.after(KEY, "0" * 16, 2) == sent[:2]


async def test_ids_that_were_never_stored_still_order(h: History) -> None:
    sent = h.many(4)
    await h.settled()
    gap = sent[1].msgid[:-1] + "f"  # after sent[1], before sent[2]
    assert sent[1].msgid < gap < sent[2].msgid
    assert await h.store.before(KEY, gap, 5) == sent[:2]
    assert await h.store.after(KEY, gap, 5) == sent[2:]


async def test_an_id_of_another_conversation_is_placed_by_its_id(h: History) -> None:
    # A reference need not be a message of the key read (a departure mark, a
    # nick's mark, another room's message): it falls after the last message at
    # or below it, in every backend (PostgreSQL: by seq, see test_pg_seq.py).
    sent = h.many(6)
    elsewhere = [h.say("#other") for _ in range(2)]
    late = h.many(2)
    await h.settled()
    ref = elsewhere[0].msgid
    assert await h.store.after(KEY, ref, 10) == late
    assert await h.store.before(KEY, ref, 2) == sent[-2:]
    assert await h.store.around(KEY, ref, 4) == sent[-2:] + late
    assert await h.store.between(KEY, ref, late[1].msgid, 10) == late[:1]
    assert await h.store.between(KEY, late[1].msgid, ref, 10) == late[:1]
    assert await h.store.between(KEY, sent[3].msgid, ref, 10) == sent[4:]
    assert await h.store.between(KEY, ref, sent[3].msgid, 1) == sent[5:]
    assert await h.store.after_many([KEY, "#other"], ref, 10) == [elsewhere[1], *late]


async def test_room_events_are_read_as_messages_under_their_event_key(h: History) -> None:
    h.many(2)
    events = [Message(h.ids.next(h.now + i), h.now + i, "bob", ROOM, "", "join") for i in range(1, 5)]
    await h.store.append_events(events[:2])
    await h.store.append_events(events[2:])
    await h.settled()
    assert await h.store.latest(event_key(ROOM), 10) == events
    assert await h.store.after(event_key(ROOM), events[1].msgid, 10) == events[2:]
    assert await h.store.before(event_key(ROOM), events[1].msgid, 10) == events[:1]
    assert await h.store.between(event_key(ROOM), events[3].msgid, events[0].msgid, 10) == events[1:3]


async def test_between_excludes_both_ends_and_counts_from_the_start(h: History) -> None:
    sent = h.many(10)
    await h.settled()
    first, last = sent[1].msgid, sent[8].msgid
    assert await h.store.between(KEY, first, last, 100) == sent[2:8]
    assert await h.store.between(KEY, first, last, 2) == sent[2:4]
    # Backwards: counted from the newer end, still returned oldest first.
    assert await h.store.between(KEY, last, first, 2) == sent[6:8]
    assert await h.store.between(KEY, last, first, 100) == sent[2:8]
    assert await h.store.between(KEY, first, first, 5) == []
    assert await h.store.between(KEY, sent[3].msgid, sent[4].msgid, 5) == []
    assert await h.store.between(KEY, first, last, 0) == []


async def test_around(h: History) -> None:
    sent = h.many(20)
    await h.settled()
    mid = sent[10].msgid
    assert await h.store.around(KEY, mid, 5) == sent[8:13]  # 2 before, itself, 2 after
    assert await h.store.around(KEY, mid, 4) == sent[8:12]
    assert await h.store.around(KEY, mid, 1) == [sent[10]]
    assert await h.store.around(KEY, sent[0].msgid, 5) == sent[0:3]  # nothing older
    assert await h.store.around(KEY, sent[-1].msgid, 5) == sent[-3:]  # nothing newer
    gap = sent[10].msgid[:-1] + "f"  # not stored: the halves meet at the gap
    assert await h.store.around(KEY, gap, 4) == sent[9:13]
    assert await h.store.around(KEY, mid, 0) == []


async def test_since_is_inclusive_and_keeps_the_oldest(h: History) -> None:
    sent = [h.say(ts=T0 + i * 10) for i in range(10)]
    await h.settled()
    assert await h.store.since(KEY, T0 + 50, 100) == sent[5:]
    assert await h.store.since(KEY, T0 + 45, 2) == sent[5:7]
    assert await h.store.since(KEY, T0 + 1000, 5) == []
    assert await h.store.since(KEY, 0, 3) == sent[:3]
    assert await h.store.since(KEY, T0, 0) == []


async def test_since_when_the_clock_stepped_back(h: History) -> None:
    a = h.say(ts=T0 + 100)
    b = h.say(ts=T0 + 10)  # later id, earlier time
    c = h.say(ts=T0 + 200)
    await h.settled()
    assert await h.store.since(KEY, T0 + 50, 10) == [a, c]
    assert await h.store.since(KEY, T0, 10) == [a, b, c]


async def test_private_history_is_shared_by_both_sides(h: History) -> None:
    out = h.say("Bob", "alice")
    back = h.say("ALICE", "bob")
    h.say("carol", "alice")
    await h.settled()
    assert await h.store.latest(private_key("bob", "Alice"), 10) == [out, back]
    assert await h.store.latest(key_for("Bob", "alice"), 10) == [out, back]


async def test_after_many_merges_rooms_in_order_each_once(h: History) -> None:
    mark = h.say("#a").msgid
    sent = [h.say(target) for target in ["#a", "#b", "bob", "#a", "#c", "#b", "#a"]]
    await h.settled()
    keys = ["#a", "#b", private_key("alice", "bob"), "#a"]
    want = [m for m in sent if m.target != "#c"]
    assert await h.store.after_many(keys, mark, 100) == want
    assert await h.store.after_many(keys, mark, 3) == want[:3]
    assert await h.store.after_many(["#nowhere"], mark, 10) == []
    assert await h.store.after_many([], mark, 10) == []
    assert await h.store.after_many(keys, mark, 0) == []


async def test_after_many_interleaves_many_rooms(h: History) -> None:
    rooms = [f"#r{i}" for i in range(7)]
    mark = h.say("#r0").msgid
    sent = [h.say(rooms[i % 7]) for i in range(30)]
    await h.settled()
    assert await h.store.after_many(rooms, mark, 100) == sent
    assert await h.store.after_many(rooms, mark, 11) == sent[:11]


async def test_targets_lists_latest_activity_in_time_order(h: History) -> None:
    h.say("#a", ts=T0 + 1)
    h.say("#b", ts=T0 + 2)
    h.say("bob", ts=T0 + 3)
    h.say("#c", ts=T0 + 4)
    h.say("#a", ts=T0 + 5)  # #a's latest is now T0+5
    h.say("carol", "dave", ts=T0 + 6)
    await h.settled()
    ab = private_key("alice", "bob")
    cd = private_key("carol", "dave")
    everything = [("#b", T0 + 2), (ab, T0 + 3), ("#c", T0 + 4), ("#a", T0 + 5), (cd, T0 + 6)]
    assert await h.store.targets(T0, T0 + 100, 100) == everything
    assert await h.store.targets(T0, T0 + 100, 2) == everything[:2]
    # Counted from the first timestamp, as IRCv3 BETWEEN: later first means newest win.
    assert await h.store.targets(T0 + 100, T0, 2) == everything[-2:]
    # Both bounds exclusive.
    assert await h.store.targets(T0 + 2, T0 + 5, 100) == everything[1:3]
    # Only what one user may see: their rooms and their own private conversations.
    mine = await h.store.targets(T0, T0 + 100, 100, keys={"#a", "#c"}, nick="ALICE")
    assert mine == [(ab, T0 + 3), ("#c", T0 + 4), ("#a", T0 + 5)]
    assert await h.store.targets(T0, T0 + 100, 1, keys={"#a"}) == [("#a", T0 + 5)]
    assert await h.store.targets(T0, T0 + 100, 100, nick="dave") == [(cd, T0 + 6)]
    assert await h.store.targets(T0, T0 + 100, 0) == []


async def test_last_msgid(h: History) -> None:
    assert await h.store.last_msgid() is None
    h.many(3)
    last = h.say("#other")
    await h.settled()
    assert await h.store.last_msgid() == last.msgid


# --- retention -----------------------------------------------------------


async def test_prune_by_count_keeps_the_newest_per_key(h: History) -> None:
    room = h.many(10)
    other = h.many(3, "#other")
    private = h.many(6, "bob")
    await h.settled()
    assert await h.store.prune(4, 0, h.now) == 6 + 2
    assert await h.store.latest(KEY, 100) == room[-4:]
    assert await h.store.latest("#other", 100) == other
    assert await h.store.latest(private_key("alice", "bob"), 100) == private[-4:]
    assert await h.store.prune(4, 0, h.now) == 0


async def test_prune_by_age(h: History) -> None:
    old = [h.say(ts=T0 + i) for i in range(5)]
    gone = h.say("#gone", ts=T0 + 1)
    new = [h.say(ts=T0 + 10 * DAY + i) for i in range(5)]
    await h.settled()
    now = T0 + 12 * DAY
    assert await h.store.prune(0, 5, now) == len(old) + 1
    assert await h.store.latest(KEY, 100) == new
    assert await h.store.latest("#gone", 100) == []
    assert gone.msgid not in ids(await h.store.after_many(["#gone"], "0", 10))
    # A conversation pruned away is no longer a target.
    assert [k for k, _ in await h.store.targets(0, now, 10)] == [KEY]


async def test_prune_by_age_and_count_together(h: History) -> None:
    [h.say(ts=T0 + i) for i in range(5)]
    new = [h.say(ts=T0 + 10 * DAY + i) for i in range(5)]
    await h.settled()
    assert await h.store.prune(3, 5, T0 + 12 * DAY) == 7
    assert await h.store.latest(KEY, 100) == new[-3:]


async def test_prune_with_no_limits_deletes_nothing(h: History) -> None:
    h.many(10)
    await h.settled()
    assert await h.store.prune(0, 0, h.now + 1000 * DAY) == 0
    assert len(await h.store.latest(KEY, 100)) == 10


async def test_prune_in_small_steps(h: History, monkeypatch: pytest.MonkeyPatch) -> None:
    """More rows than one prune transaction may delete, across many keys."""
    monkeypatch.setattr(sqlite_module, "PRUNE_BUDGET", 3)
    monkeypatch.setattr(sqlite_module, "PRUNE_KEYS", 2)
    monkeypatch.setattr(pg_history, "PRUNE_BUDGET", 3)
    monkeypatch.setattr(pg_history, "PRUNE_KEYS", 2)
    rooms = [f"#r{i}" for i in range(5)]
    for i in range(50):
        h.say(rooms[i % 5])
    await h.settled()
    assert await h.store.prune(2, 0, h.now) == 40
    for room in rooms:
        assert len(await h.store.latest(room, 100)) == 2
    # Appending after a prune still counts correctly for the next one.
    h.many(3, "#r0")
    await h.settled()
    assert await h.store.prune(2, 0, h.now) == 3


async def test_prune_does_not_chase_appends(h: History, monkeypatch: pytest.MonkeyPatch) -> None:
    """Appends keep arriving between the many small prune transactions; the
    prune still ends and only ever removes the oldest."""
    monkeypatch.setattr(sqlite_module, "PRUNE_BUDGET", 2)
    monkeypatch.setattr(pg_history, "PRUNE_BUDGET", 2)
    h.many(20)
    await h.settled()
    pruning = asyncio.ensure_future(h.store.prune(5, 0, h.now))
    while not pruning.done() and len(h.sent) < 2000:
        h.say()
        await asyncio.sleep(0)  # let the prune and the writer take turns
    assert await pruning >= 15
    await h.settled()
    got = await h.store.latest(KEY, 10**6)
    assert len(got) >= 5
    assert got == h.sent[-len(got) :]


# --- departures ----------------------------------------------------------


async def test_departure_round_trip_casefolds_the_nick(h: History) -> None:
    assert await h.store.departure("alice") is None
    await h.store.record_departure("Alice[x]", ["#Lobby", "#dev"], "00000000000000ff", T0)
    assert await h.store.departure("alice{x}") == (("#Lobby", "#dev"), "00000000000000ff", T0)
    await h.store.record_departure("ALICE[X]", ("#other",), "0000000000000100", T0 + 1)
    assert await h.store.departure("alice[x]") == (("#other",), "0000000000000100", T0 + 1)
    await h.store.forget_departure("Alice{X}")
    assert await h.store.departure("alice[x]") is None
    await h.store.forget_departure("never-here")


async def test_prune_by_age_drops_old_departures(h: History) -> None:
    await h.store.record_departure("old", ["#a"], "01", T0)
    await h.store.record_departure("new", ["#a"], "02", T0 + 10 * DAY)
    await h.store.prune(0, 5, T0 + 12 * DAY)
    assert await h.store.departure("old") is None
    assert await h.store.departure("new") == (("#a",), "02", T0 + 10 * DAY)
    await h.store.prune(100, 0, T0 + 1000 * DAY)  # count limits leave departures alone
    assert await h.store.departure("new") is not None


# --- lifecycle -----------------------------------------------------------


async def test_append_after_close_is_refused(h: History) -> None:
    await h.store.close()
    with pytest.raises(RuntimeError):
        h.say()


async def test_close_stores_what_was_queued(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    history = History(SqliteStore(path))
    await history.store.start()
    sent = history.many(1000)
    await history.store.close()  # no flush first
    assert sum(history.commits) == 1000
    again = SqliteStore(path)
    await again.start()
    try:
        assert await again.latest(KEY, 2000) == sent
    finally:
        await again.close()


async def test_failed_commit_is_retried_not_confirmed_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_insert = sqlite_module._insert
    failures = []

    def flaky_insert(conn: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
        if not failures:
            failures.append(len(rows))
            raise sqlite3.OperationalError("disk I/O error")
        real_insert(conn, rows)

    monkeypatch.setattr(sqlite_module, "_insert", flaky_insert)
    history = History(SqliteStore(tmp_path / "h.db"))
    await history.store.start()
    try:
        with caplog.at_level(logging.ERROR, logger="chinwag.storage"):
            sent = history.many(50)
            await history.settled()
        assert failures
        assert "retrying" in caplog.text
        assert await history.store.latest(KEY, 100) == sent
    finally:
        await history.store.close()


async def test_sqlite_history_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    first = History(SqliteStore(path))
    await first.store.start()
    sent = first.many(5)
    private = first.say("bob")
    await first.store.record_departure("alice", ["#room"], sent[-1].msgid, T0)
    await first.settled()
    await first.store.close()

    second = History(SqliteStore(path))
    second.ids = first.ids
    second.now = first.now
    await second.store.start()
    try:
        assert await second.store.latest(KEY, 10) == sent
        assert await second.store.latest(private_key("bob", "alice"), 10) == [private]
        assert await second.store.departure("ALICE") == (("#room",), sent[-1].msgid, T0)
        assert await second.store.last_msgid() == private.msgid
        more = second.many(2)
        await second.settled()
        assert await second.store.latest(KEY, 10) == sent + more
        assert [k for k, _ in await second.store.targets(0, second.now + 1, 10)] == [private_key("alice", "bob"), KEY]
    finally:
        await second.store.close()


async def test_missing_directory_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "h.db"
    with pytest.raises(StorageError, match="does not exist") as caught:
        await SqliteStore(path).start()
    assert str(path) in str(caught.value)


async def test_directory_path_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="is a directory") as caught:
        await open_store(str(tmp_path)).start()
    assert str(tmp_path) in str(caught.value)


async def test_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a database, just some words\n" * 200)
    with pytest.raises(StorageError, match="not a database") as caught:
        await SqliteStore(path).start()
    assert str(path) in str(caught.value)
