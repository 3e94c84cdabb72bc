"""IRC message parser/formatter and line reader: tables plus properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.protocols.irc.message import (
    EMPTY_TAGS,
    EmptyMessage,
    InputTooLong,
    InvalidMessage,
    IrcLineReader,
    IrcProtocolError,
    Message,
    Tags,
    check_length,
    escape_tag_value,
    parse_line,
    parse_source,
    unescape_tag_value,
)

# ------------------------------------------------------------ canonical round trips

# Lines that are already in the form serialize() writes, so both directions hold.
CANONICAL: list[tuple[str, Message]] = [
    ("PING", Message("PING")),
    ("PING server", Message("PING", ("server",))),
    ("PRIVMSG #chan :hello world", Message("PRIVMSG", ("#chan", "hello world"))),
    ("PRIVMSG #chan :", Message("PRIVMSG", ("#chan", ""))),
    ("PRIVMSG #chan ::-)", Message("PRIVMSG", ("#chan", ":-)"))),
    ("PRIVMSG #chan : spaced ", Message("PRIVMSG", ("#chan", " spaced "))),
    (
        ":nick!user@host PRIVMSG #chan :hi there",
        Message("PRIVMSG", ("#chan", "hi there"), source="nick!user@host"),
    ),
    (
        ":irc.example.net 001 alice :Welcome to chinwag",
        Message("001", ("alice", "Welcome to chinwag"), "irc.example.net"),
    ),
    (
        ":srv 433 * alice :Nickname is already in use",
        Message("433", ("*", "alice", "Nickname is already in use"), "srv"),
    ),
    ("MODE #chan +o alice", Message("MODE", ("#chan", "+o", "alice"))),
    ("USER alice 0 * :Alice Liddell", Message("USER", ("alice", "0", "*", "Alice Liddell"))),
    ("CAP REQ :message-tags server-time", Message("CAP", ("REQ", "message-tags server-time"))),
    ("PRIVMSG #a a:b", Message("PRIVMSG", ("#a", "a:b"))),
    (
        "@msgid=abc;time=2024-01-01T00:00:00.000Z :n!u@h PRIVMSG #c :yo there",
        Message(
            "PRIVMSG",
            ("#c", "yo there"),
            "n!u@h",
            {"msgid": "abc", "time": "2024-01-01T00:00:00.000Z"},
        ),
    ),
    (
        "@+draft/typing=active TAGMSG #c",
        Message("TAGMSG", ("#c",), tags={"+draft/typing": "active"}),
    ),
    ("@flag;k=v PING", Message("PING", tags={"flag": "", "k": "v"})),
    (
        r"@a=semi\:colon;b=sp\sace;c=back\\slash;d=cr\rlf\n PING",
        Message(
            "PING",
            tags={"a": "semi;colon", "b": "sp ace", "c": "back\\slash", "d": "cr\rlf\n"},
        ),
    ),
    (
        "@example.com/x=é PRIVMSG #ü :ünï cödé ✓",
        Message("PRIVMSG", ("#ü", "ünï cödé ✓"), tags={"example.com/x": "é"}),
    ),
]


@pytest.mark.parametrize(("line", "expected"), CANONICAL)
def test_parse_canonical(line: str, expected: Message) -> None:
    assert Message.parse(line) == expected


@pytest.mark.parametrize(("line", "expected"), CANONICAL)
def test_serialize_canonical(line: str, expected: Message) -> None:
    assert expected.serialize() == line
    assert expected.to_bytes() == line.encode() + b"\r\n"


# --------------------------------------------------------- tolerant, non-canonical

# Accepted input that serialize() writes differently: (line, parsed, re-serialized).
TOLERATED: list[tuple[str, Message, str]] = [
    ("privmsg #chan :hi", Message("PRIVMSG", ("#chan", "hi")), "PRIVMSG #chan hi"),
    ("Ping x", Message("PING", ("x",)), "PING x"),
    ("PRIVMSG   #chan    :hello", Message("PRIVMSG", ("#chan", "hello")), "PRIVMSG #chan hello"),
    ("MODE  #c   +b   x  ", Message("MODE", ("#c", "+b", "x")), "MODE #c +b x"),
    ("  PING x", Message("PING", ("x",)), "PING x"),
    ("PING    ", Message("PING"), "PING"),
    ("PING :x", Message("PING", ("x",)), "PING x"),
    ("PRIVMSG #a :x :y", Message("PRIVMSG", ("#a", "x :y")), "PRIVMSG #a :x :y"),
    (
        "@a=b   :n!u@h   NICK   :new",
        Message("NICK", ("new",), "n!u@h", {"a": "b"}),
        "@a=b :n!u@h NICK new",
    ),
    ("@a= PING", Message("PING", tags={"a": ""}), "@a PING"),
    ("@a=1;a=2 PING", Message("PING", tags={"a": "2"}), "@a=2 PING"),
    ("@;a=1;;=x PING", Message("PING", tags={"a": "1"}), "@a=1 PING"),
    ("@ PING", Message("PING"), "PING"),
    (r"@a=x\b\ PING", Message("PING", tags={"a": "xb"}), "@a=xb PING"),
    ("PING x\r\n", Message("PING", ("x",)), "PING x"),
    ("PING x\n", Message("PING", ("x",)), "PING x"),
    ("001 me :hi", Message("001", ("me", "hi")), "001 me hi"),
]


@pytest.mark.parametrize(("line", "expected", "written"), TOLERATED)
def test_parse_tolerant(line: str, expected: Message, written: str) -> None:
    msg = Message.parse(line)
    assert msg == expected
    assert msg.serialize() == written
    assert Message.parse(written) == expected


@pytest.mark.parametrize("line", ["", "   ", "\r\n"])
def test_empty_message(line: str) -> None:
    with pytest.raises(EmptyMessage):
        Message.parse(line)


@pytest.mark.parametrize(
    "line",
    [
        "@a=b",  # tags, no command
        "@a=b ",
        ":nick",  # source, no command
        ":nick   ",
        ": PING",  # empty source
        "PRIV-MSG x",
        "1234 x",
        "12 x",
        "PRIVMSG\tx",
        "ÉTÉ x",
        "PING a\0b",
        "PING :a\rb",
        "PING :a\nb",
        "@a=b\0c PING",
    ],
)
def test_invalid_message(line: str) -> None:
    with pytest.raises(InvalidMessage):
        Message.parse(line)


def test_errors_are_protocol_errors_not_value_errors() -> None:
    for cls in (EmptyMessage, InvalidMessage, InputTooLong):
        assert issubclass(cls, IrcProtocolError)
        assert not issubclass(cls, ValueError)
    assert InputTooLong("tags").which == "tags"


# ----------------------------------------------------------------------- serialize


@pytest.mark.parametrize(
    "msg",
    [
        Message("PRIVMSG", ("#a b", "x")),  # space in middle param
        Message("PRIVMSG", ("", "x")),  # empty middle param
        Message("PRIVMSG", (":a", "x")),  # middle starting with ':'
        Message("PRIVMSG", ("#a", "x\r\nQUIT :injected")),
        Message("PRIVMSG", ("#a\n", "x")),
        Message("PRIVMSG", ("#a", "x\0")),
        Message("PRIV MSG"),
        Message(""),
        Message("12"),
        Message("PING", source=""),
        Message("PING", source="a b"),
        Message("PING", source="a\r"),
        Message("PING", tags={"": "x"}),
        Message("PING", tags={"a=b": "x"}),
        Message("PING", tags={"a;b": "x"}),
        Message("PING", tags={"a b": "x"}),
        Message("PING", tags={"a": "x\0"}),
    ],
)
def test_serialize_rejects_unwritable(msg: Message) -> None:
    with pytest.raises(ValueError):
        msg.serialize()


def test_to_bytes_rejects_lone_surrogate() -> None:
    with pytest.raises(ValueError):
        Message("PRIVMSG", ("#a", "\udcff")).to_bytes()


def test_message_normalises_and_hashes() -> None:
    m = Message("privmsg", ["#a", "x"], tags={"k": "v"})  # type: ignore[arg-type]
    assert m.command == "PRIVMSG"
    assert m.params == ("#a", "x")
    assert isinstance(m.tags, Tags)
    assert m == Message("PRIVMSG", ("#a", "x"), tags=Tags([("k", "v")]))
    assert hash(m) == hash(Message("PRIVMSG", ("#a", "x"), tags={"k": "v"}))
    assert Message("PING").tags is EMPTY_TAGS
    with pytest.raises(AttributeError):
        m.command = "X"  # type: ignore[misc]


def test_tags_mapping_semantics() -> None:
    t = Tags({"a": "1", "b": "2"})
    assert t == Tags({"b": "2", "a": "1"})  # order not meaningful
    assert t == {"a": "1", "b": "2"}
    assert t != {"a": "1"}
    assert list(t) == ["a", "b"]
    assert "a" in t and "z" not in t
    assert hash(t) == hash(Tags({"b": "2", "a": "1"}))
    assert repr(t) == "Tags({'a': '1', 'b': '2'})"


# ------------------------------------------------------------------ tag escaping


@pytest.mark.parametrize(
    ("escaped", "value"),
    [
        ("plain", "plain"),
        (r"\:", ";"),
        (r"\s", " "),
        (r"\\", "\\"),
        (r"\r", "\r"),
        (r"\n", "\n"),
        (r"a\:b\sc\\d\re\nf", "a;b c\\d\re\nf"),
        ("", ""),
    ],
)
def test_tag_escape_round_trip(escaped: str, value: str) -> None:
    assert unescape_tag_value(escaped) == value
    assert escape_tag_value(value) == escaped


@pytest.mark.parametrize(
    ("escaped", "value"),
    [
        ("trailing\\", "trailing"),  # lone trailing backslash dropped
        ("\\", ""),
        (r"\b", "b"),  # invalid escape: the backslash goes
        (r"a\\\b", "a\\b"),
        (r"\\\\", "\\\\"),
        (r"\\\s", "\\ "),
    ],
)
def test_tag_unescape_lenient(escaped: str, value: str) -> None:
    assert unescape_tag_value(escaped) == value


# ------------------------------------------------------------------------- source


@pytest.mark.parametrize(
    ("source", "parts"),
    [
        ("nick!user@host", ("nick", "user", "host")),
        ("nick@host", ("nick", None, "host")),
        ("nick!user", ("nick", "user", None)),
        ("irc.example.net", ("irc.example.net", None, None)),
        ("nick!~u@2001:db8::1", ("nick", "~u", "2001:db8::1")),
        ("n!@", ("n", "", "")),
    ],
)
def test_parse_source(source: str, parts: tuple[str, str | None, str | None]) -> None:
    assert parse_source(source) == parts


# ------------------------------------------------------------------- line reader


def drain(reader: IrcLineReader) -> list[bytes | str]:
    """Lines as bytes, markers as "too-long:<which>" for easy comparison."""
    return [
        f"too-long:{item.which}" if isinstance(item, InputTooLong) else item
        for item in reader.lines()
    ]


def test_reader_byte_at_a_time_mixed_endings() -> None:
    stream = b"NICK alice\r\nUSER a 0 * :Alice\n\r\n\nPING :x y\r\nPRIVMSG #a :partial"
    reader = IrcLineReader()
    for i in range(len(stream)):
        reader.feed(stream[i : i + 1])
    assert drain(reader) == [b"NICK alice", b"USER a 0 * :Alice", b"PING :x y"]
    assert reader.buffered == len(b"PRIVMSG #a :partial")
    reader.feed(b"\r")
    assert drain(reader) == []
    reader.feed(b"\n")
    assert drain(reader) == [b"PRIVMSG #a :partial"]
    assert reader.buffered == 0


def test_reader_messages_parses_in_order() -> None:
    reader = IrcLineReader()
    reader.feed(b"ping a\r\n   \r\nBAD-CMD\r\n@k=v\\sw :n!u@h PRIVMSG #c :hi\n")
    out = reader.messages()
    assert out[0] == Message("PING", ("a",))
    assert isinstance(out[1], InvalidMessage)
    assert out[2] == Message("PRIVMSG", ("#c", "hi"), "n!u@h", {"k": "v w"})
    assert len(out) == 3
    assert reader.messages() == []


def test_reader_overlong_without_newline_reports_once_and_recovers() -> None:
    reader = IrcLineReader()
    bound = reader.max_buffer
    assert bound == 512 + 8191 - 1
    chunk = b"PRIVMSG #a :" + b"x" * 100
    for _ in range(1000):  # 100 KB, no LF
        reader.feed(chunk)
        assert reader.buffered <= bound
    assert reader.buffered == 0  # tail is being discarded, not kept
    reader.feed(b"yyy\r\nPING :ok\r\n")
    out = reader.messages()
    assert len(out) == 2
    assert isinstance(out[0], InputTooLong) and out[0].which == "body"
    assert out[1] == Message("PING", ("ok",))


def test_reader_overlong_tags_section() -> None:
    reader = IrcLineReader()
    for _ in range(200):
        reader.feed(b"@" + b"k" * 100)
        assert reader.buffered <= reader.max_buffer
    reader.feed(b" PING\r\nPING x\r\n")
    assert drain(reader) == ["too-long:tags", b"PING x"]


def test_reader_overlong_complete_line_in_one_chunk() -> None:
    reader = IrcLineReader(max_body=20, max_tags=30)
    reader.feed(b"PING " + b"a" * 100 + b"\r\nPING b\r\n")
    assert drain(reader) == ["too-long:body", b"PING b"]
    assert reader.buffered == 0


BODY_CONTENT = 510  # 512 minus CRLF


@pytest.mark.parametrize("ending", [b"\r\n", b"\n"])
def test_reader_body_limit_exact(ending: bytes) -> None:
    ok = b"PRIVMSG #a :" + b"x" * (BODY_CONTENT - 12)
    assert len(ok) == BODY_CONTENT
    reader = IrcLineReader()
    reader.feed(ok + ending + ok + b"y" + ending)
    assert drain(reader) == [ok, "too-long:body"]


def test_reader_tags_limit_exact() -> None:
    body = b"PRIVMSG #a :" + b"x" * (BODY_CONTENT - 12)
    tags_ok = b"@k=" + b"v" * (8191 - 4) + b" "
    assert len(tags_ok) == 8191
    tags_long = b"@k=" + b"v" * (8191 - 3) + b" "
    reader = IrcLineReader()
    reader.feed(tags_ok + body + b"\r\n" + tags_long + b"PING\r\n" + tags_ok + body + b"z\r\n")
    assert drain(reader) == [tags_ok + body, "too-long:tags", "too-long:body"]
    assert reader.buffered == 0


def test_reader_invalid_utf8_is_replaced() -> None:
    reader = IrcLineReader()
    reader.feed(b"PRIVMSG #a :caf\xc3\xa9 \xff\xfe ok\r\n")
    [msg] = reader.messages()
    assert msg == Message("PRIVMSG", ("#a", "café \ufffd\ufffd ok"))
    assert parse_line(b"PING \xc3") == Message("PING", ("\ufffd",))


def test_reader_rejects_silly_limits() -> None:
    with pytest.raises(ValueError):
        IrcLineReader(max_body=2)


@pytest.mark.parametrize(
    ("line", "which"),
    [
        (b"x" * 510, None),
        (b"x" * 511, "body"),
        (b"@" + b"t" * 8189 + b" " + b"x" * 510, None),
        (b"@" + b"t" * 8190 + b" x", "tags"),
        (b"@" + b"t" * 8189, None),  # tags only: invalid later, not too long
        (b"@" + b"t" * 8190, "tags"),
        (b"@t " + b"x" * 511, "body"),
    ],
)
def test_check_length(line: bytes, which: str | None) -> None:
    assert check_length(line, max_body=512, max_tags=8191) == which


# ------------------------------------------------------------------- properties

SMALL_BODY = 24
SMALL_TAGS = 40

# Bytes biased towards the characters that matter to the grammar and the reader.
wire_bytes = st.lists(
    st.one_of(
        st.sampled_from([b"\n", b"\r", b"\r\n", b"@", b" ", b":", b";", b"=", b"\\", b"\0"]),
        st.sampled_from([b"PING", b"privmsg", b"001", b"#c", b"k=v", b"\xff", b"\xc3\xa9"]),
        st.binary(min_size=1, max_size=30),
    ),
    max_size=60,
).map(b"".join)


def reference_lines(stream: bytes, max_body: int, max_tags: int) -> list[bytes | str]:
    """Chunking-independent model of what IrcLineReader must report."""
    *complete, partial = stream.split(b"\n")
    out: list[bytes | str] = []
    for line in complete:
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            which = check_length(line, max_body=max_body, max_tags=max_tags)
            out.append(line if which is None else f"too-long:{which}")
    cap = max_tags + max_body - 1 if partial[:1] == b"@" else max_body - 1
    if len(partial) > cap:
        out.append(f"too-long:{check_length(partial, max_body=max_body, max_tags=max_tags)}")
    return out


@settings(max_examples=400, deadline=None)
@given(stream=wire_bytes, seed=st.integers(0, 2**32 - 1))
def test_reader_random_splits_match_model(stream: bytes, seed: int) -> None:
    rng = random.Random(seed)
    reader = IrcLineReader(max_body=SMALL_BODY, max_tags=SMALL_TAGS)
    got: list[bytes | str] = []
    pos = 0
    while pos < len(stream):
        step = rng.randint(1, 12)
        reader.feed(stream[pos : pos + step])
        pos += step
        assert reader.buffered <= reader.max_buffer == SMALL_TAGS + SMALL_BODY - 1
        got += drain(reader)
    assert got == reference_lines(stream, SMALL_BODY, SMALL_TAGS)


@settings(max_examples=400, deadline=None)
@given(stream=wire_bytes, seed=st.integers(0, 2**32 - 1))
def test_reader_messages_raise_nothing(stream: bytes, seed: int) -> None:
    rng = random.Random(seed)
    reader = IrcLineReader(max_body=SMALL_BODY, max_tags=SMALL_TAGS)
    pos = 0
    while pos < len(stream):
        step = rng.randint(1, 12)
        reader.feed(stream[pos : pos + step])
        pos += step
        for item in reader.messages():
            assert isinstance(item, Message | InvalidMessage | InputTooLong)
            if isinstance(item, Message):
                Message.parse(item.serialize())  # whatever we accept, we can relay


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200))
def test_parse_line_raises_only_documented_errors(raw: bytes) -> None:
    try:
        msg = parse_line(raw)
    except IrcProtocolError:
        return
    assert Message.parse(msg.serialize()) == msg


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("@:; =\\\r\n\0aZ9#é!")), max_size=40))
def test_parse_text_raises_only_documented_errors(text: str) -> None:
    try:
        msg = Message.parse(text)
    except IrcProtocolError:
        return
    assert Message.parse(msg.serialize()) == msg


_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0"))
_word = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0 "), min_size=1)
_middle = _word.filter(lambda s: not s.startswith(":"))
_command = st.one_of(
    st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True),
    st.from_regex(r"[0-9]{3}", fullmatch=True),
)
_tag_key = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0 ;="), min_size=1)
_tag_value = st.text(st.characters(codec="utf-8", exclude_characters="\0"))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    middles = draw(st.lists(_middle, max_size=5))
    last = draw(st.lists(_text, max_size=1))
    return Message(
        command=draw(_command),
        params=tuple(middles + last),
        source=draw(st.none() | _word),
        tags=draw(st.dictionaries(_tag_key, _tag_value, max_size=4)),
    )


@settings(max_examples=500, deadline=None)
@given(msg=messages())
def test_round_trip_generated(msg: Message) -> None:
    assert Message.parse(msg.serialize()) == msg
    wire = msg.to_bytes()
    assert wire.endswith(b"\r\n") and wire.count(b"\n") == 1
    assert parse_line(wire[:-2]) == msg


@given(value=_tag_value)
def test_tag_value_round_trip(value: str) -> None:
    escaped = escape_tag_value(value)
    assert not any(c in escaped for c in " ;\r\n")
    assert unescape_tag_value(escaped) == value
