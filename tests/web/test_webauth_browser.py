"""Accounts in the browser (real Chromium): register, a reload stays logged in,
log out, a wrong password; names in other scripts between the browser, telnet
and IRC. Each test waits on what the page shows, never on time."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from chinwag.transport.server import Server
from tests.conftest import Connect, IrcClient, IrcConnect
from tests.web.conftest import web_url
from tests.web.test_browser import chat, exactly, line_of, new_page, said, say

PASSWORD = "correct-horse-battery"
SRC = "chinwag"


async def fill_form(page: Page, server: Server, nick: str, password: str = "", create: bool = False) -> None:
    await page.goto(web_url(server))
    await page.fill("#nick", nick)
    await page.fill("#password", password)
    if create:
        await page.check("#create")
    await page.click("#login-form button")


async def whois_330(irc: IrcClient, nick: str) -> str:
    await irc.send(f"WHOIS {nick}")
    lines = await irc.lines_until_cmd("318")
    return next((line for line in lines if " 330 " in line), "no 330")


async def test_register_reload_stays_logged_in_logout_comes_back_a_guest(
    browser: Browser, server: Server, irc: IrcConnect
) -> None:
    watcher = await irc("watcher")
    page = await new_page(browser)
    await fill_form(page, server, "Вася", PASSWORD, create=True)
    await expect(page.locator("#status")).to_have_text("connected as Вася")
    await expect(page.locator("#logout")).to_be_visible()
    assert await page.input_value("#password") == ""  # the page forgets the password
    assert await whois_330(watcher, "Вася") == f":{SRC} 330 watcher Вася Вася :is logged in as"
    stored = await page.evaluate("JSON.stringify(localStorage) + document.cookie + location.href")
    assert PASSWORD not in stored and "chinwag_session" not in stored  # HttpOnly: no script sees it

    await page.reload()  # no form to fill: the cookie logs the new socket in
    await expect(page.locator("#status")).to_have_text("connected as Вася")
    await expect(page.locator("#login")).to_be_hidden()
    await expect(page.locator("#member-list")).to_contain_text("Вася")
    assert await whois_330(watcher, "Вася") == f":{SRC} 330 watcher Вася Вася :is logged in as"

    await page.click("#logout")
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#login-button")).to_be_enabled()
    await page.reload()
    await expect(page.locator("#login")).to_be_visible()  # a guest: the form, nothing more
    await expect(page.locator("#nick")).to_have_value("Вася")
    await expect(page.locator("#password")).to_have_value("")
    await expect(page.locator("#app")).to_be_hidden()
    await watcher.send("WHOIS Вася")
    assert " 401 " in await watcher.expect_cmd("401")  # logged out and gone
    # A guest by the same name again: no account.
    await page.fill("#nick", "Вася")
    await page.click("#login-form button")
    await expect(page.locator("#status")).to_have_text("connected as Вася")
    await expect(page.locator("#logout")).to_be_hidden()
    assert await whois_330(watcher, "Вася") == "no 330"
    assert not page.errors  # type: ignore[attr-defined]


async def test_a_wrong_password_shows_the_error_and_the_right_one_logs_in(
    browser: Browser, server: Server, connect: Connect
) -> None:
    owner = await connect("alice")
    await owner.send(f"/register {PASSWORD}")
    await owner.expect("* account alice registered")
    await owner.send("/quit")
    page = await new_page(browser)
    await fill_form(page, server, "alice", "not-the-password")
    await expect(page.locator("#login-error")).to_have_text("invalid account name or password")
    await expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#app")).to_be_hidden()
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button")  # (the wait the failure earned is short; the click waits it out)
    await expect(page.locator("#status")).to_have_text("connected as alice")
    await expect(page.locator("#logout")).to_be_visible()
    other = await new_page(browser)
    await fill_form(other, server, "bob", create=True)  # create without a password
    await expect(other.locator("#login-error")).to_have_text("choose a password for your account")
    assert not page.errors  # type: ignore[attr-defined]


async def test_names_in_other_scripts_between_browser_telnet_and_irc(
    browser: Browser, server: Server, connect: Connect, irc: IrcConnect
) -> None:
    text = await connect("Nguyễn")
    ircer = await irc("Алёна")
    await ircer.send("JOIN #lobby")
    await ircer.expect_cmd("366")
    vasya = await new_page(browser)
    await fill_form(vasya, server, "Вася", PASSWORD, create=True)
    await expect(vasya.locator("#status")).to_have_text("connected as Вася")
    zoe = await chat(browser, server, "Zoë")
    assert await text.expect("* Вася has joined") == "* Вася has joined #lobby"
    assert await text.expect("* Zoë has joined") == "* Zoë has joined #lobby"
    assert (await ircer.expect("JOIN")).startswith(":Вася!")
    assert (await ircer.expect("JOIN")).startswith(":Zoë!")
    await say(vasya, "привет")
    await say(zoe, "salut")
    assert (await text.expect("привет")).endswith("] Вася: привет")
    assert (await text.expect("salut")).endswith("] Zoë: salut")
    assert (await ircer.expect("привет")).startswith(":Вася!")
    assert (await ircer.expect("salut")).startswith(":Zoë!")
    # ... and the other way round.
    await text.send("xin chào")
    await ircer.send("PRIVMSG #lobby :здравствуйте")
    for page in (vasya, zoe):
        await expect(line_of(page, "xin chào").locator(".nick")).to_have_text("Nguyễn")
        await expect(line_of(page, "здравствуйте").locator(".nick")).to_have_text("Алёна")
        await expect(said(page, "привет")).to_have_count(1)
        members = page.locator("#member-list .nick")
        for nick in ("Nguyễn", "Алёна", "Вася", "Zoë"):
            await expect(members.filter(has_text=exactly(nick))).to_have_count(1)
    await text.send("/who")
    assert "Вася (logged in)" in await text.expect("* in #lobby:")
    assert not vasya.errors and not zoe.errors  # type: ignore[attr-defined]
