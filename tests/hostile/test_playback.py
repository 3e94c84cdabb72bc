"""Playback on join under abuse: a join/part storm in a room with full history.

Each join of an IRC client without draft/chathistory reads the room's last
N messages from the store (N: irc_history_on_join, or the user's own NickServ
SET PLAYBACK, at most playback_max) and writes them out; a client that joins
and parts in a loop makes the server do that again and again. Reads run in
the store's reader threads (SQLite) and the output goes through the usual
output budget, so a bystander stays served.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.conftest import make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_accounts import FAST, PASSWORD
from tests.hostile.test_hostile import irc_client, serving_config

ROUNDS = 100
A = "alice!~alice@chinwag"


async def test_a_join_part_storm_in_a_room_with_full_history_keeps_the_bystander_served(tmp_path: Path) -> None:
    # No flood pacing (the test limits): the storm arrives as fast as it can be read.
    cfg = dataclasses.replace(make_config(**FAST), db=str(tmp_path / "chinwag.db"), irc_history_on_join=20)
    async with serving_config(cfg) as srv:
        most = srv.config.limits.playback_max
        alice = await irc_client(srv, "alice")
        await alice.send("JOIN #big", *(f"PRIVMSG #big :line {i}" for i in range(2 * most)), "PING :filled")
        await alice.expect_cmd("PONG")
        mallory = await irc_client(srv, "mallory")
        await mallory.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        await mallory.expect_cmd("900")
        await mallory.expect_cmd("NOTICE")
        await mallory.send(f"PRIVMSG NickServ :SET PLAYBACK {most + 1}")
        assert (await mallory.expect_cmd("NOTICE")).endswith(
            f":SET PLAYBACK takes a number from 0 to {most}, off or default")
        await mallory.send(f"PRIVMSG NickServ :SET PLAYBACK {most}")
        assert (await mallory.expect_cmd("NOTICE")).endswith(
            f":PLAYBACK is now {most} messages: replayed when you join a room")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        storm = [line for _ in range(ROUNDS) for line in ("JOIN #big", "PART #big")]
        await mallory.send(*storm, "PING :storm")
        lines = await mallory.lines_until_cmd("PONG")
        rtt = await b.stop()
        print(rtt)
        rtt.assert_served()
        await b.close()
        marker = f":*** Replaying the last {most} messages of #big"
        replays = [i for i, line in enumerate(lines) if line.endswith(marker)]
        assert len(replays) == ROUNDS  # every join played back, none skipped, none merged
        first = lines[replays[0] + 1 : replays[0] + 1 + most]
        assert [line.rsplit(" :", 1)[0] for line in first] == [f":{A} PRIVMSG #big"] * most
        assert [line.rsplit("] ", 1)[1] for line in first] == [f"line {i}" for i in range(most, 2 * most)]
        assert sum(1 for line in lines if " PRIVMSG #big :" in line) == ROUNDS * most
        await alice.close()
        await mallory.close()
