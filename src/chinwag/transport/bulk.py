"""Many connections at once: what fan-out and the tick's flush do for every
reader, in one call instead of one per connection. Each is the one-connection
method (``Connection.enqueue``, ``Connection.flush``) for each of them;
tests/transport/test_enqueue.py holds the two forms together."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from chinwag.transport.connection import Connection

BIG_BACKLOG = 128  # lines waiting past which flush() writes in chunks (a busy fan-out tick brings ~80)


def write_queued(conn: Connection, transport: asyncio.Transport, out: list[bytes]) -> None:
    """``out`` (not empty) handed to the transport in one call, and counted:
    the one write step of ``Connection.flush`` and ``flush_all``."""
    if len(out) > 1:  # several rooms' buffers: no copy where the loop writes vectors (uvloop)
        conn.wrote += sum(map(len, out))
        transport.writelines(out)
    else:
        data = out[0]
        conn.wrote += len(data)
        transport.write(data)


def enqueue_shared(conns: list[Connection], data: bytes) -> None:
    """``Connection.enqueue(data)`` for each of ``conns`` (fan-out: one buffer
    many readers share), with one call in all instead of one per connection
    and one ``mark_dirty`` for those that had nothing queued. Connections that
    frame their output (WebSocket: ``opcode``) share the frames of ``data`` as
    the others share ``data``: framed once per opcode, by the first of them
    (``Connection.framed``). Equal to the one-by-one form: tests/transport/test_enqueue.py."""
    if not data:
        return
    fresh: list[Connection] = []
    wire: dict[int, bytes] | None = None  # opcode -> the frames of data
    for conn in conns:
        if conn.closed:
            continue
        out = conn.out
        if not out:
            fresh.append(conn)
        opcode = conn.opcode
        if not opcode:
            out.append(data)
            continue
        if wire is None:
            wire = {}
        framed = wire.get(opcode)
        if framed is None:
            framed = wire[opcode] = conn.framed(data)
        out.append(framed)
    if fresh:
        fresh[0].server.mark_dirty(fresh)


def flush_all(conns: list[Connection]) -> None:
    """``flush()`` for each of ``conns`` (a tick's dirty connections: one call
    for them all, not one each; WebSocket ones too: their frames are queued
    framed, and their transport is the TCP one). A paused connection goes
    through its own ``flush``. Equal to the one-by-one form:
    tests/transport/test_enqueue.py."""
    for conn in conns:
        if conn.paused:
            conn.flush()
            continue
        out = conn.out
        transport = conn.transport
        if out and transport is not None and not conn.closed:
            if len(out) > BIG_BACKLOG:
                conn._flush_some(transport)
                continue
            write_queued(conn, transport, out)
        out.clear()
