"""``chinwag connect`` with stdin not a terminal: a real subprocess, plain text."""

from __future__ import annotations

from chinwag.transport.server import Server
from tests.client.conftest import MakeHeadless, free_port, run_connect


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
