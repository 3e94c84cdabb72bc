"""What cluster presence costs a node's event loop (core/handlers/remote.py, transport/cluster/wire.py).

    python -m benchmarks.ghosts                  # 10,000 users on node a, in 100 rooms
    python -m benchmarks.ghosts --smoke          # a second or two, for `make test`
    python -m benchmarks.ghosts --users 50000 --json

No sockets: two in-process hubs stand for two nodes. Measured, each the
median of ``--runs``:

* ``ops_for`` after a room message (the node calls it after every delivery:
  the cost every message pays in cluster mode);
* a whole snapshot: ``snapshot`` + ``wire.snap`` on a, ``wire.decode`` +
  ``reconcile`` on b with nothing to repair, then with everything to repair
  (b knew nobody): what a resync stalls each side for;
* ``drop_node`` on b: every ghost of a quits (a node died).

Exit status: 0; 1 with ``--budget MS`` when a resync or a drop takes longer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from chinwag.config import Limits
from chinwag.core.events import Register, Say
from chinwag.core.handlers import remote
from chinwag.core.hub import Hub
from chinwag.transport.cluster import wire


def ms(fn: Callable[[], object], runs: int, setup: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def node_a(users: int, rooms: int) -> Hub:
    hub = Hub(Limits(), clock=time.time)
    remote.ops_for(hub, [])  # cluster mode on
    for sid in range(1, users + 1):
        hub.connect(sid)
        remote.ops_for(hub, hub.handle(sid, Register(f"user{sid}", (f"#room{sid % rooms}",))))
    return hub


def node_b(a: Hub) -> Hub:
    b = Hub(Limits(), clock=time.time)
    b.connect(1)
    b.handle(1, Register("bystander", ("#room0",)))
    remote.reconcile(b, "a", remote.snapshot(a))
    return b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="1,000 users, 3 runs")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--budget", type=float, default=0.0, help="ms a resync or a drop may take (0: none)")
    args = parser.parse_args(argv)
    users, runs = (1_000, 3) if args.smoke else (max(1, min(args.users, 200_000)), max(1, args.runs))
    a = node_a(users, args.rooms)
    b = node_b(a)
    out = a.handle(1, Say("#room1", "hello"))
    result: dict[str, Any] = {"users": users, "rooms": args.rooms}
    result["ops_for_message_us"] = ms(lambda: remote.ops_for(a, out), max(runs, 1000)) * 1000
    data = wire.snap("a", "e", 1, remote.snapshot(a))
    result["snapshot_bytes"] = len(data)
    result["snapshot_encode_ms"] = ms(lambda: wire.snap("a", "e", 1, remote.snapshot(a)), runs)

    def resync(hub: Hub) -> None:
        item = wire.decode(data)
        assert item is not None
        remote.reconcile(hub, "a", item.presences)

    result["resync_nothing_to_repair_ms"] = ms(lambda: resync(b), runs)
    fresh: list[Hub] = []

    def new_b() -> None:
        fresh[:] = [Hub(Limits(), clock=time.time)]

    result["resync_all_new_ms"] = ms(lambda: resync(fresh[0]), runs, new_b)
    dropped: list[Hub] = []

    def full_b() -> None:
        dropped[:] = [node_b(a)]

    result["drop_node_ms"] = ms(lambda: remote.drop_node(dropped[0], "a", "a died"), runs, full_b)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{users} users of node a in {args.rooms} rooms; medians of {runs} runs")
        print(f"  ops_for after a room message   {result['ops_for_message_us']:.2f} µs")
        print(f"  snapshot + encode on a          {result['snapshot_encode_ms']:.1f} ms ({len(data):,} bytes)")
        print(f"  decode + reconcile, no change   {result['resync_nothing_to_repair_ms']:.1f} ms")
        print(f"  decode + reconcile, all new     {result['resync_all_new_ms']:.1f} ms")
        print(f"  drop_node (all quit)            {result['drop_node_ms']:.1f} ms")
    worst = max(result["resync_nothing_to_repair_ms"], result["resync_all_new_ms"], result["drop_node_ms"])
    return 1 if args.budget and worst > args.budget else 0


if __name__ == "__main__":
    sys.exit(main())
