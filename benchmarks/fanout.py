"""The server's own cost of one fan-out, without the network: for A/B of the hot path.

    python -m benchmarks.fanout                      # 100 IRC members, 200 then 1200 messages
    python -m benchmarks.fanout --messages 1200      # one run (for valgrind, see below)

An in-process server (memory store) with ``--members`` IRC users in #lobby;
their transports are then replaced by ones that discard what is written, and
each message goes through what the server does for it: ``deliver`` (hold for
the store), ``store_pending`` (the memory store confirms: fan-out) and the
tick's ``_flush``. CPU time per delivery is printed, but on a shared machine
it is noise; for a comparison that is not, count instructions, which do not
depend on what else runs:

    valgrind --tool=callgrind python -m benchmarks.fanout --messages 200
    valgrind --tool=callgrind python -m benchmarks.fanout --messages 1200

(I refs of the second minus the first) / (1000 x (members - 1)) is the cost of
one delivery; the connecting and joining before cancel out. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time

from chinwag.config import Config, Limits
from chinwag.core.events import Message, Outbound
from chinwag.transport.server import Server


class _Discard:
    def write(self, data: bytes) -> None:
        pass


async def run(members: int, messages: int) -> float:
    limits = dataclasses.replace(Limits(), max_per_ip=members + 10, flood_burst=100_000, flood_backlog=100_000)
    srv = Server(Config(text_port=0, irc_port=0, web_port=0, db=":memory:", limits=limits))
    await srv.start()
    writers = []
    for i in range(members):
        _, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        w.write(f"NICK u{i}\r\nUSER u 0 * :u\r\nJOIN #lobby\r\n".encode())
        writers.append(w)
    while len(getattr(srv.hub.rooms.get("#lobby"), "members", ())) < members:
        await asyncio.sleep(0.05)
    conns = list(srv.connections.values())
    real = [conn.transport for conn in conns]
    for conn in conns:
        conn.transport = _Discard()  # type: ignore[assignment]
    sids = [conn.sid for conn in conns]
    start = time.process_time()
    for k in range(messages):
        msg = Message(f"{k:016x}", 0.0, "u0", "#lobby", f"hello {k}", "privmsg")
        srv.deliver([Outbound(sids, msg)])
        srv.store_pending()
        srv._flush()
    spent = time.process_time() - start
    for conn, transport in zip(conns, real, strict=True):
        conn.out.clear()
        conn.transport = transport
    for w in writers:
        w.close()
    await srv.shutdown()
    return spent / (messages * (members - 1)) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fanout", description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--messages", type=int, default=0, help="one run of this many (default: 200, then 1200)")
    args = p.parse_args()
    for n in [args.messages] if args.messages else [200, 1200]:
        print(f"{n} messages to {args.members - 1} members: {asyncio.run(run(args.members, n)):.3f} us CPU/delivery",
              flush=True)


if __name__ == "__main__":
    main()
