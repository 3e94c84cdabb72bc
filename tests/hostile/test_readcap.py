"""Big pipelined reads: no client's one write may stall the loop.

A client that writes 5,000 short lines in one go hands the server a 256 KiB
read. Before input was taken a slice per loop iteration
(``limits.input_per_tick``; transport/connection.py, tls.py, websocket.py), the
whole read was parsed and run in one callback while everyone else waited.
Several such clients at once (their reads land in the same loop iteration)
stalled the loop past the stall detector's threshold: on main's sources the IRC
PING test measured 512 ms and the WebSocket one 1,100 ms. Flood control still
cuts each attacker off, having seen its lines in order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import ssl
import struct
from pathlib import Path

import pytest

from chinwag.transport.server import Server
from tests.conftest import TIMEOUT, IrcClient, LineClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import serving
from tests.tlsutil import Pki, close_all, tls_irc, tls_serving

LINES = 5_000  # pipelined in one write per attacker
ATTACKERS = 10  # writing at once: their reads land in one loop iteration
WS_ATTACKERS = 4  # (each message is handled on its own: a WebSocket flood lasts longer)
ROUNDS = 3  # attacks (fresh attackers each) while the bystander pings
# flood control as shipped (tests elsewhere turn it off: tests/conftest.py)
FLOOD = {"flood_burst": 20, "flood_backlog": 200, "flood_burst_bytes": 81920}


def irc_flood(kind: str, nick: str) -> bytes:
    if kind == "ping":
        return b"".join(b"PING :%s-%d\r\n" % (nick.encode(), i) for i in range(LINES))
    return b"".join(b"PRIVMSG #lobby :%d\r\n" % i for i in range(LINES))


async def irc_attacker(srv: Server, nick: str) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick)
    await c.send("JOIN #lobby")
    await c.expect_cmd("366")
    return c


@pytest.mark.parametrize("kind", ["ping", "privmsg"])
async def test_irc_clients_writing_5000_lines_at_once_do_not_stall_a_bystander(kind: str) -> None:
    async with serving(**FLOOD) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start(interval=0)  # always a PING in flight: no stall falls between two
        for n in range(ROUNDS):
            attackers = [await irc_attacker(srv, f"evil{n}x{i}") for i in range(ATTACKERS)]
            for c in attackers:
                c.writer.write(irc_flood(kind, c.nick))
            for c in attackers:
                rest = await c.closed()
                assert rest[-1] == f"ERROR :Closing Link: {c.nick} (excess flood)", rest[-3:]
                await c.close()
        rtt = await b.stop()
        rtt.assert_served()
        await b.client.send("PING :after")
        assert await b.client.expect("after") == ":chinwag PONG chinwag after"
        await b.close()


async def test_text_clients_writing_5000_lines_at_once_do_not_stall_a_bystander() -> None:
    async with serving(**FLOOD) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start(interval=0)  # always a PING in flight: no stall falls between two
        for n in range(ROUNDS):
            attackers = []
            for i in range(ATTACKERS):
                r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
                c = LineClient(r, w)
                await c.expect("What is your name?")
                await c.send(f"evil{n}x{i}")
                await c.expect("* in #lobby")
                attackers.append(c)
            for c in attackers:
                c.writer.write(b"".join(b"hello there number %d\n" % i for i in range(LINES)))
            for c in attackers:
                rest = await c.closed()
                assert rest[-1] == "* disconnected: excess flood", rest[-3:]
                await c.close()
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()


def ws_frame(text: str) -> bytes:
    """A client's text frame, masked with the all-zero key (the payload as is)."""
    data = text.encode()
    assert len(data) < 126
    return struct.pack("!BB", 0x81, 0x80 | len(data)) + b"\0\0\0\0" + data


async def ws_attacker(srv: Server, nick: str) -> LineClient:
    """An IRC-over-WebSocket client on a bare socket, so that thousands of
    frames go out in one write (aiohttp's client sends one message per call)."""
    host, port = srv.addresses["web"]
    r, w = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    w.write(
        f"GET /irc HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n".encode()
    )
    assert (await r.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    w.write(ws_frame(f"NICK {nick}") + ws_frame(f"USER {nick} 0 * :{nick}"))
    c = LineClient(r, w)
    return c


async def ws_until(c: LineClient, text: str) -> None:
    """Read server frames (unmasked, short or 16-bit length) until one starts with ``text``."""
    while True:
        head = await c.reader.readexactly(2)
        n = head[1] & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await c.reader.readexactly(2))
        if (await c.reader.readexactly(n)).decode(errors="replace").startswith(text):
            return


async def ws_bytes_until(c: LineClient, frame: bytes) -> None:
    """Read raw until the frame carrying ``frame`` arrives (a server frame under
    126 bytes: 0x81, its length, the line), cheaply: the attacker runs in this
    process, and reading 5,000 frames one by one would stall the bystander itself."""
    want = bytes((0x81, len(frame))) + frame
    seen = b""
    while want not in seen:
        data = await c.reader.read(1 << 16)
        assert data, "closed"
        seen = seen[-len(want):] + data


async def test_websocket_clients_sending_5000_lines_at_once_do_not_stall_a_bystander() -> None:
    async with serving(**FLOOD) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start(interval=0)  # always a PING in flight: no stall falls between two
        last = f":chinwag PONG chinwag {LINES - 1}"
        for n in range(ROUNDS):
            attackers = [await ws_attacker(srv, f"evil{n}x{i}") for i in range(WS_ATTACKERS)]
            for i, c in enumerate(attackers):
                await ws_until(c, f":chinwag 001 evil{n}x{i} :Welcome to the chinwag IRC Network ")
            for c in attackers:
                c.writer.write(b"".join(ws_frame(f"PING :{i}") for i in range(LINES)))
            for c in attackers:
                # One message is one line, read on its own: none waits, so the
                # PINGs are all answered, in order, rather than cut as a backlog.
                await asyncio.wait_for(ws_bytes_until(c, last.encode()), 30)
                await c.close()
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()


async def tls_closed(c: LineClient) -> list[str]:
    """What came until the server closed (cleanly, or by a reset)."""
    got: list[str] = []
    with contextlib.suppress(ConnectionResetError, ssl.SSLError):
        while raw := await asyncio.wait_for(c.reader.readline(), TIMEOUT):
            got.append(raw.decode().rstrip("\r\n"))
    return got


async def test_tls_irc_clients_writing_5000_lines_at_once_do_not_stall_a_bystander(tmp_path: Path) -> None:
    pki = Pki.make(tmp_path / "pki")
    ctx = pki.client_context()  # once: it loads the system's CAs, in this process
    async with tls_serving(pki, **FLOOD) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start(interval=0)  # always a PING in flight: no stall falls between two
        for n in range(ROUNDS):
            attackers = [await tls_irc(srv, ctx, f"evil{n}x{i}") for i in range(ATTACKERS)]
            for c in attackers:
                c.writer.write(irc_flood("ping", c.nick))
            for c in attackers:
                rest = await tls_closed(c)
                # (its goodbye is lost when the close crosses input still in flight: a reset)
                assert not rest or rest[-1] == f"ERROR :Closing Link: {c.nick} (excess flood)", rest[-3:]
            await close_all(*attackers)
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()

