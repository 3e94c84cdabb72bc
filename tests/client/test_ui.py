"""The prompt_toolkit UI, headless (pipe input), against a real chinwag IRC listener."""

from __future__ import annotations

import io

from prompt_toolkit.data_structures import Size
from prompt_toolkit.output.vt100 import Vt100_Output

from chinwag.transport.server import Server
from tests.client.conftest import MakeHeadless


async def test_send_and_receive(server: Server, headless: MakeHeadless) -> None:
    port = server.port("irc")
    alice = await headless(port, "alice")
    bob = await headless(port, "bob")
    await alice.expect("bob joined #lobby")
    start = alice.mark()
    alice.type("hello bob\r")
    assert (await bob.expect("alice: hello bob")).endswith("] alice: hello bob")
    await alice.expect("alice: hello bob", start)  # own line, echoed by the server
    bob.type("hi alice, welcome\r")
    await alice.expect("bob: hi alice, welcome")
    assert await alice.quit() == 0
    await bob.expect("alice has quit (bye)")


async def test_commands(server: Server, headless: MakeHeadless) -> None:
    port = server.port("irc")
    alice = await headless(port, "alice")
    bob = await headless(port, "bob", ["#lobby", "#dev"])
    alice.type("/help\r")
    await alice.expect("/join #room")
    alice.type("/join #dev\r")
    await alice.expect("now talking in #dev")
    await alice.ui.wait_until(lambda: alice.chat.current == "#dev")
    assert alice.ui.prompt()[0] == ("bold", "#dev")
    start = alice.mark()
    alice.type("/who\r")
    assert (await alice.expect("in #dev: ", start)).endswith(("bob, alice", "alice, bob"))
    alice.type("/me waves\r")
    await bob.expect("#dev * alice waves")  # bob's current room is #lobby: labelled
    alice.type("/topic ship it\r")
    await alice.expect("you are not a room operator")  # bob made #dev: only he may
    bob.type("/switch #dev\r")
    bob.type("/topic ship it\r")
    await alice.expect("bob set the topic of #dev: ship it")
    alice.type("/topic\r")
    await alice.expect("topic of #dev: ship it")
    alice.type("/msg bob psst\r")
    await bob.expect("*alice* psst")
    await alice.expect("-> *bob* psst")
    alice.type("/rooms\r")
    await alice.expect("#dev (2)")
    alice.type("/switch #lobby\r")
    await alice.ui.wait_until(lambda: alice.chat.current == "#lobby")
    alice.type("/part #dev\r")
    await bob.expect("alice left #dev")
    alice.type("/nick al\r")
    await alice.expect("you are now known as al")
    await bob.expect("alice is now known as al")
    alice.type("/bogus\r")
    await alice.expect("unknown command /bogus")


async def test_tab_completion(server: Server, headless: MakeHeadless) -> None:
    port = server.port("irc")
    await headless(port, "bobby")
    alice = await headless(port, "alice")
    alice.type("/jo\t")
    await alice.typed("/join ")
    alice.type("\x15")  # Ctrl-U: clear the line
    await alice.typed("")
    alice.type("bo\t")
    await alice.typed("bobby: ")  # start of line: addressing them
    alice.type("see #lo\t")
    await alice.typed("bobby: see #lobby")
    alice.type(" and B\t")
    await alice.typed("bobby: see #lobby and bobby")


async def test_history_and_room_switching_keys(server: Server, headless: MakeHeadless) -> None:
    alice = await headless(server.port("irc"), "alice", ["#lobby", "#dev"])
    assert alice.chat.current == "#lobby"
    alice.type("\x0e")  # Ctrl-N
    await alice.ui.wait_until(lambda: alice.chat.current == "#dev")
    alice.type("\x10")  # Ctrl-P
    await alice.ui.wait_until(lambda: alice.chat.current == "#lobby")
    alice.type("first line\r")
    await alice.expect("alice: first line")
    alice.type("\x1b[A")  # Up: history
    await alice.typed("first line")


async def test_mentions_ring_the_bell_in_colour(server: Server, headless: MakeHeadless) -> None:
    screen = io.StringIO()
    output = Vt100_Output(screen, lambda: Size(rows=24, columns=100), term="xterm-256color")
    alice = await headless(server.port("irc"), "alice", output=output)
    bob = await headless(server.port("irc"), "bob")
    bob.type("hey alice!\r")
    await alice.expect("bob: hey alice!")
    await alice.ui.wait_until(lambda: "\a" in screen.getvalue())
    assert "\x1b[" in screen.getvalue()  # coloured
    assert "hey alice!" in screen.getvalue()
