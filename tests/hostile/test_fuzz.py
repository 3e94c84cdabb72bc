"""No input produces a traceback: seeded fuzzing over real sockets, and each
input the fuzzer once found, pinned with the reply a user now sees."""

from __future__ import annotations

import logging

import pytest

from benchmarks.fuzz import fuzz, fuzz_config, is_traceback
from benchmarks.fuzzgen import line, lines
from chinwag.transport.server import Server
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving, text_client

FUZZ_INPUTS = 3000  # in CI; python -m benchmarks.fuzz --inputs 20000 for the long run


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if is_traceback(r)]


def test_the_generator_is_seeded_and_each_line_can_be_rebuilt_alone() -> None:
    first = list(lines("irc", 7, 50))
    assert first == list(lines("irc", 7, 50))
    assert first != list(lines("irc", 8, 50))
    assert line("text", 7, 31) == list(lines("text", 7, 32))[31]
    assert all("\n" not in x and "\r" not in x for x in first)


async def test_thousands_of_hostile_inputs_over_text_irc_and_websocket_log_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    srv = Server(fuzz_config())
    await srv.start()
    try:
        b = await Bystander.join(srv.port("irc"))
        b.start(interval=0.02)
        report = await fuzz(srv, FUZZ_INPUTS, lambda: len(tracebacks(caplog)), seed=1)
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
    finally:
        await srv.shutdown()
    assert sum(report.sent.values()) == FUZZ_INPUTS // 3 * 3
    assert set(report.sent) == {"text", "irc", "ws"}
    found = tracebacks(caplog)
    assert not found, (found[:5], report.suspects[:5])


@pytest.mark.parametrize("count", ["²", "٣", "߂", "9" * 40])
async def test_text_history_with_a_unicode_digit_is_a_usage_line(
    count: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        tom = await text_client(srv, "tom")
        await tom.send(f"/history {count}", "/who")
        assert await tom.lines_until("* in #lobby") == ["usage: /history [N]", "* in #lobby: tom (1)"]
        (await b.stop()).assert_served()
        await tom.close()
        await b.close()
    assert not tracebacks(caplog)


async def test_irc_mode_limit_with_a_unicode_digit_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        bob = await irc_client(srv, "bob")
        await bob.send("JOIN #r")
        await bob.expect_cmd("366")
        await bob.send("MODE #r +l ²", "MODE #r +l ٣", "MODE #r", "PING :end")
        got = await bob.lines_until_cmd("PONG")
        assert got[0] == ":chinwag 324 bob #r +nt", got  # no +l was set, nothing else was said
        (await b.stop()).assert_served()
        await bob.close()
        await b.close()
    assert not tracebacks(caplog)


@pytest.mark.parametrize(
    ("sent", "replies"),
    [
        # A reply whose middle parameter would be ':' or hold a space: '*' instead.
        ("MODE #r +:", [":chinwag 472 bob * :is an unknown mode character"]),
        ("WHOIS :a b", [":chinwag 401 bob * :no such nick", ":chinwag 318 bob * :End of /WHOIS list"]),
        ("WHOIS #r :\x01PING 1\x01", [":chinwag 401 bob * :no such nick", ":chinwag 318 bob * :End of /WHOIS list"]),
        ("KICK #r :x y", [":chinwag 401 bob * :no such nick"]),
        ("NAMES ::", [":chinwag 366 bob * :End of /NAMES list"]),
        ("CHATHISTORY LATEST #r * :1 2", [":chinwag FAIL CHATHISTORY INVALID_PARAMS LATEST * :Invalid limit"]),
    ],
)
async def test_irc_replies_that_echo_an_unsendable_word_say_star(
    sent: str, replies: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        bob = await irc_client(srv, "bob")
        await bob.send("JOIN #r")
        await bob.expect_cmd("366")
        await bob.send(sent, "PING :end")
        got = await bob.lines_until_cmd("PONG")
        assert got == [*replies, ":chinwag PONG chinwag end"]
        (await b.stop()).assert_served()
        await bob.close()
        await b.close()
    assert not tracebacks(caplog)
