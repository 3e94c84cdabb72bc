"""Admission bookkeeping without sockets: caps, eviction of the oldest, the
unregistered -> registered move, exempt networks, IPv6 prefixes, take-over."""

from __future__ import annotations

import dataclasses
import ipaddress

from chinwag.config import Limits
from chinwag.transport.admission import Admission
from tests.core.test_ratelimit import Clock


class Conn:
    def __init__(self, name: str) -> None:
        self.name = name
        self.told: list[str] = []

    def evict(self, reason: str) -> None:
        self.told.append(reason)

    def __repr__(self) -> str:
        return self.name


def admission(exempt: tuple[str, ...] = (), **limits: int) -> Admission:
    return Admission(dataclasses.replace(Limits(), **limits), [ipaddress.ip_network(e) for e in exempt])


def test_a_newcomer_over_the_unregistered_cap_evicts_the_oldest_from_its_address() -> None:
    a = admission(max_unregistered_per_ip=3)
    conns = [Conn(f"c{i}") for i in range(5)]
    for c in conns:
        assert a.admit(c, "192.0.2.1") == ""
    assert [c.told for c in conns] == [["too many unregistered connections from 192.0.2.1"]] * 2 + [[]] * 3
    assert a.unregistered("192.0.2.1") == 3
    assert a.total == 5  # the evicted are counted until they are gone
    a.release(conns[0])
    assert a.total == 4 and a.unregistered("192.0.2.1") == 3
    other = Conn("other")
    assert a.admit(other, "192.0.2.2") == "" and other.told == []


def test_registering_moves_a_connection_to_the_registered_count() -> None:
    a = admission(max_unregistered_per_ip=2, max_per_ip=2)
    users = [Conn(f"u{i}") for i in range(3)]
    for u in users[:2]:
        a.admit(u, "192.0.2.1")
        assert a.may_register(u) == ""
        a.register(u)
    assert (a.unregistered("192.0.2.1"), a.registered("192.0.2.1")) == (0, 2)
    a.admit(users[2], "192.0.2.1")
    assert a.may_register(users[2]) == "too many connections from 192.0.2.1"
    # registered users never make way for newcomers
    newcomers = [Conn(f"n{i}") for i in range(5)]
    for n in newcomers:
        a.admit(n, "192.0.2.1")
    assert users[0].told == users[1].told == []
    a.release(users[0])
    assert a.registered("192.0.2.1") == 1
    assert a.may_register(newcomers[-1]) == ""


def test_the_total_cap_refuses_and_counts_everyone() -> None:
    a = admission(exempt=("10.0.0.0/8",), max_connections=2)
    assert a.admit(Conn("a"), "10.1.2.3") == ""
    assert a.admit(Conn("b"), None) == ""  # (a trusted proxy's connection before its request)
    assert a.admit(Conn("c"), "10.1.2.4") == "server full"
    assert a.total == 2


def test_exempt_addresses_skip_the_per_address_caps() -> None:
    a = admission(exempt=("10.0.0.0/8", "::1"), max_unregistered_per_ip=1, max_per_ip=1)
    conns = [Conn(f"c{i}") for i in range(5)]
    for c in conns:
        a.admit(c, "10.9.8.7")
        assert a.may_register(c) == ""
        a.register(c)
    a.admit(Conn("v6"), "::1")
    a.admit(Conn("mapped"), "::ffff:10.0.0.1")
    assert all(c.told == [] for c in conns)
    assert a.key("10.9.8.7") is None and a.key("::ffff:10.0.0.1") is None
    assert a.registered("10.9.8.7") == 0 and a.total == 7


def test_ipv6_is_counted_per_prefix() -> None:
    a = admission(max_unregistered_per_ip=2)
    assert a.key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    one, two, three = Conn("1"), Conn("2"), Conn("3")
    a.admit(one, "2001:db8:1:2::1")
    a.admit(two, "2001:db8:1:2::2")
    a.admit(three, "2001:db8:1:2:ffff::3")
    assert one.told == ["too many unregistered connections from 2001:db8:1:2::/64"]
    assert admission(ipv6_prefix=128).key("2001:db8::1") == "2001:db8::1"
    assert a.key("::ffff:192.0.2.1") == "192.0.2.1"
    assert a.key("not-an-address") == "not-an-address"


def test_take_over_keeps_the_slot_and_may_move_it_to_the_forwarded_address() -> None:
    a = admission(max_unregistered_per_ip=2)
    gate, ws = Conn("gate"), Conn("ws")
    a.admit(gate, None)  # from a trusted proxy: total only
    assert a.take_over(gate, ws, "198.51.100.7") == ""
    assert a.total == 1 and a.unregistered("198.51.100.7") == 1
    a.release(gate)  # the gate's own close later: nothing left to release
    assert a.total == 1
    evicted, late = Conn("evicted"), Conn("late")
    a.admit(evicted, "192.0.2.1")
    a.admit(Conn("x"), "192.0.2.1")
    a.admit(Conn("y"), "192.0.2.1")
    assert evicted.told
    assert a.take_over(evicted, late, "192.0.2.1") == "too many unregistered connections from 192.0.2.1"
    a.release(late)  # never admitted: no-op
    assert a.unregistered("192.0.2.1") == 2


def test_new_connections_per_address_are_throttled_after_a_burst() -> None:
    clock = Clock()
    a = Admission(dataclasses.replace(Limits(), connect_burst=3, connect_per_minute=60),
                  [ipaddress.ip_network("10.0.0.0/8")], [ipaddress.ip_network("192.0.2.200/32")], clock)
    conns = [Conn(f"c{i}") for i in range(4)]
    refused = "connecting too often from 192.0.2.1; wait a minute"
    assert [a.admit(c, "192.0.2.1") for c in conns] == ["", "", "", refused]
    for c in conns[:3]:
        a.release(c)  # (closing them gives nothing back: it is the rate of new ones)
    assert a.admit(Conn("again"), "192.0.2.1") == refused
    assert a.admit(Conn("elsewhere"), "192.0.2.2") == ""
    clock.now += 1.0  # one a second
    assert a.admit(Conn("later"), "192.0.2.1") == ""
    assert a.admit(Conn("too soon"), "192.0.2.1") != ""
    # Not throttled: exempt and throttle_exempt addresses, and a trusted proxy's connections (no address).
    ips: list[str | None] = ["10.1.2.3"] * 10 + ["192.0.2.200"] * 10 + [None] * 10
    assert all(a.admit(Conn("x"), ip) == "" for ip in ips)
    # IPv6 per network, like the caps; 0 a minute turns it off
    assert [a.admit(Conn("v6"), f"2001:db8::{i}") for i in range(4)][-1] == (
        "connecting too often from 2001:db8::/64; wait a minute")
    off = Admission(dataclasses.replace(Limits(), connect_burst=1, connect_per_minute=0), clock=clock)
    assert all(off.admit(Conn("y"), "192.0.2.9") == "" for _ in range(50))


def test_the_throttle_remembers_at_most_auth_tracked_addresses() -> None:
    clock = Clock()
    a = Admission(dataclasses.replace(Limits(), connect_burst=1, connect_per_minute=1, auth_tracked=3), clock=clock)
    for i in range(5):
        assert a.admit(Conn("c"), f"192.0.2.{i}") == ""
    assert len(a._buckets) == 3  # the least recently used went first (192.0.2.0 and .1)
    assert a.admit(Conn("c"), "192.0.2.4") != ""  # remembered: its one token is spent
    assert a.admit(Conn("c"), "192.0.2.0") == ""  # forgotten: a full bucket again
