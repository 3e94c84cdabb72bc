"""Idle memory of a registered user's protocol state (issue 15: ≤ 4 KiB per idle
connection in all). Measured with tracemalloc: what 500 registered adapters hold."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

from chinwag.config import Config, Limits
from chinwag.core.events import Joined, Registered
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol
from chinwag.protocols.text import TextProtocol

N = 500


def held_per_adapter(make: Callable[[int], object]) -> float:
    """Bytes each of N adapters still holds once registered, in a room and idle."""
    kept = []
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(N):
            kept.append(make(i))
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    mine = [tracemalloc.Filter(True, "*/chinwag/*")]
    grown = after.filter_traces(mine).compare_to(before.filter_traces(mine), "filename")
    return sum(stat.size_diff for stat in grown) / N


def idle_text_user(i: int) -> TextProtocol:
    p = TextProtocol(Limits())
    p.receive_data(f"user{i}\n".encode())
    assert p.next_command() is not None  # Register
    p.render(Registered(f"user{i}"), {})
    p.render(Joined("#lobby", f"user{i}"), {})
    while p.next_command() is not None:  # the Recall the welcome asks for
        pass
    p.data_to_send()
    return p


INFO = IrcInfo.from_config(Config())  # one for all, as in the server


def idle_irc_user(i: int) -> IrcProtocol:
    p = IrcProtocol(INFO)
    p.receive_data(f"NICK user{i}\r\nUSER u 0 * :u\r\n".encode())
    while p.next_command() is not None:
        pass
    p.render(Registered(f"user{i}"), {})
    p.render(Joined("#lobby", f"user{i}"), {})
    p.data_to_send()
    return p


def test_an_idle_text_users_protocol_state_holds_no_queues() -> None:
    # Before: a __dict__ and two empty deques: 1,854 bytes; now slots and lists: 390.
    assert held_per_adapter(idle_text_user) < 1024


def test_an_idle_irc_users_protocol_state_stays_small() -> None:
    # Before: a new empty frozenset for its caps (216 bytes): 1,067 bytes in all, then 915;
    # now 667: its variant a shared tuple, no label dict and no ISON/WHO lists until used.
    assert held_per_adapter(idle_irc_user) < 720
