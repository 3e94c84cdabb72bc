"""``chinwag connect`` with stdin not a terminal: a real subprocess, plain text."""

from __future__ import annotations

import asyncio

from chinwag.transport.server import Server
from tests.client.conftest import MakeHeadless, free_port, run_connect
from tests.conftest import IrcClient


async def test_echo_hi_reaches_the_room_before_quit(server: Server, headless: MakeHeadless) -> None:
    port = server.port("irc")
    bob = await headless(port, "bob", ["#lobby", "#dev"])
    rc, out, err = await run_connect(f"127.0.0.1:{port}", "--nick", "bot", "--room", "#lobby", stdin=b"hi\n")
    assert rc == 0, err
    await bob.expect("bot: hi")
    await bob.expect("bot has quit")
    assert "now talking in #lobby" in out
    assert "\x1b" not in out and "\a" not in out  # plain text on a pipe


async def test_commands_in_a_script(server: Server, headless: MakeHeadless) -> None:
    port = server.port("irc")
    bob = await headless(port, "bob", ["#lobby", "#dev"])
    script = b"/me is a robot\n/join #dev\nnow in dev\n/msg bob private\n//slash\n"
    rc, out, err = await run_connect(f"127.0.0.1:{port}", "--nick", "bot", stdin=script)
    assert rc == 0, err
    await bob.expect("* bot is a robot")
    await bob.expect("#dev bot: now in dev")  # bob is in #lobby: labelled
    await bob.expect("*bot* private")
    await bob.expect("bot: /slash")


async def test_forced_colour(server: Server) -> None:
    port = server.port("irc")
    rc, out, _ = await run_connect(f"127.0.0.1:{port}", "--nick", "bot", "--color", "always", stdin=b"")
    assert rc == 0
    assert "\x1b[" in out


async def test_no_server_fails_fast() -> None:
    rc, out, _ = await run_connect(f"127.0.0.1:{free_port()}", "--nick", "bot", stdin=b"hi\n")
    assert rc == 1
    assert "cannot connect to 127.0.0.1:" in out


async def test_a_multiline_message_shows_as_several_lines(server: Server, headless: MakeHeadless) -> None:
    """IRCv3 draft/multiline: the terminal client (without the cap) shows each
    line of what is one message (one msgid, stored once)."""
    port = server.port("irc")
    bob = await headless(port, "bob", ["#lobby"])
    r, w = await asyncio.open_connection("127.0.0.1", port)
    alice = IrcClient(r, w)
    await alice.register("alice", ("batch", "draft/multiline"))
    await alice.send("JOIN #lobby", "BATCH +m draft/multiline #lobby", "@batch=m PRIVMSG #lobby :first line",
                     "@batch=m PRIVMSG #lobby :second line", "BATCH -m")
    first = await bob.expect("alice: first line")
    second = await bob.expect("alice: second line")
    assert first != second
    assert [m.text for m in await server.store.latest("#lobby", 5)] == ["first line\nsecond line"]
    await alice.close()
