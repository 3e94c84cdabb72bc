"""The server's own cost of fan-out, without the network: for A/B of the hot path.

    python -m benchmarks.fanout                      # 100 IRC members, 200 then 1200 messages
    python -m benchmarks.fanout --messages 1200      # one run (for valgrind, see below)
    python -m benchmarks.fanout --batch 50 --senders 10 --members 200   # a busy tick, input path included
    python -m benchmarks.fanout --ws --batch 50 --senders 10             # the same over IRC-over-WebSocket
    python -m benchmarks.fanout --text --batch 50 --senders 10           # the same over the text protocol
    python -m benchmarks.fanout --store sqlite --batch 50 --senders 10   # history in a SQLite file (temp)

An in-process server (memory store) with ``--members`` IRC users in #lobby;
their transports are then replaced by ones that discard what is written.

``--store sqlite``: the history in a SQLite file in a temp directory, as the
comparison runs it (WAL, ``synchronous=NORMAL``, the checkpoint thread). Each
tick then waits (``await``, the loop idle in its poll: no instructions) until
the writer thread's commit has come back through the loop and released every
message: the loop's side of storing (the hand-off, the commit's callback, the
release) is counted, and under callgrind the writer and checkpoint threads too
(``--separate-threads=yes`` to see them apart: benchmarks/cgparts.py). The
checkpoint thread runs by the clock (every 2 s: under valgrind, a different
number of passes from run to run, and the writer finishes each); with
``--inline-checkpoints`` SQLite checkpoints inside the commits instead, every
1000 pages: the same counts every run.

* ``--batch 1`` (the default): each message goes through what the server does
  for it after the hub: ``deliver`` (hold for the store), ``store_pending``
  (the memory store confirms: fan-out) and the tick's flush.
* ``--batch B``: the whole path of a busy tick, as the fan-out benchmark
  drives it: ``B`` ``PRIVMSG`` lines arrive on the first ``--senders``
  connections (``data_received``: parse, flood control, hub, sanitize), then
  the tick's flush stores them (one fan-out batch) and writes one buffer per
  connection.

CPU time per delivery is printed, but on a shared machine it is noise; for a
comparison that is not, count instructions, which do not depend on what else
runs:

    valgrind --tool=callgrind python -m benchmarks.fanout --messages 200
    valgrind --tool=callgrind python -m benchmarks.fanout --messages 1200

(I refs of the second minus the first) / (1000 x (members - 1)) is the cost of
one delivery; the connecting and joining before cancel out. Loopback only.

They cancel out only as far as they take the same instructions each run, and
the joins wait on the clock (so, under valgrind, on its speed). For exactly the
measured window, ``os.getppid()`` marks its start and end:

    valgrind --tool=callgrind --dump-before=os_getppid --callgrind-out-file=/tmp/cg.%p \
        python -m benchmarks.fanout --messages 1000 ...

writes the window's counts alone to ``/tmp/cg.<pid>.2`` (its ``summary:`` line);
divided by ``messages x (members - 1)``: instructions per delivery, input included.

``--ws``: the members connect to ``/irc`` over WebSocket instead (aiohttp's
client, ``text.ircv3.net``). With ``--batch``, each message arrives as one
masked frame in its own read, handed to the connection's HTTP gate (the
transport's protocol: the same entry point as a socket read), then the tick's
flush, as for IRC. (Until round 8 the loop also ran three iterations a tick, for
aiohttp's reader tasks of before round 4; chinwag reads the frames in the read's
own callback since, and those iterations were ~3,400 instructions a message of
the harness's own, which IRC's run does not have: docs/performance.md, round 8.)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import os
import struct
import tempfile
import time
from typing import Any

import aiohttp

from benchmarks.cgparts import PARTS, wrap_part
from chinwag.config import Config, Limits
from chinwag.core.events import Message, Outbound
from chinwag.transport.server import Server


class _Discard:
    def write(self, data: bytes) -> None:
        pass

    def writelines(self, data: list[bytes]) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False


def ws_frame(line: bytes) -> bytes:
    """A client's text frame, masked (RFC 6455 requires it) with a fixed key."""
    n = len(line)
    assert n < 126
    key = b"\x11\x22\x33\x44"
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(line))
    return struct.pack("!BB", 0x81, 0x80 | n) + key + masked


async def _join_ws(srv: Server, members: int) -> list[Any]:
    """``members`` WebSocket users in #lobby; their sessions, to close at the end."""
    host, port = srv.addresses["web"]
    out: list[Any] = []
    for i in range(members):
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(f"http://{host}:{port}/irc", protocols=("text.ircv3.net",))
        for line in (f"NICK u{i}", "USER u 0 * :u", "JOIN #lobby"):
            await ws.send_str(line)
        out.append((session, ws))
    return out


async def run(members: int, messages: int, batch: int = 1, senders: int = 1, profile: str = "",
              ws: bool = False, text: bool = False, part: str = "", store: str = "memory",
              inline_checkpoints: bool = False, per_read: int = 1) -> float:
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="chinwag-fanout-") as tmp:
            return await _run(members, messages, batch, senders, profile, ws, text, part, os.path.join(tmp, "h.db"),
                              inline_checkpoints, per_read)
    return await _run(members, messages, batch, senders, profile, ws, text, part, ":memory:", per_read=per_read)


def _wait_for_commits(srv: Server) -> Any:
    """With a store that confirms later (SQLite): a function that returns, per
    tick, a future done once every message held was released (the store's
    callback wrapped once; the wrapper's own call is ~1/50 of a call a message)."""
    loop = asyncio.get_running_loop()
    outbox = srv.outbox
    waiting: list[asyncio.Future[None]] = []
    inner = srv.store.on_commit
    assert inner is not None

    def on_commit(receipts: Any) -> None:
        inner(receipts)
        if waiting and not outbox.senders:
            waiting.pop().set_result(None)

    srv.store.on_commit = on_commit

    def wait() -> asyncio.Future[None]:
        fut = loop.create_future()
        if outbox.senders:
            waiting.append(fut)
        else:
            fut.set_result(None)
        return fut

    return wait


async def _run(members: int, messages: int, batch: int, senders: int, profile: str, ws: bool, text: bool,
               part: str, db: str, inline_checkpoints: bool = False, per_read: int = 1) -> float:
    limits = dataclasses.replace(Limits(), max_per_ip=members + 10, flood_burst=10**9, flood_backlog=10**9,
                                 flood_rate=10**9, flood_burst_bytes=10**12, flood_rate_bytes=10**12)
    srv = Server(Config(text_port=0, irc_port=0, web_port=0, db=db, limits=limits))
    if inline_checkpoints:
        srv.store.checkpoint_every = None  # type: ignore[attr-defined]  # (SqliteStore: SQLite's own, in the commits)
    await srv.start()
    writers = []
    sessions = await _join_ws(srv, members) if ws else []
    for i in range(0 if ws else members):
        _, w = await asyncio.open_connection("127.0.0.1", srv.port("text" if text else "irc"))
        w.write(f"u{i}\n/join #lobby\n".encode() if text else f"NICK u{i}\r\nUSER u 0 * :u\r\nJOIN #lobby\r\n".encode())
        writers.append(w)
    while len(getattr(srv.hub.rooms.get("#lobby"), "members", ())) < members:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # the joins' output written
    conns = sorted(srv.connections.values(), key=lambda conn: conn.sid)
    real = [conn.transport for conn in conns]
    for conn in conns:
        conn.transport = _Discard()  # type: ignore[assignment]
    sids = [conn.sid for conn in conns]
    outbox = getattr(srv, "outbox", None)  # (older trees: Server._flush)
    flush = outbox.flush if outbox is not None else srv._flush  # type: ignore[attr-defined]
    if part:
        wrap_part(srv, part)
    committed = _wait_for_commits(srv) if db != ":memory:" else None
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    before = sum(conn.delivered for conn in conns)
    frames = [ws_frame(b"PRIVMSG #lobby :hello %d" % j) for j in range(messages)] if ws else []
    ticks: list[list[tuple[Any, bytes]]] = []
    if per_read > 1 and batch > 1 and not ws:  # each read carries per_read lines of one sender
        line = b"hello %d\n" if text else b"PRIVMSG #lobby :hello %d\r\n"
        ticks = [[(conns[(j // per_read) % senders], b"".join(line % i for i in range(j, min(j + per_read, end))))
                  for j in range(k, end, per_read)]
                 for k in range(0, messages, batch) for end in [min(k + batch, messages)]]
    os.getppid()  # a marker: valgrind --tool=callgrind --dump-before=os_getppid (see the module's docstring)
    start = time.process_time()
    if batch <= 1:
        for k in range(messages):
            msg = Message(f"{k:016x}", 0.0, "u0", "#lobby", f"hello {k}", "privmsg")
            srv.deliver([Outbound(sids, msg)])
            srv.store_pending()
            flush()
            if committed is not None:
                await committed()
    elif ws:
        gates = [conn.gate for conn in conns[:senders]]  # the transports' protocols
        for k in range(0, messages, batch):
            for j in range(k, min(k + batch, messages)):
                gates[j % senders].data_received(frames[j])
            flush()
            if committed is not None:
                await committed()
            srv.output.pending = 0
    elif ticks:
        for reads in ticks:
            for talker, data in reads:
                talker.data_received(data)
            flush()
            if committed is not None:
                await committed()
            srv.output.pending = 0
    else:
        talkers = conns[:senders]
        line = b"hello %d\n" if text else b"PRIVMSG #lobby :hello %d\r\n"
        for k in range(0, messages, batch):
            for j in range(k, min(k + batch, messages)):
                talkers[j % senders].data_received(line % j)
            flush()
            if committed is not None:
                await committed()
            srv.output.pending = 0  # (the budget's estimate: the guard's timer would reset it)
    spent = time.process_time() - start
    os.getppid()  # (the marker at the window's end)
    delivered = sum(conn.delivered for conn in conns) - before
    if delivered < messages * (members - 1):
        print(f"warning: {delivered:,} deliveries, not {messages * (members - 1):,}: not every message went out")
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    for conn, transport in zip(conns, real, strict=True):
        conn.out.clear()
        conn.transport = transport
    for w in writers:
        w.close()
    for session, client in sessions:
        await client.close()
        await session.close()
    await srv.shutdown()
    return spent / (messages * (members - 1)) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fanout", description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--messages", type=int, default=0, help="one run of this many (default: 200, then 1200)")
    p.add_argument("--batch", type=int, default=1, help="messages per tick, through the input path (default 1: "
                   "deliver only)")
    p.add_argument("--senders", type=int, default=10, help="with --batch: connections the messages come from")
    p.add_argument("--per-read", type=int, default=1, help="with --batch (IRC, text): lines per read, each read "
                   "from one sender (default 1)")
    p.add_argument("--ws", action="store_true", help="members over IRC-over-WebSocket (/irc), not IRC")
    p.add_argument("--text", action="store_true", help="members over the text protocol, not IRC")
    p.add_argument("--store", default="memory", choices=("memory", "sqlite"),
                   help="the history store: memory (default) or SQLite in a temp file (the comparison's)")
    p.add_argument("--inline-checkpoints", action="store_true",
                   help="with --store sqlite: SQLite's own WAL checkpoints, in the writer's commits (every 1000 "
                        "pages: deterministic under callgrind), not the checkpoint thread's (every 2 s)")
    p.add_argument("--part", default="", choices=("", *PARTS),
                   help="call this part through operator.call, for callgrind --toggle-collect (benchmarks/cgparts.py)")
    p.add_argument("--profile", default="", metavar="FILE",
                   help="cProfile the measured loop only into FILE (pstats; python -m pstats FILE)")
    args = p.parse_args()
    for n in [args.messages] if args.messages else [200, 1200]:
        cost = asyncio.run(run(args.members, n, args.batch, args.senders, args.profile, args.ws, args.text, args.part,
                                 args.store, args.inline_checkpoints, args.per_read))
        kind = "WebSocket" if args.ws else "text" if args.text else "IRC"
        print(f"{n} messages to {args.members - 1} {kind} members: {cost:.3f} us CPU/delivery", flush=True)


if __name__ == "__main__":
    main()
