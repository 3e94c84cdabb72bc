"""The cluster bus (transport/cluster/bus.py) against a real redis-server
(tests/services.py): order, Redis going away and coming back, the queue bound."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from chinwag.config import Limits
from chinwag.transport.cluster.bus import Bus, shown_url
from tests.services import Redis, free_port

TIMEOUT = 10.0  # only reached when something is wrong: a reconnect may wait out a 2 s backoff step
_channels = itertools.count(1)


class Node:
    """What one Bus told its owner: the messages and the status changes, in order."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.statuses: list[bool] = []
        self._changed = asyncio.Event()

    def on_message(self, data: bytes) -> None:
        self.messages.append(data)
        self._changed.set()

    def on_status(self, up: bool) -> None:
        self.statuses.append(up)
        self._changed.set()

    async def until(self, what: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Wait until ``what()`` holds (checked on every callback), at most ``timeout``."""
        async def wait() -> None:
            while not what():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)


Make = Callable[..., Awaitable[tuple[Bus, Node]]]


@pytest.fixture
async def make_bus() -> AsyncIterator[Make]:
    """make_bus(url, **limits) -> a started Bus and its Node; all on one fresh channel per test."""
    buses: list[Bus] = []
    channel = f"chinwag:test{os.getpid()}_{next(_channels)}"

    async def make(url: str, node: Node | None = None, **limits: Any) -> tuple[Bus, Node]:
        node = node or Node()
        bus = Bus(url, channel, dataclasses.replace(Limits(), **limits), node.on_message, node.on_status)
        buses.append(bus)
        await bus.start()
        return bus, node

    yield make
    for bus in buses:
        await bus.close()


async def test_two_buses_see_each_others_messages_in_the_same_order(redis_server: Redis, make_bus: Make) -> None:
    a, na = await make_bus(redis_server.url)
    b, nb = await make_bus(redis_server.url)
    assert (a.up, b.up, na.statuses, nb.statuses) == (True, True, [True], [True])
    for i in range(200):
        a.publish(b"a%d" % i)
        if i % 3 == 0:
            await asyncio.sleep(0)  # let the writers send a batch now and then: several batches interleave
        b.publish(b"b%d" % i)
    await na.until(lambda: len(na.messages) == 400)
    await nb.until(lambda: len(nb.messages) == 400)
    assert na.messages == nb.messages  # one order for every subscriber
    assert [m for m in na.messages if m.startswith(b"a")] == [b"a%d" % i for i in range(200)]
    assert [m for m in na.messages if m.startswith(b"b")] == [b"b%d" % i for i in range(200)]
    assert (a.published, a.received, a.dropped) == (200, 400, 0)
    assert (b.published, b.received, b.dropped) == (200, 400, 0)
    every_byte = bytes(range(256)) + b"\r\n*3\r\n$7\r\n"  # binary-safe, RESP look-alikes included
    b.publish(every_byte)
    b.publish(b"")
    await na.until(lambda: len(na.messages) == 402)
    assert na.messages[400:] == [every_byte, b""]


async def test_redis_stopped_both_go_down_publish_drops_and_both_come_back(
        own_redis: Redis, make_bus: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chinwag")
    a, na = await make_bus(own_redis.url)
    b, nb = await make_bus(own_redis.url)
    a.publish(b"before")
    await nb.until(lambda: nb.messages == [b"before"])
    own_redis.stop()
    await na.until(lambda: na.statuses == [True, False])
    await nb.until(lambda: nb.statuses == [True, False])
    assert (a.up, b.up) == (False, False)
    for i in range(1000):  # returns at once every time: nothing is waited for
        assert a.publish(b"lost %d" % i) is None  # type: ignore[func-returns-value]
    assert (a.dropped, a.published) == (1000, 1)
    own_redis.start()  # the same port
    await na.until(lambda: na.statuses == [True, False, True])
    await nb.until(lambda: nb.statuses == [True, False, True])
    assert (a.up, b.up) == (True, True)
    b.publish(b"after")
    await na.until(lambda: na.messages[-1:] == [b"after"])
    assert na.messages == [b"before", b"after"]  # nothing published while down is replayed
    assert (a.dropped, a.published, b.published, a.received) == (1000, 1, 1, 2)
    assert f"cluster bus up: {own_redis.url} channel {a.channel} (1000 messages dropped while down)" in caplog.text


async def test_a_bus_started_while_redis_is_down_comes_up_when_it_starts(own_redis: Redis, make_bus: Make) -> None:
    own_redis.stop()
    a, na = await make_bus(own_redis.url)  # does not raise
    assert (a.up, na.statuses) == (False, [])
    a.publish(b"too early")
    assert a.dropped == 1
    own_redis.start()
    await na.until(lambda: na.statuses == [True])
    a.publish(b"hello")
    await na.until(lambda: na.messages == [b"hello"])  # its own publications come back to it too
    assert (a.published, a.received, a.dropped) == (1, 1, 1)


async def test_the_queue_holds_at_most_cluster_bus_queue_and_a_flood_while_down_is_dropped(
        own_redis: Redis, make_bus: Make) -> None:
    a, na = await make_bus(own_redis.url, cluster_bus_queue=100)
    b, nb = await make_bus(own_redis.url, cluster_bus_queue=100)
    for i in range(250):  # no await: the writer has not sent anything yet
        a.publish(b"%d" % i)
    assert (a.dropped, a.published) == (150, 0)
    await nb.until(lambda: len(nb.messages) == 100)
    assert nb.messages == [b"%d" % i for i in range(100)]
    assert a.published == 100
    own_redis.stop()
    await na.until(lambda: na.statuses == [True, False])
    for i in range(50_000):  # far beyond the bound: each dropped, none kept
        a.publish(b"flood %d" % i)
    assert (a.dropped, a.published) == (50_150, 100)
    own_redis.start()
    await na.until(lambda: na.statuses == [True, False, True])
    await nb.until(lambda: nb.statuses == [True, False, True])
    a.publish(b"back")
    await nb.until(lambda: nb.messages[-1:] == [b"back"])
    assert len(nb.messages) == 101  # not one of the flood
    assert (a.dropped, a.published) == (50_150, 101)


async def test_a_silent_redis_is_noticed_by_the_heartbeat_and_the_bus_recovers(own_redis: Redis,
                                                                               make_bus: Make) -> None:
    # A frozen redis-server (SIGSTOP) keeps its sockets open: no FIN tells us, only silence.
    a, na = await make_bus(own_redis.url, cluster_heartbeat=0.2, cluster_lease=1.0)
    assert own_redis.proc is not None
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        await na.until(lambda: na.statuses == [True, False])
        a.publish(b"into the void")
        assert a.dropped == 1
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    await na.until(lambda: na.statuses == [True, False, True])
    a.publish(b"thawed")
    await na.until(lambda: na.messages[-1:] == [b"thawed"])
    assert b"into the void" not in na.messages


async def test_the_password_never_appears_in_the_logs(make_bus: Make, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there
    caplog.set_level(logging.INFO, logger="chinwag")
    a, na = await make_bus(f"redis://:hunter2@127.0.0.1:{port}/3")
    assert (a.up, na.statuses) == (False, [])
    assert f"cluster bus redis://127.0.0.1:{port}/3: cannot connect" in caplog.text
    assert "hunter2" not in caplog.text
    assert shown_url("rediss://chinwag:s3cret@[::1]:6380/2") == "rediss://[::1]:6380/2"
    assert shown_url("redis://:s3cret@redis.example.org") == "redis://redis.example.org:6379/0"


class Picky(Node):
    """A node whose on_message fails on one message."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bytes] = []

    def on_message(self, data: bytes) -> None:
        self.seen.append(data)
        if data == b"bad":
            raise RuntimeError("the node's bug")
        super().on_message(data)


async def test_a_failing_on_message_is_logged_and_the_next_message_still_arrives(
        redis_server: Redis, make_bus: Make, caplog: pytest.LogCaptureFixture) -> None:
    node = Picky()
    a, _ = await make_bus(redis_server.url, node)
    a.publish(b"bad")
    a.publish(b"good")
    await node.until(lambda: node.messages == [b"good"])
    assert node.seen == [b"bad", b"good"]
    assert (a.up, node.statuses, a.received) == (True, [True], 2)
    assert "cluster bus: on_message failed" in caplog.text
