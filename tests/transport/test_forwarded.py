"""X-Forwarded-For and RFC 7239 Forwarded: who the client is, and when to believe it."""

from __future__ import annotations

import ipaddress

import pytest

from chinwag.transport.forwarded import client_address, forwarded_for, node, x_forwarded

TRUSTED = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


@pytest.mark.parametrize(
    ("peer", "fwd", "xff", "client"),
    [
        ("127.0.0.1", [], ["198.51.100.7"], "198.51.100.7"),
        ("127.0.0.1", [], [], "127.0.0.1"),  # no header: the proxy itself
        ("192.0.2.9", [], ["198.51.100.7"], "192.0.2.9"),  # not a trusted peer: ignored
        # right-most that is not a trusted proxy; what the client claims to the left is not believed
        ("127.0.0.1", [], ["203.0.113.66, 198.51.100.7, 10.1.1.1"], "198.51.100.7"),
        ("127.0.0.1", [], ["203.0.113.66", "198.51.100.7"], "198.51.100.7"),  # several header lines
        ("127.0.0.1", [], ["10.0.0.5, 10.0.0.6"], "10.0.0.5"),  # all trusted: the left-most
        ("127.0.0.1", [], ["198.51.100.7, garbage"], "127.0.0.1"),  # unreadable hop: stop at the proxy
        ("127.0.0.1", [], ["198.51.100.7, 10.0.0.9, unknown"], "127.0.0.1"),
        ("127.0.0.1", [], ["198.51.100.7:5555"], "198.51.100.7"),
        ("127.0.0.1", [], ["[2001:db8::7]:443"], "2001:db8::7"),
        ("127.0.0.1", ['for=192.0.2.60;proto=http;by=203.0.113.43'], [], "192.0.2.60"),
        ("127.0.0.1", ['for="[2001:db8:cafe::17]:4711"'], [], "2001:db8:cafe::17"),
        ("127.0.0.1", ['for=203.0.113.66, for=198.51.100.7;proto="a,b"', "For=10.2.2.2"], [], "198.51.100.7"),
        ("127.0.0.1", ["for=_hidden, for=10.2.2.2"], [], "10.2.2.2"),  # obfuscated: the last trusted hop
        ("127.0.0.1", ["proto=https"], ["198.51.100.7"], "127.0.0.1"),  # Forwarded wins; it names nobody
        ("127.0.0.1", ["for=198.51.100.7"], ["203.0.113.1"], "198.51.100.7"),
        ("::ffff:127.0.0.1", [], ["198.51.100.7"], "198.51.100.7"),
    ],
)
def test_client_address(peer: str, fwd: list[str], xff: list[str], client: str) -> None:
    assert client_address(peer, fwd, xff, TRUSTED) == client


def test_nothing_is_trusted_by_default() -> None:
    assert client_address("127.0.0.1", ["for=198.51.100.7"], ["198.51.100.7"], ()) == "127.0.0.1"


def test_parsers() -> None:
    assert x_forwarded(["a, 192.0.2.1 ,", " 2001:DB8::1"]) == [None, "192.0.2.1", "2001:db8::1"]
    assert forwarded_for(['for="\\"x\\"";by=1, ,for=192.0.2.1']) == [None, "192.0.2.1"]
    assert node("[::1]") == "::1" and node("unknown") is None and node("") is None
