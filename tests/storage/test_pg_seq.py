"""History reads in PostgreSQL follow seq within a conversation (issue 13).

Two "nodes" (two PostgresStores on one database, msgid slots 0 and 1) commit
messages in an order their msgids do not have: node A makes an id, node B a
later one, and B commits first. Every node delivered the room in seq (commit)
order, so every read must give that order, and "after the k-th message I saw"
must be exactly what came after it: no repeat, no skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chinwag.core.events import Message
from chinwag.core.hub import MessageIds
from chinwag.storage.base import event_key, room_key
from chinwag.storage.postgres import PostgresStore
from chinwag.storage.postgres import history as pg_history
from tests.storage.test_postgres import query
from tests.storage.test_store import T0

pytestmark = pytest.mark.usefixtures("postgres_server")

ROOM, OTHER = "#room", "#other"
KEY, OTHER_KEY = room_key(ROOM), room_key(OTHER)

# Who makes each message (in msgid order: each one's id is made a second after
# the one before), and the order they commit in: A holds a batch of three while
# B commits two made after it, and so on. Messages of #other interleave.
MADE = "ABABAAABBABBAB"
COMMITTED = [1, 0, 3, 2, 7, 8, 4, 5, 6, 10, 9, 11, 13, 12]


class Nodes:
    def __init__(self, a: PostgresStore, b: PostgresStore) -> None:
        self.stores = {"A": a, "B": b}
        self.ids = {"A": MessageIds(0), "B": MessageIds(1)}

    def make(self, node: str, i: int, target: str = ROOM, kind: str = "privmsg") -> Message:
        ts = T0 + i
        return Message(self.ids[node].next(ts), ts, node.lower(), target, f"{target} {i}", kind)

    async def commit(self, node: str, msgs: list[Message]) -> None:
        store = self.stores[node]
        for m in msgs:
            store.append(m)
        await store.flush()


@pytest.fixture
async def nodes(pg_url: str) -> AsyncIterator[Nodes]:
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    for s in (a, b):
        await s.start()
    yield Nodes(a, b)
    for s in (a, b):
        await s.close()


async def scrambled(n: Nodes, *targets: str) -> list[list[Message]]:
    """Commit MADE's messages to each of ``targets`` (ROOM if none; their ids
    interleave) in COMMITTED's order; that order (the seq order), per target."""
    targets = targets or (ROOM,)
    made = [[n.make(node, i, t) for t in targets] for i, node in enumerate(MADE)]
    flat = [m.msgid for row in made for m in row]
    assert flat == sorted(flat)
    out = []
    for col in range(len(targets)):
        done: list[Message] = []
        todo = list(COMMITTED)
        while todo:  # consecutive messages of one node commit as one batch
            node = MADE[todo[0]]
            batch = []
            while todo and MADE[todo[0]] == node:
                batch.append(made[todo.pop(0)][col])
            await n.commit(node, batch)
            done += batch
        out.append(done)
    return out


async def seq_order(url: str, key: str) -> list[str]:
    return [r[0] for r in await query(url, "SELECT msgid FROM messages WHERE key = $1 ORDER BY seq", key)]


def texts(msgs: list[Message]) -> list[str]:
    return [m.text for m in msgs]


async def test_reads_of_one_conversation_follow_seq_not_msgid(nodes: Nodes, pg_url: str) -> None:
    (seen,) = await scrambled(nodes)
    assert [m.msgid for m in seen] != sorted(m.msgid for m in seen)  # the two orders really differ
    assert await seq_order(pg_url, KEY) == [m.msgid for m in seen]
    for store in nodes.stores.values():  # both nodes read the same
        assert texts(await store.latest(KEY, 100)) == texts(seen)
        assert texts(await store.latest(KEY, 5)) == texts(seen[-5:])


async def test_after_the_kth_message_is_exactly_what_came_after_it(nodes: Nodes) -> None:
    (seen,) = await scrambled(nodes)
    store = nodes.stores["A"]
    for k, m in enumerate(seen):
        assert texts(await store.after(KEY, m.msgid, 100)) == texts(seen[k + 1 :]), k
        assert texts(await store.after(KEY, m.msgid, 2)) == texts(seen[k + 1 : k + 3]), k
        assert texts(await store.before(KEY, m.msgid, 100)) == texts(seen[:k]), k
        assert texts(await store.before(KEY, m.msgid, 2)) == texts(seen[max(0, k - 2) : k]), k
        assert texts(await store.around(KEY, m.msgid, 5)) == texts(seen[max(0, k - 2) : k + 3]), k


async def test_between_counts_from_the_start_in_seq_order(nodes: Nodes) -> None:
    (seen,) = await scrambled(nodes)
    store = nodes.stores["B"]
    for i in range(len(seen)):
        for j in range(len(seen)):
            lo, hi = min(i, j), max(i, j)
            inside = seen[lo + 1 : hi]
            got = await store.between(KEY, seen[i].msgid, seen[j].msgid, 2)
            want = inside[:2] if i <= j else inside[-2:]
            assert texts(got) == texts(want), (i, j)
            assert texts(await store.between(KEY, seen[i].msgid, seen[j].msgid, 100)) == texts(inside), (i, j)


def _placed(seen: list[Message], ref: str) -> int:
    """How many of ``seen`` (seq order) are at or before an id that is no message:
    up to the last one whose msgid is <= it."""
    return max((k + 1 for k, m in enumerate(seen) if m.msgid <= ref), default=0)


async def test_an_id_that_is_no_message_is_placed_after_the_last_seq_at_or_below_it(nodes: Nodes) -> None:
    (seen,) = await scrambled(nodes)
    store = nodes.stores["A"]
    ordered = sorted(m.msgid for m in seen)
    # Between every two ids, and beyond both ends: ids no message has (marks, times made ids).
    refs = ["0" * 16] + [f"{int(x, 16) + 3:016x}" for x in ordered]
    for ref in refs:
        cut = _placed(seen, ref)
        assert texts(await store.after(KEY, ref, 100)) == texts(seen[cut:]), ref
        assert texts(await store.before(KEY, ref, 100)) == texts(seen[:cut]), ref
        assert texts(await store.before(KEY, ref, 1)) == texts(seen[max(0, cut - 1) : cut]), ref
        assert texts(await store.around(KEY, ref, 4)) == texts(seen[max(0, cut - 2) : cut + 2]), ref
        for k, m in enumerate(seen):  # one end a message, the other a mark, both ways
            lo, hi = (k + 1, cut) if k < cut else (cut, k)
            assert texts(await store.between(KEY, m.msgid, ref, 100)) == texts(seen[lo:hi]), (k, ref)
            assert texts(await store.between(KEY, ref, m.msgid, 100)) == texts(seen[lo:hi]), (k, ref)


async def test_after_many_keeps_each_rooms_seq_order(nodes: Nodes) -> None:
    room, other = await scrambled(nodes, ROOM, OTHER)
    store = nodes.stores["B"]
    for k in range(len(room)):
        got = await store.after_many([KEY, OTHER_KEY], room[k].msgid, 100)
        # #room from the k-th on; #other placed by the same id (a message of another key).
        assert texts([m for m in got if m.target == ROOM]) == texts(room[k + 1 :]), k
        assert texts([m for m in got if m.target == OTHER]) == texts(other[_placed(other, room[k].msgid) :]), k
        limited = await store.after_many([KEY, OTHER_KEY], room[k].msgid, 3)
        assert limited == got[:3]


async def test_room_events_are_read_in_their_own_seq_order(nodes: Nodes) -> None:
    made = [nodes.make(node, i, ROOM, "join") for i, node in enumerate("ABAB")]
    await nodes.stores["B"].append_events([made[1]])
    await nodes.stores["A"].append_events([made[0], made[2]])
    await nodes.stores["B"].append_events([made[3]])
    seen = [made[1], made[0], made[2], made[3]]
    store = nodes.stores["A"]
    assert texts(await store.latest(event_key(ROOM), 10)) == texts(seen)
    assert texts(await store.after(event_key(ROOM), made[1].msgid, 10)) == texts(seen[1:])
    assert texts(await store.before(event_key(ROOM), made[2].msgid, 10)) == texts(seen[:2])


async def test_since_picks_by_time_and_shows_seq_order(nodes: Nodes) -> None:
    (seen,) = await scrambled(nodes)
    store = nodes.stores["A"]
    assert texts(await store.since(KEY, T0, 100)) == texts(seen)
    # The earliest four by time are the first four made, shown in the order they were committed.
    assert texts(await store.since(KEY, T0, 4)) == texts([m for m in seen if m.ts < T0 + 4])


async def test_pruning_by_count_keeps_the_newest_by_seq(nodes: Nodes) -> None:
    (seen,) = await scrambled(nodes)
    store = nodes.stores["B"]
    assert await store.prune(5, 0, T0 + 100) == len(seen) - 5
    assert texts(await store.latest(KEY, 100)) == texts(seen[-5:])
    assert texts(await store.after(KEY, seen[-5].msgid, 100)) == texts(seen[-4:])


# --- every read is an index scan ---------------------------------------------------


async def test_every_read_is_an_index_scan_on_a_big_conversation(nodes: Nodes, pg_url: str) -> None:
    store = nodes.stores["A"]
    ids = MessageIds(0)
    msgs = [Message(ids.next(T0 + i), T0 + i, "a", ROOM if i % 4 else OTHER, f"m{i}", "privmsg")
            for i in range(20000)]
    for m in msgs:
        store.append(m)
    await store.flush()
    await query(pg_url, "ANALYZE messages")
    old, new, mark = msgs[1001].msgid, msgs[19001].msgid, f"{int(msgs[10001].msgid, 16) + 3:016x}"
    reads: list[tuple[str, tuple[object, ...]]] = [
        (pg_history._LATEST, (KEY, 50)),
        (pg_history._BEFORE, (KEY, new, 50)),
        (pg_history._BEFORE, (KEY, mark, 50)),
        (pg_history._AFTER, (KEY, old, 50)),
        (pg_history._AFTER, (KEY, mark, 50)),
        (pg_history._AFTER, (KEY, "0" * 16, 50)),
        (pg_history._FROM, (KEY, mark, 50)),
        (pg_history._PLACES, (KEY, old, mark)),
        (pg_history._RANGE.format(cols=pg_history.COLS, order="ASC"), (KEY, 100, 20000, 50)),
        (pg_history._RANGE.format(cols=pg_history.COLS, order="DESC"), (KEY, 100, 20000, 50)),
        (pg_history._SINCE, (KEY, T0 + 5000, 50)),
        (pg_history._AFTER_MANY, ([KEY, OTHER_KEY], mark, 50)),
    ]
    for sql, args in reads:
        plan = "\n".join(r[0] for r in await query(pg_url, "EXPLAIN " + sql, *args))
        assert "Seq Scan" not in plan and "Index" in plan, (sql, plan)
        if "LIMIT $3) AS m" in sql or sql.split(")")[-1].startswith(" ORDER BY seq"):  # rows by seq: that index
            assert "Index Scan using messages_key_seq_key on messages  " in plan.replace("Backward ", ""), plan
