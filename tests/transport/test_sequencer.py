"""The cluster's delivery order (transport/cluster/sequencer.py): every node
delivers a conversation's messages in seq order, whatever order they come in,
refilling gaps from the database and never delivering one twice.

The node, its outbox and its database are small stand-ins here (the real
ones run in tests/cluster/); the sequencer and its timers are the real ones."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from chinwag.core.events import Message, Outbound
from chinwag.core.hub import Hub, MessageIds
from chinwag.core.limits import Limits
from chinwag.transport.cluster.sequencer import Sequencer

KEY = "#room"


def msg(n: int, slot: int = 1) -> Message:
    return Message(f"{(1000 + n) * 16 + slot:016x}", float(n), f"u{n}", "#room", f"line {n}", "privmsg")


class FakeDb:
    def __init__(self, rows: dict[int, Message]) -> None:
        self.rows = rows
        self.reads: list[tuple[int, int]] = []
        self.failures = 0
        self.read = asyncio.Event()

    async def messages_by_seq(self, key: str, after: int, upto: int, limit: int) -> list[tuple[int, Message]]:
        self.reads.append((after, upto))
        self.read.set()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database down")
        return [(s, m) for s, m in sorted(self.rows.items()) if after < s <= upto][:limit]

    async def seqs(self, keys: list[str]) -> dict[str, int]:
        return {k: max(self.rows, default=0) for k in keys}


class Node:
    """What the sequencer uses of a ClusterNode."""

    def __init__(self, db: FakeDb, slot: int = 0) -> None:
        self.db = db
        self.limits = Limits()
        self.hub = Hub()
        self.hub.ids = MessageIds(slot)
        self.delivered: list[str] = []
        self.published: list[tuple[str, int]] = []
        self.refills = 0
        self.changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()

        def spawn(coro: Any) -> None:
            task = loop.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        def fan_out(out: Outbound, local: bool = True) -> None:
            assert isinstance(out.event, Message)
            self.delivered.append(out.event.text)
            self.changed.set()

        def gather(out: Outbound, event: Message, local: bool = True) -> None:
            fan_out(out, local)

        self.server = SimpleNamespace(loop=loop, spawn=spawn, outbox=SimpleNamespace(fan_out=fan_out, gather=gather))

    def key_of(self, m: Message) -> str:
        return KEY

    def publish_message(self, key: str, seq: int, m: Message) -> None:
        self.published.append((key, seq))

    async def until(self, count: int) -> list[str]:
        while len(self.delivered) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)
        return self.delivered


@pytest.fixture(autouse=True)
def local_members(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every remote message has a local reader here (remote.recipients)."""
    from chinwag.transport.cluster import sequencer

    monkeypatch.setattr(sequencer.remote, "recipients", lambda hub, m: [1])


async def test_out_of_order_arrivals_are_delivered_in_seq_order() -> None:
    node = Node(FakeDb({}))
    seq = Sequencer(node)  # type: ignore[arg-type]
    seq.remote(KEY, 5, msg(5))
    seq.remote(KEY, 7, msg(7))
    seq.remote(KEY, 6, msg(6))
    assert await node.until(3) == ["line 5", "line 6", "line 7"]
    seq.remote(KEY, 6, msg(6))  # the bus repeats one: not delivered twice
    seq.remote(KEY, 8, msg(8))
    assert await node.until(4) == ["line 5", "line 6", "line 7", "line 8"]
    seq.close()


async def test_a_gap_the_bus_never_fills_is_read_from_the_database() -> None:
    db = FakeDb({n: msg(n) for n in range(1, 11)})
    node = Node(db)
    seq = Sequencer(node)  # type: ignore[arg-type]
    seq.load_heads({KEY: 2})  # where the room was when this node started
    seq.remote(KEY, 3, msg(3))
    seq.remote(KEY, 7, msg(7))  # 4, 5, 6 lost on the bus
    assert await node.until(5) == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert db.reads == [(3, 6)]
    seq.close()


async def test_a_seq_the_database_does_not_have_is_skipped_not_waited_for() -> None:
    db = FakeDb({1: msg(1), 3: msg(3)})  # 2 was redacted
    node = Node(db)
    seq = Sequencer(node)  # type: ignore[arg-type]
    seq.remote(KEY, 1, msg(1))
    seq.remote(KEY, 3, msg(3))
    assert await node.until(2) == ["line 1", "line 3"]
    seq.close()


async def test_own_messages_wait_for_earlier_remote_ones() -> None:
    db = FakeDb({4: msg(4, slot=2)})
    node = Node(db, slot=1)
    seq = Sequencer(node)  # type: ignore[arg-type]
    seq.load_heads({KEY: 2})
    mine = msg(3, slot=1)
    assert seq.confirmed(Outbound([1], mine), mine, 3) is True  # the first: delivered by the outbox
    later = msg(5, slot=1)
    assert seq.confirmed(Outbound([1], later), later, 5) is False  # 4 (another node's) is missing
    assert node.published == [(KEY, 3), (KEY, 5)]
    assert await node.until(2) == ["line 4", "line 5"]  # 4 refilled, then 5: the outbox sent 3 itself
    seq.close()


async def test_a_database_failure_during_a_refill_is_retried() -> None:
    db = FakeDb({n: msg(n) for n in range(1, 6)})
    db.failures = 2
    node = Node(db)
    seq = Sequencer(node)  # type: ignore[arg-type]
    seq.remote(KEY, 1, msg(1))
    seq.remote(KEY, 5, msg(5))
    assert await node.until(5) == [f"line {n}" for n in range(1, 6)]
    assert len(db.reads) == 3
    seq.close()


async def test_a_poll_that_saw_the_conversation_move_fills_a_lost_tail() -> None:
    db = FakeDb({n: msg(n) for n in range(1, 4)})
    node = Node(db)
    seq = Sequencer(node)  # type: ignore[arg-type]
    seq.remote(KEY, 1, msg(1))  # 2 and 3 lost, and nothing comes after them
    assert seq.knows(KEY)
    seq.moved(KEY, 3)
    assert await node.until(3) == ["line 1", "line 2", "line 3"]
    seq.close()


async def test_conversations_nobody_here_follows_are_forgotten_and_start_afresh() -> None:
    node = Node(FakeDb({}))
    seq = Sequencer(node)  # type: ignore[arg-type]
    seq.remote(KEY, 1, msg(1))
    seq.remote("#other", 4, msg(4))
    assert await node.until(2) == ["line 1", "line 4"]
    assert seq.prune(lambda key: key == KEY) == 1  # #other: nobody here is in it
    assert seq.knows(KEY) and not seq.knows("#other")
    seq.remote("#other", 9, msg(9))  # it comes back: starts where it is, nothing to refill
    assert await node.until(3) == ["line 1", "line 4", "line 9"]
    seq.close()


async def test_the_first_own_message_of_a_run_is_never_read_back_for_a_gap() -> None:
    # This run's first message (seq 2) is committed but not confirmed yet when
    # another node's seq 3 arrives: the gap's read finds it in the database.
    mine = msg(2, slot=1)
    db = FakeDb({1: msg(1, slot=2), 2: mine, 3: msg(3, slot=2)})
    node = Node(db, slot=1)
    seq = Sequencer(node)  # type: ignore[arg-type]
    seq.remote(KEY, 1, msg(1, slot=2))
    assert await node.until(1) == ["line 1"]
    seq.remote(KEY, 3, msg(3, slot=2))
    await asyncio.wait_for(db.read.wait(), 5)  # the gap was read
    for _ in range(3):
        await asyncio.sleep(0)  # (the read's result handled)
    assert node.delivered == ["line 1"]  # 2 not as another node's: its confirmation is on its way
    assert seq.confirmed(Outbound([1], mine), mine, 2) is False  # it goes now, in order, with what waited
    assert node.delivered == ["line 1", "line 2", "line 3"]  # each once (before: 2 by the refill, then by the outbox)
    seq.close()


async def test_own_messages_made_before_a_slot_change_are_still_known_as_own() -> None:
    # The node's lease lapsed and it joined again with another slot while its
    # message (seq 2, old slot 1) waited for the store's confirmation.
    from chinwag.transport.cluster.node import ClusterNode

    mine = msg(2, slot=1)
    db = FakeDb({1: msg(1, slot=2), 2: mine, 3: msg(3, slot=2)})
    node = Node(db, slot=1)
    seq = Sequencer(node)  # type: ignore[arg-type]
    node.hub.ids.observe(mine.msgid)  # (this node made it)
    cluster: Any = ClusterNode.__new__(ClusterNode)
    cluster.hub, cluster.sequencer = node.hub, seq
    cluster._set_slot(3)
    seq.remote(KEY, 1, msg(1, slot=2))
    assert await node.until(1) == ["line 1"]
    seq.remote(KEY, 3, msg(3, slot=2))
    await asyncio.wait_for(db.read.wait(), 5)
    for _ in range(3):
        await asyncio.sleep(0)
    assert node.delivered == ["line 1"]  # 2 waits for its confirmation (before: delivered by the refill too)
    assert seq.confirmed(Outbound([1], mine), mine, 2) is False
    assert node.delivered == ["line 1", "line 2", "line 3"]
    assert seq.earlier == {}  # (everything of slot 1 confirmed: its ids are another node's from now on)
    seq.close()


async def test_a_room_joined_here_gets_every_later_message_whichever_node_publishes_first() -> None:
    """Node 1's message (seq 9) reaches this node before node 2's 1..8, which
    were committed first: all nine are delivered, in seq order (found by
    tests/cluster: the first arrival used to set the start and 1..8 were dropped)."""
    node = Node(FakeDb({}))
    seq = Sequencer(node)  # type: ignore[arg-type]
    seq.watch(KEY)  # a local user joins a room with no message yet
    seq.remote(KEY, 9, msg(9))
    for n in range(1, 9):
        seq.remote(KEY, n, msg(n))
    assert await node.until(9) == [f"line {n}" for n in range(1, 10)]
    seq.close()


async def test_a_join_starts_after_the_highest_seq_known_at_start_or_since() -> None:
    node = Node(FakeDb({}))
    seq = Sequencer(node)  # type: ignore[arg-type]
    seq.load_heads({KEY: 10})  # the store's seq when the node started
    seq.remote("#other", 3, msg(3))  # (another room: seen, not followed by anyone here)
    seq.watch(KEY)
    seq.remote(KEY, 10, msg(10))  # committed before the join: not shown live
    seq.remote(KEY, 11, msg(11))
    assert await node.until(1) == ["line 11"]
    assert seq.heads == {KEY: 11, "#other": 3}
    seq.close()
