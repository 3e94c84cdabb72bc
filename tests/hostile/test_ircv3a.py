"""Hostile use of draft/multiline, draft/message-redaction and draft/read-marker:
oversized and endless batches, REDACT probing, MARKREAD for ever more targets.
A bystander keeps pinging; its round trips go to docs/reliability.md
(``pytest -s tests/hostile/test_ircv3a.py``)."""

from __future__ import annotations

import asyncio

from chinwag.transport.server import Server
from tests.conftest import IrcClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import serving
from tests.transport.test_ircv3_markread import owner
from tests.transport.test_ircv3_multiline import ML, sent, until_pong

SRC = "chinwag"


async def member(srv: Server, nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick, caps)
    await c.send("JOIN #dev")
    await c.expect_cmd("366")
    return c


async def test_endless_and_oversized_multiline_batches_are_refused_and_reach_nobody() -> None:
    async with serving(multiline_max_lines=100, multiline_max_bytes=4096) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        readers = [await member(srv, f"r{i}", ML if i % 2 else ()) for i in range(10)]
        hog = await member(srv, "hog", ML)
        for r in readers:
            await until_pong(r, "joined")
        # 500 lines in one batch (its line budget is 100), then a batch of 10 KiB
        # in 100-byte lines (4 KiB allowed), then 10 batches at the limits: 100 lines, 4 KiB.
        await hog.send("BATCH +big draft/multiline #dev", *(f"@batch=big PRIVMSG #dev :line {i}" for i in range(500)),
                       "BATCH -big")
        await hog.send("BATCH +fat draft/multiline #dev", *("@batch=fat PRIVMSG #dev :" + "x" * 100,) * 100,
                       "BATCH -fat")
        full = ["@batch={} PRIVMSG #dev :" + f"{i:03d}" + "y" * 36 for i in range(100)]  # 40 bytes + line feed each
        for n in range(10):
            await hog.send(f"BATCH +ok{n} draft/multiline #dev", *(line.format(f"ok{n}") for line in full),
                           f"BATCH -ok{n}")
        assert await until_pong(hog, "done") == [
            f":{SRC} FAIL BATCH MULTILINE_MAX_LINES 100 :Multiline batch max-lines exceeded",
            f":{SRC} FAIL BATCH MULTILINE_MAX_BYTES 4096 :Multiline batch max-bytes exceeded",
        ]
        await sent(hog)
        first = await until_pong(readers[0], "fanned")  # (its PONG waits behind what it was sent)
        # The figures: what the server did; the readers' reading below runs on the
        # test's side of this same event loop, so it is left out.
        rtt = await b.stop()
        print(f"\nmultiline flood: {rtt}")
        rtt.assert_served()
        for i, r in enumerate(readers):
            got = first if i == 0 else await until_pong(r, "read")
            privmsgs = [line for line in got if " PRIVMSG " in line]
            assert len(privmsgs) == 10 * 100, (i, len(privmsgs))
            assert not any(":line " in line or "xxxx" in line for line in got)  # nothing of the refused ones
            assert sum(" BATCH +" in line for line in got) == (10 if i % 2 else 0)
        assert len(await srv.store.latest("#dev", 100)) == 10  # one stored message per batch
        for c in (*readers, hog):
            await c.close()
        await b.close()


async def test_redact_probing_and_markread_for_ever_more_targets_are_bounded() -> None:
    async with serving(read_markers_max=5) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        insider = await member(srv, "insider", ("message-tags", "echo-message"))
        await insider.send("PRIVMSG #dev :secret")
        msgid = (await insider.expect_cmd("PRIVMSG")).split(";")[0].split("msgid=")[1].split(" ")[0]
        prober = await owner(srv, "prober", ("draft/read-marker", "draft/message-redaction"))
        # Guessing ids in a room it is not in: always INVALID_TARGET, found or not.
        guesses = [msgid, *(f"{n:016x}" for n in range(200))]
        await prober.send(*(f"REDACT #dev {g}" for g in guesses))
        answers = await until_pong(prober, "p")
        assert answers == [f":{SRC} FAIL REDACT INVALID_TARGET #dev :You cannot delete messages from #dev"] * 201
        # Read markers for ever more targets: read_markers_max, then refused.
        await prober.send(*(f"MARKREAD #t{n} timestamp=2020-01-01T00:00:00.000Z" for n in range(8)))
        answers = await until_pong(prober, "m")
        assert answers[:5] == [f":{SRC} MARKREAD #t{n} timestamp=2020-01-01T00:00:00.000Z" for n in range(5)]
        assert answers[5:] == [
            f":{SRC} FAIL MARKREAD INTERNAL_ERROR #t{n} TOO_MANY_TARGETS "
            ":The read timestamp could not be set: at most 5 targets" for n in range(5, 8)]
        rtt = await b.stop()
        print(f"\nREDACT probing and MARKREAD: {rtt}")
        rtt.assert_served()
        assert [m.text for m in await srv.store.latest("#dev", 5)] == ["secret"]
        for c in (insider, prober):
            await c.close()
        await b.close()
