"""``enqueue_shared`` (fan-out: one buffer to many readers in one call) is
``Connection.enqueue`` for each reader: the same bytes queued, the same
connections marked dirty once, nothing for a closed one, a WebSocket's framed;
``flush_all`` (the tick's flush of every dirty connection) is ``flush`` for each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from chinwag.config import Config
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol
from chinwag.transport.bulk import enqueue_shared, flush_all
from chinwag.transport.connection import BIG_BACKLOG, Connection
from chinwag.transport.outbox import Outbox
from chinwag.transport.websocket import WsConnection


class Host:
    """What a Connection and the outbox ask of the server, and nothing else."""

    def __init__(self) -> None:
        self.config = Config()
        self.outbox = Outbox(self)  # type: ignore[arg-type]
        self.mark_dirty = self.outbox.mark_dirty
        self.loop = None


def world(kinds: Iterable[str]) -> tuple[Host, list[Connection]]:
    """Connections by letter: t (TCP), w (WebSocket), c (closed TCP), q (TCP with output queued)."""
    host = Host()
    info = IrcInfo.from_config(host.config)
    conns: list[Connection] = []
    for kind in kinds:
        adapter: Any = IrcProtocol(info)
        conn: Connection = WsConnection(host, adapter) if kind == "w" else Connection(host, adapter, "irc")  # type: ignore[arg-type]
        if kind == "c":
            conn.closed = True
        if kind == "q":
            conn.enqueue(b"PING :earlier\r\n")
        conns.append(conn)
    return host, conns


@pytest.mark.parametrize("kinds", ["t", "tttt", "twtw", "wctq", "qqt", "cc", "w", "tqwct"])
def test_enqueue_shared_is_enqueue_for_each(kinds: str) -> None:
    buffers = [b":a!~a@chinwag PRIVMSG #r :one\r\n:b!~b@chinwag PRIVMSG #r :two\r\n", b"", b":a PRIVMSG #r :x\r\n"]
    one_host, one_by_one = world(kinds)
    shared_host, shared = world(kinds)
    for data in buffers:
        for conn in one_by_one:
            conn.enqueue(data)
        enqueue_shared(shared, data)
    assert [conn.out for conn in shared] == [conn.out for conn in one_by_one]
    # The same connections to write at the flush, each once (the order in
    # which a tick writes them may differ: TCP ones are marked together).
    marked = [shared.index(conn) for conn in shared_host.outbox.dirty]
    expected = [one_by_one.index(conn) for conn in one_host.outbox.dirty]
    assert sorted(marked) == sorted(expected)
    assert len(set(marked)) == len(marked)
    if "w" in kinds:  # (a WebSocket's are frames: no CRLF, a 2-byte head)
        ws = shared[kinds.index("w")]
        assert ws.out and all(not frame.endswith(b"\r\n") and frame[0] == 0x81 for frame in ws.out)


class Socket:
    """A transport that records what it is handed (and how)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, data: list[bytes]) -> None:
        self.calls.append(("writelines", b"".join(data)))

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False


def queued(kinds: str) -> tuple[Host, list[Connection]]:
    """Connections with output queued, by letter: 1 one buffer, 2 two, b a backlog
    (past BIG_BACKLOG), w a WebSocket, p paused, c closed, n no transport, e nothing."""
    host, conns = world("w" if kind == "w" else "t" for kind in kinds)
    for kind, conn in zip(kinds, conns, strict=True):
        conn.transport = None if kind == "n" else Socket()  # type: ignore[assignment]
        count = {"2": 2, "b": BIG_BACKLOG + 3, "e": 0}.get(kind, 1)
        for i in range(count):
            conn.enqueue(b"line %d of %s\r\n" % (i, kind.encode()) * (600 if kind == "b" else 1))
        conn.paused = kind == "p"
        conn.closed = kind == "c"
    return host, conns


@pytest.mark.parametrize("kinds", ["1", "12", "1w2", "bp1", "cne2", "w", "b", "2b1wpcne"])
def test_flush_all_is_flush_for_each(kinds: str) -> None:
    one_host, one_by_one = queued(kinds)
    all_host, together = queued(kinds)
    one_host.outbox.dirty.clear()
    all_host.outbox.dirty.clear()
    for conn in one_by_one:
        conn.flush()
    flush_all(together)
    for a, b in zip(one_by_one, together, strict=True):
        assert (a.transport.calls if a.transport else None) == (b.transport.calls if b.transport else None)  # type: ignore[attr-defined]
        assert (a.out, a.wrote) == (b.out, b.wrote)
    # A backlog's next chunk is marked for the next tick either way.
    assert [one_by_one.index(c) for c in one_host.outbox.dirty] == [together.index(c) for c in all_host.outbox.dirty]
