"""Fan-out on 1, 2 and 3 cluster nodes: ``python -m benchmarks.cluster --fanout``.

One room; R IRC receivers and S IRC senders spread round robin over the nodes
(each delivery of a message to a receiver on another node crossed Redis); each
sender keeps W messages in flight (echo-message: the next goes when its own
comes back, i.e. once stored and released). Measured over a window after a
warm-up: deliveries/s, the CPU of the node processes, of PostgreSQL (postmaster
and backends), of redis-server and of this load generator, per delivery (from
/proc; CPU seconds / deliveries), and the whole machine's busy share. A first
row runs one plain ``chinwag serve --postgres`` (no Redis) for reference.
Bounded: every run stops after its window and drain; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

from benchmarks.clusternodes import Cluster, Node
from benchmarks.procinfo import cpu_seconds, machine_cpu_seconds, own_cpu_seconds, write_syscalls
from benchmarks.storage_ab import _tree_cpu_s

ROOM = "#fan"
# Production cluster timings (the tests' short ones only make deaths quick to see).
DEFAULT_CLUSTER = {"cluster_heartbeat": 2.0, "cluster_lease": 8.0, "cluster_gap_wait": 0.05, "cluster_poll": 0.5}
SETTINGS = {"history_on_join": 0, "irc_history_on_join": 0, "shutdown_grace": 1.0, "exempt": ["127.0.0.0/8"]}


class Light(asyncio.Protocol):
    """An IRC client that only counts: PRIVMSGs received; a sender also sends the next on each echo."""

    def __init__(self, nick: str, window: int = 0) -> None:
        self.nick = nick.encode()
        self.window = window
        self.count = 0
        self.sent = 0
        self.ready = asyncio.Event()
        self.sending = False
        self.transport: asyncio.Transport | None = None
        self._head = b""
        self._echo = b":" + self.nick + b"!"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        n = self.nick
        caps = b"CAP REQ :echo-message\r\n" if self.window else b""
        transport.write(caps + b"NICK %s\r\nUSER %s 0 * :%s\r\n" % (n, n, n) + (b"CAP END\r\n" if caps else b"")
                        + b"JOIN " + ROOM.encode() + b"\r\n")

    def data_received(self, data: bytes) -> None:
        self.count += data.count(b" PRIVMSG ")
        if not self.ready.is_set():
            self._head = (self._head + data)[-4096:]
            if b" 366 " in self._head:
                self.ready.set()
        if b"PING " in data:
            for line in data.split(b"\r\n"):
                if line.startswith(b"PING "):
                    self.write(b"PONG " + line[5:] + b"\r\n")
        if self.window and self.sending:
            acks = data.count(self._echo)
            if acks:
                self.send(acks)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send(self, n: int) -> None:
        line = b"PRIVMSG " + ROOM.encode() + b" :fan-out payload of a typical chat line, about sixty bytes\r\n"
        self.write(line * n)
        self.sent += n

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(node: Node, nick: str, window: int = 0) -> Light:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(lambda: Light(nick, window), "127.0.0.1", node.port("irc"))
    await asyncio.wait_for(proto.ready.wait(), 30)
    return proto


def _writes(pids: list[int]) -> int:
    return sum(write_syscalls(pid) or 0 for pid in pids)


async def scrape(node: Node) -> dict[str, float]:
    """A node's /metrics (on its own metrics port), summed by metric name."""
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port("metrics"))
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        body = (await asyncio.wait_for(reader.read(), 10)).decode(errors="replace")
    finally:
        writer.close()
    out: dict[str, float] = {}
    for line in body.split("\r\n\r\n", 1)[-1].splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            key = name.split("{", 1)[0]
            try:
                out[key] = out.get(key, 0.0) + float(value)
            except ValueError:
                pass
    return out


async def _metric(nodes: list[Node], name: str) -> float:
    return sum(m.get(name, 0.0) for m in await asyncio.gather(*(scrape(n) for n in nodes)))


def _profile(nodes: list[Node], args: argparse.Namespace, tag: str) -> list[tuple[str, Any]]:
    """``--profile DIR``: py-spy on every node over the measured window (benchmarks/pyspy.py)."""
    if not getattr(args, "profile", None):
        return []
    from benchmarks.pyspy import Recorder

    os.makedirs(args.profile, exist_ok=True)
    out = []
    for node in nodes:
        rec = Recorder(node.pid, os.path.join(args.profile, f"{tag}-{node.name}-{time.strftime('%H%M%S')}.txt"),
                       args.fanout_seconds)
        rec.start()
        out.append((node.name, rec))
    return out


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        got = cpu_seconds(pid)
        if got is not None:
            total += got[0] + got[1]
    return total


def per_node(nodes: list[Node], receivers: int, senders: int) -> dict[str, list[int]]:
    """node name -> [receivers, senders] that registered on it (from its log: where they really landed)."""
    out: dict[str, list[int]] = {}
    for node in nodes:
        nicks = node.registered()
        out[node.name] = [sum(1 for n in nicks if n.startswith("r") and n[1:].isdigit() and int(n[1:]) < receivers),
                          sum(1 for n in nicks if n.startswith("s") and n[1:].isdigit() and int(n[1:]) < senders)]
    return out


async def fanout_once(pg: Any, redis: Any, nodes: int, clustered: bool, args: argparse.Namespace, *,
                      reuse_port: bool = False, sqlite: bool = False) -> dict[str, Any]:
    """One run. ``reuse_port``: the nodes share one port (every client connects to it, the kernel
    spreads them); ``sqlite``: plain ``chinwag serve --db FILE`` (no PostgreSQL, no Redis)."""
    async with Cluster(None if sqlite else pg.database(), redis.url if clustered else None, settings=SETTINGS,
                       limits=DEFAULT_CLUSTER if clustered else None, reuse_port=reuse_port,
                       metrics=clustered) as cluster:
        started = await cluster.start(nodes)
        receivers: list[Light] = []
        for i in range(args.receivers):
            receivers.append(await connect(started[i % nodes], f"r{i}"))
        senders = [await connect(started[i % nodes], f"s{i}", args.window) for i in range(args.senders)]
        for s in senders:  # joins of the last receivers reach every node before the load starts
            s.sending = True
            s.send(s.window)
        await asyncio.sleep(args.warmup)
        pids = [n.pid for n in started]
        c0, g0, m0, w0 = _cpu(pids), own_cpu_seconds(), machine_cpu_seconds()[0], _writes(pids)
        pg0, r0 = _tree_cpu_s(pg.proc.pid), _cpu([redis.proc.pid])
        recorders = _profile(started, args, "ref" if sqlite else f"{nodes}node")
        d0 = sum(r.count for r in receivers)
        refills0 = await _metric(started, "chinwag_cluster_refills_total") if clustered else 0.0
        await asyncio.sleep(args.fanout_seconds)
        got = sum(r.count for r in receivers) - d0
        refills = (await _metric(started, "chinwag_cluster_refills_total") if clustered else 0.0) - refills0
        c1, g1, m1, w1 = _cpu(pids), own_cpu_seconds(), machine_cpu_seconds()[0], _writes(pids)
        pg1, r1 = _tree_cpu_s(pg.proc.pid), _cpu([redis.proc.pid])
        for s in senders:
            s.sending = False
        profiles = {}
        for name, rec in recorders:
            err = await asyncio.to_thread(rec.wait)
            profiles[name] = f"py-spy failed: {err}" if err else rec.out
        # drain, then check completeness: every message sent reached every receiver
        sent = sum(s.sent for s in senders)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while loop.time() < deadline and sum(r.count for r in receivers) < sent * len(receivers):
            await asyncio.sleep(0.1)
        received = sum(r.count for r in receivers)
        landed = per_node(started, len(receivers), len(senders))
        for c in receivers + senders:
            c.close()
    per = 1e6 / got if got else float("nan")
    gen = (g1[0] + g1[1]) - (g0[0] + g0[1])
    return {
        "nodes": nodes, "cluster": clustered, "deliveries_per_s": got / args.fanout_seconds,
        "node_cpu_us_per_delivery": (c1 - c0) * per, "node_cpu_share": (c1 - c0) / args.fanout_seconds,
        "postgres_us_per_delivery": (pg1 - pg0) * per, "redis_us_per_delivery": (r1 - r0) * per,
        "generator_us_per_delivery": gen * per, "generator_cpu_share": gen / args.fanout_seconds,
        "machine_busy_share": (m1 - m0) / args.fanout_seconds,
        # every write-type syscall of the nodes (to clients, PostgreSQL, Redis, SQLite's file)
        "deliveries_per_write": got / (w1 - w0) if w1 > w0 else float("nan"),
        # gaps in a conversation's seq the nodes filled from PostgreSQL (cluster_gap_wait passed), per message
        "refills_per_message": refills / (got / len(receivers)) if got else float("nan"),
        "complete": received >= sent * len(receivers), "sent": sent, "received": received, "per_node": landed,
        "profiles": profiles,
    }


async def fanout_table(pg: Any, redis: Any, args: argparse.Namespace) -> int:
    """``pg``, ``redis``: the running tests/services.py Postgres and Redis."""
    rows = []
    plan = [(1, False)] + [(n, True) for n in (1, 2, 3)]
    for r in range(args.rounds):
        for nodes, clustered in plan if r % 2 == 0 else plan[::-1]:
            row = await fanout_once(pg, redis, nodes, clustered, args)
            rows.append(row)
            if not args.json:
                kind = f"{nodes} node{'s' if nodes > 1 else ''}" + ("" if clustered else " (no cluster)")
                print(f"{kind:18} {row['deliveries_per_s']:9.0f} deliveries/s  nodes "
                      f"{row['node_cpu_us_per_delivery']:6.2f} us/delivery ({row['node_cpu_share']:.2f} CPUs)  "
                      f"PostgreSQL {row['postgres_us_per_delivery']:5.2f}  redis {row['redis_us_per_delivery']:5.2f}"
                      f"  generator {row['generator_us_per_delivery']:5.2f} us/delivery "
                      f"({row['generator_cpu_share']:.2f} CPUs)  machine {row['machine_busy_share']:.2f} CPUs busy"
                      f"{'' if row['complete'] else '  INCOMPLETE'}", flush=True)
    if args.json:
        print(json.dumps(rows))
    return 0 if all(r["complete"] for r in rows) else 1
