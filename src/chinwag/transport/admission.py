"""Who may connect: a total cap, and two caps per address.

Every connection (text, IRC, and each HTTP connection of the web port from the
moment it is accepted, before any WebSocket upgrade) counts toward
``max_connections``; past it a newcomer is refused ("server full").

Per address, connections that have not registered (no name yet; an HTTP
connection that is not a registered IRC-over-WebSocket session) have their own
small cap, ``max_unregistered_per_ip``. A newcomer over it does not wait for
the idle ones to time out: the address's *oldest* unregistered connection is
evicted to make room, so sockets that never register cannot lock everyone else
at that address (a school behind one NAT) out, however many there are. A
connection that registers moves to the other count, checked against
``max_per_ip`` when it registers.

Per address, new connections are throttled too: ``connect_burst`` at once,
then ``connect_per_minute`` (a token bucket per address), so that one address
cannot make the server accept, and over TLS handshake, without end while
staying under the caps above (connect, close, again). ``throttle_exempt``
networks (loopback by default: a local bouncer or proxy) are not throttled.
At most ``auth_tracked`` addresses' buckets are kept; the least recently used
goes first (a full bucket is the same as none).

Exempt addresses or networks (config ``exempt``) are counted only in the total.
IPv6 clients are counted per ``ipv6_prefix`` network: one host can use a whole
/64. Pure bookkeeping: no asyncio, no sockets; a holder is told to go with
``evict``; the clock is injectable.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from chinwag.config import Limits, Network
from chinwag.core.ratelimit import TokenBucket


class Holder(Protocol):
    """A connection as admission sees it."""

    def evict(self, reason: str) -> None:
        """Say ``reason`` in this protocol's words and close."""
        ...


@dataclass(slots=True)
class _Entry:
    key: str | None  # the address (IPv6: network) counted; None: not counted per address
    registered: bool = False
    evicted: bool = False  # made way for a newer one; counted in the total until gone


class Admission:
    def __init__(self, limits: Limits, exempt: Iterable[Network] = (), throttle_exempt: Iterable[Network] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.exempt = tuple(exempt)
        self.throttle_exempt = tuple(throttle_exempt)
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}  # per address: new connections (least recently used first)
        self._entries: dict[Holder, _Entry] = {}  # every holder counted in the total
        # Per key, unregistered holders oldest first (dicts keep insertion order).
        self._unregistered: dict[str, dict[Holder, None]] = {}
        self._registered: dict[str, int] = {}

    # --- reading --------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self._entries)

    def unregistered(self, ip: str) -> int:
        key = self.key(ip)
        return len(self._unregistered.get(key, ())) if key is not None else 0

    def registered(self, ip: str) -> int:
        key = self.key(ip)
        return self._registered.get(key, 0) if key is not None else 0

    def key(self, ip: str) -> str | None:
        """What ``ip`` is counted as: itself, its IPv6 network, or None (exempt)."""
        try:
            addr = ipaddress.ip_address(ip.split("%", 1)[0])  # (an IPv6 scope id)
        except ValueError:
            return ip  # not an IP address (a Unix socket, a test double): counted as given
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        if any(addr in net for net in self.exempt):
            return None
        if isinstance(addr, ipaddress.IPv6Address) and self.limits.ipv6_prefix < 128:
            return str(ipaddress.IPv6Network((addr, self.limits.ipv6_prefix), strict=False))
        return str(addr)

    # --- changes ---------------------------------------------------------------

    def admit(self, holder: Holder, ip: str | None) -> str:
        """Count a new connection from ``ip`` (None: only in the total, as for a
        trusted proxy); return why it is refused, or ''. May evict the oldest
        unregistered connection from the same address."""
        if len(self._entries) >= self.limits.max_connections:
            return "server full"
        key = None if ip is None else self.key(ip)
        if key is not None and self.limits.connect_per_minute and not self._may_connect(ip or "", key):
            return f"connecting too often from {key}; wait a minute"
        self._add(holder, key)
        return ""

    def _may_connect(self, ip: str, key: str) -> bool:
        """One more new connection from ``key`` (what ``ip`` is counted as)
        within its rate; always for a throttle_exempt address."""
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            if self.throttle_exempt and self._in(ip, self.throttle_exempt):
                return True
            limits = self.limits
            bucket = TokenBucket(limits.connect_per_minute / 60, limits.connect_burst, self.clock)
            if len(self._buckets) >= limits.auth_tracked:
                del self._buckets[next(iter(self._buckets))]
        self._buckets[key] = bucket  # (now the most recently used)
        return bucket.take()

    @staticmethod
    def _in(ip: str, networks: tuple[Network, ...]) -> bool:
        try:
            addr = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in networks)

    def take_over(self, old: Holder, new: Holder, ip: str | None) -> str:
        """``new`` continues ``old``'s connection (an HTTP connection upgraded
        to a WebSocket), now counted as coming from ``ip`` (a proxied client's
        address may only be known from the request)."""
        entry = self._entries.get(old)
        if entry is None or entry.evicted:  # evicted (or never admitted) while the request ran
            return f"too many unregistered connections from {ip}"
        self.release(old)
        self._add(new, None if ip is None else self.key(ip))
        return ""

    def may_register(self, holder: Holder) -> str:
        """Whether ``holder`` may become a registered user: why not, or ''."""
        entry = self._entries.get(holder)
        if entry is None or entry.key is None or entry.registered:
            return ""
        if self._registered.get(entry.key, 0) >= self.limits.max_per_ip:
            return f"too many connections from {entry.key}"
        return ""

    def register(self, holder: Holder) -> None:
        """``holder`` registered: move it from one per-address count to the other."""
        entry = self._entries.get(holder)
        if entry is None or entry.registered:
            return
        entry.registered = True
        if entry.key is not None:
            self._drop_unregistered(holder, entry.key)
            self._registered[entry.key] = self._registered.get(entry.key, 0) + 1

    def release(self, holder: Holder) -> None:
        """The connection is gone (idempotent)."""
        entry = self._entries.pop(holder, None)
        if entry is None or entry.key is None:
            return
        if entry.registered:
            left = self._registered[entry.key] - 1
            if left:
                self._registered[entry.key] = left
            else:
                del self._registered[entry.key]
        else:
            self._drop_unregistered(holder, entry.key)

    # --- inside ----------------------------------------------------------------

    def _add(self, holder: Holder, key: str | None) -> None:
        self._entries[holder] = _Entry(key)
        if key is None:
            return
        waiting = self._unregistered.setdefault(key, {})
        evicted: list[Holder] = []
        while len(waiting) >= self.limits.max_unregistered_per_ip:
            oldest = next(iter(waiting))
            del waiting[oldest]
            # Still counted in the total until it is really gone (release):
            # its socket is open until the goodbye is out.
            gone = self._entries[oldest]
            gone.key, gone.evicted = None, True
            evicted.append(oldest)
        waiting[holder] = None
        for victim in evicted:
            victim.evict(f"too many unregistered connections from {key}")

    def _drop_unregistered(self, holder: Holder, key: str) -> None:
        waiting = self._unregistered.get(key)
        if waiting is not None:
            waiting.pop(holder, None)
            if not waiting:
                del self._unregistered[key]
