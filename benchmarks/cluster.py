"""A chinwag cluster under churn: ``python -m benchmarks.cluster [--smoke]``.

Starts its own PostgreSQL and redis-server (tests/services.py: temp dirs,
127.0.0.1, free ports) and N node processes (benchmarks/clusternodes.py), puts
clients on every node and every protocol (text, IRC, IRC over WebSocket) in a
few rooms, sends at a steady rate, and kills a random node with ``kill -9``
every interval (restarting it at once). Clients of a killed node reconnect to
another node under the same name and catch up: IRC and WebSocket with
``CHATHISTORY AFTER`` their last msgid (merged by msgid, as a client does),
text with ``/history``. Afterwards PostgreSQL's messages (by seq) are the truth:

* expected: every stored message of a room, for each member but its sender;
* lost: expected and never received (live or in a catch-up);
* duplicated: received live more than once by one member (a catch-up's overlap
  with what was already seen is not a duplicate: clients merge it away);
* reordered: received after a message of a later seq (live, or in a catch-up);
* phantom: received but not stored (must never happen).

It also reports reconnect-and-catch-up times (connection lost -> caught up;
p50/p99) and live delivery latency, cross-node and same-node (p50/p99), against
the same load on one node without kills. Exit status 1 on any loss,
duplicate, reordering or phantom (in the cluster run or the baseline), 2 if it
could not run. Bounded in clients, rate and time; loopback only; stops by
itself. ``--fanout`` measures fan-out throughput on 1, 2 and 3 nodes instead
(benchmarks/clusterfanout.py); ``--reuse-port`` the same load on 1 and 2 nodes
sharing one port (SO_REUSEPORT) against one plain SQLite process
(benchmarks/clusterreuse.py; with ``--smoke``, a short run for ``make test``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.clusternodes import Cluster, Node, NodeError

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = ("text", "irc", "ws")
CAPS = "batch message-tags server-time draft/chathistory"
TOKEN = re.compile(r"\bm(\d+)\.(\d+)\.(\d+)\.(\d+)\.(\d+)\b")  # room.sender.k.node.sent_ns
MSGID = re.compile(r"(?:^@|;)msgid=([0-9a-f]{16})[; ]")
SETTINGS = {"history_on_join": 0, "irc_history_on_join": 0, "shutdown_grace": 1.0, "history_max": 1000,
            "exempt": ["127.0.0.0/8"]}  # every client is on loopback: no per-address caps
STEP = 5.0  # seconds: one step of a (re)connection (connect, register, join, catch-up); only when something is wrong
RECONNECT_LIMIT = 60.0  # seconds a client keeps retrying before it is counted as failed


def now() -> float:
    return time.monotonic()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


class Gone(Exception):
    """The connection ended (or a step of it timed out)."""


class Conn:
    """One line-based connection: TCP (text, IRC) or a WebSocket (one line per message)."""

    def __init__(self, reader: asyncio.StreamReader | None = None, writer: asyncio.StreamWriter | None = None,
                 session: aiohttp.ClientSession | None = None, ws: aiohttp.ClientWebSocketResponse | None = None):
        self.reader, self.writer, self.session, self.ws = reader, writer, session, ws

    @classmethod
    async def open(cls, proto: str, node: Node) -> Conn:
        if proto == "ws":
            session = aiohttp.ClientSession()
            try:
                ws = await session.ws_connect(f"http://127.0.0.1:{node.port('web')}/irc",
                                              protocols=("text.ircv3.net",), timeout=aiohttp.ClientWSTimeout(STEP))
            except BaseException:
                await session.close()
                raise
            return cls(session=session, ws=ws)
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", node.port(proto)), STEP)
        return cls(r, w)

    async def send(self, *lines: str) -> None:
        try:
            if self.ws is not None:
                for line in lines:
                    await self.ws.send_str(line)
            else:
                assert self.writer is not None
                self.writer.write("".join(f"{line}\r\n" for line in lines).encode())
                await self.writer.drain()
        except (ConnectionError, OSError, RuntimeError, aiohttp.ClientError) as exc:
            raise Gone(str(exc)) from None

    async def line(self, timeout: float | None = None) -> str:
        try:
            if self.ws is not None:
                msg = await self.ws.receive(timeout)
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    raise Gone(f"websocket {msg.type}")
                return msg.data if isinstance(msg.data, str) else bytes(msg.data).decode()
            assert self.reader is not None
            raw = await asyncio.wait_for(self.reader.readline(), timeout)
        except (TimeoutError, ConnectionError, OSError, aiohttp.ClientError) as exc:
            raise Gone(type(exc).__name__) from None
        if not raw:
            raise Gone("closed")
        return raw.decode(errors="replace").rstrip("\r\n")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.ws is not None:
                await self.ws.close()
            if self.session is not None:
                await self.session.close()
            if self.writer is not None:
                self.writer.close()


@dataclass
class Member:
    """A user of one room: connects, reconnects to any live node, catches up; records what it got."""

    index: int
    proto: str
    room: int
    sender: bool
    home: int  # the node index of its first connection
    nick: str = ""
    node: Node | None = None
    conn: Conn | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    live: dict[tuple[int, int], int] = field(default_factory=dict)  # (sender, k) -> times received live
    order: list[tuple[int, int]] = field(default_factory=list)  # first arrivals, in the order merged
    order_set: set[tuple[int, int]] = field(default_factory=set)
    caught_up: set[tuple[int, int]] = field(default_factory=set)  # first received in a catch-up
    msgids: set[str] = field(default_factory=set)
    last_msgid: str = ""
    reconnects: list[float] = field(default_factory=list)
    failed: str = ""
    latency_cross: list[float] = field(default_factory=list)
    latency_same: list[float] = field(default_factory=list)
    sent: int = 0

    def __post_init__(self) -> None:
        self.nick = f"{self.proto}{self.index}"

    @property
    def room_name(self) -> str:
        return f"#r{self.room}"

    # --- what arrives ---

    def take(self, line: str, live: bool) -> None:
        """A line that may carry a message of the room (live, or from a catch-up)."""
        m = TOKEN.search(line)
        if m is None or int(m.group(1)) != self.room or int(m.group(2)) == self.index:
            return  # not this room's, or its own (a catch-up shows those too)
        if self.proto != "text":
            mid = MSGID.search(line)
            if mid is not None:
                if mid.group(1) in self.msgids and not live:
                    return  # a catch-up's overlap: merged away
                self.msgids.add(mid.group(1))
                self.last_msgid = mid.group(1)  # CHATHISTORY AFTER the last one received
        token = (int(m.group(2)), int(m.group(3)))
        if live:
            self.live[token] = self.live.get(token, 0) + 1
            assert self.node is not None
            ms = (time.monotonic_ns() - int(m.group(5))) / 1e6
            (self.latency_same if int(m.group(4)) == self.node.index else self.latency_cross).append(ms)
        elif token in self.live:
            return  # seen live already (text: its /history repeats it)
        if token not in self.order_set:
            self.order_set.add(token)
            self.order.append(token)
            if not live:
                self.caught_up.add(token)

    # --- (re)connecting ---

    async def connect(self, cluster: Cluster, first: bool, rng: random.Random) -> None:
        lost = now()
        deadline = lost + RECONNECT_LIMIT
        while True:
            running = cluster.running
            choices = [n for n in running if n is not self.node] or running
            home = [n for n in running if n.index == self.home]
            node = home[0] if first and home else rng.choice(choices) if choices else None
            if node is not None:
                try:
                    if await self._attempt(node, first):
                        if not first:
                            self.reconnects.append(now() - lost)
                        self.connected.set()
                        return
                except (Gone, OSError, NodeError, KeyError, aiohttp.ClientError, TimeoutError):
                    pass
            if now() > deadline:
                self.failed = f"could not reconnect within {RECONNECT_LIMIT} s"
                raise Gone(self.failed)
            await asyncio.sleep(0.2)  # the nick is held until the dead node's lease runs out

    async def _attempt(self, node: Node, first: bool) -> bool:
        conn = await Conn.open(self.proto, node)
        self.node = node
        try:
            if await self._register(conn, first):
                return True
        except BaseException:
            await conn.close()
            raise
        await conn.close()
        return False

    async def _register(self, conn: Conn, first: bool) -> bool:
        """Name, room and (after a loss) catch-up on ``conn``; False if the name is still held."""
        held: list[str] = []  # live lines that came during the catch-up: after it
        if self.proto == "text":
            await conn.send(self.nick)
            while "Welcome to chinwag" not in (line := await conn.line(STEP)):
                if line.startswith("name taken"):
                    return False
            # then: the catch-up of a returning name (--- while you were away --- ... --- end of history ---),
            # the room, and after a loss what a person does on coming back: /history (merged by token)
            await conn.send(f"/join {self.room_name}", *(() if first else ("/history 1000",)))
            block = ""
            while True:
                line = await conn.line(STEP)
                if line.startswith("--- "):
                    if line.startswith("--- end of history"):
                        if block == "mine":
                            break
                        block = ""
                    elif line.startswith(f"--- history of {self.room_name} "):
                        block = "mine"
                    elif line.startswith(f"--- no history of {self.room_name}"):
                        break
                    elif line == "--- while you were away ---":
                        block = "away"
                elif line.startswith(f"* in {self.room_name}:") and first:
                    break
                elif TOKEN.search(line):
                    if block:
                        self.take(line, live=False)
                    else:
                        held.append(line)  # live, while the answers came
        else:
            await conn.send("CAP LS 302", f"NICK {self.nick}", f"USER {self.nick} 0 * :{self.nick}",
                            f"CAP REQ :{CAPS}", "CAP END")
            while True:
                line = await conn.line(STEP)
                cmd = _command(line)
                if cmd in ("001", "422", "376"):
                    if cmd != "001":
                        break
                elif cmd in ("433", "436"):
                    return False
                elif cmd == "PING":
                    await conn.send("PONG" + line[4:])
            await conn.send(f"JOIN {self.room_name}")
            while _command(line := await conn.line(STEP)) != "366":
                if _command(line) == "PRIVMSG":
                    held.append(line)
            if not first and self.last_msgid:
                await conn.send(f"CHATHISTORY AFTER {self.room_name} msgid={self.last_msgid} 1000")
                ref = ""
                while True:
                    line = await conn.line(STEP)
                    cmd = _command(line)
                    if cmd == "BATCH" and " +" in line and not ref:
                        ref = line.split(" +", 1)[1].split()[0]
                    elif cmd == "BATCH" and ref and f" -{ref}" in line:
                        break
                    elif cmd == "PRIVMSG":
                        if ref and f"batch={ref}" in line:
                            self.take(line, live=False)
                        else:
                            held.append(line)
                    elif cmd == "FAIL":
                        break
        self.conn = conn
        for line in held:
            self.take(line, live=True)
        return True

    async def run(self, cluster: Cluster, stop: asyncio.Event, rng: random.Random) -> None:
        first = True
        while not stop.is_set():
            self.connected.clear()
            try:
                await self.connect(cluster, first, rng)
            except Gone:
                return
            first = False
            assert self.conn is not None
            try:
                while True:
                    line = await self.conn.line()
                    if line.startswith("PING"):
                        await self.conn.send("PONG" + line[4:])
                    else:
                        self.take(line, live=True)
            except Gone:
                self.connected.clear()
                await self.conn.close()

    async def send_loop(self, rate: float, stop: asyncio.Event, t0: float) -> None:
        """One message every 1/rate s (absolute schedule), while connected."""
        k = 0
        while not stop.is_set():
            await asyncio.sleep(max(0.0, t0 + k / rate - now()))
            k += 1
            if not self.connected.is_set() or self.conn is None or self.node is None:
                continue  # the node died: nothing sent until reconnected (those ticks are skipped)
            token = f"m{self.room}.{self.index}.{k}.{self.node.index}.{time.monotonic_ns()}"
            line = token if self.proto == "text" else f"PRIVMSG {self.room_name} :{token}"
            try:
                await self.conn.send(line)
                self.sent += 1
            except Gone:
                pass


def _command(line: str) -> str:
    parts = line.split(" ", 3)
    i = 0
    while i < len(parts) and parts[i][:1] in ("@", ":"):
        i += 1
    return parts[i] if i < len(parts) else ""


async def truth(pg_url: str, rooms: int) -> dict[int, list[tuple[int, int]]]:
    """Each room's stored messages in seq order, as tokens (sender, k)."""
    import asyncpg

    from chinwag.storage.base import room_key

    conn = await asyncpg.connect(pg_url)
    try:
        out: dict[int, list[tuple[int, int]]] = {}
        for r in range(rooms):
            rows = await conn.fetch("SELECT text FROM messages WHERE key = $1 ORDER BY seq", room_key(f"#r{r}"))
            out[r] = [(int(m.group(2)), int(m.group(3))) for row in rows if (m := TOKEN.search(row["text"]))]
        return out
    finally:
        await conn.close()


@dataclass
class Run:
    nodes: int
    kills: int = 0
    rooms: dict[int, dict[str, int]] = field(default_factory=dict)
    reconnects: list[float] = field(default_factory=list)
    cross: list[float] = field(default_factory=list)
    same: list[float] = field(default_factory=list)
    by_protocol: dict[str, dict[str, int]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        bad = sum(r["lost"] + r["duplicated"] + r["reordered"] + r["phantom"] for r in self.rooms.values())
        return bad == 0 and not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes, "kills": self.kills, "seconds": round(self.seconds, 1), "rooms": self.rooms,
            "by_protocol": self.by_protocol, "failed": self.failed, "ok": self.ok,
            "reconnect_s": {"n": len(self.reconnects), "p50": pct(self.reconnects, 50),
                            "p99": pct(self.reconnects, 99)},
            "latency_ms": {"cross_p50": pct(self.cross, 50), "cross_p99": pct(self.cross, 99),
                           "same_p50": pct(self.same, 50), "same_p99": pct(self.same, 99),
                           "cross_n": len(self.cross), "same_n": len(self.same)},
        }


async def run_once(pg_url: str, redis_url: str, args: argparse.Namespace, nodes: int, kill_every: float,
                   duration: float, seed: int) -> Run:
    rng = random.Random(seed)
    result = Run(nodes)
    async with Cluster(pg_url, redis_url, settings=SETTINGS, cluster_name=f"bench{seed}") as cluster:
        await cluster.start(nodes)
        members = []
        senders_per_room = max(1, args.senders // args.rooms)
        for i in range(args.clients):
            # room i % rooms; within a room, members cycle over every (node, protocol), all nodes and
            # protocols in each run of 3: (0 text) (1 irc) (2 ws) (0 irc) (1 ws) (2 text) ...
            room, k = i % args.rooms, i // args.rooms
            members.append(Member(i, PROTOCOLS[(k + k // nodes) % 3] if nodes > 1 else PROTOCOLS[k % 3], room,
                                  sender=k < senders_per_room, home=k % nodes))
        stop = asyncio.Event()
        tasks = [asyncio.create_task(m.run(cluster, stop, rng)) for m in members]
        await asyncio.wait_for(asyncio.gather(*(m.connected.wait() for m in members)), 60)
        senders = [m for m in members if m.sender]
        per_sender = args.rate / len(senders)
        t0 = now()
        send_stop = asyncio.Event()
        sending = [asyncio.create_task(m.send_loop(per_sender, send_stop, t0 + rng.random() / per_sender))
                   for m in senders]
        # kill -9 a random node every kill_every s (none in the last interval), restart it at once
        while now() - t0 < duration:
            wait = min(kill_every, duration - (now() - t0)) if kill_every else duration - (now() - t0)
            await asyncio.sleep(max(0.0, wait))
            if kill_every and now() - t0 + kill_every <= duration + 1e-6:
                victim = rng.randrange(len(cluster.nodes))
                await cluster.kill9(victim)
                result.kills += 1
                print(f"  {now() - t0:5.1f} s: kill -9 {cluster.nodes[victim].name}", file=sys.stderr, flush=True)
                await cluster.restart(victim)
        send_stop.set()
        await asyncio.gather(*sending)
        result.seconds = now() - t0
        # drain: until every member has everything stored (or time runs out)
        stored = await truth(pg_url, args.rooms)
        deadline = now() + args.drain
        while now() < deadline:
            missing = sum(1 for m in members for t in stored[m.room]
                          if t[0] != m.index and t not in m.order_set)
            if missing == 0:
                break
            await asyncio.sleep(0.1)
        stop.set()
        for m in members:
            if m.conn is not None:
                await m.conn.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stored = await truth(pg_url, args.rooms)
    for r in range(args.rooms):
        seq = {t: i for i, t in enumerate(stored[r])}
        row = {"stored": len(stored[r]), "expected": 0, "lost": 0, "duplicated": 0, "reordered": 0, "phantom": 0,
               "reordered_in_catch_up": 0}
        for m in (m for m in members if m.room == r):
            expected = [t for t in stored[r] if t[0] != m.index]
            got = m.order_set
            lost = sum(1 for t in expected if t not in got)
            dup = sum(n - 1 for n in m.live.values() if n > 1)
            phantom = sum(1 for t in got if t not in seq)
            high, reordered, in_catch_up = -1, 0, 0
            for t in m.order:
                if t in seq:
                    if seq[t] < high:
                        reordered += 1
                        in_catch_up += t in m.caught_up
                    high = max(high, seq[t])
            for key, n in (("expected", len(expected)), ("lost", lost), ("duplicated", dup),
                           ("reordered", reordered), ("phantom", phantom), ("reordered_in_catch_up", in_catch_up)):
                row[key] += n
                p = result.by_protocol.setdefault(m.proto, {})
                p[key] = p.get(key, 0) + n
            if m.failed:
                result.failed.append(f"{m.nick}: {m.failed}")
            result.reconnects += m.reconnects
            result.cross += m.latency_cross
            result.same += m.latency_same
        result.rooms[r] = row
    return result


def print_run(title: str, run: Run) -> None:
    print(f"{title}: {run.nodes} node(s), {run.kills} kill -9, {run.seconds:.1f} s")
    for r, row in run.rooms.items():
        print(f"  #r{r}: stored {row['stored']}, deliveries expected {row['expected']}, lost {row['lost']}, "
              f"duplicated {row['duplicated']}, reordered {row['reordered']} ({row['reordered_in_catch_up']} of them "
              f"in a catch-up), phantom {row['phantom']}")
    for proto, row in sorted(run.by_protocol.items()):
        print(f"  {proto:4}: expected {row['expected']}, lost {row['lost']}, duplicated {row['duplicated']}, "
              f"reordered {row['reordered']}")
    if run.reconnects:
        print(f"  reconnect and catch-up: {len(run.reconnects)}, p50 {pct(run.reconnects, 50):.2f} s, "
              f"p99 {pct(run.reconnects, 99):.2f} s")
    print(f"  live delivery latency: cross-node p50 {pct(run.cross, 50):.1f} ms, p99 {pct(run.cross, 99):.1f} ms "
          f"({len(run.cross)}); same node p50 {pct(run.same, 50):.1f} ms, p99 {pct(run.same, 99):.1f} ms "
          f"({len(run.same)})")
    for f in run.failed:
        print(f"  FAILED {f}")
    print("  " + ("ok: nothing lost, duplicated or reordered" if run.ok else "NOT OK"), flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=3, help="nodes (default 3)")
    p.add_argument("--clients", type=int, default=30, help="clients, spread over nodes and protocols (30)")
    p.add_argument("--rooms", type=int, default=3, help="rooms (3)")
    p.add_argument("--senders", type=int, default=9, help="senders in all (9)")
    p.add_argument("--rate", type=float, default=30.0, help="messages/s in all (30)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of sending (30)")
    p.add_argument("--kill-every", type=float, default=8.0, help="seconds between kill -9 of a random node (8; 0 none)")
    p.add_argument("--baseline", type=float, default=None, help="seconds of the one-node run (default: --duration)")
    p.add_argument("--drain", type=float, default=20.0, help="max seconds for the last deliveries and catch-ups (20)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--smoke", action="store_true", help="a short run (well under a minute): exit 1 on any loss")
    p.add_argument("--fanout", action="store_true", help="fan-out deliveries/s on 1, 2, 3 nodes instead")
    p.add_argument("--reuse-port", action="store_true",
                   help="fan-out on 1 and 2 nodes sharing one port (SO_REUSEPORT) against one SQLite process instead")
    p.add_argument("--receivers", type=int, default=150, help="--fanout, --reuse-port: IRC receivers (150)")
    p.add_argument("--window", type=int, default=32, help="--fanout, --reuse-port: messages in flight per sender (32)")
    p.add_argument("--warmup", type=float, default=2.0,
                   help="--fanout, --reuse-port: seconds of load before measuring (2)")
    p.add_argument("--fanout-seconds", type=float, default=8.0,
                   help="--fanout, --reuse-port: measured seconds per run (8)")
    p.add_argument("--rounds", type=int, default=1, help="--fanout, --reuse-port: rounds, alternating order (1)")
    p.add_argument("--profile", metavar="DIR", default=None,
                   help="--fanout, --reuse-port: py-spy every node over the window into DIR (a dev tool; slows them)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    return p


async def amain(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.services import Postgres, Redis

    pg, redis = Postgres(), Redis()
    await asyncio.gather(asyncio.to_thread(pg.start), asyncio.to_thread(redis.start))
    try:
        if args.reuse_port:
            from benchmarks.clusterreuse import reuse_table

            result: int = await reuse_table(pg, redis, args)
            return result
        if args.fanout:
            from benchmarks.clusterfanout import fanout_table

            result = await fanout_table(pg, redis, args)
            return result
        runs = []
        cluster_run = await run_once(pg.database(), redis.url, args, args.nodes, args.kill_every, args.duration,
                                     args.seed)
        runs.append(cluster_run)
        if not args.json:
            print_run("cluster", cluster_run)
        base = await run_once(pg.database(), redis.url, args, 1, 0.0, args.baseline or args.duration, args.seed + 1)
        runs.append(base)
        if args.json:
            print(json.dumps({"cluster": cluster_run.to_dict(), "one_node": base.to_dict()}))
        else:
            print_run("one node (the same load, no kills)", base)
            print(f"cross-node latency vs one node: p50 {pct(cluster_run.cross, 50):.1f} ms vs "
                  f"{pct(base.same, 50):.1f} ms, p99 {pct(cluster_run.cross, 99):.1f} ms vs "
                  f"{pct(base.same, 99):.1f} ms")
        return 0 if all(r.ok for r in runs) else 1
    finally:
        await asyncio.gather(asyncio.to_thread(pg.close), asyncio.to_thread(redis.close))


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    if args.smoke and args.reuse_port:  # 3 short runs (about 20 s in all, PostgreSQL's start included)
        args.receivers, args.senders, args.window = 40, 4, 16
        args.warmup, args.fanout_seconds, args.rounds = 0.5, 2.0, 1
    elif args.smoke:
        args.clients, args.rooms, args.senders, args.rate = 12, 2, 6, 20.0
        args.duration, args.kill_every, args.baseline, args.drain = 16.0, 4.0, 3.0, 15.0
    if not (1 <= args.nodes <= 8 and 1 <= args.clients <= 300 and 1 <= args.rooms <= args.clients
            and 1 <= args.senders <= args.clients and 0 < args.rate <= 2000 and 0 < args.duration <= 600
            and 0 < args.drain <= 120 and 1 <= args.receivers <= 2000 and 1 <= args.window <= 64
            and 0 <= args.warmup <= 30 and 0 < args.fanout_seconds <= 120 and 1 <= args.rounds <= 5):
        p.error("out of bounds: nodes 1..8, clients 1..300, rooms/senders 1..clients, rate 0..2000, duration "
                "0..600 s, drain 0..120 s, receivers 1..2000, window 1..64, warmup 0..30, fanout-seconds 0..120, "
                "rounds 1..5")
    try:
        return asyncio.run(asyncio.wait_for(amain(args), 900))
    except NodeError as exc:
        print(f"benchmarks.cluster: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
