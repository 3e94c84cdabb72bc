"""Nick protection over real sockets: a registered nick belongs to its account.

Whoever takes it without logging in is told, and renamed to a guest nick when
the grace period (``nick_grace``) ends, with one NICK seen by everyone sharing a
room; logging in within it keeps the nick; logging in to the account while
someone else holds the nick takes it back at once. Grace periods here are a
second (waiting on the NICK line, never sleeping) or driven by an injected clock.
"""

from __future__ import annotations

from chinwag.config import Config
from chinwag.core.auth import Auth
from chinwag.core.hub import Hub
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving_config, text_client

PASSWORD = "correct-horse-battery"
SRC = "chinwag"
NICKSERV = ":NickServ!NickServ@services"
FAST_HASH = {"argon2_memory_kib": 8, "argon2_time_cost": 1}  # (hashing is not what is tested here)


def config(**limits: int) -> Config:
    return make_config(**{**FAST_HASH, **limits})


async def owner_registers_and_leaves(srv: Server, name: str) -> None:
    c = await text_client(srv, name)
    await c.send(f"/register {PASSWORD}")
    assert await c.expect("* account") == f"* account {name} registered; you are now logged in as {name}"
    await c.send("/quit")
    await c.closed()
    await c.close()


async def sync(c: IrcClient, token: str) -> list[str]:
    """Every line ``c`` gets before the PONG to a PING sent now (all the server sent it so far)."""
    await c.send(f"PING :{token}")
    lines = await c.lines_until_cmd("PONG")
    assert lines[-1] == f":{SRC} PONG {SRC} {token}"
    return lines[:-1]


async def test_irc_taker_is_warned_then_renamed_after_the_grace_period_seen_by_its_room() -> None:
    # The grace period ends when the test says (an injected clock, then the
    # timer's call): on a loaded machine a real second could end it before the
    # taker's JOIN, and the room would see Guest1 join instead of the rename.
    # (The text test below waits for the real timer: its lines keep their order.)
    cfg = config(nick_grace=1)
    srv, clock = await clocked_server(cfg)
    try:
        await owner_registers_and_leaves(srv, "alice")
        carol = await irc_client(srv, "carol")
        await carol.send("JOIN #lobby")
        await carol.expect_cmd("366")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        taker = await irc_client(srv, "alice")
        assert f"{NICKSERV} NOTICE alice :This nickname is registered. Log in within 1 seconds or you will be " \
               "renamed (/msg NickServ IDENTIFY alice <password>)" in taker.seen
        await taker.send("JOIN #lobby")
        await taker.expect_cmd("366")
        assert await carol.expect_cmd("JOIN") == ":alice!~alice@chinwag JOIN #lobby"
        clock.now += 1  # the grace period is over ...
        srv.nick_guard.expire()  # ... and the timer fires
        assert await taker.expect_cmd("NICK") == ":alice!~alice@chinwag NICK Guest1"
        assert await carol.line() == ":alice!~alice@chinwag NICK Guest1"
        await taker.send("PRIVMSG #lobby :still here")
        assert await carol.line() == ":Guest1!~alice@chinwag PRIVMSG #lobby :still here"
        assert await sync(carol, "after") == []  # one NICK, nothing else
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        await taker.close()
        await carol.close()
    finally:
        await srv.shutdown()


async def test_text_taker_is_warned_then_renamed_after_the_grace_period_seen_by_its_room() -> None:
    async with serving_config(config(nick_grace=1)) as srv:
        await owner_registers_and_leaves(srv, "alice")
        bob = await text_client(srv, "bob")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        taker = await text_client(srv, "alice")
        assert "* the name alice is registered: log in within 1 seconds (/login alice PASSWORD) or you will be" \
               " renamed" in taker.seen
        assert await bob.expect("has joined") == "* alice has joined #lobby"
        assert await taker.expect("known as") == "* you are now known as Guest1"
        assert await bob.line() == "* alice is now known as Guest1"
        await taker.send("/nick alice")  # back to it: warned again, the same grace period
        assert await taker.line() == "* you are now known as alice"
        assert await taker.line() == ("* the name alice is registered: log in within 1 seconds (/login alice"
                                      " PASSWORD) or you will be renamed")
        assert await taker.line() == "* you are now known as Guest2"
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        await taker.close()
        await bob.close()


async def test_with_no_grace_the_taker_is_renamed_at_once() -> None:
    async with serving_config(config(nick_grace=0)) as srv:
        await owner_registers_and_leaves(srv, "alice")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        taker = await irc_client(srv, "alice")
        notice = (f"{NICKSERV} NOTICE alice :This nickname is registered. Log in to use it"
                  " (/msg NickServ IDENTIFY alice <password>); you are being renamed")
        i = taker.seen.index(notice)  # right after the welcome (001-005), before LUSERS and the MOTD
        assert [line.split(" ")[1] for line in taker.seen[:i]] == ["001", "002", "003", "004", "005", "005"]
        assert taker.seen[i + 1] == ":alice!~alice@chinwag NICK Guest1"
        assert taker.seen[-1] == f":{SRC} 422 Guest1 :MOTD File is missing"
        text = await text_client(srv)
        await text.send("alice")
        assert await text.expect("registered") == ("* the name alice is registered: log in to use it"
                                                   " (/login alice PASSWORD); renaming you")
        assert await text.line() == "* you are now known as Guest2"
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        await taker.close()
        await text.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def clocked_server(cfg: Config) -> tuple[Server, Clock]:
    """A started server whose hub's clock the test sets."""
    clock = Clock()
    hub = Hub(cfg.limits, clock=clock, auth=Auth(cfg.password, dict(cfg.operators)), server_name=cfg.server_name)
    srv = Server(cfg, hub=hub)
    await srv.start()
    return srv, clock


async def test_logging_in_within_the_grace_period_keeps_the_nick() -> None:
    cfg = config(nick_grace=30)
    srv, clock = await clocked_server(cfg)
    try:
        await owner_registers_and_leaves(srv, "alice")
        await owner_registers_and_leaves(srv, "bob")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        alice = await text_client(srv, "alice")
        assert "* the name alice is registered: log in within 30 seconds (/login alice PASSWORD) or you will be" \
               " renamed" in alice.seen
        not_bob = await irc_client(srv, "bob")  # the control: never logs in
        assert f"{NICKSERV} NOTICE bob :This nickname is registered. Log in within 30 seconds or you will be " \
               "renamed (/msg NickServ IDENTIFY bob <password>)" in not_bob.seen
        clock.now += 29
        await alice.send(f"/login alice {PASSWORD}")
        assert await alice.expect("* you are now") == "* you are now logged in as alice"
        clock.now += 60  # both grace periods are over...
        srv.nick_guard.expire()  # ... and the timer fires
        assert await not_bob.expect_cmd("NICK") == ":bob!~bob@chinwag NICK Guest1"
        await alice.send("/who")
        lines = await alice.lines_until("* in #lobby:")
        assert lines[-1] == "* in #lobby: alice (logged in) (1)"
        assert not any("known as" in line for line in lines)
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        await alice.close()
        await not_bob.close()
    finally:
        await srv.shutdown()


async def test_logging_in_while_someone_else_holds_the_nick_takes_it_back_at_once() -> None:
    async with serving_config(config(nick_grace=60)) as srv:
        await owner_registers_and_leaves(srv, "alice")
        carol = await irc_client(srv, "carol")
        await carol.send("JOIN #lobby")
        await carol.expect_cmd("366")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        taker = await irc_client(srv, "alice")
        await taker.send("JOIN #lobby")
        await taker.expect_cmd("366")
        owner = await irc_client(srv, "al")
        await owner.send("JOIN #lobby")
        await owner.expect_cmd("366")
        await owner.send(f"PRIVMSG NickServ :IDENTIFY alice {PASSWORD}")
        assert await owner.expect_cmd("900") == f":{SRC} 900 al al!~al@chinwag alice :You are now logged in as alice"
        assert await owner.expect_cmd("NICK") == ":alice!~alice@chinwag NICK Guest1"
        assert await owner.expect_cmd("NICK") == ":al!~al@chinwag NICK alice"
        assert await taker.expect_cmd("NICK") == ":alice!~alice@chinwag NICK Guest1"
        assert await taker.expect_cmd("NICK") == ":al!~al@chinwag NICK alice"
        nicks = [line for line in await sync(carol, "s") if " NICK " in line]
        assert nicks == [":alice!~alice@chinwag NICK Guest1", ":al!~al@chinwag NICK alice"]
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        await taker.close()
        await owner.close()
        await carol.close()

