"""IrcLineReader.feed takes a read's complete lines from one split and keeps
only an unfinished line: the same stream, whole, in random pieces or byte by
byte (every line through the buffer), gives the very same lines and
over-long markers, at any limits."""

from __future__ import annotations

import random

from chinwag.protocols.irc.message import InputTooLong, IrcLineReader

PIECES = [
    b"PRIVMSG #a :hello\r\n",
    b"PRIVMSG #a :hello\n",
    b"\r\n",
    b"\n",
    b"   \r\n",
    b"PRIVMSG #a :cr\rinside\r\n",
    b"PRIVMSG #a :two crs\r\r\n",
    b"@label=x PRIVMSG #a :tagged\r\n",
    b"@" + b"t" * 100 + b" PRIVMSG #a :long tags\r\n",
    b"@" + b"t" * 300 + b"\r\n",
    b"@" + b"t" * 20 + b" " + b"b" * 200 + b"\r\n",
    b"x" * 60 + b"\r\n",
    b"x" * 61 + b"\r\n",
    b"x" * 62 + b"\n",
    b"x" * 63 + b"\r\n",
    b"y" * 500 + b"\r\n",
    b"\xff\xfe bad utf-8\r\n",
]


def queue(reader_out: list[bytes | InputTooLong]) -> list[object]:
    return [item.which if isinstance(item, InputTooLong) else item for item in reader_out]


def feed_in(stream: bytes, cuts: list[int], max_body: int, max_tags: int) -> list[object]:
    out: list[bytes | InputTooLong] = []
    reader = IrcLineReader(max_body=max_body, max_tags=max_tags, out=out)
    start = 0
    for cut in [*cuts, len(stream)]:
        reader.feed(stream[start:cut])
        start = cut
        assert reader.buffered <= reader.max_buffer
    return queue(out)


def test_the_same_lines_whatever_the_reads() -> None:
    rng = random.Random(15)
    for max_body, max_tags in ((64, 128), (512, 8191), (3, 2), (100, 40)):
        for _ in range(150):
            stream = b"".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 12)))
            if rng.random() < 0.3:
                stream += rng.choice(PIECES)[: rng.randrange(1, 40)]  # an unfinished line at the end
            whole = feed_in(stream, [], max_body, max_tags)
            assert feed_in(stream, list(range(1, len(stream))), max_body, max_tags) == whole
            cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randrange(1, 6))))
            assert feed_in(stream, cuts, max_body, max_tags) == whole
