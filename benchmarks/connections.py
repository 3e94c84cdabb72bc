"""Hold N idle, registered connections and measure the server's RSS per connection.

    python -m benchmarks.connections --connections 10000                    # IRC users, no room
    python -m benchmarks.connections --protocol text --connections 2000     # text users, all in #lobby
    python -m benchmarks.connections --server ngircd --connections 10000    # the same IRC users on ngircd
    python -m benchmarks.connections --room --connections 2000              # IRC users, all in #lobby
    python -m benchmarks.connections --connections 10000 --tls              # IRC over TLS
    python -m benchmarks.connections --protocol text --connections 2000 --tracemalloc 15   # where it goes

IRC users register and stay out of rooms unless ``--room``. A text user joins #lobby at once, and N
people joining one room is a join-notice storm (N^2/2 lines, and each joiner's
member list): the tool waits until every client has read every join notice before
it holds them idle, so the figure is the idle cost, not queued output; keep N in
the low thousands. Connections come from 127.0.0.1 .. 127.0.0.N source addresses
so that no single address passes chinwag's per-IP limit, as clients behind many
machines would. Loopback only; bounded in count and time.

With ``--tls`` the server gets a fresh self-signed pair (``chinwag
tls-selfsigned``'s code, which needs the cryptography package) and the IRC
clients connect to its IRC TLS port, verifying the certificate.

With ``--tracemalloc N`` the spawned chinwag traces its allocations
(benchmarks/tracemem/sitecustomize.py, which dumps a snapshot on SIGUSR1): one
snapshot before the clients connect and one after the idle hold; the tool prints
the N source lines that grew most, in bytes and objects per connection, and the
total per file. Tracing slows the server several times: take the RSS figure from
a run without it.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.sslproto
import os
import resource
import signal
import ssl
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks import ngircd
from benchmarks.procinfo import SpawnedServer, report, rss_kib

WELCOME_END = (b" 376 ", b" 422 ")  # end of MOTD, or no MOTD: registration done


class IdleClient(asyncio.Protocol):
    """An IRC user: registers, answers PING, and answers the final check (its own PING's PONG)."""

    room = False  # IdleRoomClient: JOIN #lobby once welcomed

    def __init__(self, nick: str, registered: asyncio.Future[None], pongs: asyncio.Queue[str]) -> None:
        self.nick = nick
        self.registered = registered
        self.pongs = pongs
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.joins = 0  # join notices seen (text users)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.hello())

    def hello(self) -> bytes:
        return f"NICK {self.nick}\r\nUSER {self.nick} 0 * :{self.nick}\r\n".encode()

    def check(self) -> bytes:
        """What to send at the end to see that the connection still answers."""
        return b"PING bench-check\r\n"

    def data_received(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            self.line(line)

    def line(self, line: bytes) -> None:
        if line.startswith(b"PING "):
            assert self.transport is not None
            self.transport.write(b"PONG " + line[5:].rstrip(b"\r") + b"\r\n")
        elif not self.registered.done() and any(m in line for m in WELCOME_END):
            if self.room:
                assert self.transport is not None
                self.transport.write(b"JOIN #lobby\r\n")
            else:
                self.registered.set_result(None)
        elif self.room and b" JOIN " in line:
            if not line.startswith(f":{self.nick}!".encode()):
                self.joins += 1
        elif self.room and not self.registered.done() and b" 366 " in line:
            self.registered.set_result(None)
        elif b" PONG " in line and b"bench-" in line:
            self.pongs.put_nowait(self.nick)


class IdleRoomClient(IdleClient):
    room = True


class IdleTextClient(IdleClient):
    """A text user: its name, then it is in #lobby; the final check is ``/rooms``."""

    def hello(self) -> bytes:
        return self.nick.encode() + b"\n"

    def check(self) -> bytes:
        return b"/rooms\n"

    def line(self, line: bytes) -> None:
        if line.startswith(b"* ") and line.endswith(b" has joined #lobby\r"):
            self.joins += 1
        elif not self.registered.done() and line.startswith(b"* in #lobby"):
            self.registered.set_result(None)
        elif line.startswith(b"* rooms: "):
            self.pongs.put_nowait(self.nick)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.registered.done():
            self.registered.set_exception(ConnectionError(f"{self.nick} lost before registering"))


async def run(
    n: int,
    hold: float,
    per_ip: int,
    timeout: float,
    server: SpawnedServer | ngircd.NgircdServer,
    protocol: str = "irc",
    batch: int = 250,  # connect a batch at once, then wait for it to register: bounded backlog
    tls: ssl.SSLContext | None = None,
    burst: int = 0,
    trace: str = "",
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    port = server.port if protocol == "text" else server.listener_port("irc_tls" if tls else "irc")
    kind = {"irc": IdleClient, "irc-room": IdleRoomClient, "text": IdleTextClient}[protocol]
    await asyncio.sleep(0.5)  # let the server settle before the idle reading
    idle = rss_kib(server.pid) or 0
    if trace:
        await snapshot(server.pid, trace, 1, timeout)
    pongs: asyncio.Queue[str] = asyncio.Queue()
    clients: list[IdleClient] = []
    started = time.monotonic()

    async def connect(i: int) -> IdleClient:
        fut: asyncio.Future[None] = loop.create_future()
        src = f"127.0.{1 + i // per_ip // 250}.{1 + (i // per_ip) % 250}"
        _, proto = await loop.create_connection(
            lambda: kind(f"idle{i}", fut, pongs), "127.0.0.1", port, local_addr=(src, 0),
            ssl=tls, server_hostname="localhost" if tls else None,
        )
        return proto

    for first in range(0, n, batch):
        group = await asyncio.gather(*(connect(i) for i in range(first, min(n, first + batch))))
        clients += group
        await asyncio.wait_for(asyncio.gather(*(c.registered for c in group)), timeout)
    await asyncio.wait_for(asyncio.gather(*(c.registered for c in clients)), timeout)
    # In one room: client i sees the n - 1 - i who join after it: wait until all are read. (Text
    # users in a room above limits.crowd_size get summaries instead of join lines: no wait.)
    if protocol == "irc-room":
        deadline = time.monotonic() + timeout
        while sum(c.joins for c in clients) < n * (n - 1) // 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    setup = time.monotonic() - started
    if burst:  # one overlong line each (417, the connection stays): what a big paste leaves behind
        line = b"PRIVMSG #nowhere :" + b"x" * burst + b"\r\n"
        for c in clients:
            assert c.transport is not None
            c.transport.write(line)
    await asyncio.sleep(hold)  # idle: what does holding them cost?
    held = rss_kib(server.pid) or 0
    if trace:
        await snapshot(server.pid, trace, 2, timeout)
    for c in clients:  # every one still answers
        assert c.transport is not None
        c.transport.write(c.check())
    answered: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(answered) < n and time.monotonic() < deadline:
        try:
            answered.add(await asyncio.wait_for(pongs.get(), max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
    lost = sum(c.lost for c in clients)
    for c in clients:
        assert c.transport is not None
        c.transport.close()
    return {
        "connections": n,
        "registered_in_s": round(setup, 2),
        "answered_ping": len(answered),
        "lost": lost,
        "server_rss_idle_kib": idle,
        "server_rss_held_kib": held,
        "rss_per_connection_kib": round((held - idle) / n, 2),
        "tls": tls is not None,
        "burst_bytes": burst,
    }


async def snapshot(pid: int, out: str, n: int, timeout: float) -> None:
    """Have the traced server dump its snapshot ``n`` (see tracemem/sitecustomize.py)."""
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while not os.path.exists(f"{out}.{n}.done"):
        if time.monotonic() > deadline:
            raise TimeoutError("the server wrote no tracemalloc snapshot")
        await asyncio.sleep(0.1)


def trace_report(out: str, n: int, top: int) -> str:
    """What grew between the two snapshots, per connection: by line, then by file."""
    before = tracemalloc.Snapshot.load(f"{out}.1")
    after = tracemalloc.Snapshot.load(f"{out}.2")
    lines = [f"tracemalloc: what the server holds per connection (after - before) / {n}", "  bytes  objects  where"]
    stats = after.compare_to(before, "lineno")
    for stat in stats[:top]:
        frame = stat.traceback[0]
        where = "/".join(frame.filename.split("/")[-2:])
        lines.append(f"{stat.size_diff / n:7.0f}  {stat.count_diff / n:7.2f}  {where}:{frame.lineno}")
    files = after.compare_to(before, "filename")
    lines.append("  bytes  objects  file")
    for stat in files[:top]:
        where = "/".join(stat.traceback[0].filename.split("/")[-3:])
        lines.append(f"{stat.size_diff / n:7.0f}  {stat.count_diff / n:7.2f}  {where}")
    total = sum(s.size_diff for s in files)
    lines.append(f"{total / n:7.0f}  bytes per connection traced in all (Python allocations only)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.connections", description=__doc__.split("\n\n")[0])
    p.add_argument("--protocol", choices=("irc", "text"), default="irc", help="irc (no room) or text (in #lobby)")
    p.add_argument("--room", action="store_true", help="IRC users JOIN #lobby too (as text users always do)")
    p.add_argument("--server", choices=("chinwag", "ngircd"), default="chinwag", help="ngircd: IRC only")
    p.add_argument("--connections", type=int, default=10_000)
    p.add_argument("--hold", type=float, default=5.0, help="seconds to hold them idle before measuring")
    p.add_argument("--per-ip", type=int, default=100, help="connections per loopback source address")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--server-cpu", type=int)
    p.add_argument("--tls", action="store_true", help="IRC over TLS (a self-signed certificate made for the run)")
    p.add_argument("--burst", type=int, default=0, metavar="BYTES",
                   help="after registering, each client sends one line this long (an overlong line: 417)")
    p.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                   help="chinwag only: trace the server's allocations and print the N lines that grew most")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not 1 <= args.connections <= 60_000:
        p.error("--connections must be 1..60000")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.connections + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want) if hard != resource.RLIM_INFINITY else want, hard))
    server: SpawnedServer | ngircd.NgircdServer
    protocol = "irc-room" if args.protocol == "irc" and args.room else args.protocol
    if args.tls and (args.server != "chinwag" or args.protocol != "irc"):
        p.error("--tls: chinwag's IRC users only")
    batch = 250
    # A batch connects at once, then registers: lift the unregistered cap to match.
    env = {f"CHINWAG_LIMITS__{k}": str(args.per_ip) for k in ("MAX_PER_IP", "MAX_UNREGISTERED_PER_IP")}
    tls: ssl.SSLContext | None = None
    with tempfile.TemporaryDirectory(prefix="chinwag-bench-") as tmp:
        if args.tls:
            from chinwag.selfsigned import make_pair

            cert, key, _ = make_pair(Path(tmp))
            env |= {"CHINWAG_TLS_CERT": str(cert), "CHINWAG_TLS_KEY": str(key), "CHINWAG_IRC_TLS_PORT": "0",
                    "CHINWAG_TEXT_TLS_PORT": "0", "CHINWAG_WEB_TLS_PORT": "0"}
            tls = ssl.create_default_context(cafile=str(cert))
            # The clients' side, not the server's: asyncio's SSL protocol keeps a
            # 256 KiB buffer per connection, 2.5 GiB for 10,000 in this process.
            asyncio.sslproto.SSLProtocol.max_size = 16 * 1024
        trace = ""
        if args.server == "ngircd":
            if args.protocol != "irc":
                p.error("ngircd speaks IRC only")
            server, batch = ngircd.NgircdServer(args.server_cpu), ngircd.CONNECT_CONCURRENCY
        else:
            if args.tracemalloc:
                trace = str(Path(tmp) / "snapshot")
                here = str(Path(__file__).resolve().parent / "tracemem")
                env |= {"CHINWAG_TRACEMALLOC_OUT": trace,
                        "PYTHONPATH": os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH"))))}
            server = SpawnedServer("127.0.0.1", args.server_cpu, env=env)
        server.start(30)
        try:
            result = asyncio.run(run(args.connections, args.hold, args.per_ip, args.timeout, server, protocol, batch,
                                     tls, args.burst, trace))
        finally:
            server.stop()
        if trace:
            print(trace_report(trace, args.connections, args.tracemalloc))
    result = {"server": args.server, "protocol": protocol, **result}
    ok = result["answered_ping"] == args.connections and result["lost"] == 0
    return report(result, ok, args.json)


if __name__ == "__main__":
    sys.exit(main())
