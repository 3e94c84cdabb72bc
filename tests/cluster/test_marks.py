"""Delivery marks (transport/cluster/marks.py): after a ``kill -9``, a text
user back on another node is shown exactly what its old node had not written
to its socket, by seq, rather than everything since the dead node's last
heartbeat.

Node processes on a real PostgreSQL and redis-server (benchmarks/clusternodes.py).
The tests wait on lines and on database rows (bounded polls), never on time;
the one timing assertion is the bystander's stall detector on a node that
stays up. Each waits for a heartbeat of the node it kills before the messages
that matter are said, so that a catch-up from that heartbeat (what the
cluster did before the marks) would show them again or leave a gap.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from benchmarks.clusternodes import Cluster, Node
from tests.cluster.conftest import SETTINGS, SLOW, Clients, text_said, wait_for
from tests.cluster.test_cluster import room_texts, served, stored, text_left
from tests.services import Redis
from tests.storage.test_postgres import query

pytestmark = pytest.mark.usefixtures("postgres_server")

# A slow heartbeat: the kill comes well before the next one, so the dead node's
# last heartbeat is before the messages said after the test waited for it.
BEAT = {"cluster_heartbeat": 3.0, "cluster_lease": 7.0}


@pytest.fixture
async def slow_beat(pg_url: str, redis_server: Redis) -> AsyncIterator[Cluster]:
    # (a small kernel_sendq: a reader that stops reading backs up into its transport after a few KiB)
    async with Cluster(pg_url, redis_server.url, settings=SETTINGS, limits={**BEAT, "kernel_sendq": 4096}) as c:
        yield c


async def poll(pg_url: str, sql: str, *args: object, until: object = None, within: float = SLOW) -> object:
    """The first value of ``sql`` once it is ``until`` (or, with None, differs
    from its first value): a bounded poll of the database."""
    first = await query(pg_url, sql, *args)
    start = first[0][0] if first else None
    deadline = time.monotonic() + within
    while True:
        rows = await query(pg_url, sql, *args)
        value = rows[0][0] if rows else None
        if (value == until) if until is not None else (value != start):
            return value
        assert time.monotonic() < deadline, f"{sql} {args}: still {value!r}"
        await asyncio.sleep(0.02)


async def heartbeat_of(pg_url: str, node: str) -> None:
    """Wait until ``node`` renews its lease: its last heartbeat is now."""
    await poll(pg_url, "SELECT lease_until FROM cluster_nodes WHERE name = $1", node)


async def lobby_seq(pg_url: str) -> int:
    return int((await query(pg_url, "SELECT seq FROM conversations WHERE key = '#lobby'"))[0][0])


async def node_mark(pg_url: str, node: str, seq: int) -> None:
    """Wait until ``node``'s own delivery mark of #lobby is ``seq``."""
    await poll(pg_url, "SELECT seq FROM cluster_marks WHERE node = $1 AND nick = '' AND key = '#lobby'", node,
               until=seq)


def block(lines: list[str]) -> list[str]:
    """The "while you were away" block: its lines with the time stamps cut."""
    if "--- nothing new while you were away ---" in lines:
        return ["--- nothing new while you were away ---"]
    start = lines.index("--- while you were away ---")
    end = lines.index("--- end of history ---", start)
    return [line.split("] ", 1)[1] if line.startswith("[") else line for line in lines[start:end + 1]]


async def catch_up(clients: Clients, node: Node, name: str) -> list[str]:
    """``name`` connects again (text) on ``node`` and gets its catch-up: the whole block."""
    c = await clients.text_raw(node)
    await c.send(name)
    start = len(c.seen)
    await wait_for(c, lambda s: s.startswith("--- end of history") or "nothing new" in s)
    got = c.seen[start:]
    assert got[0] == f"Welcome to chinwag, {name}! Type /help for commands.", got
    return block(got)


async def test_kill9_after_a_quiet_moment_a_text_user_back_on_another_node_gets_exactly_what_was_said_after(
    slow_beat: Cluster, clients: Clients, pg_url: str
) -> None:
    n1, n2, n3 = await slow_beat.start(3)
    b = await clients.bystander(n1)
    tess = await clients.text(n1, "tess")
    kim = await clients.text(n2, "kim")
    assert await wait_for(tess, lambda s: "kim" in s) == "* kim has joined #lobby"
    await heartbeat_of(pg_url, "node2")
    await tess.send("before one", "before two")
    assert await room_texts(kim, 2) == ["tess: before one", "tess: before two"]
    await node_mark(pg_url, "node2", await lobby_seq(pg_url))  # the quiet moment: node2 wrote its marks

    await slow_beat.kill9(1)
    await wait_for(tess, text_left("kim"))
    await tess.send("while kim was away")
    await stored(tess, "tess: while kim was away")
    assert await catch_up(clients, n3, "kim") == [
        "--- while you were away ---",
        "tess: while kim was away",
        "--- end of history ---",
    ]
    await served(b)


class StalledReader:
    """A text user on a raw socket with a small receive buffer that stops
    reading once it is in #lobby: its node's output for it backs up."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""

    @classmethod
    async def connect(cls, port: int, name: str) -> StalledReader:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", port))
        c = cls(sock)
        await c.read_until(b"What is your name?")
        await loop.sock_sendall(sock, f"{name}\r\n".encode())
        await c.read_until(b"* in #lobby:")
        return c

    async def read_until(self, needle: bytes) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(SLOW):
            while needle not in self.data:
                chunk = await loop.sock_recv(self.sock, 65536)
                assert chunk, f"closed before {needle!r}: {self.data[-200:]!r}"
                self.data += chunk

    async def read_to_end(self) -> list[str]:
        """Everything its (dead) node's kernel still delivers: the whole lines."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(SLOW):
            while chunk := await loop.sock_recv(self.sock, 65536):
                self.data += chunk
        return [line.decode() for line in self.data.split(b"\r\n")[:-1]]

    def close(self) -> None:
        self.sock.close()


async def test_a_slow_readers_mark_is_not_advanced_past_what_its_socket_took(
    slow_beat: Cluster, clients: Clients, pg_url: str
) -> None:
    n1, n2, n3 = await slow_beat.start(3)
    b = await clients.bystander(n1)
    tess = await clients.text(n1, "tess")
    kim = await clients.text(n2, "kim")  # reads everything
    sam = await StalledReader.connect(n2.port("text"), "sam")  # reads nothing from now on
    try:
        await wait_for(tess, lambda s: s == "* sam has joined #lobby")
        said = [f"m{i:02d} " + "x" * 2000 for i in range(40)]  # 80 KB: far more than sam's socket takes
        await tess.send(*said)
        assert await room_texts(kim, len(said)) == [f"tess: {t}" for t in said]
        last = await lobby_seq(pg_url)
        await node_mark(pg_url, "node2", last)  # kim (and the node) took it all
        held = await query(pg_url, "SELECT seq FROM cluster_marks WHERE node = 'node2' AND nick = 'sam'"
                                   " AND key = '#lobby'")
        assert held and held[0][0] < last, held  # sam's own mark: not the node's
        await heartbeat_of(pg_url, "node2")  # (a catch-up from the last heartbeat would start after the burst)

        await slow_beat.kill9(1)
        got = [s for line in await sam.read_to_end() if (s := text_said(line)) is not None]
        took = [text for _, text in got]
        assert took == said[:len(took)] and len(took) < len(said), len(took)  # it missed the end
        # its mark was at most the last message its socket took (the burst's seqs follow each other)
        assert held[0][0] <= last - len(said) + len(took), (held, last, len(took))
    finally:
        sam.close()
    await wait_for(tess, text_left("sam"))
    shown = await catch_up(clients, n3, "sam")
    assert shown[0] == "--- while you were away ---" and shown[-1] == "--- end of history ---"
    again = [line.removeprefix("tess: ") for line in shown[1:-1]]
    # the catch-up starts at or before the first message sam's socket did not take: no gap, in order
    assert again and again == said[len(said) - len(again):] and len(again) >= len(said) - len(took), \
        (len(took), len(again))
    await served(b)
