"""The clients: asyncio Protocols that send tagged lines and account for every delivery.

A payload is ``~TOKEN KEY SENT_US``: KEY = SEQ * SENDERS + SENDER names the
message exactly (one number to parse instead of two), SENT_US is microseconds on
this process's perf_counter, so each receiver knows which message it got and how
old it is. The server relays one TCP stream per client from one thread, so a
receiver must see each sender's messages in order: the fast path is a single
compare per delivery, and anything else (a gap, a repeat, a late arrival) falls
to a slow path that keeps exact counts. The receive path is the generator's
bottleneck, hence one regex ``findall`` per chunk rather than per-line splitting,
and latency samples kept raw until the measured window ends.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
import re
import socket
import string
import struct
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from benchmarks.creceiver import CReceiver, ReceiverError
from benchmarks.procinfo import cpu_seconds, machine_cpu_seconds, own_cpu_seconds, rss_kib, write_syscalls

_BASE_NS = time.perf_counter_ns()
_perf_ns = time.perf_counter_ns
HOLE_CAP = 100_000  # longest gap whose numbers are remembered, to tell a late arrival from a duplicate
CONNECT_CONCURRENCY = 64  # below asyncio's default listen backlog of 100
# Raw latency samples (4 bytes each) kept before folding them into the histogram.
# A fold takes ~40 ns per sample of the generator's loop (over 1 s at 32 Mi), so
# one inside the measured window stalls reading and skews it: 128 Mi (512 MiB)
# covers ~60 s at 2 M deliveries/s, and a fold in the window is reported.
LAT_FOLD_AT = 128 << 20


def now_us() -> int:
    """Microseconds since import: small ints keep parsing and arithmetic cheap."""
    return (_perf_ns() - _BASE_NS) // 1000


class BenchError(RuntimeError):
    """The run could not be carried out (setup failed); no figures."""


@dataclass(frozen=True, slots=True)
class Options:
    clients: int = 200
    senders: int = 10
    rate: float = 0.0  # total messages/s; 0 = as fast as the window allows
    window: int = 8  # messages in flight per sender when rate == 0
    duration: float = 10.0
    warmup: float = 1.0
    drain: float = 5.0
    connect_timeout: float = 10.0
    pad: int = 0  # filler characters appended to each payload
    host: str = "127.0.0.1"
    port: int = 0
    server_pid: int | None = None
    protocol: str = "text"  # text | irc | ws (IRC over WebSocket)
    connect_concurrency: int = CONNECT_CONCURRENCY  # connections being set up at once (keep below the listen backlog)
    receiver: str | None = None  # path of the compiled C receiver (benchmarks/receiver.c); None = read in Python


class Sender:
    """The sending side of one client: sequence numbers and, in window mode, flow."""

    __slots__ = ("sid", "count", "client", "bench", "prefix", "suffix", "frame", "seq", "acked")

    def __init__(self, sid: int, client: Client, bench: Bench) -> None:
        self.sid = sid
        self.count = bench.opts.senders
        self.client = client
        self.bench = bench
        proto = bench.opts.protocol
        self.prefix = (b"" if proto == "text" else b"PRIVMSG #lobby :") + bench.tag
        end = {"text": b"\n", "irc": b"\r\n", "ws": b""}[proto]  # ws: one line per frame, no line ending
        self.suffix = (b" " + b"x" * bench.opts.pad if bench.opts.pad else b"") + end
        self.frame = proto == "ws"
        self.seq = 0  # next sequence number = messages sent
        self.acked = 0  # messages the observer has received

    def send(self, n: int) -> None:
        """Write ``n`` messages in one write; they share one timestamp because they leave together."""
        transport = self.client.transport
        if transport is None or transport.is_closing():
            return
        t = b" %d" % now_us()
        pre, suf, q, count, sid = self.prefix, self.suffix, self.seq, self.count, self.sid
        lines = [pre + b"%d" % (i * count + sid) + t + suf for i in range(q, q + n)]
        transport.write(b"".join(map(ws_frame, lines) if self.frame else lines))
        self.seq = q + n

    def ack(self, upto: int) -> None:
        """The observer has seen messages ``< upto``: top the window back up."""
        if upto > self.acked:
            self.acked = upto
        if self.bench.sending:
            n = self.bench.opts.window - (self.seq - self.acked)
            if n > 0:
                self.send(n)


class Client(asyncio.Protocol):
    """One chat user: registers, then counts payload lines per sender."""

    def __init__(self, bench: Bench, index: int) -> None:
        self.bench = bench
        self.index = index
        self.name = f"b{bench.token}{index}"
        self.transport: asyncio.Transport | None = None
        self.registered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ready = False
        self.lost = False
        self.handed_over = False  # its socket is read by the C receiver now
        self.buf = b""
        self.count = bench.opts.senders
        self.nxt = list(range(self.count))  # per sender: the KEY expected next
        self.holes: dict[int, set[int]] = {}
        self.got = 0  # payload lines received, duplicates included
        self.dups = 0
        self.late = 0  # arrived after a later message from the same sender
        self.gaps = 0  # a sequence number skipped (loss, unless it turns up late)
        self.untracked = 0  # skipped numbers beyond HOLE_CAP: a late arrival of those counts as a dup
        self.watch: list[Sender] = []  # senders whose window this client acknowledges
        self.findall = bench.pattern.findall
        # Client 0 joined first, so the server writes to it first: its samples,
        # kept apart, show the path without the wait for the rest of the fan-out.
        self.lat_append = (bench.lat_first if index == 0 else bench.lat).append

    # --- asyncio.Protocol ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._hello(transport)

    def _hello(self, transport: asyncio.Transport) -> None:
        transport.write(self.name.encode() + b"\n")

    def data_received(self, data: bytes) -> None:
        if self.ready:
            self._payload(data)
        else:
            self._setup(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.registered.done():
            self.registered.set_exception(ConnectionError(f"{self.name}: connection closed during registration"))
        self.bench.on_lost(self)

    # --- receiving -------------------------------------------------------

    def _fail(self, why: str) -> None:
        """Registration went wrong: fail the run's setup with the reason and hang up."""
        if not self.registered.done():
            self.registered.set_exception(BenchError(f"{self.name}: {why}"))
        if self.transport is not None:
            self.transport.close()

    def _setup(self, data: bytes) -> None:
        """Until our own member list arrives: greeting, welcome, or a refusal."""
        data = self.buf + data
        while not self.ready:
            nl = data.find(b"\n")
            if nl < 0:
                break
            line, data = data[:nl].rstrip(b"\r"), data[nl + 1 :]
            if line.startswith(b"* in "):
                self.ready = True
                self.registered.set_result(None)
            elif not (line.startswith(b"Welcome") or line.startswith(b"* ")):
                self._fail(f"server said {line.decode(errors='replace')!r}")
                return
        self.buf = b""
        if self.ready and data:
            self._payload(data)
        else:
            self.buf = data

    def _payload(self, data: bytes) -> None:
        """The hot path: one findall per chunk, one compare and one append per delivery."""
        now = (_perf_ns() - _BASE_NS) // 1000
        if self.buf:
            data = self.buf + data
        cut = data.rfind(b"\n") + 1
        self.buf = data[cut:] if cut < len(data) else b""
        self._count(data, cut, now)

    def _count(self, data: bytes, cut: int, now: int) -> None:
        """Account for every payload in data[:cut], which ends where a line (or frame) does."""
        found = self.findall(data, 0, cut)
        if not found:
            return
        self.got += len(found)
        nxt = self.nxt
        lat = self.lat_append
        count = self.count
        for k, t in found:
            k = int(k)
            if nxt[k % count] == k:
                nxt[k % count] = k + count
            else:
                self._unexpected(k)
            lat(now - int(t))
        if self.watch:
            for snd in self.watch:
                snd.ack(nxt[snd.sid] // count)

    def _unexpected(self, key: int) -> None:
        s, q = key % self.count, key // self.count
        n = self.nxt[s] // self.count
        if q > n:
            self.gaps += 1
            if q - n <= HOLE_CAP:
                self.holes.setdefault(s, set()).update(range(n, q))
            else:
                self.untracked += q - n
            self.nxt[s] = key + self.count
            return
        holes = self.holes.get(s)
        if holes and q in holes:
            holes.remove(q)
            self.late += 1
        else:
            self.dups += 1


class IrcClient(Client):
    """The same user over IRC (RFC 1459/2812, no IRCv3 capabilities: a sender gets no echo).

    NICK and USER, JOIN #lobby once welcomed (001), ready at the end of the
    room's NAMES (366). PRIVMSG lines carry the same payload, so the text
    client's receive path counts them unchanged; a server PING (sent after
    ``ping_interval`` of silence, 120 s by default) is answered off the hot path.
    """

    def _hello(self, transport: asyncio.Transport) -> None:
        self._send_line(b"NICK " + self.name.encode())
        self._send_line(b"USER %s 0 * :%s" % (self.name.encode(), self.name.encode()))

    def _send_line(self, line: bytes) -> None:
        assert self.transport is not None
        self.transport.write(line + b"\r\n")

    def _line(self, line: bytes) -> None:
        """One line during registration."""
        parts = line.split(b" ", 3)
        if line.startswith(b"PING "):
            self._send_line(b"PONG " + line[5:])
        elif line.startswith(b"ERROR"):
            self._fail(f"server said {line.decode(errors='replace')!r}")
        elif len(parts) > 2 and parts[0].startswith(b":") and parts[1].isdigit():
            num = parts[1]
            if num == b"001":
                self._send_line(b"JOIN #lobby")
            elif num == b"366":
                self.ready = True
                self.registered.set_result(None)
            elif num[:1] in (b"4", b"5") and num != b"422":  # 422: no MOTD, not a refusal
                self._fail(f"server said {line.decode(errors='replace')!r}")

    def _setup(self, data: bytes) -> None:
        data = self.buf + data
        while not self.ready and not self.registered.done():
            nl = data.find(b"\n")
            if nl < 0:
                break
            line, data = data[:nl].rstrip(b"\r"), data[nl + 1 :]
            self._line(line)
        self.buf = b""
        if self.ready and data:
            self._payload(data)
        else:
            self.buf = data

    def _payload(self, data: bytes) -> None:
        if self.buf:
            data, self.buf = self.buf + data, b""
        if b"PING " in data:  # rare: one memory scan per chunk on the hot path
            for line in data[: data.rfind(b"\n") + 1].splitlines():  # complete lines only: seen once each
                if line.startswith(b"PING "):
                    self._send_line(b"PONG " + line[5:])
        Client._payload(self, data)


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3
WS_SUBPROTOCOL = "text.ircv3.net"
_mask_bits = random.getrandbits


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final client frame (RFC 6455 5.2): masked, as a client's must be, with a fresh key."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    key = _mask_bits(32).to_bytes(4, "big")
    stream = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return head + key + (int.from_bytes(payload, "big") ^ stream).to_bytes(n, "big")


def ws_frame_end(data: bytes, i: int) -> int:
    """End of the frame starting at ``data[i]``, or -1 while its header is incomplete."""
    n = len(data)
    if i + 2 > n:
        return -1
    length = data[i + 1] & 0x7F
    skip = 4 if data[i + 1] & 0x80 else 0  # a masked frame (servers send none)
    if length < 126:
        return i + 2 + skip + length
    if length == 126:
        return -1 if i + 4 > n else i + 4 + skip + int.from_bytes(data[i + 2 : i + 4], "big")
    return -1 if i + 10 > n else i + 10 + skip + int.from_bytes(data[i + 2 : i + 10], "big")


def ws_payload(data: bytes, i: int, end: int) -> bytes:
    """The payload of the (complete, unmasked) frame data[i:end]."""
    length = data[i + 1] & 0x7F
    start = i + 2 if length < 126 else i + 4 if length == 126 else i + 10
    return data[start + (4 if data[i + 1] & 0x80 else 0) : end]  # a masked frame's key is skipped, not applied


class WsClient(IrcClient):
    """The IRC user over WebSocket (IRCv3 binding, text.ircv3.net): one line per frame, no CRLF.

    A minimal client side of RFC 6455: the Upgrade request, a checked 101, masked
    frames out, and frames in walked by their length bytes, so that a frame split
    across reads waits in the buffer like a partial line. The receive hot path is
    the text one plus that walk: a compare and an add per frame, then one
    ``findall`` over the complete frames (a frame header is never a digit, so a
    payload ends where its frame does).
    """

    def __init__(self, bench: Bench, index: int) -> None:
        super().__init__(bench, index)
        self.upgraded = False
        self.key = base64.b64encode(os.urandom(16))

    def _hello(self, transport: asyncio.Transport) -> None:
        host = f"{self.bench.opts.host}:{self.bench.opts.port}".encode()
        transport.write(
            b"GET /irc HTTP/1.1\r\nHost: " + host + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + self.key + b"\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: " + WS_SUBPROTOCOL.encode() + b"\r\n\r\n"
        )

    def _send_line(self, line: bytes) -> None:
        assert self.transport is not None
        self.transport.write(ws_frame(line))

    def _upgrade(self, head: bytes) -> None:
        status, *fields = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
        accept = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).decode()
        if status.split(" ")[1:2] != ["101"]:
            self._fail(f"no WebSocket upgrade: {status!r}")
        elif headers.get("sec-websocket-accept") != accept:
            self._fail("wrong Sec-WebSocket-Accept")
        elif headers.get("sec-websocket-protocol") != WS_SUBPROTOCOL:
            self._fail(f"subprotocol {headers.get('sec-websocket-protocol')!r}, not {WS_SUBPROTOCOL}")
        else:
            self.upgraded = True
            super()._hello(cast(asyncio.Transport, self.transport))

    def _setup(self, data: bytes) -> None:
        data = self.buf + data
        i = 0
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            self._upgrade(data[:end])
            i = end + 4
        while self.upgraded and not self.ready and not self.registered.done():
            j = ws_frame_end(data, i)
            if j < 0 or j > len(data):
                break
            if not self._control(data, i, j):
                self._line(ws_payload(data, i, j))
            i = j
        self.buf = b""
        if self.ready and i < len(data):
            self._payload(data[i:])
        else:
            self.buf = data[i:]

    def _control(self, data: bytes, i: int, end: int) -> bool:
        """Frames other than a final text frame: answer a ping, end on close; False for a text frame."""
        op = data[i]
        if op == 0x81:
            return False
        assert self.transport is not None
        if op == 0x89:
            self.transport.write(ws_frame(ws_payload(data, i, end), 0xA))
        elif op == 0x88:
            self._fail("WebSocket closed by the server")
        elif op != 0x8A:  # pong: ignored; anything else (fragments, binary) this client never asked for
            self._fail(f"unexpected WebSocket frame 0x{op:02x}")
        return True

    def _payload(self, data: bytes) -> None:
        """The walk to the last complete frame, then the text client's hot path over those bytes."""
        now = (_perf_ns() - _BASE_NS) // 1000
        if self.buf:
            data = self.buf + data
        n = len(data)
        i = 0
        while i < n:
            if i + 1 < n and data[i] == 0x81 and (k := data[i + 1]) < 126:
                j = i + 2 + k  # the common case: a short final text frame
            else:
                j = ws_frame_end(data, i)
                if j < 0 or j > n:
                    break
                if self._control(data, i, j):
                    data = data[:i] + data[j:]  # keep payload bytes only where text frames are
                    n = len(data)
                    continue
            if j > n:
                break
            i = j
        self.buf = data[i:]
        if b"PING " in data:
            for line in _irc_pings(data, i):
                self._send_line(b"PONG " + line[5:])
        self._count(data, i, now)


def _irc_pings(data: bytes, end: int) -> list[bytes]:
    """IRC PING lines among the complete text frames of data[:end]."""
    out, i = [], 0
    while i < end:
        j = ws_frame_end(data, i)
        line = ws_payload(data, i, j)
        if line.startswith(b"PING "):
            out.append(line)
        i = j
    return out


CLIENTS: dict[str, type[Client]] = {"text": Client, "irc": IrcClient, "ws": WsClient}


@dataclass(slots=True)
class Snapshot:
    t: float
    server_cpu: tuple[float, float] | None
    server_writes: int | None
    own_cpu: tuple[float, float]
    receiver_cpu: tuple[float, float]
    machine_cpu: tuple[float, float]
    sent: int
    got: int


@dataclass(slots=True)
class Result:
    """Everything a run measured; ``to_dict`` is the --json output."""

    options: dict[str, Any]
    loop: str
    clients_connected: int = 0
    setup_s: float = 0.0
    window_s: float = 0.0
    sent_total: int = 0
    sent_window: int = 0
    expected: int = 0
    received_unique: int = 0
    received_window: int = 0
    loss: int = 0
    duplicates: int = 0
    late: int = 0
    connections_lost: int = 0
    drained: bool = True
    drain_s: float = 0.0
    latency_us: dict[str, float] = field(default_factory=dict)
    latency_samples: int = 0
    latency_first_us: dict[str, float] = field(default_factory=dict)  # client 0 only: the first one written to
    server_pid: int | None = None
    server_cpu_s: float | None = None  # user + sys over the measured window
    server_cpu_sys_s: float | None = None  # the kernel's share of it (socket writes, loopback TCP)
    server_writes: int | None = None  # write syscalls (write, writev) the server made in the window
    server_rss_kib: dict[str, int | None] = field(default_factory=dict)
    generator_cpu_s: float = 0.0  # the Python process and, when used, the C receiver
    generator_cpu_sys_s: float = 0.0
    receiver: str = "python"  # "c": the pure receivers were read by benchmarks/receiver.c
    receiver_clients: int = 0  # how many clients the C receiver read
    receiver_cpu_s: float | None = None  # the C receiver's share of generator_cpu_s
    other_cpu_s: float | None = None  # everything else on the machine (and softirq work) during the window
    steal_s: float = 0.0  # CPU time the hypervisor gave to other guests during the window
    folds_in_window: int = 0  # latency-histogram folds during the window (generator stalls: figures skewed)

    @property
    def deliveries_per_s(self) -> float:
        return self.received_window / self.window_s if self.window_s else 0.0

    @property
    def server_us_per_delivery(self) -> float | None:
        if self.server_cpu_s is None or not self.received_window:
            return None
        return self.server_cpu_s * 1e6 / self.received_window

    @property
    def deliveries_per_write(self) -> float | None:
        """Deliveries per write syscall of the server: how many messages one write carries."""
        return self.received_window / self.server_writes if self.server_writes else None

    @property
    def generator_us_per_delivery(self) -> float | None:
        return self.generator_cpu_s * 1e6 / self.received_window if self.received_window else None

    @property
    def ok(self) -> bool:
        return self.loss == 0 and self.duplicates == 0 and self.connections_lost == 0

    def to_dict(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in self.__dataclass_fields__}
        d["deliveries_per_s"] = self.deliveries_per_s
        d["server_us_per_delivery"] = self.server_us_per_delivery
        d["deliveries_per_write"] = self.deliveries_per_write
        d["generator_us_per_delivery"] = self.generator_us_per_delivery
        d["ok"] = self.ok
        return d


def percentiles(hist: Counter[int], points: tuple[float, ...] = (50, 90, 99, 99.9)) -> dict[str, float]:
    """Exact percentiles (nearest rank) of a histogram of integer samples."""
    total = sum(hist.values())
    if not total:
        return {}
    out: dict[str, float] = {}
    keys = sorted(hist)
    ranks = sorted((max(1, -(-p * total // 100)), p) for p in points)
    i, seen = 0, 0
    for key in keys:
        seen += hist[key]
        while i < len(ranks) and seen >= ranks[i][0]:
            out[f"p{ranks[i][1]:g}"] = key
            i += 1
    out["max"] = keys[-1]
    out["mean"] = sum(k * v for k, v in hist.items()) / total
    return out


class Bench:
    """One run: connect, register, send for warmup + duration, drain, count."""

    def __init__(self, opts: Options, on_window: Callable[[], None] | None = None) -> None:
        self.on_window = on_window  # called once the measured window opens (e.g. to start a profiler)
        if opts.clients < 2 or not 1 <= opts.senders <= opts.clients:
            raise BenchError("need at least 2 clients and 1 <= senders <= clients")
        self.opts = opts
        self.token = "".join(random.choices(string.ascii_lowercase, k=4))
        self.tag = b"~" + self.token.encode() + b" "
        self.pattern = re.compile(re.escape(self.tag) + rb"(\d+) (\d+)")
        self.lat: array[int] = array("i")  # microseconds; runs are capped well below 2**31 us
        self.lat_first: array[int] = array("i")
        self.hist: Counter[int] = Counter()
        self.hist_first: Counter[int] = Counter()
        self.clients: list[Client] = []
        self.senders: list[Sender] = []
        self.sending = False
        self.lost = 0
        self.folds = 0  # histogram folds while sending (each stalls the generator)
        self.creceiver: CReceiver | None = None

    def on_lost(self, client: Client) -> None:
        if client.ready:
            self.lost += 1

    # --- phases ----------------------------------------------------------

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        opts = self.opts
        sem = asyncio.Semaphore(opts.connect_concurrency)
        kind = CLIENTS[opts.protocol]

        async def one(i: int) -> None:
            async with sem:
                client = kind(self, i)
                self.clients.append(client)
                await loop.create_connection(lambda: client, opts.host, opts.port)
                await client.registered

        tasks = [asyncio.ensure_future(one(i)) for i in range(opts.clients)]
        done, pending = await asyncio.wait(tasks, timeout=opts.connect_timeout)
        for task in pending:
            task.cancel()
        errors = [t.exception() for t in done if t.exception() is not None]
        if pending or errors:
            await asyncio.gather(*pending, return_exceptions=True)
            first = f": {errors[0]!r}" if errors else f" within {opts.connect_timeout:g} s"
            failed = len(pending) + len(errors)
            raise BenchError(f"{failed} of {opts.clients} clients failed to connect and register{first}")
        self.clients.sort(key=lambda c: c.index)

    def _wire(self) -> None:
        """The last S clients send; client 0 acknowledges for all of them (client 1 does for client 0).

        The observer is the first to join, so the server, which writes to room
        members in join order, tells it first: the window refills while the
        server is still writing to everyone else, and the two processes overlap
        instead of taking turns.
        """
        n, s = len(self.clients), self.opts.senders
        self.senders = [Sender(i, self.clients[n - s + i], self) for i in range(s)]
        if self.opts.rate > 0:
            return  # paced: nothing waits for acknowledgements
        first, second = self.clients[0], self.clients[1]
        for snd in self.senders:
            (second if snd.client is first else first).watch.append(snd)

    def _hand_over(self) -> None:
        """Give the pure receivers' sockets to the C receiver; Python stops reading them.

        The window's observers (clients 0 and 1) stay here: they acknowledge.
        Everyone else only counts, which receiver.c does for a fraction of
        Python's CPU per delivery; that includes the senders' reading (they
        write from here, through their transports, whose reading is paused:
        at 10M deliveries/s the senders' receive side alone, read here, took
        ~30 % of the generator's core). A sender is never pinged (the server
        pings after ``ping_interval`` of silence), so receiver.c never writes
        to a socket this side writes to.
        """
        exe = self.opts.receiver
        if exe is None:
            return
        keep = {0, 1}
        moved = [c for c in self.clients if c.index not in keep and c.transport is not None and not c.lost]
        if not moved:
            return
        fds = []
        for c in moved:
            assert c.transport is not None
            c.transport.pause_reading()
            c.handed_over = True
            fds.append(c.transport.get_extra_info("socket").fileno())
        mode = "ws" if self.opts.protocol == "ws" else "lines"
        self.creceiver = CReceiver(exe, fds, mode, self.tag, self.opts.senders, _BASE_NS)

    def _ask(self, cmd: str) -> list[int]:
        """A command to the C receiver (its answer's numbers), or [0, 0, 0] without one."""
        return self.creceiver.ask(cmd) if self.creceiver is not None else [0, 0, 0]

    def _snapshot(self, mark: str) -> Snapshot:
        """Counters and clocks now; ``mark`` (w or e) opens or closes the C receiver's window too."""
        pid = self.opts.server_pid
        c_got = self._ask(mark)[0]
        return Snapshot(
            t=time.perf_counter(),
            server_cpu=cpu_seconds(pid) if pid else None,
            server_writes=write_syscalls(pid) if pid else None,
            own_cpu=own_cpu_seconds(),
            receiver_cpu=self.creceiver.cpu() if self.creceiver is not None else (0.0, 0.0),
            machine_cpu=machine_cpu_seconds(),
            sent=sum(s.seq for s in self.senders),
            got=sum(c.got for c in self.clients) + c_got,
        )

    def _unique(self) -> tuple[int, int]:
        """(unique deliveries so far, connections the C receiver saw closed)."""
        _, c_unique, c_lost = self._ask("c")
        return sum(c.got - c.dups for c in self.clients) + c_unique, c_lost

    def _fold(self) -> None:
        for raw, hist in ((self.lat, self.hist), (self.lat_first, self.hist_first)):
            if raw:
                hist.update(raw)
                del raw[:]

    async def _pace(self) -> None:
        """Rate mode: message k leaves at t0 + k/rate from sender k mod S (evenly interleaved)."""
        loop = asyncio.get_running_loop()
        rate, senders = self.opts.rate, self.senders
        count = len(senders)
        t0, k = loop.time(), 0
        while self.sending:
            due = int((loop.time() - t0) * rate) + 1
            batch = [0] * count
            for j in range(k, due):
                batch[j % count] += 1
            k = due
            for snd, n in zip(senders, batch, strict=True):
                if n:
                    snd.send(n)
            await asyncio.sleep(max(0.0, t0 + due / rate - loop.time()))

    async def _hold(self, seconds: float) -> None:
        """Sleep while keeping latency samples bounded in memory."""
        end = time.perf_counter() + seconds
        while (left := end - time.perf_counter()) > 0:
            await asyncio.sleep(min(left, 0.25))
            if len(self.lat) >= LAT_FOLD_AT:
                self._fold()
                self.folds += 1

    async def run(self, loop_name: str) -> Result:
        opts = self.opts
        res = Result(options=_asdict(opts), loop=loop_name, server_pid=opts.server_pid)
        pid = opts.server_pid
        res.server_rss_kib["idle"] = rss_kib(pid) if pid else None
        t_setup = time.perf_counter()
        try:
            await self._connect()
            res.setup_s = time.perf_counter() - t_setup
            res.clients_connected = len(self.clients)
            self._wire()
            await asyncio.sleep(0.2)  # let the join notices finish arriving
            res.server_rss_kib["connected"] = rss_kib(pid) if pid else None
            self._hand_over()
            if self.creceiver is not None:
                res.receiver, res.receiver_clients = "c", self.creceiver.count
            await self._measure(res)
        except ReceiverError as exc:
            raise BenchError(str(exc)) from None
        finally:
            if self.creceiver is not None:
                self.creceiver.kill()
            await self._close()
        res.server_rss_kib["after"] = rss_kib(pid) if pid else None
        return res

    async def _measure(self, res: Result) -> None:
        opts = self.opts
        self.sending = True
        pacer = asyncio.ensure_future(self._pace()) if opts.rate > 0 else None
        if pacer is None:
            for snd in self.senders:
                snd.ack(0)
        try:
            await self._hold(opts.warmup)
            for raw, hist in ((self.lat, self.hist), (self.lat_first, self.hist_first)):
                del raw[:]
                hist.clear()
            self.folds = 0
            start = self._snapshot("w")
            if self.on_window is not None:
                self.on_window()
            await self._hold(opts.duration)
            end = self._snapshot("e")
            res.folds_in_window = self.folds
            cut = len(self.lat), len(self.lat_first)  # samples that arrived within the window
        finally:
            self.sending = False
            if pacer is not None:
                pacer.cancel()
                await asyncio.gather(pacer, return_exceptions=True)
        del self.lat[cut[0] :], self.lat_first[cut[1] :]
        self._fold()  # after the window, so that its CPU is not charged to the generator's figures
        res.window_s = end.t - start.t
        res.sent_window = end.sent - start.sent
        res.received_window = end.got - start.got
        receiver_cpu = sum(end.receiver_cpu) - sum(start.receiver_cpu)
        res.generator_cpu_s = sum(end.own_cpu) - sum(start.own_cpu) + receiver_cpu
        res.generator_cpu_sys_s = end.own_cpu[1] - start.own_cpu[1] + end.receiver_cpu[1] - start.receiver_cpu[1]
        if self.creceiver is not None:
            res.receiver_cpu_s = receiver_cpu
        if start.server_cpu is not None and end.server_cpu is not None:
            res.server_cpu_s = sum(end.server_cpu) - sum(start.server_cpu)
            res.server_cpu_sys_s = end.server_cpu[1] - start.server_cpu[1]
        if start.server_writes is not None and end.server_writes is not None:
            res.server_writes = end.server_writes - start.server_writes
            busy = end.machine_cpu[0] - start.machine_cpu[0]
            res.other_cpu_s = max(0.0, busy - res.server_cpu_s - res.generator_cpu_s)
        res.steal_s = end.machine_cpu[1] - start.machine_cpu[1]
        # Drain: nothing more is sent; wait (bounded) for what is in flight.
        res.sent_total = sum(s.seq for s in self.senders)
        res.expected = res.sent_total * (len(self.clients) - 1)
        t_drain = time.perf_counter()
        deadline = t_drain + opts.drain
        while self._unique()[0] < res.expected and time.perf_counter() < deadline:
            if all(c.lost for c in self.clients):
                break
            await asyncio.sleep(0.01)
        res.drain_s = time.perf_counter() - t_drain
        del self.lat[:], self.lat_first[:]
        unique, c_lost = self._unique()
        c_dups = c_late = 0
        hist = self.hist + self.hist_first
        if self.creceiver is not None:
            report = self.creceiver.finish()
            c_dups, c_late = report["dups"], report["late"]
            hist.update({us: n for us, n in report["hist"]})
        res.latency_samples = sum(hist.values())
        res.latency_us = {k: float(v) for k, v in percentiles(hist).items()}
        res.latency_first_us = {k: float(v) for k, v in percentiles(self.hist_first).items()}
        res.received_unique = unique
        res.drained = unique >= res.expected
        res.loss = res.expected - unique
        res.duplicates = sum(c.dups for c in self.clients) + c_dups
        res.late = sum(c.late for c in self.clients) + c_late
        res.connections_lost = self.lost + c_lost

    async def _close(self) -> None:
        self.sending = False
        for c in self.clients:
            if c.transport is not None and not c.transport.is_closing():
                c.transport.close()
        deadline = time.perf_counter() + 2.0
        while any(c.transport is not None and not c.lost for c in self.clients) and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)


def _asdict(opts: Options) -> dict[str, Any]:
    return {name: getattr(opts, name) for name in opts.__dataclass_fields__}
