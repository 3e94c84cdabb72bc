"""LineReader: whole, byte by byte, random splits; bounded whatever comes in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chinwag.protocols.base import LINE_TOO_LONG, LineReader, LineTooLong

Item = bytes | LineTooLong

TABLE: list[tuple[bytes, list[Item]]] = [
    (b"", []),
    (b"abc", []),
    (b"abc\n", [b"abc"]),
    (b"abc\r\n", [b"abc"]),
    (b"a\nb\r\nc\n", [b"a", b"b", b"c"]),
    (b"\n\n", [b"", b""]),
    (b"x\ry\n", [b"x\ry"]),  # only a CR right before LF is a line ending
    (b"12345678\n", [b"12345678"]),  # exactly max_line
    (b"123456789\nok\n", [LINE_TOO_LONG, b"ok"]),
    (b"123456789012345678901234\nok\n", [LINE_TOO_LONG, b"ok"]),
    (b"12345678\r\n", [b"12345678"]),  # CR does not count
]


def feed_all(chunks: list[bytes], max_line: int = 8) -> list[Item]:
    reader = LineReader(max_line)
    out: list[Item] = []
    for chunk in chunks:
        out += reader.feed(chunk)
        assert reader.buffered <= max_line + 1
    return out


def test_table_whole_and_byte_at_a_time() -> None:
    for data, expected in TABLE:
        assert feed_all([data]) == expected, data
        assert feed_all([data[i : i + 1] for i in range(len(data))]) == expected, data
        # with trailing data that is not yet a line
        assert feed_all([data + b"p"]) == expected, data


def test_megabyte_without_newline_reported_once_and_buffer_stays_small() -> None:
    reader = LineReader(4096)
    out: list[Item] = []
    for _ in range(256):
        out += reader.feed(b"x" * 4096)
        assert reader.buffered <= 4097
    assert out == [LINE_TOO_LONG]
    assert reader.feed(b"tail of the long one\nnext\n") == [b"next"]


def reference(data: bytes, max_line: int) -> list[Item]:
    """The obvious, unbounded implementation the bounded one must agree with."""
    *lines, rest = data.split(b"\n")
    out: list[Item] = []
    for line in lines:
        line = line[:-1] if line.endswith(b"\r") else line
        out.append(line if len(line) <= max_line else LINE_TOO_LONG)
    if len(rest) > max_line + 1:  # known to be too long before its LF arrives
        out.append(LINE_TOO_LONG)
    return out


@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=10), st.integers(1, 40))
def test_any_split_agrees_with_reference(data: bytes, cuts: list[int], max_line: int) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    got = feed_all(chunks, max_line)
    assert got == reference(data, max_line)
