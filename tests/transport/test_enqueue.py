"""``enqueue_shared`` (fan-out: one buffer to many readers in one call) is
``Connection.enqueue`` for each reader: the same bytes queued, the same
connections marked dirty once, nothing for a closed one, a WebSocket's framed
(text or binary frames, as its own ``enqueue`` frames them: the bulk form frames
once per opcode and hands every WebSocket reader of it the same frames);
``flush_all`` (the tick's flush of every dirty connection) is ``flush`` for each,
WebSocket ones included."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from chinwag.config import Config
from chinwag.core.events import Message
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol
from chinwag.transport import fanout, websocket
from chinwag.transport.bulk import enqueue_shared, flush_all
from chinwag.transport.connection import BIG_BACKLOG, Connection
from chinwag.transport.outbox import Outbox
from chinwag.transport.websocket import BINARY_PROTOCOL, TEXT_PROTOCOL, WsConnection


class Host:
    """What a Connection and the outbox ask of the server, and nothing else."""

    def __init__(self) -> None:
        self.config = Config()
        self.outbox = Outbox(self)  # type: ignore[arg-type]
        self.mark_dirty = self.outbox.mark_dirty
        self.loop = None


def world(kinds: Iterable[str]) -> tuple[Host, list[Connection]]:
    """Connections by letter: t (TCP), c (closed TCP), q (TCP with output queued);
    w (WebSocket, text frames), b (WebSocket, binary frames), x (closed WebSocket),
    v (WebSocket with output queued: a pong of its own, then an event)."""
    host = Host()
    info = IrcInfo.from_config(host.config)
    conns: list[Connection] = []
    for kind in kinds:
        adapter: Any = IrcProtocol(info)
        conn: Connection
        if kind in "wbxv":
            protocol = BINARY_PROTOCOL if kind == "b" else TEXT_PROTOCOL
            conn = WsConnection(host, adapter, protocol=protocol)  # type: ignore[arg-type]
        else:
            conn = Connection(host, adapter, "irc")  # type: ignore[arg-type]
        if kind in "cx":
            conn.closed = True
        if kind == "q":
            conn.enqueue(b"PING :earlier\r\n")
        if kind == "v":
            assert isinstance(conn, WsConnection)
            conn.enqueue_raw(b"\x8a\x01x")
            conn.enqueue(b":chinwag NOTICE * :earlier\r\n")
        conns.append(conn)
    return host, conns


BUFFERS = [
    b":a!~a@chinwag PRIVMSG #r :one\r\n:b!~b@chinwag PRIVMSG #r :two\r\n",
    b"",
    b":a PRIVMSG #r :x\r\n",
    b":a PRIVMSG #r :" + b"y" * 300 + b"\r\n:b PRIVMSG #r :z\r\n",  # a 16-bit frame length, then a short one
]


@pytest.mark.parametrize("kinds", ["t", "tttt", "twtw", "wctq", "qqt", "cc", "w", "tqwct", "b", "wbwb", "bwxvt",
                                   "xx", "vvw", "qbvcwx", "wwww"])
def test_enqueue_shared_is_enqueue_for_each(kinds: str) -> None:
    one_host, one_by_one = world(kinds)
    shared_host, shared = world(kinds)
    for data in BUFFERS:
        for conn in one_by_one:
            conn.enqueue(data)
        enqueue_shared(shared, data)
    assert [conn.out for conn in shared] == [conn.out for conn in one_by_one]
    # The same connections to write at the flush, each once (the order in
    # which a tick writes them may differ: the fresh ones are marked together).
    marked = [shared.index(conn) for conn in shared_host.outbox.dirty]
    expected = [one_by_one.index(conn) for conn in one_host.outbox.dirty]
    assert sorted(marked) == sorted(expected)
    assert len(set(marked)) == len(marked)
    for kind, conn in zip(kinds, shared, strict=True):  # (a WebSocket's are frames: no CRLF, a head of its opcode)
        if kind in "wb":
            assert conn.out and all(not frame.endswith(b"\r\n") and frame[0] == (0x82 if kind == "b" else 0x81)
                                    for frame in conn.out)


@pytest.mark.parametrize("kinds", ["wbwb", "twtbt", "vwb", "bbtww"])
def test_websocket_readers_share_one_framing_per_opcode_and_one_mark(kinds: str) -> None:
    """What makes the bulk form cheaper than one enqueue each, on WebSocket
    readers too: one framing per opcode (the same bytes object for each reader
    of it, as TCP readers share ``data``) and one ``mark_dirty`` for all the
    fresh readers, whatever their kind."""
    host, conns = world(kinds)
    marks: list[list[Connection]] = []
    mark_dirty = host.mark_dirty
    host.mark_dirty = lambda fresh: (marks.append(list(fresh)), mark_dirty(fresh))  # type: ignore[assignment,method-assign]
    data = BUFFERS[0]
    enqueue_shared(conns, data)
    assert marks == [[conn for kind, conn in zip(kinds, conns, strict=True) if kind != "v"]]
    for kind in set(kinds):
        last = {id(conn.out[-1]) for k, conn in zip(kinds, conns, strict=True) if k == kind}
        assert len(last) == 1, kind
    texts = [conn.out[-1] for k, conn in zip(kinds, conns, strict=True) if k in "wv"]
    assert all(out is texts[0] for out in texts)
    plain = [conn.out[-1] for k, conn in zip(kinds, conns, strict=True) if k == "t"]
    assert all(out is data for out in plain)


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
    (past BIG_BACKLOG), w a WebSocket, p paused, c closed, n no transport, e nothing;
    W a WebSocket with a backlog, P a paused WebSocket, C a closed one, B one with
    binary frames and two buffers."""
    host, conns = world("b" if kind == "B" else "w" if kind in "wWPC" else "t" for kind in kinds)
    for kind, conn in zip(kinds, conns, strict=True):
        conn.transport = None if kind == "n" else Socket()  # type: ignore[assignment]
        count = {"2": 2, "B": 2, "b": BIG_BACKLOG + 3, "W": BIG_BACKLOG + 3, "e": 0}.get(kind, 1)
        for i in range(count):
            conn.enqueue(b"line %d of %s\r\n" % (i, kind.encode()) * (600 if kind in "bW" else 1))
        conn.paused = kind in "pP"
        conn.closed = kind in "cC"
    return host, conns


@pytest.mark.parametrize("kinds", ["1", "12", "1w2", "bp1", "cne2", "w", "b", "2b1wpcne", "wWPCB", "1W2Bw", "PwpB"])
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


class Own:
    """An adapter for a sender: its own messages render to ``own <n>`` lines."""

    nick = "me"

    def render(self, event: Message, cache: dict[object, bytes]) -> bytes:
        return b":me PRIVMSG #r :own " + event.text.encode() + b"\r\n"


@pytest.mark.parametrize("opcode_kind", ["w", "b"])
@pytest.mark.parametrize(("lengths", "own", "render_own"), [
    ([5, 7, 9, 11], [1], False),
    ([5, 7, 9, 11], [0, 3], True),
    ([5, 7, 9, 11], [1, 2], True),
    ([5, 108, 9], [2], False),  # a line of 125 bytes: a 2-byte head still
    ([5, 109, 9], [2], False),  # 126: a 4-byte head (16-bit length): framed whole, as its own enqueue would
    ([5, 200, 9, 11], [0, 2], True),
    ([200, 7], [1], False),
    ([5, 7], [0, 1], True),
])
def test_a_websocket_senders_bytes_are_the_frames_of_a_tcp_senders(
        opcode_kind: str, lengths: list[int], own: list[int], render_own: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A sender gets the shared buffer cut around its own messages (fanout._with_own).
    A WebSocket sender's bytes are cut from the shared buffer's frames, not
    framed again, when its lines start where the frames do; either way they are
    the frames of what a TCP sender gets, and count the same deliveries."""
    host = Host()
    events = [Message(f"{k:016x}", 0.0, "me" if k in own else "you", "#r", str(k), "privmsg")
              for k in range(len(lengths))]
    parts = [b":you PRIVMSG #r :" + b"x" * n + b"\r\n" for n in lengths]  # (17 bytes + n + CRLF)
    rendered = fanout._Shared(b"".join(parts), parts)
    caches: list[dict[object, bytes]] = [{} for _ in events]
    tcp = Connection(host, Own(), "irc")  # type: ignore[arg-type]
    fanout._with_own(tcp, events, caches, rendered, own, render_own)
    protocol = BINARY_PROTOCOL if opcode_kind == "b" else TEXT_PROTOCOL
    reader = WsConnection(host, Own(), protocol=protocol)  # type: ignore[arg-type]
    enqueue_shared([reader], rendered.data)  # the readers' frames, made first (as fan-out does)
    expected = websocket.frames(tcp.out[0], reader.opcode)
    calls: list[bytes] = []
    real = websocket.frames_in_place
    monkeypatch.setattr(websocket, "frames_in_place", lambda data, op: (calls.append(data), real(data, op))[1])
    ws = WsConnection(host, Own(), protocol=protocol)  # type: ignore[arg-type]
    fanout._with_own(ws, events, caches, rendered, own, render_own)
    assert ws.out == [expected]
    assert ws.delivered == tcp.delivered
    assert host.outbox.dirty.count(ws) == 1
    # In place: no framing of the sender's bytes, only of its own lines where they show.
    if max(lengths) <= 108:
        assert calls == ([Own().render(event, {}) for event in events if event.nick == "me"] if render_own else [])
    else:
        assert tcp.out[0] in calls
