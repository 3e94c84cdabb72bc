from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chinwag.protocols.telnet import TelnetFilter

CASES = [
    (b"hello\n", b"hello\n"),
    (b"\xff\xfb\x01hi\n", b"hi\n"),  # IAC WILL ECHO
    (b"a\xff\xfd\x03b", b"ab"),  # IAC DO SGA
    (b"\xff\xfa\x18\x00xterm\xff\xf0ok", b"ok"),  # subnegotiation (terminal type)
    (b"\xff\xfa\x18\xff\xff\xff\xf0ok", b"ok"),  # escaped IAC inside a subnegotiation
    (b"\xff\xf1x", b"x"),  # IAC NOP
    (b"\xff\xffx", b"\xffx"),  # escaped 0xFF data byte
]


def test_table_whole_and_byte_at_a_time() -> None:
    for data, expected in CASES:
        assert TelnetFilter().feed(data) == expected
        f = TelnetFilter()
        assert b"".join(f.feed(data[i : i + 1]) for i in range(len(data))) == expected


@given(st.binary(max_size=200), st.integers(0, 200))
def test_split_anywhere_same_result(data: bytes, cut: int) -> None:
    whole = TelnetFilter().feed(data)
    f = TelnetFilter()
    assert f.feed(data[:cut]) + f.feed(data[cut:]) == whole


@given(st.binary(max_size=200))
def test_plain_text_passes_untouched(data: bytes) -> None:
    clean = data.replace(b"\xff", b"")
    assert TelnetFilter().feed(clean) == clean
