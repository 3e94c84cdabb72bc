"""Hostile input on the TLS listeners: handshakes that never end, plain text and
garbage where TLS is expected, a megabyte without a newline over TLS, and what
idle TLS connections cost. A bystander keeps pinging throughout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from pathlib import Path

import pytest

from tests.conftest import TIMEOUT, IrcClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import rss_kib
from tests.test_cli import start
from tests.tlsutil import Pki, close_all, tls_irc, tls_serving, tls_text
from tests.transport.test_tls import _tls_ports


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki.make(tmp_path / "pki")


async def _until_closed(reader: asyncio.StreamReader, timeout: float = TIMEOUT) -> bytes:
    """Everything the server sends until it closes the connection."""
    got = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await asyncio.wait_for(reader.read(65536), timeout):
            got += chunk
    return got


async def test_handshakes_that_never_end_count_per_address_and_are_closed(pki: Pki) -> None:
    async with tls_serving(pki, tls_handshake_timeout=1, max_unregistered_per_ip=3) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        port = srv.port("irc_tls")
        # Three connections from one address that never say a word of TLS hold
        # that address's places for connections still registering...
        stalled = [await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0)) for _ in range(3)]
        # ...so a fourth from it makes the oldest of them make way (it is closed
        # with nothing sent), and gets in: idle handshakes cannot lock an address out.
        fourth = IrcClient(*await asyncio.open_connection(
            "127.0.0.1", port, ssl=pki.client_context(), server_hostname="localhost", local_addr=("127.0.0.2", 0)))
        await fourth.register("fourth")
        assert await _until_closed(stalled[0][0]) == b""
        # Someone from elsewhere gets in and is served.
        other = IrcClient(*await asyncio.open_connection(
            "127.0.0.1", port, ssl=pki.client_context(), server_hostname="localhost", local_addr=("127.0.0.3", 0)))
        await other.register("other")
        # The server ends each remaining stalled handshake (tls_handshake_timeout) with nothing sent.
        for reader, _ in stalled[1:]:
            assert await _until_closed(reader) == b""
        again = IrcClient(*await asyncio.open_connection(
            "127.0.0.1", port, ssl=pki.client_context(), server_hostname="localhost", local_addr=("127.0.0.2", 0)))
        await again.register("again")
        rtt = await b.stop()
        rtt.assert_served()
        for _, writer in stalled:
            writer.close()
        await close_all(fourth, other, again)
        await b.close()


async def test_plain_irc_and_garbage_on_tls_ports_are_closed_and_tls_users_chat_on(pki: Pki) -> None:
    async with tls_serving(pki) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        alice = await tls_irc(srv, pki.client_context(), "alice")
        # An IRC client that forgot -tls: a TLS alert at most, never a numeric.
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc_tls"))
        w.write(b"NICK plain\r\nUSER plain 0 * :plain\r\n")
        reply = await _until_closed(r)
        assert b"001" not in reply and b"plain" not in reply and len(reply) < 64, reply
        w.close()
        # Random bytes at the text and web TLS ports.
        for name in ("text_tls", "web_tls"):
            r, w = await asyncio.open_connection("127.0.0.1", srv.port(name))
            w.write(os.urandom(65536))
            reply = await _until_closed(r)
            assert len(reply) < 64, reply
            w.close()
        bob = await tls_irc(srv, pki.client_context(), "bob")
        for c in (alice, bob):
            await c.send("JOIN #lobby")
            await c.expect_cmd("366")
        await alice.send("PRIVMSG #lobby :still encrypted, still here")
        assert (await bob.expect("still encrypted")).endswith("PRIVMSG #lobby :still encrypted, still here")
        rtt = await b.stop()
        rtt.assert_served()
        await close_all(alice, bob)
        await b.close()


async def test_a_megabyte_without_newline_over_tls_is_told_and_closed(pki: Pki) -> None:
    async with tls_serving(pki) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        ctx = pki.client_context()
        watcher = await tls_text(srv, ctx, "watcher")
        hog = await tls_text(srv, ctx, "hog")
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            for _ in range(256):
                hog.writer.write(b"x" * 4096)
                await hog.writer.drain()
        rest: list[str] = []
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            rest = await hog.closed()
        assert "error: line too long (max 4096 bytes); discarded" in rest
        assert rest[-1].startswith("* disconnected: line too long (no newline in ")
        assert (await watcher.expect("hog has left")).startswith("* hog has left (line too long")
        rtt = await b.stop()
        rtt.assert_served()
        await close_all(watcher, hog)
        await b.close()


IDLE = 400  # idle TLS connections held by the memory test (the benchmark holds 10,000)


async def test_idle_tls_connections_cost_under_50_kib_each(pki: Pki) -> None:
    """asyncio's and uvloop's own TLS keep a 256 KiB read buffer per
    connection, resident once a big read has touched it (167 KiB each after one
    64 KiB paste, measured with uvloop's); chinwag's TLS layer must stay under
    50 KiB per connection, paste or not."""
    proc, _ = await start("--text-port", "0", "--db", ":memory:", "--tls-cert", str(pki.cert_file),
                          "--tls-key", str(pki.key_file), "--irc-tls-port", "0", "--text-tls-port", "0",
                          "--web-tls-port", "0")
    ports = await _tls_ports(proc)
    assert proc.stderr is not None
    drain = asyncio.create_task(proc.stderr.read())  # a join is logged per client: keep the pipe from filling
    ctx = pki.client_context()
    clients: list[IrcClient] = []
    try:
        b = await Bystander.join(ports["irc"])
        clients.append(b.client)
        first = IrcClient(*await asyncio.open_connection(
            "127.0.0.1", ports["irc_tls"], ssl=ctx, server_hostname="localhost"))
        await first.register("first")  # the first TLS connection's one-off costs are not counted
        clients.append(first)
        before = rss_kib(proc.pid)
        b.start()

        async def one(i: int) -> None:
            src = f"127.0.1.{2 + i // 90}"  # under max_per_ip per address
            c = IrcClient(*await asyncio.open_connection(
                "127.0.0.1", ports["irc_tls"], ssl=ctx, server_hostname="localhost", local_addr=(src, 0)))
            clients.append(c)
            await c.register(f"idle{i}")
            await c.send("PRIVMSG #nowhere :" + "x" * 65536)  # a big paste: 417, and the connection stays
            await c.expect_cmd("417")

        for i in range(0, IDLE, 2):  # two at a time, as people arrive
            await asyncio.gather(one(i), one(i + 1))
        rtt = await b.stop()
        after = rss_kib(proc.pid)
        per_connection = (after - before) / IDLE
        print(f"{IDLE} idle TLS connections: server RSS {before} -> {after} KiB, {per_connection:.1f} KiB each")
        assert per_connection < 50, per_connection
        rtt.assert_served()
    finally:
        await close_all(*clients)
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)
        await drain

