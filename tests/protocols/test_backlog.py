"""``receive_data`` answers the adapter's ``backlog`` (the transport's flood
control reads it once a read, without asking ``backlog`` too): held to the
property itself, for both line protocols, through odd input, commands taken,
queries queued and an abort."""

from __future__ import annotations

import dataclasses
import random

from chinwag.config import Limits
from chinwag.core.events import Joined, Registered
from chinwag.protocols.base import Adapter
from chinwag.protocols.text import TextProtocol
from tests.protocols.irc.test_adapter import proto, registered

CHUNKS = [
    b"PRIVMSG #a :one\r\nPRIVMSG #a :two\r\n",
    b"NOTICE #a :three\r\nJOIN #b\r\n\r\n   \r\n",
    b"PRIVMSG #a :half a li",
    b"ne\r\n@label=x PRIVMSG #a :tagged\r\n",
    b"x" * 700 + b"\r\n",
    b"y" * 20_000,
    b"\r\nPRIVMSG #a :after\n",
    b"hello\nworld\n/join #c\n\xff\xfe\n",
    b"/me waves\n//literal\n",
]


def check(p: Adapter, rng: random.Random) -> None:
    for _ in range(300):
        data = rng.choice(CHUNKS)
        assert p.receive_data(data) == p.backlog
        for _ in range(rng.randrange(4)):
            p.next_command()
        assert p.receive_data(b"") == p.backlog
    p.abort("flood")
    assert p.receive_data(b"PRIVMSG #a :late\r\nlate\n") == p.backlog


def test_irc_receive_data_answers_its_backlog() -> None:
    rng = random.Random(7)
    check(registered("al"), rng)
    check(proto(), rng)  # not registered: commands wait for the answer


def test_text_receive_data_answers_its_backlog() -> None:
    rng = random.Random(8)
    limits = dataclasses.replace(Limits(), max_line=600, max_unterminated=1_000_000)
    p = TextProtocol(limits)
    assert p.receive_data(b"alice\n") == p.backlog == 1
    p.next_command()
    p.render(Registered("alice"), {})
    p.render(Joined("#lobby", "alice"), {})
    check(p, rng)
    q = TextProtocol(Limits())  # a stream with no line end: the reader's abort
    assert q.receive_data(b"z" * (Limits().max_unterminated + 10)) == q.backlog
