"""The client against ngircd, a standard IRC server from Debian: it is a real IRC client."""

from __future__ import annotations

from tests.client.conftest import MakeHeadless, run_connect


async def test_two_clients_talk_through_ngircd(ngircd: int, headless: MakeHeadless) -> None:
    alice = await headless(ngircd, "alice", ["#chinwag"])
    bob = await headless(ngircd, "bob", ["#chinwag"])
    await alice.expect("bob joined #chinwag")
    alice.type("hello from alice\r")
    await bob.expect("alice: hello from alice")
    await alice.expect("alice: hello from alice")  # ngircd has no echo-message: local echo
    bob.type("/me waves back\r")
    await alice.expect("* bob waves back")
    bob.type("/msg alice just you\r")
    await alice.expect("*bob* just you")
    start = alice.mark()
    alice.type("/who\r")
    names = await alice.expect("in #chinwag: ", start)
    assert "alice" in names and "bob" in names and "@" not in names
    alice.type("/nick alicia\r")
    await bob.expect("alice is now known as alicia")
    await bob.quit()
    await alice.expect("bob has quit")


async def test_nick_in_use_gets_a_suffix(ngircd: int, headless: MakeHeadless) -> None:
    await headless(ngircd, "carol", ["#chinwag"])
    second = await headless(ngircd, "carol", ["#chinwag"])
    await second.expect("the nick carol is taken, trying carol_")
    await second.expect("connected as carol_")


async def test_script_mode_through_ngircd(ngircd: int, headless: MakeHeadless) -> None:
    dave = await headless(ngircd, "dave", ["#chinwag"])
    rc, _, err = await run_connect(f"127.0.0.1:{ngircd}", "--nick", "bot", "--room", "#chinwag",
                                   stdin=b"one\ntwo\n")
    assert rc == 0, err
    await dave.expect("bot: one")
    await dave.expect("bot: two")
