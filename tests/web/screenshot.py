"""Screenshot of the web client for the README (docs/web-client.png).

    .venv/bin/python -m tests.web.screenshot docs/web-client.png

An in-process server, three text-protocol users and one browser page in
Debian's chromium; the test suite runs it too (into a temporary file).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from playwright.async_api import async_playwright, expect

from chinwag.transport.server import Server
from tests.conftest import LineClient, make_config
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.web.test_browser import exactly

SCRIPT = [
    ("carol", "morning all"),
    ("dave", "morning! the build is green again: https://ci.example.org/builds/1234"),
    ("carol", "/me brings coffee"),
    ("erin", "great, I'll cut the release after lunch"),
    ("dave", "erin: remember the changelog"),
]


async def _user(server: Server, name: str) -> LineClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port("text"))
    client = LineClient(reader, writer)
    await client.send(name)
    await client.expect("* in #lobby:")
    return client


async def take(path: Path) -> None:
    server = Server(make_config())
    await server.start()
    users: dict[str, LineClient] = {}
    try:
        for name in ("carol", "dave", "erin"):
            users[name] = await _user(server, name)
        for name, line in SCRIPT[:3]:
            await users[name].send(line)
        await users["dave"].send("/join #release", "tagging v0.2 now", "/join #lobby", "/who")
        await users["dave"].expect("* in #lobby")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1000, "height": 560}, color_scheme="light")
            host, port = server.addresses["web"]
            await page.goto(f"http://{host}:{port}/")
            await page.fill("#nick", "alice")
            await page.click("#login-form button")
            await expect(page.locator("#messages .text", has_text="brings coffee")).to_have_count(1)
            await page.fill("#input", "/join #release")
            await page.press("#input", "Enter")
            await expect(page.locator("#title")).to_have_text("#release")
            await page.locator("#room-list button", has_text="#lobby").click()
            for name, line in SCRIPT[3:]:
                await users[name].send(line)
            await users["dave"].send("/join #release", "v0.2 is tagged")
            await expect(page.locator("#messages .text", has_text=exactly(SCRIPT[-1][1]))).to_have_count(1)
            await expect(page.locator("#room-list .unread")).to_have_text("1")
            await page.fill("#input", "thanks both, see you at 2")
            await page.screenshot(path=str(path))
            await browser.close()
    finally:
        for user in users.values():
            await user.close()
        await server.shutdown()


if __name__ == "__main__":
    asyncio.run(take(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/web-client.png")))
