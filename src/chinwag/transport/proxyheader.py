"""The PROXY protocol (HAProxy's, versions 1 and 2) on the TCP listeners.

Behind a TCP load balancer every IRC and text connection comes from the
balancer's address, so the per-address caps (``max_per_ip``,
``max_unregistered_per_ip``, the auth failure counts) would count all users as
one. With ``proxy_protocol = true`` a connection from a trusted proxy
(``trusted_proxies``) must begin with a PROXY header naming the client; the
protocol above then sees the client's address as the peer. Connections from
any other address are served as they are, with no header expected: their
first line is theirs (a client cannot claim an address by sending one).

:class:`ProxyHeader` is the ``asyncio.Protocol`` the listener makes. For a
direct connection it hands over at once (``set_protocol``), costing nothing
after. From a proxy it reads the header, at most :data:`MOST` bytes within
``Limits.proxy_header_timeout`` seconds, else the connection is dropped, then
hands over with a :class:`Proxied` transport, which is the real one with
another ``peername``. Under TLS the header comes first, before the handshake
(as HAProxy's ``send-proxy`` sends it), so the TLS layer sits above this one.

The format: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
(a parser this small, with its bounds, is simpler to keep right here than a
stream-based library's to fit under a Protocol).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from typing import Any, Final

log = logging.getLogger("chinwag.server")

V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
V1_MOST: Final = 107  # a v1 header's longest, CRLF included (the spec's bound)
MOST: Final = 16 + 216  # a v2 header's: 16 bytes, then at most two UNIX paths (2 x 108) in its addresses
# (TLVs beyond that are not expected from a balancer in front of chinwag: refused)


class BadHeader(ValueError):
    """Not a PROXY header, or one this server does not take."""


def parse(data: bytes) -> tuple[tuple[str, int] | None, int] | None:
    """The header at the start of ``data``: (the client's (address, port), or
    None to keep the real peer (LOCAL, UNKNOWN, a UNIX socket), and the bytes
    it took); None if more bytes are needed. Raises BadHeader."""
    if data[:1] == b"P":
        return _v1(data)
    if data[:1] == b"\r":
        return _v2(data)
    raise BadHeader("no PROXY header")


def _v1(data: bytes) -> tuple[tuple[str, int] | None, int] | None:
    end = data.find(b"\r\n", 0, V1_MOST)
    if end < 0:
        if len(data) >= V1_MOST or not b"PROXY ".startswith(data[:6]):
            raise BadHeader("no end to a PROXY v1 header")
        return None
    fields = data[:end].split(b" ")
    if fields[0] != b"PROXY" or len(fields) < 2:
        raise BadHeader("not a PROXY v1 header")
    if fields[1] == b"UNKNOWN":
        return None, end + 2
    if fields[1] not in (b"TCP4", b"TCP6") or len(fields) != 6:
        raise BadHeader("a PROXY v1 header with bad fields")
    try:
        address = ipaddress.ip_address(fields[2].decode("ascii"))
        port = int(fields[4])
    except (ValueError, UnicodeDecodeError):
        raise BadHeader("a PROXY v1 header with a bad address") from None
    if address.version != (4 if fields[1] == b"TCP4" else 6) or not 0 <= port <= 65535 or not fields[4].isdigit():
        raise BadHeader("a PROXY v1 header with a bad address")
    return (str(address), port), end + 2


def _v2(data: bytes) -> tuple[tuple[str, int] | None, int] | None:
    if len(data) < 16:
        if not V2_SIGNATURE.startswith(data[:12]):
            raise BadHeader("not a PROXY v2 header")
        return None
    if data[:12] != V2_SIGNATURE:
        raise BadHeader("not a PROXY v2 header")
    version, command = data[12] >> 4, data[12] & 0xF
    family, transport = data[13] >> 4, data[13] & 0xF
    length = int.from_bytes(data[14:16], "big")
    if version != 2 or command > 1:
        raise BadHeader("a PROXY header of an unknown version or command")
    if 16 + length > MOST:
        raise BadHeader("a PROXY v2 header too long")
    if len(data) < 16 + length:
        return None
    body = data[16 : 16 + length]
    if command == 0 or transport != 1:  # LOCAL (the balancer's own health check), or not a stream
        return None, 16 + length
    if family == 1 and length >= 12:
        return (str(ipaddress.IPv4Address(body[0:4])), int.from_bytes(body[8:10], "big")), 16 + length
    if family == 2 and length >= 36:
        return (str(ipaddress.IPv6Address(body[0:16])), int.from_bytes(body[32:34], "big")), 16 + length
    if family in (0, 3):  # UNSPEC, UNIX: the real peer
        return None, 16 + length
    raise BadHeader("a PROXY v2 header with a bad address")


class Proxied:
    """The real transport, but ``peername`` is the client the header named."""

    def __init__(self, raw: Any, peer: tuple[str, int]) -> None:
        self._raw = raw
        self._peer = peer
        # Bound once: the hot path (write, writelines) costs what the raw one does.
        self.write = raw.write
        self.writelines = raw.writelines
        self.close = raw.close
        self.abort = raw.abort
        self.is_closing = raw.is_closing
        self.pause_reading = raw.pause_reading
        self.resume_reading = raw.resume_reading
        self.is_reading = raw.is_reading
        self.set_write_buffer_limits = raw.set_write_buffer_limits
        self.get_write_buffer_size = raw.get_write_buffer_size
        self.get_write_buffer_limits = raw.get_write_buffer_limits
        self.can_write_eof = raw.can_write_eof
        self.write_eof = raw.write_eof
        self.set_protocol = raw.set_protocol
        self.get_protocol = raw.get_protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self._peer
        return self._raw.get_extra_info(name, default)


class ProxyHeader(asyncio.Protocol):
    """Reads the PROXY header of a connection from a trusted proxy, then
    hands the connection to the protocol ``make`` makes."""

    def __init__(self, make: Callable[[], asyncio.Protocol], trusted: Callable[[str], bool], timeout: float) -> None:
        self._make = make
        self._trusted = trusted
        self._timeout = timeout
        self._raw: asyncio.Transport | None = None
        self._data = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = raw = transport  # type: ignore[assignment]  # (uvloop's are not asyncio.Transport subclasses)
        peer = raw.get_extra_info("peername")
        if not (isinstance(peer, tuple) and self._trusted(str(peer[0]))):
            self._hand_over(raw, b"")  # a direct connection: no header
            return
        self._timer = asyncio.get_running_loop().call_later(self._timeout, self._too_slow)

    def data_received(self, data: bytes) -> None:
        raw = self._raw
        assert raw is not None
        self._data += data
        try:
            found = parse(self._data)
        except BadHeader as exc:
            log.warning("dropping a connection from proxy %s: %s", raw.get_extra_info("peername"), exc)
            self._drop()
            return
        if found is None:
            return  # (parse bounds what it waits for: MOST bytes at most)
        peer, used = found
        rest, self._data = self._data[used:], b""
        self._hand_over(raw if peer is None else Proxied(raw, peer), rest)

    def eof_received(self) -> bool | None:
        return False  # before the header ends: the connection closes

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()

    def _hand_over(self, transport: Any, rest: bytes) -> None:
        self._stop_timer()
        app = self._make()
        assert self._raw is not None
        self._raw.set_protocol(app)
        app.connection_made(transport)
        if rest and not transport.is_closing():
            app.data_received(rest)

    def _too_slow(self) -> None:
        self._timer = None
        if self._raw is not None:
            log.warning("dropping a connection from proxy %s: no PROXY header within %s s",
                        self._raw.get_extra_info("peername"), self._timeout)
            self._drop()

    def _drop(self) -> None:
        self._stop_timer()
        if self._raw is not None:
            self._raw.abort()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
