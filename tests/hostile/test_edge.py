"""The web port and per-address limits (issue 10, items 5 and 6), over real sockets.

Loopback is a whole /8 on Linux: clients bind 127.0.0.2, 127.0.0.3, ... as their
source address to stand for other machines (every byte still goes to 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import signal

import aiohttp
import pytest

from chinwag.transport.server import Server
from tests.conftest import TIMEOUT, IrcClient, LineClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import serving_config
from tests.test_cli import start
from tests.web.conftest import WsIrc

GREETING = "Welcome to chinwag! What is your name?"


def serving(exempt: tuple[str, ...] = (), trusted_proxies: tuple[str, ...] = (),
            **limits: int) -> contextlib.AbstractAsyncContextManager[Server]:
    return serving_config(dataclasses.replace(make_config(**limits), exempt=exempt, trusted_proxies=trusted_proxies))


async def open_from(src: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(src, 0))


async def text_from(srv: Server, src: str, name: str | None = None) -> LineClient:
    c = LineClient(*await open_from(src, srv.port("text")))
    assert await c.line() == GREETING
    if name is not None:
        await c.send(name)
        await c.expect("* in #lobby")
    return c


async def irc_from(srv: Server, src: str, nick: str) -> IrcClient:
    c = IrcClient(*await open_from(src, srv.port("irc")))
    await c.register(nick)
    return c


async def half_sent(srv: Server, src: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """An HTTP request whose headers never end."""
    r, w = await open_from(src, srv.port("web"))
    w.write(b"GET / HTTP/1.1\r\nHost: chinwag\r\nUser-Agent: slow")
    await w.drain()
    return r, w


async def to_eof(r: asyncio.StreamReader, timeout: float = TIMEOUT) -> bytes:
    return await asyncio.wait_for(r.read(), timeout)


async def http_get(srv: Server, path: str, src: str = "127.0.0.1") -> tuple[str, str]:
    """(status line, body) of a whole request/response over a fresh connection."""
    r, w = await open_from(src, srv.port("web"))
    w.write(f"GET {path} HTTP/1.1\r\nHost: chinwag\r\nConnection: close\r\n\r\n".encode())
    data = await to_eof(r)
    w.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return head.split("\r\n")[0], body


def status_and_body(data: bytes) -> tuple[str, str]:
    head, _, body = data.decode().partition("\r\n\r\n")
    return head.split("\r\n")[0], body


async def ws_from(srv: Server, src: str, headers: dict[str, str] | None = None) -> WsIrc:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(src, 0)))
    host, port = srv.addresses["web"]
    ws = await session.ws_connect(f"http://{host}:{port}/irc", protocols=("text.ircv3.net",),
                                  headers=headers or {})
    return WsIrc(session, ws)


async def ws_lines_to_end(c: WsIrc) -> list[str]:
    out = []
    with contextlib.suppress(EOFError):
        while True:
            out.append(await c.line())
    return out


# --- item 5: the web port --------------------------------------------------------


async def test_half_sent_http_requests_are_closed_at_the_deadline_while_healthz_and_telnet_get_in() -> None:
    async with serving(http_header_timeout=1) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        # 50 requests that never finish their headers, 10 from each of 5 addresses
        slow = [await half_sent(srv, f"127.0.0.{2 + i // 10}") for i in range(50)]
        # meanwhile the port still serves, and telnet users still get in
        assert await http_get(srv, "/healthz") == ("HTTP/1.1 200 OK", "ok")
        alice = await text_from(srv, "127.0.0.1", "alice")
        # each half-sent request is told and closed at the deadline (EOF)
        for r, w in slow:
            assert status_and_body(await to_eof(r)) == (
                "HTTP/1.1 408 Request Timeout", "no complete request within 1 seconds\n")
            w.close()
        assert await http_get(srv, "/healthz") == ("HTTP/1.1 200 OK", "ok")
        rtt = await b.stop()
        rtt.assert_served()
        await alice.close()
        await b.close()


async def test_web_connections_count_toward_the_total_cap_from_the_moment_they_connect() -> None:
    async with serving(max_connections=6) as srv:
        b = await Bystander.join(srv.port("irc"))  # 1
        b.start()
        idle = [await half_sent(srv, "127.0.0.2") for _ in range(5)]  # 6: full, none upgraded
        late = await text_from_refused(srv, "127.0.0.3")
        assert late == ["* disconnected: server full"]
        assert await http_get(srv, "/healthz", "127.0.0.4") == ("HTTP/1.1 503 Service Unavailable", "server full\n")
        rtt = await b.stop()
        rtt.assert_served()
        for _, w in idle:
            w.close()
        await b.close()


async def text_from_refused(srv: Server, src: str) -> list[str]:
    c = LineClient(*await open_from(src, srv.port("text")))
    lines = await c.closed()
    await c.close()
    return lines


async def test_web_connections_from_one_address_make_way_and_healthz_gets_in() -> None:
    async with serving(max_unregistered_per_ip=10, http_header_timeout=60) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        slow = [await half_sent(srv, "127.0.0.2") for _ in range(12)]
        # the two oldest made way for the 11th and 12th
        for r, _ in slow[:2]:
            assert status_and_body(await to_eof(r)) == (
                "HTTP/1.1 503 Service Unavailable", "too many unregistered connections from 127.0.0.2\n")
        # a real request from the same address gets in (the next oldest makes way)
        assert await http_get(srv, "/healthz", "127.0.0.2") == ("HTTP/1.1 200 OK", "ok")
        r, _ = slow[2]
        assert status_and_body(await to_eof(r))[0] == "HTTP/1.1 503 Service Unavailable"
        # and so does a WebSocket IRC user, who then counts as registered
        ws = await ws_from(srv, "127.0.0.2")
        await ws.register("webby")
        rtt = await b.stop()
        rtt.assert_served()
        for _, w in slow:
            w.close()
        await ws.close()
        await b.close()


# --- item 6: per-address limits ------------------------------------------------


async def test_idle_unregistered_sockets_cannot_lock_out_users_from_their_address() -> None:
    async with serving(max_unregistered_per_ip=10, max_per_ip=100) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        # 100 sockets from one address that never register, text and IRC
        idle: list[tuple[str, LineClient]] = []
        for i in range(100):
            protocol = "text" if i % 2 else "irc"
            idle.append((protocol, LineClient(*await open_from("127.0.0.2", srv.port(protocol)))))
        # people at the same address (behind the same NAT) still get in: more
        # of them than the unregistered cap, since registered users count apart
        users = [await text_from(srv, "127.0.0.2", f"pupil{i}") for i in range(15)]
        irc = await irc_from(srv, "127.0.0.2", "ircpupil")
        await users[0].send("/who")
        assert (await users[0].expect("* in #lobby:")).endswith("(15)")
        # the 90 oldest idle sockets made way for the newer ones, and were told why
        why = "too many unregistered connections from 127.0.0.2"
        for protocol, c in idle[:90]:
            if protocol == "text":
                assert await c.closed() == [GREETING, f"* disconnected: {why}"]
            else:
                assert await c.closed() == [f"ERROR :Closing Link: * ({why})"]
        rtt = await b.stop()
        rtt.assert_served()
        for _, c in idle:
            await c.close()
        for c in [*users, irc]:
            await c.close()
        await b.close()


async def test_an_exempt_address_is_not_capped_per_address_but_counts_in_the_total() -> None:
    async with serving(exempt=("127.0.0.2", "10.0.0.0/8"), max_unregistered_per_ip=2, max_per_ip=2) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        idle = [await text_from(srv, "127.0.0.2") for _ in range(10)]
        users = [await text_from(srv, "127.0.0.2", f"staff{i}") for i in range(5)]
        await users[0].send("/who")
        assert (await users[0].expect("* in #lobby:")).endswith("(5)")
        # the same limits hold for an address that is not exempt
        others = [await text_from(srv, "127.0.0.3", f"guest{i}") for i in range(2)]
        extra = await text_from(srv, "127.0.0.3")
        await extra.send("guest2")
        assert await extra.closed() == ["* disconnected: too many connections from 127.0.0.3"]
        for c in idle:  # none of the exempt address's idle sockets was closed
            await c.send("/help")
            await c.expect("/quit")
        rtt = await b.stop()
        rtt.assert_served()
        for c in [*idle, *users, *others, extra]:
            await c.close()
        await b.close()
    async with serving(exempt=("127.0.0.2",), max_connections=4) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        kept = [await text_from(srv, "127.0.0.2") for _ in range(3)]
        assert await text_from_refused(srv, "127.0.0.2") == ["* disconnected: server full"]
        rtt = await b.stop()
        rtt.assert_served()
        for c in kept:
            await c.close()
        await b.close()


async def test_forwarded_addresses_are_believed_only_from_a_trusted_proxy(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "chinwag.server")
    xff = {"X-Forwarded-For": "203.0.113.66, 198.51.100.7"}  # the left one is the client's claim: not believed
    async with serving(trusted_proxies=("127.0.0.1",), max_per_ip=2) as srv:
        b = await Bystander.join(srv.port("irc"))  # a registered user at 127.0.0.1
        b.start()
        first = await ws_from(srv, "127.0.0.1", xff)
        await first.register("first")
        second = await ws_from(srv, "127.0.0.1", xff)
        await second.register("second")
        third = await ws_from(srv, "127.0.0.1", xff)
        await third.send("NICK third", "USER third 0 * :third")
        assert await ws_lines_to_end(third) == [
            "ERROR :Closing Link: * (too many connections from 198.51.100.7)"]
        # another client behind the same proxy is counted on its own
        v6 = await ws_from(srv, "127.0.0.1", {"Forwarded": 'for="[2001:db8::7]:4711";proto=http'})
        await v6.register("v6")
        # the same header from a peer that is not a trusted proxy: ignored
        direct = await ws_from(srv, "127.0.0.2", xff)
        await direct.register("direct")
        rtt = await b.stop()
        rtt.assert_served()
        logged = {r.getMessage().rsplit(" is ", 1)[1]: r.getMessage() for r in caplog.records
                  if r.getMessage().startswith("conn ") and " is " in r.getMessage()}
        assert " from 198.51.100.7 (via 127.0.0.1:" in logged["first"]
        assert " from 2001:db8::7 (via 127.0.0.1:" in logged["v6"]
        assert " from 127.0.0.2:" in logged["direct"]
        for c in (first, second, third, v6, direct):
            await c.close()
        await b.close()
    async with serving(max_per_ip=2) as srv:  # no trusted proxy: the header means nothing
        b = await Bystander.join(srv.port("irc"))
        b.start()
        first = await ws_from(srv, "127.0.0.1", xff)
        await first.register("first")
        second = await ws_from(srv, "127.0.0.1", {"X-Forwarded-For": "198.51.100.8"})
        await second.send("NICK second", "USER second 0 * :second")
        assert await ws_lines_to_end(second) == ["ERROR :Closing Link: * (too many connections from 127.0.0.1)"]
        rtt = await b.stop()
        rtt.assert_served()
        for c in (first, second):
            await c.close()
        await b.close()


async def test_the_real_server_process_closes_a_half_sent_request_at_the_deadline() -> None:
    """The same over `chinwag serve` itself (uvloop, whose transports are its own)."""
    proc, text_port = await start("--text-port", "0", "--db", ":memory:",
                                  env={"CHINWAG_LIMITS__HTTP_HEADER_TIMEOUT": "1"})
    try:
        ports: dict[str, int] = {}
        assert proc.stderr is not None
        while len(ports) < 2:
            line = await asyncio.wait_for(proc.stderr.readline(), TIMEOUT)
            assert line, "server exited"
            if m := re.search(rb"(irc|web) listener on [\d.]+:(\d+)", line):
                ports[m.group(1).decode()] = int(m.group(2))
        b = await Bystander.join(ports["irc"])
        b.start()
        r, w = await asyncio.open_connection("127.0.0.1", ports["web"], local_addr=("127.0.0.2", 0))
        w.write(b"GET / HTTP/1.1\r\nHost: chinwag\r\n")
        r2, w2 = await asyncio.open_connection("127.0.0.1", ports["web"])
        w2.write(b"GET /healthz HTTP/1.1\r\nHost: chinwag\r\nConnection: close\r\n\r\n")
        assert status_and_body(await to_eof(r2)) == ("HTTP/1.1 200 OK", "ok")
        assert status_and_body(await to_eof(r)) == (
            "HTTP/1.1 408 Request Timeout", "no complete request within 1 seconds\n")
        rtt = await b.stop()
        rtt.assert_served()
        for writer in (w, w2):
            writer.close()
        await b.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0
