"""Hostile masks over real sockets: globs that made a backtracking regex explode.

Each test keeps a bystander pinging and asserts it stayed served. On the code
before core/masks.py each of them failed: the WHO masks stalled the event loop
for seconds (the hundred stars forever), the ban mask cost 4 s per JOIN and per
message, and nothing bounded a WHO answer or a mask's length.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Awaitable, Callable

from tests.conftest import IrcClient, irc_command
from tests.hostile.bystander import STALL, Bystander
from tests.hostile.test_hostile import irc_client, serving, text_client
from tests.test_cli import start

A32 = "a" * 32  # the longest nick (nick_len): the most room for a regex to backtrack in
SAMPLES = 20  # bystander round trips to collect while an attack repeats
ROUNDS = 300  # at most this many repetitions of an attack


async def repeat(b: Bystander, attack: Callable[[], Awaitable[None]]) -> int:
    """Run ``attack`` (which waits for its own replies) until the bystander has
    SAMPLES round trips, at most ROUNDS times; return how many rounds ran.
    A stall already seen ends it early: the test has failed, no need to go on."""
    for n in range(1, ROUNDS + 1):
        await attack()
        if len(b.rtt.samples) >= SAMPLES or max(b.rtt.samples, default=0) >= STALL:
            return n
    return ROUNDS


async def test_pathological_who_masks_answer_at_once() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        victim = await irc_client(srv, A32)
        evil = await irc_client(srv, "evil")
        b.start()

        async def attack() -> None:
            # The mask: 7 s per name of 32 a's with the old regex.
            await evil.send("WHO *a*a*a*a*a*a*a*a*a*a*a!")
            assert await evil.line() == ":chinwag 315 evil *a*a*a*a*a*a*a*a*a*a*a! :End of /WHO list"
            await evil.send("WHO *a*a*a*a*a*a*a*a*a*a*a")
            assert await evil.line() == f":chinwag 352 evil * ~{A32[:9]} chinwag chinwag {A32} H :0 {A32} real"
            assert await evil.line() == ":chinwag 315 evil *a*a*a*a*a*a*a*a*a*a*a :End of /WHO list"
            await evil.send("WHO *A?A*a?a*A?A*a?a*A?A*a?a*A?A*b")
            assert await evil.line() == ":chinwag 315 evil *A?A*a?a*A?A*a?a*A?A*a?a*A?A*b :End of /WHO list"

        await repeat(b, attack)
        rtt = await b.stop()
        rtt.assert_served()
        for c in (victim, evil, b):
            await c.close()


def _listener_port(name: bytes, log: bytes) -> int | None:
    m = re.search(name + rb" listener on [\d.]+:(\d+)", log)
    return int(m.group(1)) if m else None


async def _healthz(port: int) -> str:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    body = await asyncio.wait_for(r.read(), 5)
    w.close()
    return body.decode()


async def test_who_with_a_hundred_stars_and_a_stray_byte_leaves_the_server_answering() -> None:
    # A separate process: before the fix this WHO never finished, which would
    # hang an in-process test forever; here the test fails and the process is killed.
    proc, _ = await start("--text-port", "0", "--db", ":memory:")
    assert proc.stderr is not None
    log = b""
    while _listener_port(b"irc", log) is None or _listener_port(b"web", log) is None:
        log += await asyncio.wait_for(proc.stderr.readline(), 10)
    irc_port, web_port = _listener_port(b"irc", log), _listener_port(b"web", log)
    assert irc_port and web_port
    try:
        b = await Bystander.join(irc_port)
        r, w = await asyncio.open_connection("127.0.0.1", irc_port)
        victim = IrcClient(r, w)
        await victim.register(A32)
        r, w = await asyncio.open_connection("127.0.0.1", irc_port)
        evil = IrcClient(r, w)
        await evil.register("evil")
        b.start()
        mask = "*" * 100 + "\x01"

        async def attack() -> None:
            await evil.send(f"WHO {mask}")
            assert await evil.line() == f":chinwag 315 evil {mask} :End of /WHO list"
            assert (await _healthz(web_port)).endswith("\r\n\r\nok")
            await evil.send("WHO " + "*" * 100 + "a")  # the same, matching: the victim is found
            assert irc_command(await evil.line()) == "352"
            assert irc_command(await evil.line()) == "315"

        await repeat(b, attack)
        rtt = await b.stop()
        rtt.assert_served()
        for c in (victim, evil, b):
            await c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_pathological_ban_mask_costs_nothing_on_join_and_message() -> None:
    # "*a*a*a*a*a*a!@*" against aaa...a!aaa...a@chinwag: about 4 s per check
    # with the old regex, and a ban is checked on every JOIN and every message.
    ban = "*a*a*a*a*a*a!@*"
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        alice = await irc_client(srv, "alice")
        await alice.send("JOIN #trap", f"MODE #trap +b {ban}")
        assert await alice.expect_cmd("MODE") == f":alice!~alice@chinwag MODE #trap +b {ban}"
        victim = await irc_client(srv, A32)
        b.start()

        async def attack() -> None:
            await victim.send("JOIN #trap")
            assert await alice.line() == f":{A32}!~{A32[:9]}@chinwag JOIN #trap"
            for i in range(2):
                await victim.send(f"PRIVMSG #trap :hello {i}")
                assert await alice.line() == f":{A32}!~{A32[:9]}@chinwag PRIVMSG #trap :hello {i}"
            await victim.send("PART #trap")
            assert await alice.line() == f":{A32}!~{A32[:9]}@chinwag PART #trap"

        await repeat(b, attack)
        await victim.send("JOIN #trap")
        assert await alice.line() == f":{A32}!~{A32[:9]}@chinwag JOIN #trap"
        # A pathological mask that does match still bans.
        await alice.send("MODE #trap +b *a*a*a*a*a*a*a*a*a*a*a!*@*")
        assert await alice.line() == ":alice!~alice@chinwag MODE #trap +b *a*a*a*a*a*a*a*a*a*a*a!*@*"
        await victim.send("PRIVMSG #trap :banned now")
        assert await victim.expect_cmd("404") == f":chinwag 404 {A32} #trap :cannot send to room: you are banned (+b)"
        rtt = await b.stop()
        rtt.assert_served()
        for c in (alice, victim, b):
            await c.close()


async def test_who_reply_is_bounded_at_who_max_then_the_end_marker() -> None:
    async with serving(who_max=5) as srv:
        b = await Bystander.join(srv.port("irc"))
        users = [await text_client(srv, f"user{i}") for i in range(8)]
        evil = await irc_client(srv, "evil")
        b.start()

        async def attack() -> None:
            await evil.send("WHO user*")
            lines = await evil.lines_until_cmd("315")
            assert [irc_command(line) for line in lines] == ["352"] * 5 + ["416", "315"]
            assert lines[0] == ":chinwag 352 evil * ~user0 chinwag chinwag user0 H :0 user0"
            assert lines[-2:] == [":chinwag 416 evil WHO :output too large, truncated",
                                  ":chinwag 315 evil user* :End of /WHO list"]

        await repeat(b, attack)
        await evil.send("WHO ?ser0")  # not over the limit: no 416
        assert await evil.lines_until_cmd("315") == [":chinwag 352 evil * ~user0 chinwag chinwag user0 H :0 user0",
                                                     ":chinwag 315 evil ?ser0 :End of /WHO list"]
        rtt = await b.stop()
        rtt.assert_served()
        for c in (*users, evil, b):
            await c.close()


async def test_overlong_masks_are_refused_with_a_clear_reply() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        alice = await irc_client(srv, "alice")
        await alice.send("JOIN #room")
        await alice.expect_cmd("366")
        b.start()
        long_mask = "*a" * 64 + "!"  # 129 characters, mask_len is 128
        shown = long_mask[:128]

        async def attack() -> None:
            await alice.send(f"WHO {long_mask}")
            assert await alice.line() == f":chinwag 416 alice {shown} :mask too long (max 128 characters)"
            assert await alice.line() == f":chinwag 315 alice {shown} :End of /WHO list"
            await alice.send(f"MODE #room +b {long_mask}@*", "MODE #room b")
            assert await alice.line() == (
                f":chinwag 696 alice #room b {shown} :ban mask too long (max 128 characters)"
            )
            assert await alice.line() == ":chinwag 368 alice #room :End of channel ban list"

        await repeat(b, attack)
        rtt = await b.stop()
        rtt.assert_served()
        for c in (alice, b):
            await c.close()
