"""`chinwag connect` on its first join: which room is current, and the room's latest messages."""

from __future__ import annotations

from chinwag.transport.server import Server
from tests.client.conftest import MakeHeadless, run_connect


async def test_with_several_rooms_the_first_is_current_everywhere(server: Server, headless: MakeHeadless) -> None:
    port = server.port("irc")
    bob = await headless(port, "bob", ["#dev"])
    alice = await headless(port, "alice", ["#lobby", "#dev"])
    await alice.expect("you joined #dev")
    joins = [line.split("] ", 1)[1] for line in alice.ui.transcript
             if "* now talking in" in line or "* you joined" in line]
    # What it says, the prompt and where a line goes agree: #lobby.
    assert joins == ["* now talking in #lobby", "* you joined #dev"]
    assert alice.chat.current == "#lobby"
    assert alice.ui.prompt()[0] == ("bold", "#lobby")
    alice.type("hello lobby\r")
    await alice.expect("alice: hello lobby")
    alice.type("/switch #dev\r")
    await alice.ui.wait_until(lambda: alice.chat.current == "#dev")
    alice.type("hello dev\r")
    assert (await bob.expect("alice: hello")).endswith("] alice: hello dev")  # bob is in #dev only


async def test_first_join_shows_the_latest_messages_once(server: Server, headless: MakeHeadless) -> None:
    port = server.port("irc")
    bob = await headless(port, "bob")
    for word in ("one", "two", "three"):
        bob.type(f"{word}\r")
    await bob.expect("bob: three")  # echoed: stored
    alice = await headless(port, "alice")
    await alice.expect("bob: three")
    bob.type("four\r")
    await alice.expect("bob: four")
    assert alice.chat.conn is not None
    await alice.chat.conn.roundtrip()  # anything else in flight has arrived
    said = [line.split("] ", 1)[1] for line in alice.ui.transcript if "] bob: " in line]
    assert said == ["bob: one", "bob: two", "bob: three", "bob: four"]
    assert not [line for line in alice.ui.transcript if "\a" in line]


async def test_a_script_gets_no_history_on_its_output(server: Server, headless: MakeHeadless) -> None:
    port = server.port("irc")
    bob = await headless(port, "bob")
    bob.type("earlier words\r")
    await bob.expect("bob: earlier words")
    rc, out, err = await run_connect(f"127.0.0.1:{port}", "--nick", "bot", "--room", "#lobby", stdin=b"deploy done\n")
    assert rc == 0, err
    await bob.expect("bot: deploy done")
    assert "now talking in #lobby" in out
    assert "earlier words" not in out
