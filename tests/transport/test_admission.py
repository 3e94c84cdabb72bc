"""Admission bookkeeping without sockets: caps, eviction of the oldest, the
unregistered -> registered move, exempt networks, IPv6 prefixes, take-over."""

from __future__ import annotations

import dataclasses
import ipaddress

from chinwag.config import Limits
from chinwag.transport.admission import Admission


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
