"""The web client's rough edges as a first-time user meets them, in real Chromium:
mentions and notifications, the topic, joins and parts, the login form's errors,
the member list while offline, a server restart, a long word on a phone.

Each test waits on what the page shows (Playwright's expect), never on time.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from playwright.async_api import Browser, Locator, Page, WebSocketRoute, expect

from chinwag.transport.server import Server
from tests.conftest import Connect, make_config
from tests.web.conftest import WsConnect, web_url
from tests.web.test_browser import chat, exactly, line_of, log_in, new_page, said, say

# A stand-in for the browser's Notification API (headless Chromium has no
# notification UI) and a page visibility the test decides.
NOTIFICATION_STUB = """
window.__notes = [];
window.__asked = 0;
window.__perm = "default";
window.Notification = class {
  static get permission() { return window.__perm; }
  static requestPermission() {
    window.__asked += 1;
    window.__perm = "granted";
    return Promise.resolve("granted");
  }
  constructor(title, options) {
    this.title = title;
    this.body = options.body;
    window.__notes.push(this);
  }
  close() {}
};
window.__hidden = false;
Object.defineProperty(document, "visibilityState", {
  configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
});
Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__hidden });
"""


def shown(page: Page, text: str) -> Locator:
    """The lines from the page itself (not from a user) whose text is exactly ``text``."""
    return page.locator("#messages li.system .text").filter(has_text=exactly(text))


async def set_hidden(page: Page, hidden: bool) -> None:
    await page.evaluate("h => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); }", hidden)


async def notes(page: Page) -> list[list[str]]:
    result: list[list[str]] = await page.evaluate("window.__notes.map(n => [n.title, n.body])")
    return result


async def test_mentions_are_highlighted_and_notify_while_the_tab_is_hidden(
    browser: Browser, server: Server, connect: Connect
) -> None:
    page = await new_page(browser)
    await page.add_init_script(NOTIFICATION_STUB)
    await log_in(page, server, "alice")
    assert await page.evaluate("window.__asked") == 1  # asked on the login click
    await expect(page.locator("#bell")).to_have_attribute("aria-pressed", "true")
    carol = await connect("carol")

    await carol.send("alice: look at this", "alicette is someone else")
    await expect(said(page, "alicette is someone else")).to_have_count(1)
    await expect(line_of(page, "alice: look at this")).to_have_class(re.compile(r"\bmention\b"))
    await expect(line_of(page, "alicette is someone else")).not_to_have_class(re.compile(r"\bmention\b"))
    await expect(page).to_have_title("#lobby · chinwag")
    assert await notes(page) == []  # the tab is visible: no notification

    await set_hidden(page, True)
    await carol.send("hi ALICE!", "nothing for you here")
    await expect(said(page, "nothing for you here")).to_have_count(1)
    await expect(page).to_have_title("(1) #lobby · chinwag")
    await carol.send("/msg alice psst")  # a private message counts too
    await expect(page).to_have_title("(2) #lobby · chinwag")
    assert await notes(page) == [["carol in #lobby", "hi ALICE!"], ["carol", "psst"]]

    await page.click("#bell")  # turned off: the count goes on, the notifications stop
    await expect(page.locator("#bell")).to_have_attribute("aria-pressed", "false")
    await carol.send("alice, still there?")
    await expect(page).to_have_title("(3) #lobby · chinwag")
    assert len(await notes(page)) == 2

    await set_hidden(page, False)
    await expect(page).to_have_title("#lobby · chinwag")
    await page.evaluate("window.__notes[1].onclick()")  # clicking a notification opens its conversation
    await expect(page.locator("#title")).to_have_text("carol")
    await expect(said(page, "psst")).to_have_count(1)
    assert not page.errors  # type: ignore[attr-defined]


async def test_topic_is_shown_under_the_room_name(browser: Browser, server: Server, ws_irc: WsConnect) -> None:
    bob = await ws_irc("bob")
    await bob.send("JOIN #plans", "TOPIC #plans :Plans for v0.3: https://example.org/v0.3")
    await bob.expect("TOPIC #plans")
    page = await chat(browser, server, "dora")
    topic = page.locator("#topic")
    await expect(topic).to_be_hidden()  # #lobby has none
    await say(page, "/join #plans")
    await expect(page.locator("#title")).to_have_text("#plans")
    await expect(topic).to_have_text("Plans for v0.3: https://example.org/v0.3")  # 332 on join
    await expect(topic).to_have_attribute("title", re.compile(r"set by bob"))
    await expect(topic.locator("a")).to_have_attribute("href", "https://example.org/v0.3")

    await bob.send("TOPIC #plans :Plans for v0.4")
    await expect(topic).to_have_text("Plans for v0.4")  # live
    await expect(shown(page, "bob set the topic: Plans for v0.4")).to_have_count(1)
    await say(page, "/topic")
    await expect(shown(page, "topic: Plans for v0.4")).to_have_count(1)

    await say(page, "/join #mine")
    await expect(page.locator("#title")).to_have_text("#mine")
    await expect(topic).to_be_hidden()
    await say(page, "/topic")
    await expect(shown(page, "no topic is set")).to_have_count(1)
    await say(page, "/topic our own room")
    await expect(topic).to_have_text("our own room")
    await page.locator("#room-list button", has_text="#plans").click()
    await expect(topic).to_have_text("Plans for v0.4")
    assert not page.errors  # type: ignore[attr-defined]


async def test_joins_parts_and_nick_changes_are_small_and_folded(
    browser: Browser, server: Server, connect: Connect
) -> None:
    page = await chat(browser, server, "ivy")
    events = page.locator("#messages > li.event, #messages > li.events")
    carol = await connect("carol")
    await expect(events).to_have_text([re.compile(r"^\d\d:\d\d.*carol joined$")])
    dave = await connect("dave")
    await expect(events).to_have_count(2)
    erin = await connect("erin")
    await expect(events).to_have_count(1)  # three in a row: folded
    folded = page.locator("#messages > li.events summary")
    await expect(folded.locator(".text")).to_have_text("3 joined")
    await dave.send("/nick dan")
    await expect(folded.locator(".text")).to_have_text("3 joined, 1 changed name")
    await erin.send("/quit lunch")
    await expect(folded.locator(".text")).to_have_text("3 joined, 1 left, 1 changed name")
    inner = page.locator("#messages li.events li.event .text")
    await expect(inner.first).to_be_hidden()
    await folded.click()  # unfolds
    await expect(inner).to_have_text(
        ["carol joined", "dave joined", "erin joined", "dave is now known as dan", "erin quit (lunch)"]
    )
    await carol.send("hello", "/part #lobby")  # a message ends the run; the part starts a new one
    await expect(said(page, "hello")).to_have_count(1)
    await expect(page.locator("#messages > li").last).to_have_text(re.compile(r"carol left$"))
    await expect(page.locator("#messages > li.events details")).to_have_attribute("open", "")  # still open

    size = "el => parseFloat(getComputedStyle(el).fontSize)"
    event_size = await page.locator("#messages > li.event").last.evaluate(size)
    assert event_size < await line_of(page, "hello").evaluate(size)  # small...
    grey = await page.locator("#messages > li.event").last.evaluate("el => getComputedStyle(el).color")
    muted = await page.evaluate("getComputedStyle(document.querySelector('.status')).color")
    assert grey == muted  # ...and grey
    assert not page.errors  # type: ignore[attr-defined]


async def test_a_taken_name_goes_back_to_the_form(browser: Browser, server: Server, connect: Connect) -> None:
    carol = await connect("carol")
    page = await new_page(browser)
    await page.goto(web_url(server))
    await page.fill("#nick", "carol")
    await page.click("#login-form button")
    await expect(page.locator("#login-error")).to_have_text("carol is taken")
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#app")).to_be_hidden()
    await expect(page.locator("#nick")).to_have_value("carol")
    await expect(page.locator("#nick")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#nick")).to_be_focused()
    await carol.send("/who")
    assert "carol_" not in await carol.expect("* in #lobby")  # never renamed behind the user's back

    await page.fill("#nick", "carla")
    await page.click("#login-form button")
    await expect(page.locator("#status")).to_have_text("connected as carla")
    await expect(page.locator("#login")).to_be_hidden()
    await expect(page.locator("#nick")).to_have_attribute("aria-invalid", "false")
    assert not page.errors  # type: ignore[attr-defined]


async def test_an_invalid_name_goes_back_to_the_form(browser: Browser, server: Server) -> None:
    page = await new_page(browser)
    await page.goto(web_url(server))
    await page.fill("#nick", "zоë")  # a Cyrillic о between Latin letters
    await page.click("#login-form button")
    await expect(page.locator("#login-error")).to_have_text(
        "invalid name: mixes Latin and Cyrillic letters, which can pass for each other; use one alphabet"
    )
    await expect(page.locator("#app")).to_be_hidden()
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#nick", "Zoë")
    await page.click("#login-form button")
    await expect(page.locator("#status")).to_have_text("connected as Zoë")
    await expect(page.locator("#login-error")).to_have_text("")


class Gate:
    """While ``held``, the page's WebSocket reconnects are refused."""

    def __init__(self) -> None:
        self.held = False

    async def __call__(self, ws: WebSocketRoute) -> None:
        if self.held:
            await ws.close(code=1013, reason="try again later")
        else:
            ws.connect_to_server()


async def restarting_page(browser: Browser, tmp_path: Path, nick: str) -> tuple[Page, Server, Gate, Server]:
    config = dataclasses.replace(make_config(), db=str(tmp_path / "chat.db"))
    first = Server(config)
    await first.start()
    config = dataclasses.replace(config, **{f"{name}_port": first.port(name) for name in ("text", "irc", "web")})
    gate = Gate()
    page = await new_page(browser)
    await page.route_web_socket(re.compile(r"/irc$"), gate)
    await log_in(page, first, nick)
    return page, first, gate, Server(config)


async def test_a_server_restart_shows_a_status_line_not_raw_irc(
    browser: Browser, tmp_path: Path, connect: Connect
) -> None:
    page, first, gate, again = await restarting_page(browser, tmp_path, "webby")
    gate.held = True
    await first.shutdown()
    await expect(page.locator("#status")).to_have_text("server restarting — reconnecting…")
    await expect(page.locator("#status")).to_have_class(re.compile(r"\bbad\b"))
    await again.start()
    try:
        gate.held = False
        await expect(page.locator("#status")).to_have_text("connected as webby")
        await expect(page.locator("#messages")).not_to_contain_text("Closing Link")
        await expect(page.locator("#messages")).not_to_contain_text("shutting down")
    finally:
        await again.shutdown()


async def test_the_member_list_is_greyed_while_offline_and_refreshed_on_rejoin(
    browser: Browser, tmp_path: Path, connect: Connect
) -> None:
    page, first, gate, again = await restarting_page(browser, tmp_path, "gina")
    members = page.locator("#member-list .nick")
    await connect("carol", srv=first)
    await expect(members).to_have_text(["carol", "gina"])  # no op in #lobby (registered by the server)
    await expect(page.locator("#members")).not_to_have_class(re.compile(r"\bstale\b"))
    await expect(page.locator("#member-note")).to_be_hidden()

    gate.held = True
    await first.shutdown()
    await expect(page.locator("#members")).to_have_class(re.compile(r"\bstale\b"))
    await expect(page.locator("#member-note")).to_have_text("offline: last known members")
    await expect(members).to_have_text(["carol", "gina"])  # kept, greyed
    assert float(await page.locator("#member-list").evaluate("el => getComputedStyle(el).opacity")) < 1
    await again.start()
    try:
        await connect("dave", srv=again)  # carol did not come back, dave is new
        gate.held = False
        await expect(page.locator("#status")).to_have_text("connected as gina")
        await expect(members).to_have_text(["dave", "gina"])
        await expect(page.locator("#members")).not_to_have_class(re.compile(r"\bstale\b"))
        await expect(page.locator("#member-note")).to_be_hidden()
    finally:
        await again.shutdown()


async def test_a_long_word_keeps_the_time_on_one_line(browser: Browser, server: Server, connect: Connect) -> None:
    page = await chat(browser, server, "hank", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    carol = await connect("carol")
    word = "x" * 300
    await carol.send(word)
    line = line_of(page, word)
    await expect(line).to_have_count(1)
    assert await line.locator("time").evaluate("t => t.getClientRects().length") == 1
    time_box = await line.locator("time").bounding_box()
    text_box = await line.locator(".text").bounding_box()
    assert time_box is not None and text_box is not None
    assert time_box["height"] < text_box["height"] / 3  # the word wraps, the time does not
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


async def test_a_long_topic_fits_on_a_phone(browser: Browser, ws_irc: WsConnect) -> None:
    # #lobby is registered by the server: a server operator sets its topic.
    server = Server(dataclasses.replace(make_config(), operators={"bob": "topic-setter"}))
    await server.start()
    try:
        bob = await ws_irc("bob", srv=server)
        topic = "a topic far too long for a phone's width, " * 4
        await bob.send("OPER bob topic-setter", "JOIN #lobby", f"TOPIC #lobby :{topic}")
        await bob.expect("TOPIC #lobby")
        page = await chat(browser, server, "hank", viewport={"width": 390, "height": 844}, is_mobile=True,
                          has_touch=True)
        await expect(page.locator("#topic")).to_have_text(topic)
        for part in ("#topic", "#toggle-members", "#send button"):
            await expect(page.locator(part)).to_be_in_viewport()
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await page.click("#toggle-members")
        await expect(page.locator(".members")).to_be_in_viewport()
        await expect(page.locator("#member-list")).to_contain_text("hank")
    finally:
        await server.shutdown()


async def test_the_pure_helpers(browser: Browser, server: Server) -> None:
    page = await new_page(browser)
    await page.goto(web_url(server))
    got = await page.evaluate(
        """async () => {
            const irc = await import("./irc.js");
            const nick = "Bob[m]";
            return {
                mentions: ["bob[m]: hi", "hi BOB{M}!", "bob[m]", "(Bob[m])", "bob", "bob[m]x", "x_bob[m]", "bob[m]_"]
                    .map((t) => irc.mentions(t, nick)),
                summary: irc.summarize([{what: "join"}, {what: "part"}, {what: "quit"}, {what: "nick"},
                    {what: "join"}, {what: "kick"}]),
                reasons: [irc.closingReason("Closing Link: webby (server is shutting down)"),
                    irc.closingReason("Closing Link: * (Registration timed out)"), irc.closingReason("odd")],
                split: irc.splitUtf8("aé€😀".repeat(3), 7),
                folded: ["ВАСЯ", "Nguye\u0302\u0303n", "ＡＬＩＣＥ[x]", "Zoë"].map(irc.casefold),
                vasya: ["привет Вася!", "ВАСЯ: ты тут?", "Васятка", "вася2"].map((t) => irc.mentions(t, "Вася")),
            };
        }"""
    )
    assert got == {
        "mentions": [True, True, True, True, False, False, False, False],
        "summary": "2 joined, 2 left, 1 kicked, 1 changed name",
        "reasons": ["server is shutting down", "Registration timed out", "odd"],
        "split": ["aé€", "😀aé", "€😀", "aé€", "😀"],  # 7 bytes at most, whole characters
        "folded": ["вася", "nguyễn", "alice{x}", "zoë"],  # as the server's casefold (CASEMAPPING=rfc8265)
        "vasya": [True, True, False, False],  # a name in any script, as a word of its own
    }


async def test_a_reconnect_whose_name_is_still_held_goes_back_to_the_form(
    browser: Browser, server: Server, connect: Connect
) -> None:
    routes: list[WebSocketRoute] = []

    async def keep(ws: WebSocketRoute) -> None:
        ws.on_close(lambda code, reason: None)  # the page's side closing leaves the server's open
        ws.connect_to_server()
        routes.append(ws)

    page = await new_page(browser)
    await page.route_web_socket(re.compile(r"/irc$"), keep)
    await log_in(page, server, "jo")
    carol = await connect("carol")
    await routes[0].close(code=1001, reason="network gone")  # the server still has jo
    await expect(page.locator("#login-error")).to_have_text(
        "jo is taken, perhaps still by your previous connection: try again in a minute"
    )
    await expect(page.locator("#app")).to_be_hidden()
    await page.fill("#nick", "jo2")
    await page.click("#login-form button")
    await expect(page.locator("#status")).to_have_text("connected as jo2")
    await expect(page.locator("#title")).to_have_text("#lobby")  # its rooms rejoined
    await carol.send("/who")
    assert "jo_" not in await carol.expect("* in #lobby")
