"""benchmarks/receiver.c, the load generator's C receive side: its accounts must be exact.

The compare harness trusts it for loss, duplicates and latency of most
deliveries, so it is fed crafted streams over socketpairs (payloads split
across writes, a duplicate, a gap filled late, noise, PINGs, WebSocket frames)
and its counts are checked against what was sent. Needs a C compiler, as the
benchmark smoke runs in ``make test`` do.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import pytest

from benchmarks.creceiver import CReceiver, build

TAG = b"~tst "
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def exe() -> str:
    path, why = build()
    assert path is not None, why
    return path


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    b.setblocking(False)  # as the generator's sockets are
    yield a, b
    a.close()
    b.close()


def wait_got(rx: CReceiver, want: int) -> list[int]:
    """Poll the receiver's counts until it has read ``want`` payloads (or time runs out)."""
    deadline = time.monotonic() + TIMEOUT
    while (counts := rx.ask("c"))[0] < want and time.monotonic() < deadline:
        time.sleep(0.005)
    return counts


def payload(key: int, sent_us: int = 0) -> bytes:
    return TAG + b"%d %d" % (key, sent_us)


def test_lines_counts_duplicates_gaps_and_late_arrivals_exactly(
    exe: str, pair: tuple[socket.socket, socket.socket]
) -> None:
    peer, mine = pair
    rx = CReceiver(exe, [mine.fileno()], "lines", TAG, 2, time.perf_counter_ns())
    try:
        rx.ask("w")
        # Sender 0 (even keys): seq 0, 1, then 4 (a gap), then 3 and 2 late; seq 1 again (a duplicate).
        # Sender 1 (odd keys): seq 0, 1, 2 in order, the middle one split across two writes.
        first = b":a!a@h PRIVMSG #lobby :" + payload(0) + b"\r\n" + b"[12:00] b: " + payload(1) + b"\n"
        peer.sendall(first + b"* carol joined #lobby\n" + b"[12:00] a: " + payload(2) + b"\n[12:00] b: ~t")
        assert wait_got(rx, 3)[0] == 3
        peer.sendall(b"st 3 0\n" + b"x: " + payload(8) + b"\n" + b"x: " + payload(5) + b"\n")
        peer.sendall(b"x: " + payload(6) + b"\nx: " + payload(4) + b"\nx: " + payload(2) + b"\n")
        assert wait_got(rx, 9) == [9, 8, 0]
        rx.ask("e")
        peer.sendall(b"x: " + payload(7) + b"\n")  # after the window: counted, no latency sample
        assert wait_got(rx, 10) == [10, 9, 0]
        report = rx.finish()
    finally:
        rx.kill()
    assert (report["got"], report["unique"], report["dups"], report["late"], report["gaps"]) == (10, 9, 1, 2, 1)
    assert sum(n for _, n in report["hist"]) == 9
    assert report["bad"] == 0 and report["lost"] == 0


def test_irc_ping_is_answered_and_a_closed_connection_is_counted(
    exe: str, pair: tuple[socket.socket, socket.socket]
) -> None:
    peer, mine = pair
    rx = CReceiver(exe, [mine.fileno()], "lines", TAG, 1, time.perf_counter_ns())
    try:
        peer.sendall(b"PING :irc.example\r\n" + payload(0) + b"\r\n")
        peer.settimeout(TIMEOUT)
        assert peer.recv(100) == b"PONG :irc.example\r\n"
        assert wait_got(rx, 1) == [1, 1, 0]
        peer.close()
        deadline = time.monotonic() + TIMEOUT
        while rx.ask("c")[2] == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        report = rx.finish()
    finally:
        rx.kill()
    assert report["lost"] == 1 and report["pongs"] == 1


def server_frame(data: bytes, opcode: int = 0x1) -> bytes:
    n = len(data)
    head = bytes((0x80 | opcode, n)) if n < 126 else struct.pack("!BBH", 0x80 | opcode, 126, n)
    return head + data


def test_websocket_frames_split_anywhere_are_walked_and_pings_answered(
    exe: str, pair: tuple[socket.socket, socket.socket]
) -> None:
    peer, mine = pair
    rx = CReceiver(exe, [mine.fileno()], "ws", TAG, 1, time.perf_counter_ns())
    try:
        long_line = b":a!a@h PRIVMSG #lobby :" + payload(1) + b" " + b"y" * 300  # a 126-length header
        stream = (
            server_frame(b":a!a@h PRIVMSG #lobby :" + payload(0))
            + server_frame(long_line)
            + server_frame(b"hello", 0x9)
            + server_frame(payload(2))
        )
        for i in range(0, len(stream), 7):  # every frame split across writes, headers too
            peer.sendall(stream[i : i + 7])
            time.sleep(0.001)
        peer.settimeout(TIMEOUT)
        assert peer.recv(100) == bytes((0x8A, 0x80 | 5, 0, 0, 0, 0)) + b"hello"  # masked pong, zero key
        assert wait_got(rx, 3) == [3, 3, 0]
        report = rx.finish()
    finally:
        rx.kill()
    assert (report["dups"], report["late"], report["gaps"], report["bad"]) == (0, 0, 0, 0)
