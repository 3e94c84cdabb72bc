"""What a node's nick-row bookkeeping costs when its users quit at once
(transport/cluster/node.py ``_release_later``: a SIGTERM, a network cut, a
reconnect storm): each quit finds its row's holders.

    python -m benchmarks.nickrows                # 10,000 users quitting one after another
    python -m benchmarks.nickrows --users 2000

No sockets, no database: the node's bookkeeping alone (the releases are queued,
not run). Prints the total CPU time and the mean per quit.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from types import SimpleNamespace
from typing import Any

from chinwag.transport.cluster.node import ClusterNode


async def run(users: int) -> float:
    node: Any = ClusterNode.__new__(ClusterNode)
    node.claimed, node.holders = {}, {}
    node.hub = SimpleNamespace(nicks={})
    node._claims = asyncio.Queue()
    for sid in range(1, users + 1):
        node.hub.nicks[f"u{sid}"] = sid
        if hasattr(node, "_hold"):
            node._hold(sid, f"u{sid}")
        else:  # (before the index by nick)
            node.claimed[sid] = f"u{sid}"
    start = time.process_time()
    for sid in range(1, users + 1):
        del node.hub.nicks[f"u{sid}"]
        node._release_later(f"u{sid}")
    spent = time.process_time() - start
    assert node._claims.qsize() == users and not node.claimed
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    spent = asyncio.run(run(args.users))
    print(f"{args.users} quits: {spent * 1000:.1f} ms CPU, {spent / args.users * 1e6:.2f} us per quit")


if __name__ == "__main__":
    main()
