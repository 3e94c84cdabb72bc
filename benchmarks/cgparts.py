"""Instructions per message, part by part, on the fan-out benchmark's busy tick.

    python -m benchmarks.cgparts                      # IRC: every part, 300 and 1300 messages
    python -m benchmarks.cgparts --text               # the text protocol
    python -m benchmarks.cgparts --tree /path/to/other/checkout   # its src/ first on the path
    python -m benchmarks.cgparts --store sqlite --parts total,store,release   # history in SQLite
    python -m benchmarks.cgparts --parts read,feed,next,say,flood --per-read 5   # the read side, 5 lines a read

Each part is one function of the server, called through ``operator.call``
(``benchmarks.fanout --part NAME``), and callgrind collects only inside it
(``--collect-atstart=no --toggle-collect=_operator_call``): its inclusive
instruction count, whatever it calls. ``total`` is the whole measured window
(``--dump-before=os_getppid``). Each part is run for two message counts; the
difference divided by the difference in messages is its cost per message
(what a run does once cancels out). Deterministic: the same tree gives the
same counts on a busy machine. Runs under ``nice -n 19``; each takes a minute
or two (valgrind). Loopback only, in process (benchmarks/fanout.py).

``--store sqlite``: history in a SQLite file (``benchmarks.fanout --store
sqlite``). ``total`` then counts every thread (callgrind
``--separate-threads=yes``): the sum, then each thread's share (the loop in
the window; the others, whose counts callgrind gives for their whole life,
by the same difference), each per message. A part is
counted in the thread that runs it (``store``: the hand-off; ``release``: the
commit's callback on the loop, release, fan-out and write included). The
checkpoint thread runs by the clock (every ``checkpoint_every`` seconds of
valgrind's slow time), and the writer finishes each of its passes: those two
threads' counts change from run to run (by ~2,000 a message seen);
``--inline-checkpoints`` (SQLite's own checkpoints, in the commits, by page
count) makes them exact.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import operator
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

# part -> what it covers (the first line of --help's table)
PARTS: dict[str, str] = {
    "input": "Connection._handle: a sender's read to the message held (parse, flood, hub, hold)",
    "parse": "the adapter's receive_data + next_command (line split, fastpath / parser, Say)",
    "dispatch": "Server.dispatch: hub, metrics, log check, Outbox.deliver",
    "read": "Connection.data_received (--ws: HttpGate.data_received): the whole read, input and what is around it",
    "feed": "the adapter's receive_data (line split)",
    "next": "the adapter's next_command (fastpath / parser, Say; the call that finds nothing more too)",
    "say": "IRC: fastpath.say; text: TextProtocol._command_for (a line to its Say)",
    "flood": "Flood.take (the flood buckets)",
    "hub": "Hub.handle: checks, the Say handler, the Message",
    "hold": "Outbox.deliver: safe_event, output budget, metrics, held",
    "store": "the tick's hand-off to the store (Server.store_pending), release and fan-out included",
    "release": "Outbox.committed (+ apply_commits): confirmations matched to held messages, gathered into the batch",
    "fanout": "transport/fanout.deliver: render once per variant, enqueue per member, senders' own",
    "render": "the adapters' render (inside fanout)",
    "write": "Outbox.write_out: each dirty connection's flush (the transport discards)",
}


# the read side in detail (round 7): not in the default run
DETAIL = ("read", "feed", "next", "say", "flood")


def _through_call(fn: Callable[..., Any]) -> Callable[..., Any]:
    call = operator.call

    def wrapped(*args: Any) -> Any:
        return call(fn, *args)

    return wrapped


def wrap_part(srv: Any, part: str) -> None:
    """Route ``part`` of the running server ``srv`` through operator.call."""
    from chinwag.transport import outbox as outbox_module
    from chinwag.transport.connection import Connection

    adapters = {type(conn.adapter) for conn in srv.connections.values()}
    if part == "input":
        Connection._handle = _through_call(Connection._handle)  # type: ignore[method-assign]
    elif part == "parse":
        for cls in adapters:
            cls.receive_data = _through_call(cls.receive_data)
            cls.next_command = _through_call(cls.next_command)
    elif part == "read":
        from chinwag.transport.httpgate import HttpGate

        Connection.data_received = _through_call(Connection.data_received)  # type: ignore[method-assign]
        HttpGate.data_received = _through_call(HttpGate.data_received)  # type: ignore[method-assign]  # (--ws)
    elif part == "feed":
        for cls in adapters:
            cls.receive_data = _through_call(cls.receive_data)
    elif part == "next":
        for cls in adapters:
            cls.next_command = _through_call(cls.next_command)
    elif part == "say":
        from chinwag.protocols.irc import fastpath
        from chinwag.protocols.text import TextProtocol

        fastpath.say = _through_call(fastpath.say)
        TextProtocol._command_for = _through_call(TextProtocol._command_for)  # type: ignore[method-assign]
    elif part == "flood":
        from chinwag.core.ratelimit import Flood

        Flood.take = _through_call(Flood.take)  # type: ignore[method-assign]
    elif part == "render":
        for cls in adapters:
            cls.render = _through_call(cls.render)
    elif part == "dispatch":
        srv.dispatch = _through_call(srv.dispatch)
    elif part == "hub":
        srv.hub.handle = _through_call(srv.hub.handle)
    elif part == "hold":
        outbox_deliver = srv.outbox.deliver
        srv.outbox.deliver = _through_call(outbox_deliver)
        if vars(srv).get("deliver") == outbox_deliver:  # (Server.deliver bound to it: 6b and later)
            srv.deliver = srv.outbox.deliver
    elif part == "store":
        srv.store_pending = _through_call(srv.store_pending)
    elif part == "release":
        # The store's callback, and what a store that confirms inside append
        # (this benchmark's memory store) has applied once store_pending is done
        # (Outbox.apply_commits). (With a store that confirms later, SQLite,
        # the callback calls apply_commits itself: the two would nest.)
        srv.store.on_commit = _through_call(srv.store.on_commit)
        outbox = srv.outbox
        if hasattr(outbox, "apply_commits"):
            outbox.apply_commits = _through_call(outbox.apply_commits)
    elif part == "fanout":
        outbox_module.deliver_batch = _through_call(outbox_module.deliver_batch)  # type: ignore[attr-defined]
    elif part == "write":
        srv.outbox.write_out = _through_call(srv.outbox.write_out)
    else:
        raise ValueError(part)


def _summary(path: str) -> int:
    for line in open(path):
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no summary in {path}")


def _valgrind(tree: str, part: str, messages: int, extra: list[str], work: str, threads: bool = False) -> list[int]:
    """The part's count ([the sum, then each thread's] with ``threads``)."""
    out = os.path.join(work, f"cg.{part}.{messages}")
    cmd = ["nice", "-n", "19", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    if part == "total":
        cmd += ["--dump-before=os_getppid"]
        if threads:
            cmd += ["--separate-threads=yes"]
    else:
        cmd += ["--collect-atstart=no", "--toggle-collect=_operator_call"]
    cmd += [sys.executable, "-m", "benchmarks.fanout", "--messages", str(messages), *extra]
    if part != "total":
        cmd += ["--part", part]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=f"{os.path.join(tree, 'src')}:{here}")
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    files = sorted(glob.glob(out + "*"))
    if part == "total" and threads:
        # The window's dump (out.2-01) is the loop thread's alone; every other
        # thread is dumped when the process ends (out-02, out-03, ...: in the
        # order they started), its whole life: what it does outside the window
        # (opening the database, closing it) is the same for both message
        # counts and cancels out in the difference.
        if not os.path.exists(out + ".2-01"):
            raise RuntimeError(f"no window dump among {files}")
        others = sorted(glob.glob(out + "-*"), key=lambda f: int(f.rsplit("-", 1)[1]))
        per = [_summary(out + ".2-01"), *(_summary(f) for f in others if not f.endswith("-01"))]
        return [sum(per), *per]
    path = out + ".2" if part == "total" else out
    if part == "total" and not os.path.exists(path):
        raise RuntimeError(f"no window dump among {files}")
    return [_summary(path)]


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cgparts", description=__doc__.split("\n")[0])
    p.add_argument("--tree", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   help="the checkout whose src/ is measured (default: this one)")
    p.add_argument("--text", action="store_true", help="the text protocol (default IRC)")
    p.add_argument("--ws", action="store_true", help="IRC over WebSocket")
    p.add_argument("--parts", default=",".join(["total", *(part for part in PARTS if part not in DETAIL)]),
                   help=f"comma-separated (default: all but the read side's details, {','.join(DETAIL)})")
    p.add_argument("--messages", default="300,1300", help="the two message counts (default 300,1300)")
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--store", default="memory", choices=("memory", "sqlite"),
                   help="the history store (benchmarks.fanout --store); sqlite: total per thread too")
    p.add_argument("--inline-checkpoints", action="store_true",
                   help="with --store sqlite: SQLite's checkpoints in the commits (deterministic counts)")
    p.add_argument("--per-read", type=int, default=1, help="lines per read (IRC, text; default 1: one message a read)")
    args = p.parse_args()
    small, big = (int(n) for n in args.messages.split(","))
    extra = ["--members", str(args.members), "--batch", "50", "--senders", "10"]
    extra += ["--text"] if args.text else ["--ws"] if args.ws else []
    extra += ["--store", args.store] if args.store != "memory" else []
    extra += ["--inline-checkpoints"] if args.inline_checkpoints else []
    threads = args.store != "memory"
    extra += ["--per-read", str(args.per_read)] if args.per_read > 1 else []
    print(f"tree {args.tree}; {args.members} members, 50 messages per tick from 10 senders, {args.store} store, "
          f"{args.per_read} per read; "
          f"instructions per message ((Ir({big}) - Ir({small})) / {big - small})", flush=True)
    with tempfile.TemporaryDirectory(prefix="cgparts-") as work:
        for part in args.parts.split(","):
            counts = [_valgrind(args.tree, part, n, extra, work, threads) for n in (small, big)]
            per = (counts[1][0] - counts[0][0]) / (big - small)
            about = PARTS.get(part, "the measured window: every part" + (", every thread" if threads else ""))
            print(f"{part:9} {per:10,.0f}   {about}", flush=True)
            for i, (a, b) in enumerate(zip(counts[0][1:], counts[1][1:], strict=False), start=1):
                # (thread 1: the loop; then the threads as they started: aiohttp's
                # resolver, the history writer, its checkpoint thread, readers)
                print(f"  thread {i}: {(b - a) / (big - small):10,.0f}  ({a:,} / {b:,})", flush=True)


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
