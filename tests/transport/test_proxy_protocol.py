"""The PROXY protocol on the IRC and text listeners (transport/proxyheader.py):
behind a TCP load balancer, the per-address caps count each user by the
address its header names; nobody else can name an address; a proxy that sends
no header, a bad one or too much is dropped without costing anyone else."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import struct
from pathlib import Path

import pytest

from chinwag.config import Config, ConfigError, load_config
from chinwag.transport.proxyheader import MOST, V2_SIGNATURE, BadHeader, parse
from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_edge import GREETING, open_from
from tests.hostile.test_hostile import serving_config
from tests.tlsutil import Pki

PROXY = "127.0.0.3"  # the load balancer: trusted (the bystanders come from 127.0.0.1: not a proxy)
ELSEWHERE = "127.0.0.2"  # anyone else


def v1(src: str, port: int = 40000) -> bytes:
    family = "TCP6" if ":" in src else "TCP4"
    dst = "::1" if ":" in src else "127.0.0.1"
    return f"PROXY {family} {src} {dst} {port} 6667\r\n".encode()


def v2(src: str | None, port: int = 40000) -> bytes:
    """A v2 header naming ``src`` (None: LOCAL, the balancer's own health check)."""
    if src is None:
        return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    address = ipaddress.ip_address(src)
    if address.version == 4:
        body = address.packed + ipaddress.IPv4Address("127.0.0.1").packed + struct.pack("!HH", port, 6667)
        return V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body
    body = address.packed + ipaddress.IPv6Address("::1").packed + struct.pack("!HH", port, 6667)
    return V2_SIGNATURE + bytes([0x21, 0x21]) + struct.pack("!H", len(body)) + body


def config(**limits: int) -> Config:
    return dataclasses.replace(make_config(**limits), trusted_proxies=(PROXY,), proxy_protocol=True)


async def via(srv: Server, header: bytes, listener: str = "text", src: str = PROXY
              ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await open_from(src, srv.port(listener))
    writer.write(header)
    await writer.drain()
    return reader, writer


async def text_via(srv: Server, header: bytes, name: str | None = None) -> LineClient:
    c = LineClient(*await via(srv, header))
    assert await c.line() == GREETING
    if name is not None:
        await c.send(name)
        await c.expect("* in #lobby")
    return c


# --- the parser ----------------------------------------------------------------------


def test_headers_of_both_versions_name_the_client_and_say_how_much_they_took() -> None:
    assert parse(v1("203.0.113.7", 5555) + b"NICK x\r\n") == (("203.0.113.7", 5555), len(v1("203.0.113.7", 5555)))
    assert parse(v1("2001:db8::7")) == (("2001:db8::7", 40000), len(v1("2001:db8::7")))
    assert parse(b"PROXY UNKNOWN whatever\r\nhi") == (None, 24)
    assert parse(v2("198.51.100.4", 4711) + b"rest") == (("198.51.100.4", 4711), 28)
    assert parse(v2("2001:db8::9")) == (("2001:db8::9", 40000), 52)
    assert parse(v2(None)) == (None, 16)


def test_a_header_cut_anywhere_waits_for_the_rest() -> None:
    for header in (v1("203.0.113.7"), v2("203.0.113.7"), v2("2001:db8::9")):
        for cut in range(1, len(header)):
            assert parse(header[:cut]) is None, (header, cut)


@pytest.mark.parametrize("data", [
    b"NICK alice\r\n",  # no header at all
    b"PROXY TCP4 203.0.113.7 127.0.0.1 5555\r\n",  # a field short
    b"PROXY TCP4 2001:db8::7 ::1 5555 6667\r\n",  # TCP4 with IPv6 addresses
    b"PROXY TCP4 203.0.113.7 127.0.0.1 99999 6667\r\n",  # no such port
    b"PROXY TCP4 203.0.113.7 127.0.0.1 -1 6667\r\n",
    b"PROXY TCP4 not.an.ip 127.0.0.1 5555 6667\r\n",
    b"PROXY " + b"9" * 200,  # no end within 107 bytes
    b"\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + bytes(12),  # a bad signature
    V2_SIGNATURE + bytes([0x31, 0x11, 0x00, 0x0C]) + bytes(12),  # version 3
    V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", MOST),  # longer than it may be
    V2_SIGNATURE + bytes([0x21, 0x11, 0x00, 0x04]) + bytes(4),  # INET with no room for addresses
])
def test_what_is_not_a_header_this_server_takes_is_refused(data: bytes) -> None:
    with pytest.raises(BadHeader):
        parse(data)


def test_proxy_protocol_without_trusted_proxies_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="trusted_proxies is empty"):
        load_config(None, {"CHINWAG_PROXY_PROTOCOL": "true"})
    cfg = load_config(None, {"CHINWAG_PROXY_PROTOCOL": "true", "CHINWAG_TRUSTED_PROXIES": "10.0.0.10"})
    assert cfg.proxy_protocol and cfg.trusted_proxies == ("10.0.0.10",)


# --- on the listeners ---------------------------------------------------------------


async def test_users_behind_the_proxy_are_counted_by_the_address_their_header_names() -> None:
    async with serving_config(config(max_per_ip=1)) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        ann = await text_via(srv, v1("203.0.113.7"), "ann")
        again = await text_via(srv, v1("203.0.113.7", 40001))
        await again.send("bob")
        assert await again.closed() == ["* disconnected: too many connections from 203.0.113.7"]
        cy = await text_via(srv, v2("203.0.113.8"), "cy")  # another user behind the same balancer
        irc = IrcClient(*await via(srv, v2("2001:db8::7"), "irc"))
        await irc.register("dee")
        irc6 = IrcClient(*await via(srv, v1("2001:db8::7", 40002), "irc"))
        await irc6.send("NICK eve", "USER eve 0 * :eve")
        assert (await irc6.expect("ERROR")).endswith("(too many connections from 2001:db8::/64)")
        await ann.send("/who")
        assert await ann.expect("* in #lobby:") == "* in #lobby: ann, cy (2)"  # (IRC users join no room by themselves)
        # The balancer's own health check (LOCAL): the connection is the balancer's
        hc = LineClient(*await via(srv, v2(None)))
        assert await hc.line() == GREETING
        rtt = await b.stop()
        rtt.assert_served()
        for c in (ann, again, cy, irc, irc6, hc):
            await c.close()
        await b.close()


async def test_a_header_from_an_address_that_is_not_a_proxy_is_only_a_line() -> None:
    async with serving_config(config(max_per_ip=1)) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        first = IrcClient(*await via(srv, v1("203.0.113.50"), "irc", src=ELSEWHERE))
        assert await first.expect_cmd("421") == ":chinwag 421 * PROXY :unknown command"
        await first.register("frank")
        second = IrcClient(*await via(srv, v1("203.0.113.51"), "irc", src=ELSEWHERE))
        await second.send("NICK gus", "USER gus 0 * :gus")
        assert (await second.expect("ERROR")).endswith("(too many connections from 127.0.0.2)")
        rtt = await b.stop()
        rtt.assert_served()
        for c in (first, second):
            await c.close()
        await b.close()


async def test_a_proxy_that_sends_no_header_a_bad_one_or_too_much_is_dropped() -> None:
    async with serving_config(config(proxy_header_timeout=1)) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        for data in (
            b"NICK alice\r\nUSER alice 0 * :a\r\n",
            b"PROXY " + b"1" * 5000,
            V2_SIGNATURE + b"\x21\x11\xff\xff",
            b"PROXY TCP4 203.0.113.7",  # never ends: dropped when proxy_header_timeout is up
        ):
            reader, writer = await via(srv, data, "irc")
            assert await asyncio.wait_for(reader.read(), 30) == b""  # closed, not one byte served
            writer.close()
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()


async def test_the_header_comes_before_the_tls_handshake(tmp_path: Path) -> None:
    pki = Pki.make(tmp_path / "pki")
    cfg = dataclasses.replace(config(max_per_ip=1), tls_cert=str(pki.cert_file),
                              tls_key=str(pki.key_file), irc_tls_port=0, text_tls_port=0, web_tls_port=0)
    async with serving_config(cfg) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        clients = []
        for nick in ("hal", "ida"):
            reader, writer = await via(srv, v1("198.51.100.20", 40000 + len(clients)), "irc_tls")
            await writer.start_tls(pki.client_context(), server_hostname="localhost")
            c = IrcClient(reader, writer)
            clients.append(c)
            await c.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        await clients[0].expect_cmd("001")
        assert (await clients[1].expect("ERROR")).endswith("(too many connections from 198.51.100.20)")
        rtt = await b.stop()
        rtt.assert_served()
        for c in clients:
            await c.close()
        await b.close()
