"""``enqueue_shared`` (fan-out: one buffer to many readers in one call) is
``Connection.enqueue`` for each reader: the same bytes queued, the same
connections marked dirty once, nothing for a closed one, a WebSocket's framed."""

from __future__ import annotations

from typing import Any

import pytest

from chinwag.config import Config
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol
from chinwag.transport.connection import Connection, enqueue_shared
from chinwag.transport.outbox import Outbox
from chinwag.transport.websocket import WsConnection


class Host:
    """What a Connection and the outbox ask of the server, and nothing else."""

    def __init__(self) -> None:
        self.config = Config()
        self.outbox = Outbox(self)  # type: ignore[arg-type]
        self.mark_dirty = self.outbox.mark_dirty
        self.loop = None


def world(kinds: str) -> tuple[Host, list[Connection]]:
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
