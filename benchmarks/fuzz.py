"""Fuzz a running chinwag over real sockets (text, IRC, IRC over WebSocket).

    python -m benchmarks.fuzz --inputs 20000      # the issue's run
    python -m benchmarks.fuzz --smoke             # a few hundred, for make test

Starts an in-process server on 127.0.0.1 (OS-chosen ports, memory store),
sends seeded hostile lines (benchmarks/fuzzgen.py) from a few clients per
protocol, each line followed by a sync (IRC PING, a text /command) so a line
that kills its connection is known, and counts what the server logged with a
traceback. A bystander IRC user pings all along; its round trip is reported.
Exit status 1 if any traceback was logged.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from benchmarks.fuzzgen import line as fuzz_line
from chinwag.config import Config, Limits
from chinwag.transport.server import Server

PROTOCOLS = ("text", "irc", "ws")
CAPS = "message-tags server-time echo-message batch labeled-response draft/chathistory multi-prefix away-notify"
SYNC_TIMEOUT = 10.0


@dataclass
class Report:
    sent: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    # (protocol, index, line) of each line after which the connection closed unasked.
    dropped: list[tuple[str, int, str]] = field(default_factory=list)
    # Lines whose round trip saw a traceback logged (the likely culprits:
    # other clients' lines run concurrently).
    suspects: list[tuple[str, int, str]] = field(default_factory=list)


class Tracebacks(logging.Handler):
    """Records every log record that carries a traceback or says "internal error"."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if is_traceback(record):
            self.records.append(record)


def is_traceback(record: logging.LogRecord) -> bool:
    return (
        record.exc_info is not None
        or "Traceback" in record.getMessage()
        or "internal error" in record.getMessage()
    )


def fuzz_config(**limits: int) -> Config:
    """A server the fuzzer can reach every corner of: an operator, no flood limit in the way."""
    lim = dataclasses.replace(Limits(), flood_burst=100_000, flood_backlog=100_000, **limits)
    return Config(host="127.0.0.1", text_port=0, irc_port=0, web_port=0, db=":memory:", shutdown_grace=2.0,
                  operators={"fuzz": "fuzz"}, limits=lim)


class _Closed(Exception):
    pass


class _Client:
    """One fuzzing connection; subclasses know their protocol's register and sync."""

    protocol = ""

    def __init__(self, host: str, port: int, nick: str) -> None:
        self.host, self.port, self.nick = host, port, nick
        self.n = 0

    async def open(self) -> None: ...
    async def send(self, line: str) -> None: ...
    async def recv(self) -> str: ...
    async def close(self) -> None: ...
    def sync_line(self, token: str) -> str: ...
    def is_sync(self, line: str, token: str) -> bool: ...
    async def register(self) -> None: ...

    async def until(self, done: Callable[[str], bool]) -> None:
        async def scan() -> None:
            while not done(await self.recv()):
                pass

        await asyncio.wait_for(scan(), SYNC_TIMEOUT)

    async def sync(self) -> None:
        self.n += 1
        token = f"zzsync{self.n}"
        await self.send(self.sync_line(token))
        await self.until(lambda line: self.is_sync(line, token))


class _Stream(_Client):
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def send(self, line: str) -> None:
        try:
            self.writer.write(line.encode("utf-8", "surrogateescape") + b"\r\n")
            await self.writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise _Closed from exc

    async def recv(self) -> str:
        try:
            raw = await self.reader.readline()
        except ConnectionError as exc:
            raise _Closed from exc
        if not raw:
            raise _Closed
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, RuntimeError):
            pass


class _Text(_Stream):
    protocol = "text"

    async def register(self) -> None:
        await self.send(self.nick)
        # (not "* in #lobby": a fuzzing operator may have set +i, +k or +l there)
        await self.until(lambda line: line.startswith(f"Welcome to chinwag, {self.nick}!"))
        await self.send("/join #r")
        await self.sync()

    def sync_line(self, token: str) -> str:
        return f"/{token}"

    def is_sync(self, line: str, token: str) -> bool:
        return line.startswith(f"unknown command: /{token}")


class _IrcMixin(_Client):
    async def register(self) -> None:
        await self.send("CAP LS 302")
        await self.send(f"NICK {self.nick}")
        await self.send(f"USER {self.nick} 0 * :fuzz")
        if self.nick[-1] in "02468":  # half the clients with IRCv3 caps, half without
            await self.send(f"CAP REQ :{CAPS}")
        await self.send("CAP END")
        await self.until(lambda line: " 422 " in line or " 376 " in line)
        await self.send("JOIN #r")
        await self.sync()

    def sync_line(self, token: str) -> str:
        return f"PING :{token}"

    def is_sync(self, line: str, token: str) -> bool:
        return " PONG " in line and line.endswith(token)


class _Irc(_IrcMixin, _Stream):
    protocol = "irc"


class _Ws(_IrcMixin):
    protocol = "ws"
    session: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse

    async def open(self) -> None:
        self.session = aiohttp.ClientSession()
        try:
            self.ws = await self.session.ws_connect(f"http://{self.host}:{self.port}/irc",
                                                    protocols=("text.ircv3.net",))
        except BaseException:
            await self.session.close()
            raise

    async def send(self, line: str) -> None:
        try:
            await self.ws.send_str(line.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        except (ConnectionError, RuntimeError) as exc:
            raise _Closed from exc

    async def recv(self) -> str:
        msg = await self.ws.receive()
        if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            data = msg.data
            return data if isinstance(data, str) else data.decode("utf-8", "replace")
        raise _Closed

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


_KINDS: dict[str, type[_Client]] = {"text": _Text, "irc": _Irc, "ws": _Ws}
# Lines after which a closed connection is what the user asked for.
_ASKED_TO_CLOSE = ("/quit", "QUIT", "quit", "KILL", "kill")


async def _unregistered(client: _Client, line: str, i: int, report: Report, errors: Callable[[], int]) -> None:
    before = errors()
    await client.open()
    try:
        await client.send(line)
        await client.sync()  # PING is answered before registration
    except (_Closed, TimeoutError):
        pass  # QUIT, a bad PASS, ...: what a connection that is not registered may get
    await client.close()
    report.sent[client.protocol] = report.sent.get(client.protocol, 0) + 1
    if errors() != before:
        report.suspects.append((client.protocol, i, line))


async def fuzz_one(protocol: str, host: str, port: int, seed: int, indices: range, nick: str,
                   report: Report, errors: Callable[[], int]) -> None:
    """Send line ``i`` of the seed for each i in ``indices``, each followed by a sync."""
    kind = _KINDS[protocol]
    gen = "text" if protocol == "text" else "irc"
    client: _Client | None = None
    opened = 0
    for i in indices:
        if protocol != "text" and i % 10 == 0:  # every tenth IRC line before registering
            await _unregistered(kind(host, port, nick), fuzz_line(gen, seed, i), i, report, errors)
            continue
        if client is None:
            opened += 1  # a fresh nick: the last connection's may not be released yet
            client = kind(host, port, f"{nick}x{opened}")
            await client.open()
            await client.register()
        line = fuzz_line(gen, seed, i)
        before = errors()
        try:
            await client.send(line)
            await client.sync()
        except (_Closed, TimeoutError):
            await client.close()
            client = None
            report.reconnects += 1
            words = line.split()
            while words and words[0][:1] in "@:":
                words.pop(0)
            if not words or words[0].lstrip("/").upper() not in ("QUIT", "KILL"):
                report.dropped.append((protocol, i, line))
        if errors() != before:
            report.suspects.append((protocol, i, line))
        report.sent[protocol] = report.sent.get(protocol, 0) + 1
    if client is not None:
        await client.close()


async def fuzz(srv: Server, inputs: int, errors: Callable[[], int], seed: int = 1, clients: int = 3,
               protocols: tuple[str, ...] = PROTOCOLS) -> Report:
    """``inputs`` lines in all, shared among the protocols and ``clients`` connections each."""
    report = Report()
    ports = {"text": srv.port("text"), "irc": srv.port("irc"), "ws": srv.port("web")}
    per = inputs // len(protocols)
    jobs = []
    for p in protocols:
        for c in range(clients):
            nick = f"fz{p}{c}"
            jobs.append(fuzz_one(p, "127.0.0.1", ports[p], seed, range(c, per, clients), nick, report,
                                   errors))
    await asyncio.gather(*jobs)
    return report


async def _main(args: argparse.Namespace) -> int:
    from tests.hostile.bystander import Bystander  # the same stall detector the tests use

    handler = Tracebacks()
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)
    srv = Server(fuzz_config())
    await srv.start()
    try:
        bystander = await Bystander.join(srv.port("irc"))
        bystander.start(interval=0.02)
        began = time.perf_counter()
        run = asyncio.get_running_loop().create_task(
            fuzz(srv, args.inputs, lambda: len(handler.records), args.seed, args.clients,
                 tuple(args.protocol or PROTOCOLS)))
        await asyncio.wait([run], timeout=args.timeout)
        if not run.done():
            print(f"fuzz: not done after {args.timeout:.0f} s; stopped. Waiting:", file=sys.stderr)
            for task in asyncio.all_tasks():
                task.print_stack(limit=12, file=sys.stderr)
            run.cancel()
            await bystander.stop()
            return 2
        report = run.result()
        took = time.perf_counter() - began
        rtt = await bystander.stop()
        await bystander.close()
    finally:
        await srv.shutdown()
    total = sum(report.sent.values())
    print(f"fuzz: {total} inputs (seed {args.seed}: {report.sent}) in {took:.1f} s, {report.reconnects} reconnects")
    for protocol, index, line in report.dropped[:20]:
        print(f"  closed after {protocol} #{index}: {line[:120]!r}")
    for protocol, index, line in report.suspects[:20]:
        print(f"  traceback while {protocol} #{index} ran: {line[:120]!r}")
    print(f"tracebacks logged: {len(handler.records)} (goal 0)")
    for record in handler.records[:20]:
        print(f"  {record.name}: {record.getMessage()}", file=sys.stderr)
        if record.exc_info and record.exc_info[1] is not None:
            print(f"    {type(record.exc_info[1]).__name__}: {record.exc_info[1]}", file=sys.stderr)
    print(f"bystander RTT: median {rtt.median_ms:.2f} ms, max {rtt.max_ms:.2f} ms over {len(rtt.samples)} pings")
    return 1 if handler.records else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=20000, help="lines in all, shared by text, IRC and WebSocket")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--clients", type=int, default=3, help="connections per protocol")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before the run is stopped as stuck")
    p.add_argument("--protocol", choices=PROTOCOLS, action="append", help="only this one (repeatable)")
    p.add_argument("--smoke", action="store_true", help="a short run (600 inputs)")
    args = p.parse_args(argv)
    if args.smoke:
        args.inputs = 600
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
