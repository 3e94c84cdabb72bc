"""The first minute on telnet/netcat: blank names, taken names, non-UTF-8 terminals."""

from __future__ import annotations

import re

from tests.conftest import Connect

STAMP = r"\[\d\d:\d\d\] "


async def test_a_blank_name_is_asked_again_with_the_reason(connect: Connect) -> None:
    c = await connect()
    c.writer.write(b"\r\n   \r\n\t\n")
    await c.writer.drain()
    for _ in range(3):
        assert await c.line() == "invalid name: empty. What is your name?"
    await c.send("bob")
    assert await c.line() == "Welcome to chinwag, bob! Type /help for commands."


async def test_a_taken_name_suggests_a_free_one(connect: Connect) -> None:
    await connect("bob")
    await connect("bob2")
    c = await connect()
    await c.send("Bob")
    assert await c.line() == "name taken; try Bob3. What is your name?"
    await c.send("Bob3")
    assert await c.line() == "Welcome to chinwag, Bob3! Type /help for commands."
    d = await connect()
    await d.send("x" * 32)  # at the length limit: the suggestion is cut to fit
    assert await d.line() == "Welcome to chinwag, " + "x" * 32 + "! Type /help for commands."
    e = await connect()
    await e.send("x" * 32)
    assert await e.line() == "name taken; try " + "x" * 31 + "2. What is your name?"


async def test_a_line_that_is_not_utf8_is_read_as_windows_1252(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    # An old Windows telnet: Windows-1252 bytes; then a UTF-8 line from the same client.
    bob.writer.write(b"caf\xe9 cr\xe8me \x93br\xfbl\xe9e\x94\r\n" + "naïve ☕\r\n".encode())
    await bob.writer.drain()
    assert re.fullmatch(STAMP + "bob: café crème “brûlée”", await alice.expect("bob:"))
    assert re.fullmatch(STAMP + "bob: naïve ☕", await alice.expect("bob:"))
