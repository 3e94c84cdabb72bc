"""Fixtures of the cluster tests: chinwag node PROCESSES (benchmarks/clusternodes.py)
on the session's real PostgreSQL (a fresh schema each test) and redis-server
(a cluster name of their own each test), and clients of every protocol on them."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from benchmarks.clusternodes import Cluster, Node
from tests.conftest import IrcClient, LineClient
from tests.hostile.bystander import Bystander
from tests.services import Redis

# Lookups and history answer alone; a join's history would come before the live lines the tests wait for.
SETTINGS = {"history_on_join": 0, "irc_history_on_join": 0, "shutdown_grace": 2.0}
# Cross-node waits: a dead node's users quit after its lease (2.5 s here), a
# shared 2-core machine runs several node processes: generous, only reached
# when something is wrong.
SLOW = 30.0
HISTORY_CAPS = ("batch", "server-time", "message-tags", "draft/chathistory")


@pytest.fixture
async def cluster(pg_url: str, redis_server: Redis) -> AsyncIterator[Cluster]:
    """No node yet: the test starts what it needs (``await cluster.start(3)``)."""
    async with Cluster(pg_url, redis_server.url, settings=SETTINGS) as c:
        yield c


class WsClient(IrcClient):
    """IRC over WebSocket (/irc, text.ircv3.net): one line per message, the
    same waiting helpers as the raw IRC client."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.seen: list[str] = []

    async def send(self, *lines: str) -> None:
        for line in lines:
            await self.ws.send_str(line)

    async def line(self, timeout: float = 5.0) -> str:
        msg = await self.ws.receive(timeout)
        if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            raise EOFError(f"websocket ended: {msg.type} {msg.data!r}")
        text = msg.data if isinstance(msg.data, str) else msg.data.decode()
        self.seen.append(text)
        return text

    async def closed(self, timeout: float = 5.0) -> list[str]:
        rest: list[str] = []
        try:
            while True:
                rest.append(await self.line(timeout))
        except EOFError:
            return rest

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


class Clients:
    """Clients on nodes, closed after the test."""

    def __init__(self) -> None:
        self.all: list[LineClient] = []
        self.bystanders: list[Bystander] = []

    async def bystander(self, node: Node) -> Bystander:
        """The stall detector (tests/hostile/bystander.py) on ``node``, pinging from now on."""
        b = await Bystander.join(node.port("irc"), "bystander")
        self.bystanders.append(b)
        b.start()
        return b

    async def text(self, node: Node, name: str) -> LineClient:
        """A text user named ``name`` on ``node``, in #lobby."""
        r, w = await asyncio.open_connection("127.0.0.1", node.port("text"))
        c = LineClient(r, w)
        self.all.append(c)
        await c.expect("What is your name?")
        await c.send(name)
        await c.expect(f"Welcome to chinwag, {name}!")
        await c.expect("* in #lobby:")
        return c

    async def text_raw(self, node: Node) -> LineClient:
        """A text connection still at the name prompt."""
        r, w = await asyncio.open_connection("127.0.0.1", node.port("text"))
        c = LineClient(r, w)
        self.all.append(c)
        await c.expect("What is your name?")
        return c

    async def irc(self, node: Node, nick: str, caps: tuple[str, ...] = (), room: str | None = "#lobby") -> IrcClient:
        """An IRC user on ``node``, registered and (unless ``room`` is None) in ``room``."""
        r, w = await asyncio.open_connection("127.0.0.1", node.port("irc"))
        c = IrcClient(r, w)
        self.all.append(c)
        await c.register(nick, caps)
        if room:
            await c.send(f"JOIN {room}")
            await c.expect_cmd("366")
        return c

    async def ws(self, node: Node, nick: str, caps: tuple[str, ...] = (), room: str | None = "#lobby") -> WsClient:
        """An IRC-over-WebSocket user (as the browser client is) on ``node``."""
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(f"http://127.0.0.1:{node.port('web')}/irc", protocols=("text.ircv3.net",))
        except BaseException:
            await session.close()
            raise
        c = WsClient(session, ws)
        self.all.append(c)
        await c.register(nick, caps)
        if room:
            await c.send(f"JOIN {room}")
            await c.expect_cmd("366")
        return c

    async def close(self) -> None:
        for b in self.bystanders:  # a failed test left it pinging
            if b._task is not None and not b._task.done():
                with contextlib.suppress(Exception):
                    await b.stop()
            await b.close()
        for c in self.all:
            try:
                await c.close()
            except (ConnectionError, OSError):
                pass


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    c = Clients()
    yield c
    await c.close()


async def wait_for(client: LineClient, match: Callable[[str], bool], timeout: float = SLOW) -> str:
    """Read ``client``'s lines until one ``match``es (however long the gaps between lines, up to ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError(f"no matching line within {timeout} s; last lines: {client.seen[-10:]}")
        try:
            line = await client.line(timeout=left)
        except TimeoutError:
            raise TimeoutError(f"no matching line within {timeout} s; last lines: {client.seen[-10:]}") from None
        if match(line):
            return line


async def wait_all(client: LineClient, matches: list[Callable[[str], bool]], timeout: float = SLOW) -> list[str]:
    """Read until every one of ``matches`` has matched a line (in any order); those lines, in arrival order."""
    left = list(matches)
    got: list[str] = []

    def any_left(line: str) -> bool:
        for m in left:
            if m(line):
                left.remove(m)
                got.append(line)
                return not left
        return False

    await wait_for(client, any_left, timeout)
    return got


TEXT_SAID = re.compile(r"^\[\d\d:\d\d\] (?:#\S+ )?([^\s:]+): (.*)$")


def text_said(line: str) -> tuple[str, str] | None:
    """(nick, text) of a text user's room message line, else None."""
    m = TEXT_SAID.match(line)
    return (m.group(1), m.group(2)) if m else None


def irc_said(line: str) -> tuple[str, str, str] | None:
    """(nick, target, text) of an IRC PRIVMSG line (tags allowed), else None."""
    m = re.match(r"^(?:@\S+ )?:([^!\s]+)!\S* PRIVMSG (\S+) :(.*)$", line)
    return (m.group(1), m.group(2), m.group(3)) if m else None

