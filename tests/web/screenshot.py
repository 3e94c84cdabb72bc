"""Screenshots of the web client for the README.

    .venv/bin/python -m tests.web.screenshot docs/web-client.png
    .venv/bin/python -m tests.web.screenshot --viewport 390x844 docs/web-client-phone.png

An in-process server, an IRC user who sets #lobby's topic, text-protocol users
and one browser page in Debian's chromium; a viewport narrower than 720 px is
a phone's (touch, mobile). The test suite runs it too (into temporary files).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path

from playwright.async_api import async_playwright, expect

from chinwag.transport.server import Server
from tests.conftest import LineClient, make_config
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.web.test_browser import exactly

DESKTOP = (1000, 560)
PHONE = (390, 844)
TOPIC = "Release day: v0.2 at 14:00, notes at https://chinwag.example/notes"
SCRIPT = [
    ("carol", "morning all"),
    ("dave", "morning! the build is green again: https://ci.example.org/builds/1234"),
    ("carol", "/me brings coffee"),
    ("erin", "great, I'll cut the release after lunch"),
    ("dave", "alice: can you check the changelog?"),
]


async def _user(server: Server, name: str) -> LineClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port("text"))
    client = LineClient(reader, writer)
    await client.send(name)
    await client.expect("* in #lobby:")
    return client


async def _topic_setter(server: Server) -> LineClient:
    """An IRC server operator (so op in #lobby, which the server registered) who sets the topic."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port("irc"))
    irc = LineClient(reader, writer)
    await irc.send("NICK frank", "USER frank 0 * :frank", "OPER frank screenshots", "JOIN #lobby",
                   f"TOPIC #lobby :{TOPIC}")
    await irc.expect(f"TOPIC #lobby :{TOPIC}")
    return irc


async def take(path: Path, viewport: tuple[int, int] = DESKTOP) -> None:
    server = Server(dataclasses.replace(make_config(), operators={"frank": "screenshots"}))
    await server.start()
    users: dict[str, LineClient] = {}
    width, height = viewport
    phone = width < 720
    try:
        users["frank"] = await _topic_setter(server)
        for name in ("carol", "dave", "erin"):
            users[name] = await _user(server, name)
        for name, line in SCRIPT[:3]:
            await users[name].send(line)
        await users["dave"].send("/join #release", "tagging v0.2 now", "/join #lobby", "/who")
        await users["dave"].expect("* in #lobby")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": width, "height": height}, color_scheme="light",
                                          is_mobile=phone, has_touch=phone, permissions=["notifications"])
            host, port = server.addresses["web"]
            await page.goto(f"http://{host}:{port}/")
            await page.fill("#nick", "alice")
            await page.click("#login-form button")
            await expect(page.locator("#messages .text", has_text="brings coffee")).to_have_count(1)
            await expect(page.locator("#topic")).to_have_text(TOPIC)
            await page.fill("#input", "/join #release")
            await page.press("#input", "Enter")
            await expect(page.locator("#title")).to_have_text("#release")
            if phone:
                await page.click("#toggle-rooms")
            await page.locator("#room-list button", has_text="#lobby").click()
            for name in ("gus", "hal", "ivy"):  # three joins in a row: one folded line
                users[name] = await _user(server, name)
            await expect(page.locator("#messages li.events summary .text")).to_have_text("3 joined")
            for name, line in SCRIPT[3:]:
                await users[name].send(line)
            await users["dave"].send("/join #release", "v0.2 is tagged")
            await expect(page.locator("#messages li.mention .text", has_text=exactly(SCRIPT[-1][1])))\
                .to_have_count(1)
            await expect(page.locator("#room-list .unread")).to_have_text("1")
            await page.fill("#input", "on it, thanks both")
            await page.screenshot(path=str(path))
            await browser.close()
    finally:
        for user in users.values():
            await user.close()
        await server.shutdown()


def _viewport(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default="docs/web-client.png", type=Path)
    parser.add_argument("--viewport", type=_viewport, default=DESKTOP, metavar="WxH",
                        help=f"the page's size in CSS pixels (default {DESKTOP[0]}x{DESKTOP[1]}; "
                             f"a phone: {PHONE[0]}x{PHONE[1]})")
    args = parser.parse_args()
    asyncio.run(take(args.path, args.viewport))
