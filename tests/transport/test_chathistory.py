"""IRCv3 draft/chathistory over real sockets, answered from the history store.

The hub's clock is set by each test, so times (and the timestamp= references
that use them) are exact.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator

import pytest

from chinwag.core.events import Message
from chinwag.core.hub import Hub
from chinwag.storage.base import Receipt
from chinwag.storage.memory import MemoryStore
from chinwag.transport.server import Server
from tests.conftest import IrcClient, irc_command, make_config

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20.000Z
CAPS = ("batch", "server-time", "message-tags")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def hist() -> AsyncIterator[tuple[Server, Clock, list[IrcClient]]]:
    clock = Clock()
    cfg = make_config()
    srv = Server(cfg, hub=Hub(cfg.limits, clock=clock))
    await srv.start()
    clients: list[IrcClient] = []
    yield srv, clock, clients
    for c in clients:
        await c.close()
    await srv.shutdown()


async def join(srv: Server, clients: list[IrcClient], nick: str, caps: tuple[str, ...] = CAPS,
               room: str | None = "#dev") -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    clients.append(c)
    await c.register(nick, caps)
    if room:
        await c.send(f"JOIN {room}")
        await c.expect_cmd("366")
    return c


async def say(c: IrcClient, clock: Clock, at: float, target: str, text: str) -> None:
    """Send at hub time T0 + ``at`` and wait until the server has handled it."""
    clock.now = T0 + at
    await c.send(f"PRIVMSG {target} :{text}", f"PING :{text}")
    await c.expect_cmd("PONG")


def stamp(at: float) -> str:
    """The time tag of hub time T0 + ``at``."""
    ms = round(at * 1000)
    return f"2023-11-14T22:13:{20 + ms // 1000:02d}.{ms % 1000:03d}Z"


async def batch(c: IrcClient, request: str) -> tuple[str, list[str]]:
    """Send ``request``; return the BATCH + line and the lines inside, batch tags removed."""
    await c.send(request)
    opening = await c.expect_cmd("BATCH")
    ref = re.search(r"BATCH \+(\S+)", opening)
    assert ref, opening
    body = await c.lines_until_cmd("BATCH")
    assert body[-1] == f":chinwag BATCH -{ref.group(1)}"
    inner = []
    for line in body[:-1]:
        assert line.startswith(f"@batch={ref.group(1)}"), line
        inner.append(re.sub(r"^@batch=\S+?[; ]", "@", line).replace("@:", ":"))
    return opening.replace(ref.group(1), "ID"), inner


def texts(lines: list[str]) -> list[str]:
    return [line.rsplit(" :", 1)[1] for line in lines]


def msgid(line: str) -> str:
    m = re.search(r"msgid=([0-9a-f]{16})", line)
    assert m, line
    return m.group(1)


async def test_latest_in_a_batch_with_time_and_msgid(hist: tuple[Server, Clock, list[IrcClient]]) -> None:
    srv, clock, clients = hist
    alice = await join(srv, clients, "alice")
    bob = await join(srv, clients, "bob", caps=())
    for i, who in enumerate((alice, bob, alice)):
        await say(who, clock, i + 1, "#dev", f"m{i + 1}")
    opening, lines = await batch(alice, "CHATHISTORY LATEST #dev * 2")
    assert opening == ":chinwag BATCH +ID chathistory #dev"
    assert len(lines) == 2
    assert re.fullmatch(rf"@time={re.escape(stamp(2))};msgid=[0-9a-f]{{16}} :bob!~bob@chinwag PRIVMSG #dev :m2",
                        lines[0]), lines[0]
    # her own messages too, although she did not ask for echo-message
    assert lines[1] == f"@time={stamp(3)};msgid={msgid(lines[1])} :alice!~alice@chinwag PRIVMSG #dev :m3"
    opening, lines = await batch(alice, "chathistory latest #DEV * 10")  # case-insensitive, all of it
    assert opening == ":chinwag BATCH +ID chathistory #DEV"
    assert texts(lines) == ["m1", "m2", "m3"]
    _, empty = await batch(alice, "CHATHISTORY LATEST #dev msgid=" + msgid(lines[2]) + " 10")
    assert empty == []
    _, newer = await batch(alice, "CHATHISTORY LATEST #dev msgid=" + msgid(lines[0]) + " 10")
    assert texts(newer) == ["m2", "m3"]
    _, newer = await batch(alice, f"CHATHISTORY LATEST #dev timestamp={stamp(2)} 10")
    assert texts(newer) == ["m3"]


async def test_before_after_around_between(hist: tuple[Server, Clock, list[IrcClient]]) -> None:
    srv, clock, clients = hist
    alice = await join(srv, clients, "alice")
    for i in range(1, 8):
        await say(alice, clock, i, "#dev", f"m{i}")
    _, all_ = await batch(alice, "CHATHISTORY LATEST #dev * 50")
    ids = {text: msgid(line) for text, line in zip(texts(all_), all_, strict=True)}

    async def ask(request: str) -> list[str]:
        return texts((await batch(alice, request))[1])

    assert await ask(f"CHATHISTORY BEFORE #dev msgid={ids['m5']} 2") == ["m3", "m4"]
    assert await ask(f"CHATHISTORY BEFORE #dev timestamp={stamp(5)} 2") == ["m3", "m4"]
    assert await ask(f"CHATHISTORY AFTER #dev msgid={ids['m5']} 5") == ["m6", "m7"]
    assert await ask(f"CHATHISTORY AFTER #dev timestamp={stamp(5)} 1") == ["m6"]
    assert await ask(f"CHATHISTORY AFTER #dev timestamp={stamp(4.5)} 1") == ["m5"]
    assert await ask(f"CHATHISTORY AROUND #dev msgid={ids['m4']} 3") == ["m3", "m4", "m5"]
    assert await ask(f"CHATHISTORY AROUND #dev timestamp={stamp(4)} 3") == ["m3", "m4", "m5"]
    # BETWEEN excludes both ends and counts from the first: forwards or backwards
    assert await ask(f"CHATHISTORY BETWEEN #dev msgid={ids['m2']} msgid={ids['m6']} 2") == ["m3", "m4"]
    assert await ask(f"CHATHISTORY BETWEEN #dev msgid={ids['m6']} msgid={ids['m2']} 2") == ["m4", "m5"]
    assert await ask(f"CHATHISTORY BETWEEN #dev timestamp={stamp(2)} timestamp={stamp(6)} 10") == [
        "m3", "m4", "m5"]
    assert await ask(f"CHATHISTORY BETWEEN #dev timestamp={stamp(6)} msgid={ids['m2']} 2") == ["m4", "m5"]
    assert await ask(f"CHATHISTORY BETWEEN #dev msgid={ids['m2']} timestamp={stamp(3)} 10") == []


async def test_private_history_only_between_the_two(hist: tuple[Server, Clock, list[IrcClient]]) -> None:
    srv, clock, clients = hist
    alice = await join(srv, clients, "alice", room=None)
    bob = await join(srv, clients, "bob", room=None)
    carol = await join(srv, clients, "carol", room=None)
    await say(alice, clock, 1, "bob", "hi bob")
    await say(bob, clock, 2, "alice", "hi alice")
    await say(carol, clock, 3, "bob", "psst")
    opening, lines = await batch(alice, "CHATHISTORY LATEST Bob * 10")
    assert opening == ":chinwag BATCH +ID chathistory Bob"
    assert [line.split(" ", 1)[1] for line in lines] == [
        ":alice!~alice@chinwag PRIVMSG bob :hi bob", ":bob!~bob@chinwag PRIVMSG alice :hi alice"]
    _, lines = await batch(carol, "CHATHISTORY LATEST alice * 10")  # carol's own talk with alice: none
    assert lines == []
    _, lines = await batch(bob, "CHATHISTORY LATEST carol * 10")
    assert texts(lines) == ["psst"]


async def test_rooms_only_for_their_members(hist: tuple[Server, Clock, list[IrcClient]]) -> None:
    srv, clock, clients = hist
    alice = await join(srv, clients, "alice")
    await say(alice, clock, 1, "#dev", "secret plans")
    mallory = await join(srv, clients, "mallory", room="#other")
    for target in ("#dev", "#nowhere", "*", "9bad"):
        await mallory.send(f"CHATHISTORY LATEST {target} * 10")
        assert await mallory.line() == (
            f":chinwag FAIL CHATHISTORY INVALID_TARGET LATEST {target} :Messages could not be retrieved")
    await alice.send("PART #dev")
    await alice.expect_cmd("PART")
    await alice.send("CHATHISTORY LATEST #dev * 10")
    assert await alice.line() == (
        ":chinwag FAIL CHATHISTORY INVALID_TARGET LATEST #dev :Messages could not be retrieved")


async def test_targets(hist: tuple[Server, Clock, list[IrcClient]]) -> None:
    srv, clock, clients = hist
    alice = await join(srv, clients, "alice")
    bob = await join(srv, clients, "Bob", room="#side")
    carol = await join(srv, clients, "carol", room="#secret")
    await say(alice, clock, 1, "#dev", "one")
    await say(bob, clock, 2, "alice", "two")
    await say(carol, clock, 3, "#secret", "not for alice")
    await say(alice, clock, 4, "#dev", "three")
    opening, lines = await batch(alice, f"CHATHISTORY TARGETS timestamp={stamp(0)} timestamp={stamp(9)} 10")
    assert opening == ":chinwag BATCH +ID draft/chathistory-targets"
    assert lines == [f":chinwag CHATHISTORY TARGETS Bob {stamp(2)}", f":chinwag CHATHISTORY TARGETS #dev {stamp(4)}"]
    _, lines = await batch(alice, f"CHATHISTORY TARGETS timestamp={stamp(9)} timestamp={stamp(0)} 1")
    assert lines == [f":chinwag CHATHISTORY TARGETS #dev {stamp(4)}"]
    _, lines = await batch(alice, f"CHATHISTORY TARGETS timestamp={stamp(2)} timestamp={stamp(4)} 10")
    assert lines == []  # both bounds excluded


async def test_malformed_requests_fail(hist: tuple[Server, Clock, list[IrcClient]]) -> None:
    srv, _, clients = hist
    alice = await join(srv, clients, "alice")
    await alice.send(
        "CHATHISTORY", "CHATHISTORY FETCH #dev * 5", "CHATHISTORY LATEST #dev *", "CHATHISTORY BETWEEN #dev * 5",
        "CHATHISTORY BEFORE #dev * 5", "CHATHISTORY BEFORE #dev msgid=xyz 5", "CHATHISTORY AFTER #dev timestamp=soon 5",
        "CHATHISTORY LATEST #dev * 0", "CHATHISTORY LATEST #dev * ten",
        "CHATHISTORY TARGETS msgid=0123456789abcdef timestamp=2023-01-01T00:00:00.000Z 5",
    )
    assert [await alice.line() for _ in range(10)] == [
        ":chinwag FAIL CHATHISTORY UNKNOWN_COMMAND * :Unknown command",
        ":chinwag FAIL CHATHISTORY UNKNOWN_COMMAND FETCH :Unknown command",
        ":chinwag FAIL CHATHISTORY NEED_MORE_PARAMS LATEST :Missing parameters",
        ":chinwag FAIL CHATHISTORY NEED_MORE_PARAMS BETWEEN :Missing parameters",
        ":chinwag FAIL CHATHISTORY INVALID_PARAMS BEFORE * :Invalid message reference",
        ":chinwag FAIL CHATHISTORY INVALID_PARAMS BEFORE msgid=xyz :Invalid message reference",
        ":chinwag FAIL CHATHISTORY INVALID_PARAMS AFTER timestamp=soon :Invalid message reference",
        ":chinwag FAIL CHATHISTORY INVALID_PARAMS LATEST 0 :Invalid limit",
        ":chinwag FAIL CHATHISTORY INVALID_PARAMS LATEST ten :Invalid limit",
        ":chinwag FAIL CHATHISTORY INVALID_PARAMS TARGETS msgid=0123456789abcdef :Invalid message reference",
    ]
    c = IrcClient(*await asyncio.open_connection("127.0.0.1", srv.port("irc")))
    clients.append(c)
    await c.send("CHATHISTORY LATEST #dev * 5")
    assert await c.line() == ":chinwag 451 * :you have not registered"


async def test_limit_is_capped_by_history_max(hist: tuple[Server, Clock, list[IrcClient]]) -> None:
    srv, clock, clients = hist
    alice = await join(srv, clients, "alice")
    for i in range(1, 5):
        await say(alice, clock, i, "#dev", f"m{i}")
    srv.config = dataclasses.replace(srv.config, history_max=2)
    _, lines = await batch(alice, "CHATHISTORY LATEST #dev * 100")
    assert texts(lines) == ["m3", "m4"]


async def test_without_batch_cap_plain_lines(hist: tuple[Server, Clock, list[IrcClient]]) -> None:
    srv, clock, clients = hist
    alice = await join(srv, clients, "alice", caps=())
    await say(alice, clock, 1, "#dev", "hello")
    await alice.send("CHATHISTORY LATEST #dev * 10", "PING :end")
    assert await alice.line() == ":alice!~alice@chinwag PRIVMSG #dev :hello"
    assert await alice.line() == ":chinwag PONG chinwag end"


async def test_labeled_chathistory(hist: tuple[Server, Clock, list[IrcClient]]) -> None:
    srv, clock, clients = hist
    alice = await join(srv, clients, "alice", caps=(*CAPS, "labeled-response"))
    await say(alice, clock, 1, "#dev", "hello")
    await alice.send("@label=h1 CHATHISTORY LATEST #dev * 10")
    outer = await alice.line()
    m = re.fullmatch(r"@label=h1 :chinwag BATCH \+(\S+) labeled-response", outer)
    assert m, outer
    lo = m.group(1)
    inner = await alice.line()
    m = re.fullmatch(rf"@batch={lo} :chinwag BATCH \+(\S+) chathistory #dev", inner)
    assert m, inner
    hi = m.group(1)
    line = await alice.line()
    assert re.fullmatch(rf"@batch={hi};time={re.escape(stamp(1))};msgid=[0-9a-f]{{16}} "
                        r":alice!~alice@chinwag PRIVMSG #dev :?hello", line), line
    assert await alice.line() == f"@batch={lo} :chinwag BATCH -{hi}"
    assert await alice.line() == f":chinwag BATCH -{lo}"
    await alice.send("@label=h2 CHATHISTORY LATEST #nowhere * 10", "@label=h3 CHATHISTORY NOPE")
    assert await alice.line() == (
        "@label=h2 :chinwag FAIL CHATHISTORY INVALID_TARGET LATEST #nowhere :Messages could not be retrieved")
    assert await alice.line() == "@label=h3 :chinwag FAIL CHATHISTORY UNKNOWN_COMMAND NOPE :Unknown command"


async def test_live_message_during_query_is_seen_once(hist: tuple[Server, Clock, list[IrcClient]]) -> None:
    srv, clock, clients = hist
    alice = await join(srv, clients, "alice")
    bob = await join(srv, clients, "bob")
    await bob.send("PRIVMSG #dev :first")
    await alice.expect_cmd("PRIVMSG")
    # bob speaks while alice's query is in flight: she sees "racing" once,
    # either live or in the batch, and everything in order.
    await alice.send("CHATHISTORY LATEST #dev * 10")
    await bob.send("PRIVMSG #dev :racing", "PRIVMSG #dev :after")
    seen = await alice.lines_until_cmd("PRIVMSG")
    while "after" not in seen[-1]:
        seen += await alice.lines_until_cmd("PRIVMSG")
    said = [line.rsplit(" :", 1)[1] for line in seen if irc_command(line) == "PRIVMSG"]
    assert said.count("racing") == 1
    assert said[-1] == "after"


# --- local replies wait behind hub output held for the store --------------------------


class SlowStore(MemoryStore):
    """Commits only when the test says so (as SQLite commits a moment later)."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Receipt] = []

    def append(self, msg: Message) -> None:
        confirm, self.on_commit = self.on_commit, self.pending.extend
        try:
            super().append(msg)
        finally:
            self.on_commit = confirm

    def release(self) -> None:
        receipts, self.pending = self.pending, []
        if receipts and self.on_commit is not None:
            self.on_commit(receipts)

    async def flush(self) -> None:
        self.release()


async def test_pong_does_not_overtake_a_message_waiting_for_the_store() -> None:
    store = SlowStore()
    srv = Server(make_config(), store=store)
    await srv.start()
    clients: list[IrcClient] = []
    try:
        alice = await join(srv, clients, "alice", caps=("echo-message",))
        await alice.send("PRIVMSG #dev :first", "PING :after-first")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while len(srv._held) < 2:  # the message, then the PONG behind it
            assert loop.time() < deadline, "the server never held the message and the PONG"
            await asyncio.sleep(0.01)
        store.release()
        assert await alice.line() == ":alice!~alice@chinwag PRIVMSG #dev :first"
        assert await alice.line() == ":chinwag PONG chinwag after-first"
        await alice.send("QUIT :bye")  # a goodbye is never held back (the connection closes)
        assert (await alice.closed())[-1] == "ERROR :Closing Link: alice (Quit: bye)"
    finally:
        for c in clients:
            await c.close()
        await srv.shutdown()
