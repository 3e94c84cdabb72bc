"""The client's address behind a reverse proxy: X-Forwarded-For and RFC 7239 Forwarded.

These headers are whatever the sender wrote, so they are believed only when
the TCP peer is a configured trusted proxy, and then only hop by hop: reading
the chain from the right (the hop nearest to us), each address that is itself
a trusted proxy is stepped over, and the first one that is not is the client.
A hop that is not an address ("unknown", an obfuscated "_name", garbage) ends
the walk: the last trusted hop is the best we know. ``Forwarded`` wins over
``X-Forwarded-For`` when a request carries both. Pure functions, no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from chinwag.config import Network


def client_address(
    peer: str, forwarded: Iterable[str], x_forwarded_for: Iterable[str], trusted: tuple[Network, ...]
) -> str:
    """The address to count and log for a request that came from ``peer``.

    ``forwarded`` and ``x_forwarded_for`` are every value of those headers, in
    the order received.
    """
    if not trusted or not is_in(peer, trusted):
        return peer
    fwd = list(forwarded)
    hops = forwarded_for(fwd) if fwd else x_forwarded(x_forwarded_for)
    client = peer
    for hop in reversed(hops):
        if hop is None:
            break
        client = hop
        if not is_in(hop, trusted):
            break
    return client


def is_in(ip: str, networks: tuple[Network, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in networks)


def x_forwarded(values: Iterable[str]) -> list[str | None]:
    """``X-Forwarded-For: client, proxy1, proxy2`` -> addresses (None: not one)."""
    return [node(item.strip()) for value in values for item in value.split(",") if item.strip()]


def forwarded_for(values: Iterable[str]) -> list[str | None]:
    """The ``for=`` of each element of ``Forwarded`` headers (RFC 7239 4), in
    order; None for an element without one or with a name that is no address."""
    hops: list[str | None] = []
    for value in values:
        for element in _split(value, ","):
            found: str | None = None
            for pair in _split(element, ";"):
                name, eq, raw = pair.partition("=")
                if eq and name.strip().lower() == "for":
                    found = node(_unquote(raw.strip()))
            if element.strip():
                hops.append(found)
    return hops


def node(text: str) -> str | None:
    """An address from a node: ``192.0.2.1``, ``192.0.2.1:80``, ``[2001:db8::1]:80``,
    ``2001:db8::1``; None for ``unknown``, ``_hidden`` or anything else."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes (a quoted-string may hold it)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        out: list[str] = []
        escaped = False
        for ch in value[1:-1]:
            if ch == "\\" and not escaped:
                escaped = True
                continue
            escaped = False
            out.append(ch)
        return "".join(out)
    return value
