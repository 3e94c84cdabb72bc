"""Hostile IRC input against the classics of issue 12, over real sockets.

Each test keeps a bystander pinging and asserts it stayed served. On the code
before this change each failed: WHOWAS was an unknown command (421) and nothing
remembered nicks, and client-only tags of any size were silently dropped (no
417), TAGMSG ignored.
"""

from __future__ import annotations

from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving
from tests.hostile.test_masks import repeat


async def test_nick_churn_fills_whowas_only_up_to_whowas_max() -> None:
    async with serving(whowas_max=50) as srv:
        b = await Bystander.join(srv.port("irc"))
        evil = await irc_client(srv, "evil")
        b.start()
        n = 0

        async def attack() -> None:  # 20 nick changes per round: each gives a nick up
            nonlocal n
            for _ in range(20):
                n += 1
                old = "evil" if n == 1 else f"e{n - 1}"
                await evil.send(f"NICK e{n}")
                assert await evil.line() == f":{old}!~evil@chinwag NICK e{n}"  # the username stays

        rounds = await repeat(b, attack)
        rtt = await b.stop()
        print(rtt)
        rtt.assert_served()
        assert n == rounds * 20 and n > 50
        assert len(srv.hub.whowas.entries) == 50  # never more, however many nicks went
        await evil.send("WHOWAS evil", f"WHOWAS e{n - 1}")
        assert await evil.line() == f":chinwag 406 e{n} evil :There was no such nickname"  # forgotten
        assert await evil.line() == f":chinwag 369 e{n} evil :End of WHOWAS"
        assert await evil.line() == f":chinwag 314 e{n} e{n - 1} ~evil chinwag * :evil real"
        for c in (evil, b):
            await c.close()


async def test_oversized_client_tags_get_417_and_reach_nobody() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        victim = await irc_client(srv, "victim")
        await victim.send("CAP REQ :message-tags")
        await victim.expect_cmd("CAP")
        evil = await irc_client(srv, "evil")
        await evil.send("CAP REQ :message-tags")
        await evil.expect_cmd("CAP")
        big = "x" * 4100  # over limits.client_tags (4094), under the line's 8191 for all tags
        b.start()

        async def attack() -> None:
            await evil.send(f"@+draft/reply={big} PRIVMSG victim :hi", f"@+typing={big} TAGMSG victim")
            assert await evil.line() == ":chinwag 417 evil :input line was too long"
            assert await evil.line() == ":chinwag 417 evil :input line was too long"

        await repeat(b, attack)
        rtt = await b.stop()
        print(rtt)
        rtt.assert_served()
        await evil.send("PRIVMSG victim :small")  # the first line victim gets is this one
        got = await victim.line()
        assert got.endswith(" :evil!~evil@chinwag PRIVMSG victim :small") and "+" not in got.split(" ")[0], got
        for c in (victim, evil, b):
            await c.close()
