"""The cluster's tables in PostgreSQL (storage/postgres/cluster.py): msgid
slots with leases, nick claims across nodes, reads by seq and the poll of
conversations that moved. Each test gets an empty database; "nodes" are
separate PostgresStores (separate pools) on it, as separate processes would be.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from chinwag.core.events import Message
from chinwag.storage.base import room_key
from chinwag.storage.cluster import SLOTS, ClusterFull, Left
from chinwag.storage.postgres import PostgresStore
from chinwag.storage.postgres.cluster import RECENT_OVERLAP
from tests.storage.test_postgres import query
from tests.storage.test_store import T0

pytestmark = pytest.mark.usefixtures("postgres_server")

LEASE = 30.0  # a lease that does not end during a test
SHORT = 0.3  # one that does, soon


@pytest.fixture
async def stores(pg_url: str) -> AsyncIterator[list[PostgresStore]]:
    """Two nodes' stores on one database."""
    nodes = [PostgresStore(pg_url), PostgresStore(pg_url)]
    for s in nodes:
        await s.start()
    yield nodes
    for s in nodes:
        await s.close()


async def until(condition: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``condition`` (a database read) until it holds; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.05)


def _message(msgid: str, room: str = "#room", text: str = "hi", account: str = "") -> Message:
    return Message(msgid, T0, "alice", room, text, "privmsg", account=account)


# --- slots and leases ----------------------------------------------------------


async def test_nodes_get_the_smallest_free_slot(stores: list[PostgresStore]) -> None:
    a, b = (s.cluster for s in stores)
    assert [await a.join("n0", LEASE), await b.join("n1", LEASE), await a.join("n2", LEASE)] == [0, 1, 2]
    assert await a.join("n0", LEASE) == 0  # joining again keeps a free slot: its own row does not hold it
    await b.forget_node("n1")
    assert await b.join("n3", LEASE) == 1  # the slot n1 had
    rows = await query(stores[0].url, "SELECT name, slot FROM cluster_nodes ORDER BY slot")
    assert [tuple(r) for r in rows] == [("n0", 0), ("n3", 1), ("n2", 2)]


async def test_nodes_joining_at_once_get_distinct_slots(stores: list[PostgresStore]) -> None:
    a, b = (s.cluster for s in stores)
    slots = await asyncio.gather(*(c.join(f"n{i}", LEASE) for i, c in enumerate([a, b] * 6)))
    assert sorted(slots) == list(range(12))


async def test_a_seventeenth_live_node_is_refused_with_a_clear_error(stores: list[PostgresStore]) -> None:
    c = stores[0].cluster
    for i in range(SLOTS):
        assert await c.join(f"n{i:02d}", LEASE) == i
    with pytest.raises(ClusterFull, match=r"all 16 msgid slots are held by live nodes \(n00, n01, .*n15\)"):
        await c.join("extra", LEASE)
    assert await query(stores[0].url, "SELECT 1 FROM cluster_nodes WHERE name = 'extra'") == []


async def test_a_node_whose_lease_ends_is_expired_and_its_slot_freed(stores: list[PostgresStore]) -> None:
    a, b = (s.cluster for s in stores)
    # Both join with a long lease, so each is live when the other joins however
    # slow the machine is (a SHORT lease at join could end before b's join and
    # hand b slot 0); a's renewal then shortens its lease to one that ends soon.
    assert await a.join("short", LEASE) == 0
    assert await b.join("long", LEASE) == 1
    assert await a.heartbeat("short", SHORT) is True
    assert "long" not in await b.expired()

    async def short_expired() -> bool:
        return await b.expired() == ["short"]

    await until(short_expired)
    assert await b.join("new", LEASE) == 0  # the dead node's slot
    # The dead node cannot renew a slot another node holds now: it must join again.
    assert await a.heartbeat("short", LEASE) is False
    assert await a.join("short", LEASE) == 2
    assert await a.heartbeat("short", LEASE) is True
    assert await b.expired() == []


async def test_heartbeat_is_false_once_others_forgot_the_node(stores: list[PostgresStore]) -> None:
    a, b = (s.cluster for s in stores)
    await a.join("n", LEASE)
    assert await a.heartbeat("n", LEASE) is True
    await b.forget_node("n")
    await b.forget_node("n")  # idempotent
    assert await a.heartbeat("n", LEASE) is False


async def test_lease_times_are_the_databases_clock(stores: list[PostgresStore]) -> None:
    c = stores[0].cluster
    await c.join("n", LEASE)
    (row,) = await query(stores[0].url, "SELECT started, lease_until, extract(epoch from clock_timestamp())::float8"
                                        " FROM cluster_nodes")
    started, until_, now = row
    assert started <= now
    assert until_ == pytest.approx(started + LEASE, abs=0.01)


# --- nick claims -----------------------------------------------------------------


async def test_a_nick_is_claimed_once_and_released_only_by_its_holder(stores: list[PostgresStore]) -> None:
    a, b = (s.cluster for s in stores)
    await a.join("A", LEASE)
    await b.join("B", LEASE)
    assert await a.claim_nick("alice", "Alice", "A", 7) is None
    assert await a.claim_nick("alice", "ALICE", "A", 7) is None  # the holder again (a case change)
    assert await b.claim_nick("alice", "alice", "B", 3) == "A"
    assert await a.claim_nick("alice", "alice", "A", 8) == "A"  # another user of the same node
    await b.release_nick("alice", "B", 3)  # not theirs: nothing
    await a.release_nick("alice", "A", 8)  # not this sid's either
    assert await b.nicks_of("A") == ["ALICE"]
    await a.release_nick("alice", "A", 7)
    assert await b.nicks_of("A") == []
    assert await b.claim_nick("alice", "alice", "B", 3) is None
    assert await a.claim_nick("bob", "bob", "A", 9) is None
    assert await a.nicks_of("B") == ["alice"]
    await a.forget_node("A")
    assert await a.nicks_of("A") == []
    assert await a.nicks_of("B") == ["alice"]


async def test_the_nick_of_a_dead_node_is_taken_over(stores: list[PostgresStore]) -> None:
    a, b = (s.cluster for s in stores)
    await a.join("dying", SHORT)
    await b.join("B", LEASE)
    assert await a.claim_nick("alice", "alice", "dying", 1) is None

    async def dead() -> bool:
        return await b.expired() == ["dying"]

    await until(dead)
    assert await b.claim_nick("alice", "alice", "B", 5) is None  # the lease ended: taken over
    assert await b.nicks_of("dying") == []
    assert await b.nicks_of("B") == ["alice"]
    # ...and a claim by a node whose row is gone altogether (forgotten, or never joined)
    assert await a.claim_nick("carol", "carol", "gone", 1) is None
    assert await b.claim_nick("carol", "Carol", "B", 6) is None
    assert await b.nicks_of("B") == ["alice", "Carol"]


async def test_two_nodes_racing_for_one_nick_exactly_one_wins(stores: list[PostgresStore]) -> None:
    a, b = (s.cluster for s in stores)
    await a.join("A", LEASE)
    await b.join("B", LEASE)
    for i in range(30):
        key = f"nick{i}"
        got = await asyncio.gather(a.claim_nick(key, key, "A", i), b.claim_nick(key, key, "B", i))
        winner = "A" if got[0] is None else "B"
        assert got == ([None, "A"] if winner == "A" else ["B", None])
        rows = await query(stores[0].url, "SELECT node, sid FROM cluster_nicks WHERE key = $1", key)
        assert [tuple(r) for r in rows] == [(winner, i)]


# --- reads by seq, the poll ----------------------------------------------------------


async def test_messages_by_seq_after_concurrent_appends(stores: list[PostgresStore]) -> None:
    a, b = stores
    for i in range(50):
        a.append(_message(f"a{i:04d}", text=f"from a {i}", account="acct" if i == 7 else ""))
        b.append(_message(f"b{i:04d}", text=f"from b {i}"))
        if i % 10 == 9:
            await asyncio.gather(a.flush(), b.flush())
    key = room_key("#room")
    got = await b.cluster.messages_by_seq(key, 0, 100, 1000)
    assert [seq for seq, _ in got] == list(range(1, 101))
    stored = await query(a.url, "SELECT seq, msgid, text, account FROM messages WHERE key = $1 ORDER BY seq", key)
    assert [(seq, m.msgid, m.text, m.account) for seq, m in got] == [tuple(r) for r in stored]
    assert next(m for _, m in got if m.msgid == "a0007").account == "acct"
    window = await a.cluster.messages_by_seq(key, 40, 45, 1000)
    assert [seq for seq, _ in window] == [41, 42, 43, 44, 45]
    assert [seq for seq, _ in await a.cluster.messages_by_seq(key, 40, 100, 3)] == [41, 42, 43]
    assert await a.cluster.messages_by_seq(key, 100, 200, 10) == []
    assert await a.cluster.messages_by_seq("#nowhere", 0, 10, 10) == []
    assert await a.cluster.seqs([key, "#nowhere", key]) == {key: 100}


async def test_recent_lists_the_conversations_that_moved_since_a_db_time(stores: list[PostgresStore]) -> None:
    a, b = stores
    a.append(_message("0001", "#a"))
    a.append(_message("0002", "#a"))
    await a.append_events([Message("0003", T0, "alice", "#a", "", "join")])  # events: not a conversation that moved
    await a.flush()
    first, moved = await b.cluster.recent(0.0)
    assert moved == [("#a", 2)]
    (row,) = await query(a.url, "SELECT extract(epoch from clock_timestamp())::float8")
    assert row[0] >= first + RECENT_OVERLAP  # recent() hands back a time a little behind the db's now
    b.append(_message("0004", "#b"))
    a.append(_message("0005", "#a"))
    await asyncio.gather(a.flush(), b.flush())
    _, moved = await b.cluster.recent(first)
    assert sorted(moved) == [("#a", 3), ("#b", 1)]
    (row,) = await query(a.url, "SELECT extract(epoch from clock_timestamp())::float8")
    a.append(_message("0006", "#c"))
    await a.flush()
    _, moved = await a.cluster.recent(row[0])  # only what moved after that db time
    assert moved == [("#c", 1)]


# --- delivery marks and a dead node's departures (transport/cluster/marks.py) ---------------


async def test_delivery_marks_are_upserted_per_node_and_nick_and_released_nicks_go(
        stores: list[PostgresStore]) -> None:
    a, b = (s.cluster for s in stores)
    await a.write_marks("n1", [("", "#a", 5), ("", "#b", 7), ("sam", "#a", 2), ("sam", "#b", 7)], [])
    await b.write_marks("n2", [("", "#a", 9)], [])
    assert await b.marks(["n1", "n2", "n3"]) == {"n1": {"": {"#a": 5, "#b": 7}, "sam": {"#a": 2, "#b": 7}},
                                                 "n2": {"": {"#a": 9}}}
    # one statement: the node's mark moves on, sam caught up (released), tess held back
    await a.write_marks("n1", [("", "#a", 6), ("tess", "#b", 7)], ["sam"])
    assert await b.marks(["n1"]) == {"n1": {"": {"#a": 6, "#b": 7}, "tess": {"#b": 7}}}
    await a.write_marks("n1", [], [])  # nothing to write: nothing happens
    await a.write_marks("n1", [], ["tess", "nobody"])
    assert await b.marks(["n1"]) == {"n1": {"": {"#a": 6, "#b": 7}}}
    await b.forget_marks("n1")
    assert await a.marks(["n1", "n2"]) == {"n2": {"": {"#a": 9}}}
    assert await a.marks([]) == {}
    # the node's row and nicks go without its marks: the node that records its users' departures reads them after
    await a.join("n2", SHORT)
    await a.forget_node("n2")
    assert await a.marks(["n2"]) == {"n2": {"": {"#a": 9}}}


async def test_a_dead_nodes_departures_carry_per_room_seq_marks_until_an_exact_one_replaces_them(
        stores: list[PostgresStore]) -> None:
    a, b = stores
    await a.cluster.record_departures([
        Left("Kim", ("#Lobby", "#dev"), "0000000000000100", T0, {"#lobby": 12, "#dev": 3}),
        Left("sam", ("#lobby",), "0000000000000100", T0 + 1, {}),  # (no mark: the reference id is used)
    ])
    assert await b.departure("kim") == (("#Lobby", "#dev"), "0000000000000100", T0)
    assert await b.cluster.departure_marks("KIM") == {"#lobby": 12, "#dev": 3}
    assert await b.cluster.departure_marks("sam") == {}
    assert await b.cluster.departure_marks("nobody") == {}
    # kim leaves again from a live node: an exact departure (the newest id), no marks any more
    await b.record_departure("kim", ["#lobby"], "00000000000f0000", T0 + 5)
    assert await a.departure("kim") == (("#lobby",), "00000000000f0000", T0 + 5)
    assert await a.cluster.departure_marks("kim") == {}
    # and a node's death after that brings marks back; forgetting the departure forgets them
    await a.cluster.record_departures([Left("kim", ("#lobby",), "00000000000f0001", T0 + 9, {"#lobby": 40})])
    assert await b.cluster.departure_marks("kim") == {"#lobby": 40}
    await b.forget_departure("kim")
    assert await a.departure("kim") is None
    assert await a.cluster.departure_marks("kim") == {}
    await a.cluster.record_departures([])  # nothing: nothing happens
