"""IRC over WebSocket at the frame level, as a browser (or a hostile page) sends
frames: fragments with control frames between them, pings, the closing
handshake either way, and every RFC 6455 violation a server must refuse, each
answered with its close code. Since the server reads the frames itself
(protocols/wsframes.py, transport/websocket.py) instead of aiohttp, these hold
it to the RFC over real sockets; a bystander keeps pinging throughout.

The client here is a bare socket, so that it can send what aiohttp's client
never would (unmasked frames, reserved bits, a 1 MiB length with no payload).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct

import pytest

from chinwag.transport.server import Server
from tests.conftest import TIMEOUT, IrcClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0,
          length: int | None = None) -> bytes:
    """A client frame; ``length`` overrides the length field (a lie, for hostile tests)."""
    n = len(payload) if length is None else length
    head = bytes(((0x80 if fin else 0) | rsv | opcode,))
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes((mask_bit | n,))
    elif n < 1 << 16:
        head += bytes((mask_bit | 126,)) + struct.pack("!H", n)
    else:
        head += bytes((mask_bit | 127,)) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def text(line: str, **kw: bool) -> bytes:
    return frame(TEXT, line.encode(), **kw)


class RawWs:
    """An IRC-over-WebSocket client on a bare socket: frames in and out, by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, srv: Server, rcvbuf: int = 0) -> RawWs:
        host, port = srv.addresses["web"]
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        r, w = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        w.write(
            f"GET /irc HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(r, w)

    async def send(self, *frames: bytes) -> None:
        self.writer.write(b"".join(frames))
        await self.writer.drain()

    async def frame(self) -> tuple[int, bytes]:
        """The server's next frame: (opcode, payload); server frames are final and unmasked."""
        async def read() -> tuple[int, bytes]:
            b0, b1 = await self.reader.readexactly(2)
            assert b0 & 0x80 and not b0 & 0x70 and not b1 & 0x80, (b0, b1)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return b0 & 0x0F, await self.reader.readexactly(n)

        return await asyncio.wait_for(read(), TIMEOUT)

    async def until(self, opcode: int, fragment: bytes = b"") -> bytes:
        """Frames until one of ``opcode`` containing ``fragment``: its payload."""
        while True:
            op, payload = await self.frame()
            if op == opcode and fragment in payload:
                return payload

    async def register(self, nick: str) -> None:
        await self.send(text(f"NICK {nick}"), text(f"USER {nick} 0 * :{nick}"))
        await self.until(TEXT, b" 422 ")

    @classmethod
    async def in_lobby(cls, srv: Server, nick: str) -> RawWs:
        """Connected, registered as ``nick`` and in #lobby."""
        ws = await cls.connect(srv)
        await ws.register(nick)
        await ws.send(text("JOIN #lobby"))
        await ws.until(TEXT, b" 366 ")
        return ws

    async def closed_with(self) -> tuple[int | None, list[bytes]]:
        """Frames until the server's close frame: (its code, the text frames before it)."""
        lines: list[bytes] = []
        while True:
            op, payload = await self.frame()
            if op == CLOSE:
                return (struct.unpack("!H", payload[:2])[0] if payload else None), lines
            lines.append(payload)

    async def eof(self) -> None:
        """The server closed the TCP connection (after its close frame)."""
        rest = await asyncio.wait_for(self.reader.read(), TIMEOUT)
        assert rest == b"", rest

    def close(self) -> None:
        self.writer.close()


async def watcher(srv: Server) -> IrcClient:
    c = await irc_client(srv, "watcher")
    await c.send("JOIN #lobby")
    await c.expect_cmd("366")
    return c


async def test_websocket_fragments_with_a_ping_between_arrive_as_one_line() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start(interval=0)  # always a PING in flight
        w = await watcher(srv)
        ws = await RawWs.in_lobby(srv, "frag")
        await ws.send(
            frame(TEXT, b"PRIVMSG #lobby :hel", fin=False),
            frame(PING, b"between"),  # control frames may come between fragments
            frame(CONT, b"lo wor", fin=False),
            frame(PONG, b"unasked"),  # an unsolicited pong is ignored
            frame(CONT, "ld \u00e9t\u00e9".encode()[:-1], fin=False),  # a character split across fragments
            frame(CONT, "\u00e9".encode()[-1:]),
        )
        assert await ws.until(PONG) == b"between"
        assert await w.expect_cmd("PRIVMSG") == ":frag!~frag@chinwag PRIVMSG #lobby :hello world \u00e9t\u00e9"
        await ws.send(frame(PING, b""), frame(BINARY, b"PING :bin"))
        assert await ws.until(PONG) == b""
        assert await ws.until(TEXT, b"PONG") == b":chinwag PONG chinwag bin"
        rtt = await b.stop()
        rtt.assert_served()
        ws.close()
        await w.close()
        await b.close()


ERRORS = {
    "unmasked": (text("PING :x", masked=False), 1002),
    "rsv1": (frame(TEXT, b"PING :x", rsv=0x40), 1002),
    "opcode3": (frame(0x3, b"x"), 1002),
    "opcode11": (frame(0xB, b"x"), 1002),
    "fragmented-ping": (frame(PING, b"x", fin=False), 1002),
    "long-ping": (frame(PING, b"x" * 126), 1002),
    "lone-continuation": (frame(CONT, b"PING :x"), 1002),
    "message-inside-fragments": (frame(TEXT, b"PING", fin=False) + frame(TEXT, b"PING :x"), 1002),
    "bad-close-code": (frame(CLOSE, struct.pack("!H", 1005)), 1002),
    "one-byte-close": (frame(CLOSE, b"\x03"), 1002),
    "invalid-utf8-text": (frame(TEXT, b"PRIVMSG #lobby :\xff\xfe"), 1007),
    "invalid-utf8-fragments": (frame(TEXT, b"PRIVMSG #lobby :\xc3", fin=False) + frame(CONT, b"(x"), 1007),
    # Only the header: the server refuses it before waiting for (or buffering) a MiB.
    "1-MiB-length-alone": (frame(TEXT, b"", length=1 << 20)[:-4] + b"mask", 1009),
    "fragments-too-big": (frame(TEXT, b"x" * 9000, fin=False) + frame(CONT, b"x" * 9000, fin=False), 1009),
}


@pytest.mark.parametrize("case", list(ERRORS))
async def test_websocket_protocol_errors_close_with_the_rfc_code(case: str) -> None:
    data, code = ERRORS[case]
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start(interval=0)  # always a PING in flight
        w = await watcher(srv)
        ws = await RawWs.in_lobby(srv, "bad")
        await ws.send(data)
        got, _ = await ws.closed_with()
        assert got == code
        await ws.eof()
        quit_line = await w.expect_cmd("QUIT")
        assert quit_line.startswith(":bad!~bad@chinwag QUIT :"), quit_line
        rtt = await b.stop()
        rtt.assert_served()
        ws.close()
        await w.close()
        await b.close()


async def test_websocket_close_from_the_client_is_answered_with_its_code() -> None:
    async with serving() as srv:
        w = await watcher(srv)
        ws = await RawWs.in_lobby(srv, "leaver")
        await ws.send(frame(CLOSE, struct.pack("!H", 1001) + b"going away"))
        assert await ws.closed_with() == (1001, [])
        await ws.eof()  # the server closes TCP first (RFC 6455 7.1.1)
        assert await w.expect_cmd("QUIT") == ":leaver!~leaver@chinwag QUIT :connection closed"
        ws.close()
        await w.close()


async def test_websocket_quit_says_error_then_close_frame_then_closes() -> None:
    async with serving() as srv:
        ws = await RawWs.connect(srv)
        await ws.register("quitter")
        await ws.send(text("QUIT :done here"))
        code, lines = await ws.closed_with()
        assert code == 1000
        assert lines[-1] == b"ERROR :Closing Link: quitter (Quit: done here)"
        await ws.send(frame(CLOSE, struct.pack("!H", 1000)))  # the client's half of the handshake
        await ws.eof()
        ws.close()


async def test_websocket_frames_dribbled_a_byte_at_a_time() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start(interval=0)  # always a PING in flight
        ws = await RawWs.connect(srv)
        data = text("NICK dribble") + text("USER d 0 * :d") + frame(TEXT, b"PING :" + b"y" * 300)
        for i in range(len(data)):
            await ws.send(data[i:i + 1])
        await ws.until(TEXT, b" 422 ")
        assert await ws.until(TEXT, b"PONG") == b":chinwag PONG chinwag " + b"y" * 300
        rtt = await b.stop()
        rtt.assert_served()
        ws.close()
        await b.close()


async def test_websocket_5000_pings_in_one_write_are_all_answered_in_order() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start(interval=0)
        ws = await RawWs.connect(srv)
        await ws.register("pinger")
        await ws.send(b"".join(frame(PING, b"%d" % i) for i in range(5000)))
        pongs = []
        while len(pongs) < 5000:
            op, payload = await ws.frame()
            if op == PONG:
                pongs.append(payload)
        assert pongs == [b"%d" % i for i in range(5000)]
        rtt = await b.stop()
        rtt.assert_served()
        ws.close()
        await b.close()


async def test_websocket_client_that_stops_reading_is_cut_and_others_are_served() -> None:
    async with serving(output_stall=1) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start(interval=0)  # always a PING in flight
        w = await watcher(srv)
        sloth = await RawWs.connect(srv, rcvbuf=4096)
        await sloth.register("sloth")
        await sloth.send(text("JOIN #lobby"))
        await sloth.until(TEXT, b" 366 ")
        await w.expect("JOIN")
        # sloth reads nothing from here on; 2 MB for it, past sendq (1 MiB) and the kernel's share.
        line = "x" * 400
        for i in range(5000):
            w.writer.write(f"PRIVMSG #lobby :{i} {line}\r\n".encode())
            if i % 200 == 0:
                await w.writer.drain()
        await w.writer.drain()
        left = await w.expect_cmd("QUIT")
        assert left == ":sloth!~sloth@chinwag QUIT :output queue over 1048576 bytes and nothing read for 1 s"
        rtt = await b.stop()
        rtt.assert_served()
        sloth.close()
        await w.close()
        await b.close()
