"""History on join for IRC clients without draft/chathistory, over real sockets.

The hub's clock is set by each test, so the replayed times are exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from chinwag.core.hub import Hub
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.test_accounts import FAST, PASSWORD, registered
from tests.hostile.test_accounts_irc import irc_conn
from tests.transport.test_chathistory import batch

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20.000Z
A = "alice!~alice@chinwag"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


Join = Callable[..., Awaitable[IrcClient]]


@pytest.fixture
async def play() -> AsyncIterator[Callable[..., Awaitable[tuple[Server, Clock, Join]]]]:
    servers: list[Server] = []
    clients: list[IrcClient] = []

    async def start(**config: object) -> tuple[Server, Clock, Join]:
        clock = Clock()
        cfg = dataclasses.replace(make_config(), **{"irc_history_on_join": 20, **config})  # type: ignore[arg-type]
        srv = Server(cfg, hub=Hub(cfg.limits, clock=clock))
        await srv.start()
        servers.append(srv)

        async def connect(nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
            r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
            c = IrcClient(r, w)
            clients.append(c)
            await c.register(nick, caps)
            return c

        return srv, clock, connect

    yield start
    for c in clients:
        await c.close()
    for s in servers:
        await s.shutdown()


async def chat(alice: IrcClient, clock: Clock) -> None:
    """alice says three things in #dev at T0+1, +2 and +3 s."""
    await alice.send("JOIN #dev")
    await alice.expect_cmd("366")
    for at, text in ((1, "hello"), (2, "\x01ACTION waves\x01"), (3, "!seen bob")):
        clock.now = T0 + at
        await alice.send(f"PRIVMSG #dev :{text}", "PING :x")
        await alice.expect_cmd("PONG")


def hhmm(at: float) -> str:
    """How a replayed line's time shows without server-time (server local time; not today)."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(T0 + at))


async def after_names(c: IrcClient, room: str = "#dev") -> list[str]:
    """JOIN ``room``; the lines that follow its 366, up to the PONG of a PING sent after it."""
    await c.send(f"JOIN {room}")
    await c.expect_cmd("366")
    await c.send("PING :end")
    lines = await c.lines_until_cmd("PONG")
    return lines[:-1]


async def test_a_client_without_caps_gets_a_marked_and_stamped_playback_on_join(play: Callable[..., Awaitable[
        tuple[Server, Clock, Join]]]) -> None:
    _, clock, connect = await play()
    alice = await connect("alice")
    await chat(alice, clock)
    bob = await connect("bob")  # irssi, WeeChat, HexChat as they come, as far as history goes
    assert await after_names(bob) == [
        ":chinwag NOTICE #dev :*** Replaying the last 3 messages of #dev",
        f":{A} PRIVMSG #dev :[{hhmm(1)}] hello",
        f":{A} PRIVMSG #dev :\x01ACTION [{hhmm(2)}] waves\x01",
        f":{A} PRIVMSG #dev :[{hhmm(3)}] !seen bob",
        ":chinwag NOTICE #dev :*** End of replay",
    ]
    # Live traffic after the playback comes as usual, once.
    clock.now = T0 + 10
    await alice.send("PRIVMSG #dev :now")
    assert await bob.expect_cmd("PRIVMSG") == f":{A} PRIVMSG #dev :now"


async def test_with_server_time_the_lines_carry_their_time_instead_of_a_stamp(play: Callable[..., Awaitable[
        tuple[Server, Clock, Join]]]) -> None:
    _, clock, connect = await play()
    alice = await connect("alice")
    await chat(alice, clock)
    bob = await connect("bob", ("server-time",))  # irssi asks for server-time
    assert await after_names(bob) == [
        ":chinwag NOTICE #dev :*** Replaying the last 3 messages of #dev",
        f"@time=2023-11-14T22:13:21.000Z :{A} PRIVMSG #dev :hello",
        f"@time=2023-11-14T22:13:22.000Z :{A} PRIVMSG #dev :\x01ACTION waves\x01",
        f"@time=2023-11-14T22:13:23.000Z :{A} PRIVMSG #dev :!seen bob",
        ":chinwag NOTICE #dev :*** End of replay",
    ]


async def test_with_batch_the_playback_is_a_chathistory_batch(play: Callable[..., Awaitable[
        tuple[Server, Clock, Join]]]) -> None:
    _, clock, connect = await play(irc_history_on_join=2)
    alice = await connect("alice")
    await chat(alice, clock)
    bob = await connect("bob", ("batch", "server-time"))  # WeeChat's default caps include both
    lines = await after_names(bob)
    assert lines[0].startswith(":chinwag BATCH +")
    ref = lines[0].split(" ")[2][1:]
    assert lines == [
        f":chinwag BATCH +{ref} chathistory #dev",
        f"@batch={ref};time=2023-11-14T22:13:22.000Z :{A} PRIVMSG #dev :\x01ACTION waves\x01",
        f"@batch={ref};time=2023-11-14T22:13:23.000Z :{A} PRIVMSG #dev :!seen bob",
        f":chinwag BATCH -{ref}",
    ]


async def test_a_client_with_chathistory_gets_no_playback_unless_it_asks(play: Callable[..., Awaitable[
        tuple[Server, Clock, Join]]]) -> None:
    _, clock, connect = await play()
    alice = await connect("alice")
    await chat(alice, clock)
    bob = await connect("bob", ("draft/chathistory", "batch", "server-time"))
    assert await after_names(bob) == []
    carol = await connect("carol", ("batch", "server-time"))  # the same without draft/chathistory
    assert len(await after_names(carol)) == 5  # BATCH +, 3 lines, BATCH -
    await bob.send("CHATHISTORY LATEST #dev * 1")
    ref = (await bob.expect_cmd("BATCH")).split(" ")[2][1:]
    assert await bob.line() == f"@batch={ref};time=2023-11-14T22:13:23.000Z :{A} PRIVMSG #dev :!seen bob"


async def test_irc_history_on_join_zero_turns_it_off_and_an_empty_room_plays_nothing(play: Callable[
        ..., Awaitable[tuple[Server, Clock, Join]]]) -> None:
    _, clock, connect = await play(irc_history_on_join=0)
    alice = await connect("alice")
    await chat(alice, clock)
    bob = await connect("bob")
    assert await after_names(bob) == []
    _, _, connect2 = await play()
    carol = await connect2("carol")
    assert await after_names(carol, "#empty") == []


NS = ":NickServ!NickServ@services NOTICE"


@contextlib.asynccontextmanager
async def serving(db: str = ":memory:") -> AsyncIterator[Server]:
    """A server with fast password hashing and the default playback (20)."""
    srv = Server(dataclasses.replace(make_config(**FAST), db=db, irc_history_on_join=20))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


async def test_a_logged_in_user_sets_its_own_playback_kept_with_the_account(tmp_path: Path) -> None:
    async with serving(db=str(tmp_path / "chinwag.db")) as srv:
        alice = await irc_conn(srv)
        await alice.register("alice")
        await chat(alice, Clock())  # (the hub's own clock: stamps are checked by the tests above)
        guest = await irc_conn(srv)
        await guest.register("guest")
        await guest.send("PRIVMSG NickServ :SET PLAYBACK 5")
        assert await guest.expect_cmd("NOTICE") == (
            f"{NS} guest :You must be logged in to set PLAYBACK (it is kept with your account)")
        bob = await irc_conn(srv)
        await bob.register("bob", ("server-time",))
        await bob.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        await bob.expect_cmd("900")
        await bob.expect_cmd("NOTICE")  # registered
        await bob.send("PRIVMSG NickServ :SET PLAYBACK 1000")
        assert await bob.expect_cmd("NOTICE") == f"{NS} bob :SET PLAYBACK takes a number from 0 to 100, off or default"
        await bob.send("PRIVMSG NickServ :SET PLAYBACK 1")
        assert await bob.expect_cmd("NOTICE") == (
            f"{NS} bob :PLAYBACK is now 1 message: replayed when you join a room")
        lines = await after_names(bob)
        assert [re.sub(r"^@time=\S+ ", "", line) for line in lines] == [
            ":chinwag NOTICE #dev :*** Replaying the last message of #dev", f":{A} PRIVMSG #dev :!seen bob",
            ":chinwag NOTICE #dev :*** End of replay"]
        await bob.send("PRIVMSG NickServ :SET PLAYBACK off", "PART #dev")
        assert await bob.expect_cmd("NOTICE") == f"{NS} bob :PLAYBACK is now off: replayed when you join a room"
        assert await after_names(bob) == []
        # Kept with the account: another connection that logs in to bob (once bob has gone,
        # so that it is not joined to bob's connection: multiclient) gets none either.
        await bob.send("QUIT")
        await bob.expect_cmd("ERROR")
        phone = await irc_conn(srv)
        await phone.register("bobphone")
        await phone.send(f"PRIVMSG NickServ :IDENTIFY bob {PASSWORD}")
        await phone.expect_cmd("900")
        await phone.expect_cmd("NOTICE")  # identified
        assert await after_names(phone) == []
        # Logged out: the server's default again (20, so all three).
        await phone.send("PRIVMSG NickServ :LOGOUT", "PART #dev")
        await phone.expect_cmd("901")
        assert len(await after_names(phone)) == 5
        for c in (alice, guest, bob, phone):
            await c.close()


async def test_replayed_messages_carry_the_account_tag_of_a_logged_in_sender(tmp_path: Path) -> None:
    async with serving(db=str(tmp_path / "chinwag.db")) as srv:
        alice = await irc_conn(srv)
        await alice.register("alice")
        await alice.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        await alice.expect_cmd("900")
        guest = await irc_conn(srv)
        await guest.register("guest")
        for c, text in ((alice, "signed"), (guest, "anonymous")):
            await c.send("JOIN #dev", f"PRIVMSG #dev :{text}", "PING :x")
            await c.expect_cmd("PONG")
        watcher = await irc_conn(srv)
        await watcher.register("watcher", ("account-tag",))
        assert [line.rsplit(" :", 1)[0] for line in (await after_names(watcher))[1:3]] == [
            "@account=alice :alice!~alice@chinwag PRIVMSG #dev", ":guest!~guest@chinwag PRIVMSG #dev"]
        # and through CHATHISTORY (read from SQLite)
        reader = await irc_conn(srv)
        await reader.register("reader", ("account-tag", "batch", "draft/chathistory"))
        await reader.send("JOIN #dev")
        await reader.expect_cmd("366")
        _, found = await batch(reader, "CHATHISTORY LATEST #dev * 10")
        assert [line.rsplit(" :", 1)[0] for line in found] == [
            "@account=alice :alice!~alice@chinwag PRIVMSG #dev", ":guest!~guest@chinwag PRIVMSG #dev"]
        for c in (alice, guest, watcher, reader):
            await c.close()


async def test_a_text_user_sets_its_history_on_join_with_playback(tmp_path: Path) -> None:
    async with serving() as srv:
        alice = await irc_conn(srv)
        await alice.register("alice")
        await chat(alice, Clock())
        tess = await registered(srv, "tess")
        await tess.send("/playback 1", "/join #dev")
        assert await tess.expect("history on join") == "* history on join is now 1 message"
        lines = await tess.lines_until("--- end of history ---")
        assert [line for line in lines if line.startswith("[")][-1].endswith("] alice: !seen bob")
        assert len([line for line in lines if line.startswith("[")]) == 1
        await alice.close()
        await tess.close()
