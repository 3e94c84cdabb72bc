"""What outlives a room, and whose private history it is (issue 10, items 7 and 8).

Item 7: a room's rules (+i, +k, bans, topic...) are kept with its history, so
whoever re-creates an emptied room obeys them and cannot read what was said.
Item 8: without accounts, private history is served only to the session that
took part in it: a new holder of a nick sees nothing from before it took it.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pytest

from tests.conftest import IrcClient, LineClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import serving
from tests.test_cli import start

CAPS = ("batch", "server-time", "message-tags", "echo-message")
FAIL_VAULT = ":chinwag FAIL CHATHISTORY INVALID_TARGET LATEST #vault :Messages could not be retrieved"
INVITE_ONLY = ":chinwag 473 {} #vault :cannot join room (+i): invitation only"
ALL_TIME = "timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z"


async def irc(port: int, nick: str, caps: tuple[str, ...] = CAPS) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    c = IrcClient(r, w)
    await c.register(nick, caps)
    return c


async def until_pong(c: IrcClient, *lines: str) -> list[str]:
    """Send ``lines`` and a PING; return every line up to the PONG, tags removed."""
    await c.send(*lines, "PING :sync")
    return [re.sub(r"^@\S+ ", "", line) for line in (await c.lines_until_cmd("PONG"))[:-1]]


async def batch(c: IrcClient, request: str) -> list[str]:
    """The lines inside the batch answering ``request`` (source and command on), tags removed."""
    lines = await until_pong(c, request)
    assert lines[0].startswith(":chinwag BATCH +") and lines[-1].startswith(":chinwag BATCH -"), lines
    return lines[1:-1]


def texts(lines: list[str]) -> list[str]:
    return [line.rsplit(" :", 1)[1] for line in lines]


async def owner_fills_the_vault(port: int) -> IrcClient:
    owner = await irc(port, "owner")
    await until_pong(owner, "JOIN #vault", "MODE #vault +ik s3cret", "TOPIC #vault :the plans",
                     "PRIVMSG #vault :launch code 0000")
    return owner


async def irc_stranger_is_kept_out(irc_port: int) -> None:
    """An IRC user tries every way into #vault and its history."""
    mallory = await irc(irc_port, "mallory")
    assert await until_pong(mallory, "JOIN #vault", "JOIN #vault guess", "CHATHISTORY LATEST #vault * 10",
                            "TOPIC #vault", "MODE #vault") == [
        INVITE_ONLY.format("mallory"), INVITE_ONLY.format("mallory"), FAIL_VAULT,
        ":chinwag 403 mallory #vault :no such room", ":chinwag 403 mallory #vault :no such room"]
    await mallory.close()


async def text_stranger_is_kept_out(text_port: int) -> None:
    """A text user joins #vault: refused, and no history on join."""
    r, w = await asyncio.open_connection("127.0.0.1", text_port)
    eve = LineClient(r, w)
    await eve.expect("What is your name?")
    await eve.send("eve")
    await eve.expect("* in #lobby")
    start = len(eve.seen)
    await eve.send("/join #vault")
    assert await eve.expect("error") == "error: cannot join room (+i): invitation only: #vault"
    await eve.send("/who")
    assert await eve.expect("* in ") == "* in #lobby: eve (1)"  # still where she was
    assert not any("vault" in line or "launch code" in line for line in eve.seen[start + 1 :]), eve.seen
    await eve.close()


async def owner_comes_back(port: int) -> None:
    owner = await irc(port, "owner")
    lines = await until_pong(owner, "JOIN #vault s3cret", "MODE #vault")
    assert ":chinwag 332 owner #vault :the plans" in lines
    assert ":chinwag 324 owner #vault +intk s3cret" in lines
    assert ":chinwag 353 owner = #vault @owner" in lines  # the first one back is its operator
    assert texts(await batch(owner, "CHATHISTORY LATEST #vault * 10")) == ["launch code 0000"]
    await owner.close()


@pytest.mark.parametrize("protocol", ["irc", "text"])
async def test_vault_rules_outlive_the_owner(protocol: str) -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        owner = await owner_fills_the_vault(srv.port("irc"))
        await until_pong(owner, "PART #vault :bye")
        assert "#vault" not in srv.hub.rooms  # emptied: the room itself is gone
        if protocol == "irc":
            await irc_stranger_is_kept_out(srv.port("irc"))
        else:
            await text_stranger_is_kept_out(srv.port("text"))
        await owner.close()
        await owner_comes_back(srv.port("irc"))
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()


async def irc_port_of(proc: asyncio.subprocess.Process) -> int:
    """After tests.test_cli.start(): the IRC listener's port, from the log line after the text one."""
    assert proc.stderr is not None
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), 10)
        assert line, "server exited before listening on IRC"
        if m := re.search(rb"irc listener on [\d.]+:(\d+)", line):
            return int(m.group(1))


async def test_vault_rules_survive_kill_9_and_restart_with_sqlite(tmp_path: Path) -> None:
    db = str(tmp_path / "chinwag.db")
    proc, text_port = await start("--text-port", "0", "--db", db)
    irc_port = await irc_port_of(proc)
    b = await Bystander.join(irc_port)
    b.start()
    owner = await owner_fills_the_vault(irc_port)  # (its echo came back: the message is stored)
    rtt = await b.stop()
    proc.kill()  # the owner never left: the rules were kept while the room was live
    assert await proc.wait() == -signal.SIGKILL
    await owner.close()
    await b.close()
    rtt.assert_served()
    proc, text_port = await start("--text-port", "0", "--db", db)
    try:
        irc_port = await irc_port_of(proc)
        b = await Bystander.join(irc_port)
        b.start()
        await irc_stranger_is_kept_out(irc_port)
        await text_stranger_is_kept_out(text_port)
        await owner_comes_back(irc_port)
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0


@pytest.mark.parametrize("how", ["register", "nick change"])
async def test_a_new_holder_of_a_nick_gets_none_of_its_private_history(how: str) -> None:
    async with serving() as srv:
        port = srv.port("irc")
        b = await Bystander.join(port)
        b.start()
        alice, bob = await irc(port, "alice"), await irc(port, "bob")
        await alice.send("PRIVMSG bob :are you free at 5?")
        await bob.expect("are you free")
        await bob.send("PRIVMSG alice :yes, the usual place")
        await alice.expect("the usual place")
        await bob.send("QUIT :bye")
        await bob.closed()
        await bob.close()
        if how == "register":
            mallory = await irc(port, "bob")
        else:
            mallory = await irc(port, "mallory")
            assert (await until_pong(mallory, "NICK bob"))[-1] == ":mallory!~mallory@chinwag NICK bob"
        assert await batch(mallory, "CHATHISTORY LATEST alice * 10") == []
        assert await batch(mallory, "CHATHISTORY BEFORE alice timestamp=2100-01-01T00:00:00.000Z 10") == []
        assert await batch(mallory, "CHATHISTORY AFTER alice timestamp=2000-01-01T00:00:00.000Z 10") == []
        assert await batch(mallory, f"CHATHISTORY BETWEEN alice {ALL_TIME} 10") == []
        assert await batch(mallory, f"CHATHISTORY TARGETS {ALL_TIME} 10") == []
        # alice took part: she still reads all of it
        assert texts(await batch(alice, "CHATHISTORY LATEST bob * 10")) == [
            "are you free at 5?", "yes, the usual place"]
        assert [line.split(" ")[3] for line in await batch(alice, f"CHATHISTORY TARGETS {ALL_TIME} 10")] == ["bob"]
        # what the new bob takes part in, it can read
        await until_pong(mallory, "PRIVMSG alice :hi, who is this?")  # (with its echo)
        await alice.expect("who is this")
        assert texts(await batch(mallory, "CHATHISTORY LATEST alice * 10")) == ["hi, who is this?"]
        assert texts(await batch(mallory, f"CHATHISTORY AFTER alice {ALL_TIME.split()[0]} 10")) == [
            "hi, who is this?"]
        assert [line.split(" ")[3] for line in await batch(mallory, f"CHATHISTORY TARGETS {ALL_TIME} 10")] == [
            "alice"]
        rtt = await b.stop()
        rtt.assert_served()
        for c in (alice, mallory, b.client):
            await c.close()


async def test_rules_are_kept_for_at_most_max_room_rules_rooms() -> None:
    # Kept rules live in memory (Hub.saved) beyond their rooms' members: without
    # a cap, anyone could fill it with topics and ban lists of rooms they left.
    async with serving(max_room_rules=3) as srv:  # #lobby's (registered by the server) and two more
        port = srv.port("irc")
        b = await Bystander.join(port)
        b.start()
        filler = await irc(port, "filler")
        assert await until_pong(filler, "JOIN #r1,#r2,#r3", "TOPIC #r1 :one", "MODE #r2 +b x!*@*",
                                "MODE #r3 +o filler") != []
        full = ":chinwag 400 filler #r3 :the server keeps no more room rules (modes, key, bans, topic); try later"
        assert await until_pong(filler, "MODE #r3 +ik k", "TOPIC #r3 :three", "PART #r1,#r2,#r3") == [
            full, full, ":filler!~filler@chinwag PART #r1", ":filler!~filler@chinwag PART #r2",
            ":filler!~filler@chinwag PART #r3"]
        assert sorted(srv.hub.saved) == ["#lobby", "#r1", "#r2"]  # still kept after everyone left
        owner = await irc(port, "owner")
        assert await until_pong(owner, "JOIN #r1", "TOPIC #r1 :mine now") != []  # a kept room may change
        assert srv.hub.saved["#r1"].topic == "mine now"
        await until_pong(owner, "TOPIC #r1 :")  # no topic: its rules are a fresh room's, not kept any more
        assert await until_pong(owner, "JOIN #r4", "MODE #r4 +i") == [
            ":owner!~owner@chinwag JOIN #r4", ":chinwag 353 owner = #r4 @owner",
            ":chinwag 366 owner #r4 :End of /NAMES list", ":owner!~owner@chinwag MODE #r4 +i"]
        rtt = await b.stop()
        rtt.assert_served()
        for c in (filler, owner, b.client):
            await c.close()
