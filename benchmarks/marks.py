"""What a node's delivery marks cost its event loop (transport/cluster/marks.py).

    python -m benchmarks.marks                    # 10,000 local users and 10,000 ghosts in one busy room
    python -m benchmarks.marks --smoke            # a fraction of a second, for `make test`
    python -m benchmarks.marks --local 50000 --rooms 10 --json

No PostgreSQL (the write is a stand-in that does nothing) and no clients: one
in-process hub; every local user's connection is a stand-in whose transport is
one real asyncio socket transport (its ``get_write_buffer_size`` is what a
round calls for each local member). Each round, every room has moved (the
worst case: each round looks at every local member of every room that moved),
nobody is behind. Measured: the median time of one round (``round()``, the
``sleep(0)`` in it included) and per local member; times 1/``cluster_mark_every``
that is the CPU share the marks take while every room is busy. The per-message
cost (one dict assignment in the sequencer) is not measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import time
from types import SimpleNamespace
from typing import Any

from chinwag.core.events import Register
from chinwag.core.hub import Hub
from chinwag.core.limits import Limits
from chinwag.transport.cluster.marks import DeliveryMarks
from chinwag.transport.cluster.sequencer import Sequencer


class _Db:
    async def write_marks(self, node: str, marks: object, released: object) -> None:
        return None


class _Conn:
    __slots__ = ("sid", "out", "gated", "closed", "transport")

    def __init__(self, sid: int, transport: asyncio.Transport) -> None:
        self.sid = sid
        self.out: list[bytes] = []
        self.gated: list[object] | None = None
        self.closed = False
        self.transport = transport


async def measure(local: int, ghosts: int, rooms: int, rounds: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, a)
    try:
        hub = Hub(Limits(), clock=time.time)
        names = tuple(f"#r{i}" for i in range(rooms))
        conns: dict[int, _Conn] = {}
        for sid in range(1, local + 1):
            hub.connect(sid)
            hub.handle(sid, Register(f"u{sid}", names))
            conns[sid] = _Conn(sid, transport)
        for g in range(1, ghosts + 1):  # (ghosts are members with negative sids: skipped, but iterated)
            for name in names:
                hub.rooms[name].members[-g] = None  # type: ignore[index]
        node: Any = SimpleNamespace(hub=hub, db=_Db(), name="bench", limits=Limits(),
                                    server=SimpleNamespace(connections=conns))
        sequencer = node.sequencer = Sequencer.__new__(Sequencer)
        sequencer.convs, sequencer.moved_keys, sequencer.heads = {}, {}, {}
        for name in names:
            sequencer.watch(name)
        marks = DeliveryMarks(node)
        times = []
        for _ in range(rounds):
            for name in names:
                sequencer.convs[name].next += 1
                sequencer.moved_keys[name] = None
            start = time.perf_counter()
            await marks.round()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        every = Limits().cluster_mark_every
        return {"local": local, "ghosts": ghosts, "rooms": rooms, "rounds": rounds,
                "round_ms": median * 1000, "per_member_us": median / (local * rooms) * 1e6,
                "cpu_share_at_default": median / every}
    finally:
        transport.close()
        b.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--local", type=int, default=10_000, help="local users, each in every room")
    p.add_argument("--ghosts", type=int, default=10_000, help="other nodes' users in every room")
    p.add_argument("--rooms", type=int, default=1)
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--smoke", action="store_true", help="1,000 users, 5 rounds")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.smoke:
        args.local, args.ghosts, args.rounds = 1000, 1000, 5
    result = asyncio.run(measure(args.local, args.ghosts, args.rooms, args.rounds))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['local']} local users and {result['ghosts']} ghosts in {result['rooms']} moved room(s):"
              f" one round {result['round_ms']:.2f} ms (median of {result['rounds']}),"
              f" {result['per_member_us']:.3f} us per local member and room;"
              f" {100 * result['cpu_share_at_default']:.2f}% of a core at cluster_mark_every"
              f" {Limits().cluster_mark_every} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
