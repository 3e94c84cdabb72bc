"""Hostile input over real sockets: the room stays up, nobody else notices."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import socket
import time
from collections.abc import AsyncIterator

import pytest

from chinwag.config import Limits
from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config
from tests.test_cli import start


@contextlib.asynccontextmanager
async def serving(**limits: int) -> AsyncIterator[Server]:
    cfg = make_config(**limits)
    srv = Server(cfg)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


async def text_client(srv: Server, name: str | None = None) -> LineClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
    c = LineClient(r, w)
    await c.expect("What is your name?")
    if name:
        await c.send(name)
        await c.expect("* in #lobby")
    return c


async def irc_client(srv: Server, nick: str) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick)
    return c


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_megabyte_without_newline_is_told_and_closed_memory_unchanged() -> None:
    proc, port = await start("--text-port", "0", "--db", ":memory:")
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        bystander = LineClient(r, w)
        await bystander.send("bystander")
        await bystander.expect("* in #lobby")
        before = rss_kib(proc.pid)
        r2, w2 = await asyncio.open_connection("127.0.0.1", port)
        hog = LineClient(r2, w2)
        await hog.send("hog")
        await hog.expect("* in #lobby")
        with contextlib.suppress(ConnectionError):
            for _ in range(256):
                w2.write(b"x" * 4096)
                await w2.drain()
        rest = await hog.closed()
        assert "error: line too long (max 4096 bytes); discarded" in rest
        assert rest[-1].startswith("* disconnected: line too long (no newline in ")
        assert (await bystander.expect("hog has left")).startswith("* hog has left (line too long")
        after = rss_kib(proc.pid)
        assert after - before < 2048, (before, after)  # KiB: the megabyte was never held
        await bystander.send("still here")
        await bystander.send("/who")
        assert await bystander.expect("* in #lobby") == "* in #lobby: bystander (1)"
        await hog.close()
        await bystander.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0


async def test_irc_overlong_line_gets_417_and_connection_survives() -> None:
    async with serving() as srv:
        bob = await irc_client(srv, "bob")
        await bob.send("JOIN #lobby")
        await bob.expect_cmd("366")
        await bob.send("PRIVMSG #lobby :" + "x" * 600)
        assert " 417 bob " in await bob.expect_cmd("417")
        await bob.send("PING :alive")
        assert (await bob.expect_cmd("PONG")).endswith("alive")
        await bob.close()


@pytest.mark.parametrize("protocol", ["text", "irc"])
async def test_nul_invalid_utf8_and_escapes_never_reach_a_terminal(protocol: str) -> None:
    async with serving() as srv:
        victim = await text_client(srv, "victim")
        if protocol == "text":
            evil = await text_client(srv, "evil")
            evil.writer.write(b"a\x00b \xff\xfe c\x1b[2J\x1b]52;c;Zm9v\x07 \xe2\x80\xaedone\x9b31m\n")
        else:
            evil = await irc_client(srv, "evil")
            await evil.send("JOIN #lobby")
            await evil.expect_cmd("366")
            # A NUL cannot be carried by IRC: that line is refused whole.
            evil.writer.write(b"PRIVMSG #lobby :nul\x00line\n")
            evil.writer.write(
                b"PRIVMSG #lobby :a\x01b \xff\xfe c\x1b[2J\x1b]52;c;Zm9v\x07 \xe2\x80\xaedone\x02!\n"
            )
        line = await victim.expect("done")
        body = line.split("evil: ", 1)[1]
        assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in body), repr(body)
        assert "\u202e" not in body and "\x1b" not in body
        assert body.startswith("a") and "b" in body
        # Not UTF-8: text reads the line as Windows-1252 (old telnet clients), where the
        # C1 CSI byte 0x9b is a harmless '›'; IRC replaces it.
        assert ("\u203a31m" if protocol == "text" else "\ufffd") in body
        assert not any("nul" in seen for seen in victim.seen)
        await victim.close()
        await evil.close()


async def test_flood_is_throttled_while_a_normal_user_keeps_low_latency() -> None:
    async with serving(flood_burst=20, flood_rate=5, flood_backlog=100_000) as srv:
        watcher = await text_client(srv, "watcher")
        normal = await text_client(srv, "normal")
        flooder = await text_client(srv, "flooder")
        flood = "".join(f"spam {i}\n" for i in range(500)).encode()
        flooder.writer.write(flood)
        await flooder.writer.drain()
        latencies = []
        for i in range(10):
            sent = time.perf_counter()
            await normal.send(f"ping {i}")
            await watcher.expect(f"normal: ping {i}")
            latencies.append(time.perf_counter() - sent)
        spam_seen = sum("flooder: spam" in s for s in watcher.seen)
        assert spam_seen < 60, spam_seen  # 20 burst + ~5/s: the flood is held back
        assert max(latencies) < 0.05, latencies  # every message under 50 ms, flood or not
        await watcher.close()
        await normal.close()
        await flooder.close()


async def test_far_beyond_the_rate_the_flooder_is_told_and_cut_off() -> None:
    async with serving(flood_burst=20, flood_rate=5, flood_backlog=200) as srv:
        watcher = await text_client(srv, "watcher")
        flooder = await text_client(srv, "flooder")
        flooder.writer.write("".join(f"spam {i}\n" for i in range(2000)).encode())
        rest = await flooder.closed()
        assert rest[-1] == "* disconnected: excess flood"
        assert await watcher.expect("flooder has left") == "* flooder has left (excess flood)"
        await watcher.close()
        await flooder.close()


async def test_stalled_reader_among_fifty_is_cut_and_nobody_loses_anything() -> None:
    async with serving(sendq=64 * 1024, output_stall=1) as srv:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", srv.port("text")))
        stalled.sendall(b"sloth\n")
        clients = [await text_client(srv, f"u{i}") for i in range(50)]
        payload = "z" * 600
        rounds = 12  # 50 x 12 x ~0.6 KB = 360 KB towards the stalled reader
        expected = rounds * 49
        counts = [0] * 50
        done = asyncio.Event()
        progress = asyncio.Condition()

        async def read(k: int) -> None:
            while counts[k] < expected:
                if payload in await clients[k].line():
                    async with progress:
                        counts[k] += 1
                        progress.notify_all()

        readers = [asyncio.create_task(read(k)) for k in range(50)]
        for r in range(rounds):
            for i, c in enumerate(clients):
                await c.send(f"{r}:{i}:{payload}")
            async with progress:
                await asyncio.wait_for(progress.wait_for(lambda r=r: min(counts) >= (r + 1) * 49), 10)
        await asyncio.gather(*readers)
        done.set()
        assert counts == [expected] * 50
        # Cut once it has read nothing for output_stall (1 s) with over sendq queued.
        left = next((s for s in clients[0].seen if "sloth has left" in s), None)
        left = left or await clients[0].expect("sloth has left")
        assert left.startswith("* sloth has left (output queue over 65536 bytes and nothing read for 1 s")
        await clients[0].send("/who")
        assert "sloth" not in await clients[0].expect("* in #lobby")
        for c in clients:
            await c.close()
        stalled.close()


async def test_connections_per_ip_are_capped() -> None:
    # max_per_ip caps registered users per address (unregistered ones have
    # their own cap: tests/hostile/test_edge.py); the one over it is told so
    # when it gives its name, and nobody sees it arrive.
    async with serving(max_per_ip=100) as srv:
        clients = [await text_client(srv, f"u{i}") for i in range(100)]
        extra = await text_client(srv)
        await extra.send("u100")
        assert await extra.closed() == ["* disconnected: too many connections from 127.0.0.1"]
        await clients[0].send("/who")
        assert "u100" not in await clients[0].expect("* in #lobby")
        for c in [*clients, extra]:
            await c.close()


@pytest.mark.parametrize("protocol", ["text", "irc"])
async def test_a_client_that_says_nothing_is_closed_at_the_deadline(protocol: str) -> None:
    async with serving(register_timeout=1) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port(protocol))
        silent = LineClient(r, w)
        t0 = time.monotonic()
        rest = await silent.closed(timeout=10)
        assert time.monotonic() - t0 >= 0.9
        if protocol == "text":
            assert rest[-1].startswith("* disconnected: no name given within")
        else:
            assert rest[-1].startswith("ERROR :Closing Link: * (Registration timed out")
        await silent.close()


async def test_an_exception_in_one_connection_closes_only_that_one(monkeypatch: pytest.MonkeyPatch) -> None:
    async with serving() as srv:
        alice = await text_client(srv, "alice")
        bob = await text_client(srv, "bob")
        from chinwag.protocols.text import TextProtocol

        real = TextProtocol._command_for

        def boom(self: TextProtocol, line: str) -> object:
            if line == "explode":
                raise RuntimeError("bug triggered by input")
            return real(self, line)

        monkeypatch.setattr(TextProtocol, "_command_for", boom)
        await bob.send("explode")
        await bob.closed()
        assert (await alice.expect("bob has left")) == "* bob has left (internal error)"
        await alice.send("/who")
        assert await alice.expect("* in #lobby") == "* in #lobby: alice (1)"
        await alice.close()
        await bob.close()


def test_limits_block_holds_the_hostile_defaults() -> None:
    limits = Limits()
    assert (limits.flood_burst, limits.max_per_ip, limits.register_timeout) == (20, 100, 20)
    assert dataclasses.replace(limits, flood_rate=1).flood_rate == 1


async def test_irc_flood_is_cut_off_and_the_room_hears_it() -> None:
    async with serving(flood_burst=20, flood_rate=5, flood_backlog=200) as srv:
        watcher = await text_client(srv, "watcher")
        flooder = await irc_client(srv, "flooder")
        await flooder.send("JOIN #lobby")
        await flooder.expect_cmd("366")
        flooder.writer.write("".join(f"PRIVMSG #lobby :spam {i}\r\n" for i in range(2000)).encode())
        rest = await flooder.closed()
        assert rest[-1].startswith("ERROR :Closing Link: flooder (excess flood)")
        assert await watcher.expect("flooder has left") == "* flooder has left (excess flood)"
        assert sum("flooder: spam" in s for s in watcher.seen) <= 25  # the burst, no more
        await watcher.close()
        await flooder.close()


async def test_irc_stalled_reader_is_cut_off() -> None:
    async with serving(sendq=64 * 1024, output_stall=1) as srv:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", srv.port("irc")))
        stalled.sendall(b"NICK sloth\r\nUSER sloth 0 * :s\r\nJOIN #lobby\r\n")
        talker = await text_client(srv, "talker")
        while "sloth" not in talker.seen[-1]:  # sloth registered and joined first
            await talker.send("/who")
            await talker.expect("* in #lobby")
        payload = "q" * 1000

        def gone() -> str | None:
            return next((s for s in talker.seen if "sloth has left" in s), None)

        for i in range(1000):  # ~1 MB towards a reader with a 4 KiB window
            await talker.send(f"{i} {payload}")
            if i % 50 == 49:
                await talker.send("/who")
                await talker.expect("* in #lobby")
            if gone():
                break
        line = gone() or await talker.expect("sloth has left")
        assert line.startswith("* sloth has left (output queue over 65536 bytes")
        await talker.close()
        stalled.close()


async def test_a_render_bug_for_one_recipient_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    async with serving() as srv:
        alice = await text_client(srv, "alice")
        bob = await text_client(srv, "bob")
        carol = await text_client(srv, "carol")
        from chinwag.protocols.text import TextProtocol

        real = TextProtocol.render

        def render(self: TextProtocol, event: object, cache: dict[object, bytes]) -> bytes:
            if self.nick == "bob" and "boom" in str(event):
                raise RuntimeError("renderer bug")
            return real(self, event, cache)  # type: ignore[arg-type]

        monkeypatch.setattr(TextProtocol, "render", render)
        await alice.send("boom")
        assert (await carol.expect("boom")).endswith("alice: boom")
        assert await carol.expect("bob has left") == "* bob has left (internal error)"
        await alice.send("still flowing")
        assert (await carol.expect("still flowing")).endswith("alice: still flowing")
        newcomer = await text_client(srv, "dave")  # greetings still go out
        await newcomer.close()
        for c in (alice, bob, carol):
            await c.close()
