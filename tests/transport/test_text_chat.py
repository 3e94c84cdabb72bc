"""The telnet/netcat experience, end to end over real sockets."""

from __future__ import annotations

import asyncio
import re
import socket

import pytest

from chinwag.transport.server import Server
from tests.conftest import Connect, LineClient, make_config

STAMP = r"\[\d\d:\d\d\] "


async def test_name_first_line_then_message_without_reading_the_prompt(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port())
    bob = LineClient(reader, writer)
    await bob.send("bob")
    await bob.expect("* in #lobby: bob (1)")
    # printf 'alice\nhello\n' | nc: both lines in one packet, prompt unread.
    reader2, writer2 = await asyncio.open_connection("127.0.0.1", server.port())
    writer2.write(b"alice\nhello\n")
    await writer2.drain()
    assert (await bob.expect("alice has joined")) == "* alice has joined #lobby"
    msg = await bob.expect("alice:")
    assert re.fullmatch(STAMP + "alice: hello", msg)
    writer2.close()
    assert await bob.expect("alice has left") == "* alice has left (connection closed)"
    await bob.close()


async def test_greeting_welcome_and_who_is_here(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect()
    await bob.send("bob")
    got = await bob.lines_until("* in #lobby:")
    assert got[0] == "Welcome to chinwag, bob! Type /help for commands."
    assert got[-1] == "* in #lobby: alice, bob (2)"
    assert await alice.expect("has joined") == "* bob has joined #lobby"


async def test_taken_and_invalid_names_get_a_reason_and_another_try(connect: Connect) -> None:
    await connect("alice")
    c = await connect()
    await c.send("ALICE")  # names are unique regardless of case
    assert await c.line() == "name taken; try ALICE2. What is your name?"
    await c.send("9lives")
    assert (await c.line()).startswith("invalid name: must start with a letter")
    await c.send("x" * 33)
    assert (await c.line()).startswith("invalid name: longer than 32")
    await c.send("carol")
    assert await c.line() == "Welcome to chinwag, carol! Type /help for commands."


async def test_message_goes_to_others_not_echoed_to_sender(connect: Connect) -> None:
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    await alice.send("hello everyone")
    for other in (bob, carol):
        assert re.fullmatch(STAMP + "alice: hello everyone", await other.expect("alice:"))
    await alice.send("/who")  # a marker: anything before it would be an echo
    assert await alice.expect("* in #lobby") == "* in #lobby: alice, bob, carol (3)"
    assert not [line for line in alice.seen if "hello everyone" in line]


async def test_me_action(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.send("/me waves")
    assert re.fullmatch(STAMP + r"\* alice waves", await bob.expect("waves"))


async def test_private_message_only_reaches_target(connect: Connect) -> None:
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    await alice.send("/msg bob psst", "public")
    assert re.fullmatch(STAMP + r"\*alice\* psst", await bob.expect("psst"))
    assert re.fullmatch(STAMP + r"-> \*bob\* psst", await alice.expect("psst"))
    await carol.expect("alice: public")
    assert not [line for line in carol.seen if "psst" in line]
    await alice.send("/msg nobody hi")
    assert await alice.expect("error") == "error: no such nick: nobody"


async def test_nick_change_seen_by_others_and_name_freed(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.send("/nick al")
    assert await alice.expect("known as") == "* you are now known as al"
    assert await bob.expect("known as") == "* alice is now known as al"
    await bob.send("/nick al")
    assert await bob.expect("error") == "error: name taken: al"
    await alice.send("hi")
    assert (await bob.expect("hi")).endswith("al: hi")
    newcomer = await connect("alice")  # the old name is free again
    await newcomer.send("/who")
    assert await newcomer.expect("* in #lobby") == "* in #lobby: al, bob, alice (3)"


async def test_two_rooms_current_room_and_room_labels(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.send("/join #dev")
    assert await alice.expect("* in #dev") == "* in #dev: alice (1)"
    await bob.send("/join dev")  # the # is optional
    assert await alice.expect("has joined") == "* bob has joined #dev"
    await bob.send("in dev")  # bob's current room is now #dev
    assert (await alice.expect("in dev")).endswith("] bob: in dev")
    await bob.send("/join #lobby", "in lobby")  # back to #lobby: current again
    # alice's current room is #dev, so #lobby traffic is labelled.
    assert (await alice.expect("in lobby")).endswith("] #lobby bob: in lobby")
    await alice.send("/rooms")
    assert await alice.expect("rooms:") == "* rooms: #dev (2), #lobby (2)"
    await alice.send("/part")
    assert await alice.expect("you left") == "* you left #dev; current room is now #lobby"
    assert await bob.expect("left #dev") == "* alice has left #dev"
    await bob.send("/part #dev bye now")
    await bob.expect("you left #dev")
    await alice.send("/rooms")
    assert await alice.expect("rooms:") == "* rooms: #lobby (2)"  # empty room dropped
    await alice.send("/part", "anyone?")
    await alice.expect("you left #lobby")
    assert await alice.expect("not in a room") == "* you are not in a room; /join #room first"


async def test_leave_notice_once_on_abrupt_disconnect_across_shared_rooms(connect: Connect) -> None:
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    for c in (alice, bob):
        await c.send("/join #dev", "/join #ops")
        await c.expect("* in #ops")
    # Abrupt: reset the socket without a /quit.
    sock = alice.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    alice.writer.transport.abort()
    await bob.expect("alice has left (")
    await carol.expect("alice has left (")
    await bob.send("/who #dev")  # marker: everything before it has arrived
    assert await bob.expect("* in #dev") == "* in #dev: bob (1)"
    assert len([line for line in bob.seen if "alice has left" in line]) == 1
    await carol.send("/rooms")
    await carol.expect("rooms:")
    assert len([line for line in carol.seen if "alice has left" in line]) == 1


async def test_quit_with_reason(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.send("/quit see you")
    assert await bob.expect("has left") == "* alice has left (see you)"
    assert (await alice.closed())[-1] == "* goodbye"


async def test_help_and_unknown_command(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.send("/frobnicate now")
    assert await alice.line() == "unknown command: /frobnicate (try /help)"
    await alice.send("/help")
    lines = await alice.lines_until("literal /")
    text = "\n".join(lines)
    for cmd in ("/nick", "/who", "/me", "/msg", "/join", "/part", "/rooms", "/quit"):
        assert cmd in text


async def test_double_slash_sends_a_literal_slash(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.send("//shrug")
    assert (await bob.expect("shrug")).endswith("alice: /shrug")


async def test_crlf_input_and_crlf_output(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port())
    writer.write(b"alice\r\n/who\r\n")
    data = b""
    while b"* in #lobby: alice (1)\r\n" not in data:
        data += await asyncio.wait_for(reader.read(4096), 5)
    assert all(line.endswith(b"\r") for line in data.split(b"\n")[:-1])
    writer.close()


async def test_long_line_rejected_and_discarded(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.send("x" * 5000, "after")
    assert await alice.expect("too long") == "error: line too long (max 4096 bytes); discarded"
    assert (await bob.expect("alice:")).endswith("alice: after")  # nothing of the long line


async def test_invalid_utf8_is_read_as_windows_1252(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    alice.writer.write(b"caf\xe9 ok\n")
    assert (await bob.expect("ok")).endswith("alice: caf\u00e9 ok")


async def test_escape_sequences_from_others_are_stripped(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    alice.writer.write(b"\x1b[2J\x1b]0;pwned\x07red \x1b[31mtext\x07\x00 done\n")
    assert (await bob.expect("done")).endswith("alice: red text done")


async def test_slow_reader_cut_off_while_others_chat() -> None:
    """One client never reads; 20 others chat and all get every message."""
    srv = Server(make_config(sendq=64 * 1024, output_stall=1))
    await srv.start()
    try:
        stalled = socket.socket()
        # Before connect, or the kernel's receive autotuning (up to 32 MiB here)
        # would swallow everything and the server would never see a slow reader.
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", srv.port()))
        stalled.sendall(b"sloth\n")
        clients = []
        for i in range(20):
            r, w = await asyncio.open_connection("127.0.0.1", srv.port())
            c = LineClient(r, w)
            await c.send(f"user{i}")
            await c.expect("* in #lobby: sloth, user0")
            clients.append(c)
        payload = "y" * 1000
        # 20 x 30 x ~1 KB = 600 KB for the stalled reader: past the kernel's
        # socket buffers for a 4 KiB receive window and far past sendq.
        rounds = 30

        progress = asyncio.Condition()
        counts = [0] * len(clients)

        async def read_all(k: int, c: LineClient) -> int:
            while counts[k] < rounds * 19:
                if payload in await c.line():
                    async with progress:
                        counts[k] += 1
                        progress.notify_all()
            return counts[k]

        readers = [asyncio.create_task(read_all(k, c)) for k, c in enumerate(clients)]
        for r in range(rounds):
            for i, c in enumerate(clients):
                await c.send(f"{r}-{i}-{payload}")
            # Chat at human pace: each round is read by everyone before the next.
            async with progress:
                await asyncio.wait_for(
                    progress.wait_for(lambda r=r: min(counts) >= (r + 1) * 19), 5
                )
        assert await asyncio.gather(*readers) == [rounds * 19] * 20
        # Cut once it has read nothing for output_stall (1 s) with over sendq queued.
        left = next((s for s in clients[0].seen if "sloth has left" in s), None)
        left = left or await clients[0].expect("sloth has left")
        assert left == "* sloth has left (output queue over 65536 bytes and nothing read for 1 s)"
        for c in clients:
            await c.send("/who")
            line = await c.expect("* in #lobby")
            assert "sloth" not in line  # the stalled reader was cut off
        for c in clients:
            await c.close()
        stalled.close()
    finally:
        await srv.shutdown()


@pytest.mark.parametrize("n", [3])
async def test_shutdown_notice_reaches_everyone(n: int) -> None:
    srv = Server(make_config())
    await srv.start()
    clients = []
    for i in range(n):
        r, w = await asyncio.open_connection("127.0.0.1", srv.port())
        c = LineClient(r, w)
        await c.send(f"user{i}")
        await c.expect("* in #lobby")
        clients.append(c)
    await srv.shutdown()
    for c in clients:
        rest = await c.closed()
        assert "* server is shutting down" in rest
        await c.close()


async def test_telnet_negotiation_is_never_shown(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    alice.writer.write(b"\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0hel\xff\xfd")
    await alice.writer.drain()
    alice.writer.write(b"\x03lo\n")  # the sequence is split across two packets
    assert (await bob.expect("alice:")).endswith("] alice: hello")
