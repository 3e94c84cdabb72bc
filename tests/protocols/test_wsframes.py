"""The Sans-I/O WebSocket frame reader (protocols/wsframes.py): the same
messages however the bytes are cut, and every refusal with its close code.
(Over real sockets, as a browser sends them: tests/hostile/test_ws2.py.)"""

from __future__ import annotations

import random

import pytest

from chinwag.protocols.wsframes import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    WsError,
    close_code,
    close_frame,
    pong_frame,
    unmask,
)
from tests.hostile.test_ws2 import CONT, ERRORS, frame


def drain(reader: FrameReader) -> list[tuple[int, bytes]]:
    out = []
    while (item := reader.next()) is not None:
        out.append(item)
    return out


STREAM = [
    (frame(OP_TEXT, b"PRIVMSG #a :hi"), [(OP_TEXT, b"PRIVMSG #a :hi")]),
    (frame(OP_BINARY, b"\xff\x00raw"), [(OP_BINARY, b"\xff\x00raw")]),
    (frame(OP_TEXT, b""), [(OP_TEXT, b"")]),
    (frame(OP_TEXT, "caf\u00e9".encode()), [(OP_TEXT, "caf\u00e9".encode())]),
    (frame(OP_TEXT, b"y" * 300), [(OP_TEXT, b"y" * 300)]),  # 16-bit length
    (frame(OP_BINARY, b"z" * 70000), [(OP_BINARY, b"z" * 70000)]),  # 64-bit length
    (frame(OP_TEXT, b"a", fin=False) + frame(OP_PING, b"p") + frame(CONT, b"b", fin=False) + frame(CONT, b"c"),
     [(OP_PING, b"p"), (OP_TEXT, b"abc")]),
    (frame(OP_PONG, b"q") + frame(OP_CLOSE, b"\x03\xe8bye"), [(OP_PONG, b"q"), (OP_CLOSE, b"\x03\xe8bye")]),
]


def test_messages_whatever_the_cuts() -> None:
    data = b"".join(d for d, _ in STREAM)
    want = [item for _, items in STREAM for item in items]
    whole = FrameReader(100_000)
    whole.feed(data)
    assert drain(whole) == want
    rng = random.Random(6455)
    for cuts in ([1] * 40, [2, 3, 5, 7], [rng.randrange(1, 400) for _ in range(30)]):
        reader = FrameReader(100_000)
        got: list[tuple[int, bytes]] = []
        pos = 0
        for i in range(len(data)):
            step = cuts[i % len(cuts)]
            reader.feed(data[pos:pos + step])
            pos += step
            got += drain(reader)
            if pos >= len(data):
                break
        assert got == want
        assert reader.buffered() == 0 and not reader.pending()


@pytest.mark.parametrize("case", list(ERRORS))
def test_refusals_carry_the_rfc_code(case: str) -> None:
    data, code = ERRORS[case]
    reader = FrameReader(17_406)
    reader.feed(data)
    with pytest.raises(WsError) as err:
        for item in iter(reader.next, None):
            if item[0] == OP_CLOSE:
                close_code(item[1])
    assert err.value.code == code


def test_too_big_is_seen_from_the_header_alone() -> None:
    reader = FrameReader(1000)
    reader.feed(frame(OP_TEXT, b"x" * 1001)[:8])  # head, mask and 0 bytes of payload
    with pytest.raises(WsError) as err:
        reader.next()
    assert err.value.code == 1009


def test_helpers() -> None:
    assert unmask(unmask(b"hello world", b"\x01\x02\x03\x04"), b"\x01\x02\x03\x04") == b"hello world"
    assert unmask(b"", b"abcd") == b""
    assert close_frame(1000) == b"\x88\x02\x03\xe8"
    assert close_frame() == b"\x88\x00"
    assert pong_frame(b"x") == b"\x8a\x01x"
    assert close_code(b"") is None
    assert close_code(b"\x0f\xa0ok") == 4000


def test_the_readers_inline_unmasking_of_small_frames_agrees_with_unmask() -> None:
    """``FrameReader.next`` unmasks a whole small text or binary frame inline (its
    fast path); held here to ``unmask``, the general form, over every length it
    takes (0..125) and random masks and bytes. (Frames are built by hand with a
    known mask, so the expected payload comes from ``unmask`` alone.)"""
    rng = random.Random(1455)
    for n in range(126):
        for opcode in (OP_TEXT, OP_BINARY):
            plain = bytes(rng.randrange(0x20, 0x7F) for _ in range(n))  # (ASCII: valid text too)
            mask = rng.randbytes(4)
            wire = bytes((0x80 | opcode, 0x80 | n)) + mask + unmask(plain, mask)
            reader = FrameReader(100_000)
            reader.feed(wire * 3)  # whole frames, several in one read
            assert drain(reader) == [(opcode, unmask(unmask(plain, mask), mask))] * 3 == [(opcode, plain)] * 3
