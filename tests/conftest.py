"""Shared fixtures: an in-process server on an OS-chosen port, and line clients."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import signal
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from chinwag.config import Config, Limits
from chinwag.transport.server import Server
from tests.services import Postgres, Redis

TIMEOUT = 5.0  # generous: only reached when something is wrong


class LineClient:
    """A telnet-like test client that waits on lines rather than sleeping."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.seen: list[str] = []

    async def send(self, *lines: str) -> None:
        self.writer.write("".join(line + "\n" for line in lines).encode())
        await self.writer.drain()

    async def line(self, timeout: float = TIMEOUT) -> str:
        raw = await asyncio.wait_for(self.reader.readline(), timeout)
        if not raw:
            raise EOFError("connection closed")
        assert raw.endswith(b"\r\n"), raw
        text = raw[:-2].decode()
        self.seen.append(text)
        return text

    async def expect(self, fragment: str, timeout: float = TIMEOUT) -> str:
        """Read until a line containing ``fragment``; return that line."""
        async def scan() -> str:
            while True:
                text = await self.line()
                if fragment in text:
                    return text

        return await asyncio.wait_for(scan(), timeout)

    async def lines_until(self, fragment: str) -> list[str]:
        start = len(self.seen)
        await self.expect(fragment)
        return self.seen[start:]

    async def closed(self, timeout: float = TIMEOUT) -> list[str]:
        """Read to end of stream; return what came."""
        rest: list[str] = []
        async def drain() -> None:
            while raw := await self.reader.readline():
                rest.append(raw.decode().rstrip("\r\n"))
        await asyncio.wait_for(drain(), timeout)
        return rest

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


Connect = Callable[..., Awaitable[LineClient]]

# Server processes a test started (tests/test_cli.py start()): killed after the
# test whatever happened in it, so a failing test never leaves one running.
SPAWNED: list[asyncio.subprocess.Process] = []


@pytest.fixture(autouse=True)
def _no_leftover_servers() -> Iterator[None]:
    yield
    while SPAWNED:
        proc = SPAWNED.pop()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture(autouse=True)
def _a_failed_tests_leftovers_go_with_it(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that failed half-way leaves clients unclosed; their sockets are
    collected here, quietly, rather than in whichever test runs when the
    garbage collector next does, which would fail that test as well."""
    yield
    if gc.get_freeze_count():  # (a bystander froze the heap: tests/hostile/bystander.py)
        gc.unfreeze()
    if request.node.stash.get(FAILED, False):
        # (pytest keeps the failure for pdb in sys.last_*: it holds the test's frames)
        for name in ("last_type", "last_value", "last_traceback", "last_exc"):
            if hasattr(sys, name):
                delattr(sys, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


# Tests paste hundreds of lines at once; flood control gets its own tests
# (tests/hostile) with the real defaults.
TEST_FLOOD = {"flood_burst": 100_000, "flood_backlog": 100_000, "flood_burst_bytes": 1 << 30}


# IRC playback on join is off too (tests that join a room with history and then
# expect live lines would see it first); tests/transport/test_irc_playback.py
# and tests/client/test_irssi.py turn it on.
def make_config(multiclient: bool = True, **limits: int) -> Config:
    return Config(host="127.0.0.1", text_port=0, irc_port=0, web_port=0, db=":memory:", shutdown_grace=2.0,
                  irc_history_on_join=0, multiclient=multiclient,
                  limits=dataclasses.replace(Limits(), **{**TEST_FLOOD, **limits}))


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server(make_config())
    await srv.start()
    yield srv
    await srv.shutdown()


@pytest.fixture
async def connect(server: Server) -> AsyncIterator[Connect]:
    clients: list[LineClient] = []

    async def _connect(name: str | None = None, srv: Server | None = None) -> LineClient:
        s = srv or server
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port("text"))
        client = LineClient(reader, writer)
        clients.append(client)
        await client.expect("What is your name?")
        if name is not None:
            await client.send(name)
            await client.expect(f"Welcome to chinwag, {name}!")
            await client.expect("* in #lobby:")
        return client

    yield _connect
    for c in clients:
        await c.close()


class IrcClient(LineClient):
    """A raw IRC test client: sends lines, waits for replies by command or numeric."""

    nick = "*"

    async def expect_cmd(self, command: str, timeout: float = TIMEOUT) -> str:
        """Read until a line whose command (or numeric) is ``command``; return it."""
        async def scan() -> str:
            while True:
                text = await self.line()
                if irc_command(text) == command:
                    return text

        return await asyncio.wait_for(scan(), timeout)

    async def lines_until_cmd(self, command: str) -> list[str]:
        start = len(self.seen)
        await self.expect_cmd(command)
        return self.seen[start:]

    async def register(self, nick: str, caps: tuple[str, ...] = ()) -> list[str]:
        """NICK/USER (with CAP REQ first if ``caps``); return the welcome burst."""
        start = len(self.seen)
        if caps:
            await self.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick} real")
            await self.send(f"CAP REQ :{' '.join(caps)}")
            await self.expect_cmd("CAP")  # LS
            ack = await self.expect_cmd("CAP")
            assert " ACK " in ack, ack
            await self.send("CAP END")
        else:
            await self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} real")
        end = await self.expect_cmd("422")
        self.nick = nick
        return self.seen[start:] + ([end] if end not in self.seen[start:] else [])


def irc_command(line: str) -> str:
    """The command or numeric of a raw IRC line (after optional tags and source)."""
    parts = line.split(" ")
    while parts and parts[0][:1] in ("@", ":"):
        parts.pop(0)
    return parts[0] if parts else ""


IrcConnect = Callable[..., Awaitable[IrcClient]]


@pytest.fixture
async def irc(server: Server) -> AsyncIterator[IrcConnect]:
    clients: list[IrcClient] = []

    async def _connect(nick: str | None = None, caps: tuple[str, ...] = (), srv: Server | None = None) -> IrcClient:
        s = srv or server
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port("irc"))
        client = IrcClient(reader, writer)
        clients.append(client)
        if nick is not None:
            await client.register(nick, caps)
        return client

    yield _connect
    for c in clients:
        await c.close()


# --- real services (tests/services.py): one of each per session, started on first use ---


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    pg = Postgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.close()


@pytest.fixture
def pg_url(postgres_server: Postgres) -> str:
    """The URL of a new, empty database of the session's PostgreSQL."""
    if postgres_server.proc is None or postgres_server.proc.poll() is not None:
        postgres_server.start()  # a test stopped it (and failed before starting it again)
    return postgres_server.database()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    r = Redis()
    try:
        r.start()
        yield r
    finally:
        r.close()


@pytest.fixture
def own_redis() -> Iterator[Redis]:
    """A redis-server of the test's own, started: the test may stop it and start it again (same port)."""
    r = Redis()
    try:
        r.start()
        yield r
    finally:
        if r.proc is not None and r.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(r.proc.pid, signal.SIGCONT)  # a test that froze it and failed
        r.close()
