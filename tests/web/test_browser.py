"""The web client in real Chromium (Debian's package, driven by Playwright).

Each test waits on what the page shows (Playwright's expect), never on time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path

from playwright.async_api import Browser, Locator, Page, WebSocketRoute, expect

from chinwag.client.render import nick_colour
from chinwag.transport.server import Server
from tests.conftest import Connect, IrcClient, make_config
from tests.transport.test_ircv3_multiline import without_tag
from tests.web.conftest import web_url

WAIT_MS = 15_000  # generous: only reached when something is wrong
expect.set_options(timeout=WAIT_MS)


async def new_page(browser: Browser, **options: object) -> Page:
    page = await browser.new_page(**options)  # type: ignore[arg-type]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    page.errors = errors  # type: ignore[attr-defined]
    return page


async def log_in(page: Page, server: Server, nick: str) -> Page:
    await page.goto(web_url(server))
    await page.fill("#nick", nick)
    await page.click("#login-form button")
    await expect(page.locator("#status")).to_have_text(f"connected as {nick}")
    await expect(page.locator("#title")).to_have_text("#lobby")
    return page


async def chat(browser: Browser, server: Server, nick: str, **options: object) -> Page:
    return await log_in(await new_page(browser, **options), server, nick)


def said(page: Page, text: str) -> Locator:
    """The messages whose text is exactly ``text``."""
    return page.locator("#messages li.msg:not(.system) .text").filter(has_text=exactly(text))


def line_of(page: Page, text: str) -> Locator:
    """The message lines (time, nick, text) whose text is exactly ``text``."""
    return page.locator("#messages li.msg").filter(has=page.locator(".text", has_text=exactly(text)))


def exactly(text: str) -> re.Pattern[str]:
    return re.compile(f"^{re.escape(text)}$")


async def say(page: Page, line: str) -> None:
    await page.fill("#input", line)
    await page.press("#input", "Enter")


async def test_two_pages_and_a_text_user_share_a_room(browser: Browser, server: Server, connect: Connect) -> None:
    alice = await chat(browser, server, "alice")
    bob = await chat(browser, server, "bob")
    carol = await connect("carol")
    await expect(alice.locator("#member-list")).to_contain_text("carol")
    await expect(bob.locator("#member-list .nick")).to_have_text(["alice", "bob", "carol"])

    await say(alice, "hello from alice")
    await expect(said(bob, "hello from alice")).to_have_count(1)
    await expect(said(alice, "hello from alice")).to_have_count(1)  # echo-message: once, with its id
    assert (await carol.expect("hello from alice")).endswith("] alice: hello from alice")

    await carol.send("hello from carol")
    for page in (alice, bob):
        await expect(said(page, "hello from carol")).to_have_count(1)
        line = line_of(page, "hello from carol")
        await expect(line.locator(".nick")).to_have_text("carol")
        await expect(line.locator("time")).to_have_text(re.compile(r"^\d\d:\d\d"))

    await say(bob, "/me waves")
    await expect(alice.locator("#messages li.action .nick")).to_have_text("* bob")
    assert (await carol.expect("waves")).endswith("* bob waves")

    await say(bob, "/msg carol psst")
    assert "*bob* psst" in await carol.expect("psst")
    await say(alice, "/join #dev")
    await expect(alice.locator("#title")).to_have_text("#dev")
    await carol.send("/join #dev", "in dev")
    await expect(said(alice, "in dev")).to_have_count(1)
    await carol.send("/join #lobby", "back in lobby")  # /join of a joined room makes it current
    lobby = alice.locator("#room-list li", has_text="#lobby")
    await expect(lobby.locator(".unread")).to_have_text("1")
    await lobby.click()
    await expect(said(alice, "back in lobby")).to_have_count(1)
    await expect(lobby.locator(".unread")).to_have_count(0)

    await say(alice, "/nick alicia")
    await expect(alice.locator("#status")).to_have_text("connected as alicia")
    await expect(bob.locator("#title")).to_have_text("carol")  # /msg opened the conversation
    await bob.locator("#room-list li", has_text="#lobby").click()
    await expect(bob.locator("#member-list")).to_contain_text("alicia")
    assert not alice.errors and not bob.errors  # type: ignore[attr-defined]


async def test_history_on_join_and_scroll_up(browser: Browser, server: Server, connect: Connect) -> None:
    carol = await connect("carol")
    await carol.send(*(f"old {i}" for i in range(120)), "/who")
    await carol.expect("* in #lobby")  # the lines before it were handled
    page = await chat(browser, server, "dave")
    await expect(said(page, "old 119")).to_have_count(1)  # CHATHISTORY LATEST
    await expect(said(page, "old 0")).to_have_count(0)
    log = page.locator("#log")
    for _ in range(5):  # each scroll to the top asks for an older page (BEFORE)
        if await said(page, "old 0").count():
            break
        before = await page.locator("#messages li.msg").count()
        await log.evaluate("log => { log.scrollTop = 0; log.dispatchEvent(new Event('scroll')); }")
        await expect(page.locator("#messages li.msg")).not_to_have_count(before)
    await expect(said(page, "old 0")).to_have_count(1)
    texts = await page.locator("#messages li.msg:not(.system) .text").all_text_contents()
    olds = [t for t in texts if t.startswith("old ")]
    assert olds == [f"old {i}" for i in range(120)]


async def test_markup_is_shown_as_text(browser: Browser, server: Server, connect: Connect) -> None:
    page = await chat(browser, server, "erin")
    carol = await connect("carol")
    evil = '<script>alert(1)</script> <img src=x onerror="alert(2)"> <b>bold</b>'
    await carol.send(evil, "see https://example.org/a?b=1&c=<2>. or javascript:alert(3)")
    await expect(said(page, evil)).to_have_count(1)
    assert await page.locator("#messages script, #messages img, #messages b").count() == 0
    assert await page.locator("script").count() == 1  # app.js only
    link = page.locator("#messages a")
    await expect(link).to_have_count(1)
    await expect(link).to_have_attribute("href", "https://example.org/a?b=1&c=")
    await expect(page.locator("#messages li.msg").filter(has=page.locator("a"))).to_contain_text("javascript:alert(3)")
    assert not page.errors  # type: ignore[attr-defined]  # no dialog opened


NICKS = ["alice", "Bob", "carol[m]", "DAVE~", "zoë", "x", "日本語", "a-very-long-nick_with|pipes{}"]


async def test_nick_colours_match_the_terminal_client(browser: Browser, server: Server) -> None:
    page = await chat(browser, server, "Frank[x]")
    js = await page.evaluate(
        """async (nicks) => {
            const irc = await import("./irc.js");
            const out = {};
            for (const n of nicks) out[n] = [await irc.nickColour(n), irc.nickColourSync(n)];
            return out;
        }""",
        NICKS,
    )
    assert js == {n: [nick_colour(n), nick_colour(n)] for n in NICKS}
    await say(page, "colourful")
    nick = line_of(page, "colourful").locator(".nick")
    r, g, b = (int(nick_colour("frank{x}")[i : i + 2], 16) for i in (1, 3, 5))
    await expect(nick).to_have_css("color", f"rgb({r}, {g}, {b})")


async def test_reconnect_after_restart_catches_up_once(browser: Browser, tmp_path: Path, connect: Connect) -> None:
    config = dataclasses.replace(make_config(), db=str(tmp_path / "chat.db"))
    first = Server(config)
    await first.start()
    config = dataclasses.replace(config, **{f"{name}_port": first.port(name) for name in ("text", "irc", "web")})
    # While `held`, the page's reconnects are refused, so that what is said
    # meanwhile can only come from the catch-up (CHATHISTORY AFTER).
    held = False

    async def gate(ws: WebSocketRoute) -> None:
        if held:
            await ws.close(code=1013, reason="try again later")
        else:
            ws.connect_to_server()

    page = await new_page(browser)
    await page.route_web_socket(re.compile(r"/irc$"), gate)
    await log_in(page, first, "gina")
    carol = await connect("carol", srv=first)
    await carol.send("before the restart")
    await expect(said(page, "before the restart")).to_have_count(1)
    await carol.close()

    held = True
    await first.shutdown()
    await expect(page.locator("#status")).to_contain_text("reconnecting")
    again = Server(config)
    await again.start()
    try:
        carol = await connect("carol", srv=again)
        await carol.send("missed 1", "missed 2", "/who")
        await carol.expect("* in #lobby")
        held = False
        await expect(page.locator("#status")).to_have_text("connected as gina")
        for text in ("before the restart", "missed 1", "missed 2"):
            await expect(said(page, text)).to_have_count(1)
        await carol.send("live again")
        await expect(said(page, "live again")).to_have_count(1)
        for text in ("before the restart", "missed 1", "missed 2"):
            await expect(said(page, text)).to_have_count(1)
    finally:
        await again.shutdown()


async def test_a_live_line_repeated_by_the_join_history_is_shown_once(
    browser: Browser, server: Server, connect: Connect
) -> None:
    # The page asks CHATHISTORY LATEST when it joins; a message stored and
    # delivered live before that request is answered is in the answer too.
    # Holding the request until the live line is shown makes that order certain.
    held: list[str | bytes] = []
    upstream: list[WebSocketRoute] = []
    answered = asyncio.Event()

    async def route(ws: WebSocketRoute) -> None:
        server_side = ws.connect_to_server()
        upstream.append(server_side)

        def out(message: str | bytes) -> None:
            if isinstance(message, str) and message.startswith("CHATHISTORY LATEST"):
                held.append(message)
            else:
                server_side.send(message)

        def back(message: str | bytes) -> None:
            ws.send(message)
            if isinstance(message, str) and " BATCH -" in message and not held:
                answered.set()

        ws.on_message(out)
        server_side.on_message(back)

    page = await new_page(browser)
    await page.route_web_socket(re.compile(r"/irc$"), route)
    await log_in(page, server, "ivan")
    carol = await connect("carol")
    await carol.send("said while the history was asked")
    await expect(said(page, "said while the history was asked")).to_have_count(1)
    assert held, "the page asked for the room's history on join"
    asked, held[:] = held[:], []
    for message in asked:
        upstream[-1].send(message)
    await asyncio.wait_for(answered.wait(), WAIT_MS / 1000)
    await carol.send("and after it")  # (reaches the page after the history batch)
    await expect(said(page, "and after it")).to_have_count(1)
    await expect(said(page, "said while the history was asked")).to_have_count(1)
    assert not page.errors  # type: ignore[attr-defined]


async def test_usable_on_a_phone(browser: Browser, server: Server) -> None:
    page = await chat(browser, server, "hank", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    await expect(page.locator("#input")).to_be_visible()
    await expect(page.locator(".members")).not_to_be_in_viewport()
    await page.click("#toggle-members")
    await expect(page.locator(".members")).to_be_in_viewport()
    await expect(page.locator("#member-list")).to_contain_text("hank")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


async def test_readme_screenshot_command(tmp_path: Path) -> None:
    from tests.web.screenshot import PHONE, take

    for name, viewport in (("web-client.png", (1000, 560)), ("web-client-phone.png", PHONE)):
        shot = tmp_path / name
        await take(shot, viewport)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_redacted_message_leaves_the_page(browser: Browser, server: Server) -> None:
    """IRCv3 draft/message-redaction: the page asks for the cap and drops the line."""
    alice = await chat(browser, server, "alice")
    r, w = await asyncio.open_connection("127.0.0.1", server.port("irc"))
    bob = IrcClient(r, w)
    await bob.register("bob", ("message-tags", "echo-message", "draft/message-redaction"))
    await bob.send("JOIN #lobby", "PRIVMSG #lobby :kept", "PRIVMSG #lobby :regretted")
    await bob.expect_cmd("PRIVMSG")
    _, msgid = without_tag(await bob.expect_cmd("PRIVMSG"), "msgid")
    await expect(said(alice, "regretted")).to_have_count(1)
    await bob.send(f"REDACT #lobby {msgid}")
    await bob.expect_cmd("REDACT")
    await expect(said(alice, "regretted")).to_have_count(0)
    await expect(said(alice, "kept")).to_have_count(1)
    await bob.close()
    assert not alice.errors  # type: ignore[attr-defined]
