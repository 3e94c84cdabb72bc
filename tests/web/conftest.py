"""WebSocket IRC clients for the web tests (aiohttp's client, real sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from playwright.async_api import Browser, async_playwright

from chinwag.transport.server import Server
from tests.conftest import TIMEOUT, irc_command

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, driven by Playwright."""
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


class WsIrc:
    """An IRC client over WebSocket that waits on lines (one per message)."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.seen: list[str] = []
        self.kinds: list[aiohttp.WSMsgType] = []

    async def send(self, *lines: str) -> None:
        for line in lines:
            await self.ws.send_str(line)

    async def line(self, timeout: float = TIMEOUT) -> str:
        msg = await self.ws.receive(timeout)
        if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            raise EOFError(f"websocket ended: {msg.type} {msg.data!r}")
        text = msg.data if isinstance(msg.data, str) else msg.data.decode()
        self.kinds.append(msg.type)
        self.seen.append(text)
        return text

    async def expect(self, fragment: str, timeout: float = TIMEOUT) -> str:
        async def scan() -> str:
            while fragment not in (text := await self.line()):
                pass
            return text

        return await asyncio.wait_for(scan(), timeout)

    async def expect_cmd(self, command: str, timeout: float = TIMEOUT) -> str:
        async def scan() -> str:
            while irc_command(text := await self.line()) != command:
                pass
            return text

        return await asyncio.wait_for(scan(), timeout)

    async def register(self, nick: str) -> None:
        await self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        await self.expect_cmd("422")

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


WsConnect = Callable[..., Awaitable[WsIrc]]


def web_url(server: Server, path: str = "/") -> str:
    host, port = server.addresses["web"]
    return f"http://{host}:{port}{path}"


@pytest.fixture
async def ws_irc(server: Server) -> AsyncIterator[WsConnect]:
    clients: list[WsIrc] = []

    async def _connect(nick: str | None = None, protocols: tuple[str, ...] = ("text.ircv3.net",),
                       srv: Server | None = None, **kwargs: object) -> WsIrc:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(web_url(srv or server, "/irc"), protocols=protocols, **kwargs)  # type: ignore[arg-type]
        except BaseException:
            await session.close()
            raise
        client = WsIrc(session, ws)
        clients.append(client)
        if nick is not None:
            await client.register(nick)
        return client

    yield _connect
    for c in clients:
        await c.close()
