"""Fan-out per room per tick (transport/fanout.py), over real sockets.

A tick's messages to one room are rendered once per wire-format variant into
one buffer that every member's connection shares; these tests pin what that
must keep: whole lines, in order, the sender's own lines only where it asked
for them (echo-message), and the bystander served all along.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections import defaultdict
from collections.abc import Callable

import pytest

from chinwag.core.events import Event, Message
from chinwag.protocols.irc.adapter import IrcProtocol
from chinwag.protocols.text import TextProtocol
from chinwag.transport import fanout
from chinwag.transport.connection import Connection
from chinwag.transport.server import Server
from tests.conftest import IrcClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving, text_client

STAMP = re.compile(r"^\[\d\d:\d\d\] ")


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (bounded) for a condition of the server's state to hold."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.002)

    await asyncio.wait_for(poll(), timeout)


async def irc_member(srv: Server, nick: str, room: str = "#lobby", caps: tuple[str, ...] = ()) -> IrcClient:
    if caps:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        c = IrcClient(r, w)
        await c.register(nick, caps)
    else:
        c = await irc_client(srv, nick)
    await c.send(f"JOIN {room}")
    await c.expect_cmd("366")
    return c


def said(lines: list[str]) -> list[str]:
    """What was said, of a text user's lines (stamps and notices like joins dropped)."""
    return [STAMP.sub("", line) for line in lines if not line.startswith("* ")]


def privmsgs(lines: list[str]) -> list[str]:
    """'nick: text' of each PRIVMSG among raw IRC lines (tags and host dropped)."""
    out = []
    for line in lines:
        words = line.split(" ")
        if words[0].startswith("@"):
            words.pop(0)
        if len(words) > 3 and words[1] == "PRIVMSG":
            out.append(f"{words[0][1:].split('!')[0]}: {' '.join(words[3:])[1:]}")
    return out


async def test_a_ticks_room_messages_reach_each_reader_in_one_buffer_rendered_once_per_variant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        alice = await text_client(srv, "alice")
        readers = [await text_client(srv, f"reader{i}") for i in range(8)]
        plain = await irc_member(srv, "plain")
        timed = await irc_member(srv, "timed", caps=("server-time",))
        renders: list[str] = []
        writes: dict[str, list[bytes]] = defaultdict(list)

        def counting(real: Callable[..., bytes]) -> Callable[..., bytes]:
            def render(self: TextProtocol | IrcProtocol, event: Event, cache: dict[object, bytes]) -> bytes:
                if type(event) is Message:
                    renders.append(str(self.nick))
                return real(self, event, cache)
            return render

        real_enqueue = Connection.enqueue

        def enqueue(self: Connection, data: bytes) -> None:
            if b"burst-" in data:
                writes[str(self.adapter.nick)].append(data)  # type: ignore[attr-defined]
            real_enqueue(self, data)

        real_shared = fanout.enqueue_shared

        def enqueue_shared(conns: list[Connection], data: bytes) -> None:  # (one buffer, many readers)
            for conn in conns:
                if b"burst-" in data:
                    writes[str(conn.adapter.nick)].append(data)
            real_shared(conns, data)

        monkeypatch.setattr(TextProtocol, "render", counting(TextProtocol.render))
        monkeypatch.setattr(IrcProtocol, "render", counting(IrcProtocol.render))
        monkeypatch.setattr(Connection, "enqueue", enqueue)
        monkeypatch.setattr(fanout, "enqueue_shared", enqueue_shared)
        await alice.send(*(f"burst-{n}" for n in range(1, 6)))  # one write: one tick's five messages
        expected = [f"alice: burst-{n}" for n in range(1, 6)]
        for reader in readers:
            lines = await reader.lines_until("alice: burst-5")
            assert [STAMP.sub("", line) for line in lines if "burst-" in line] == expected
        for client in (plain, timed):
            assert privmsgs(await client.lines_until("burst-5")) == expected
        assert all(line.startswith("@time=") for line in timed.seen[-5:])
        assert not any(line.startswith("@") for line in plain.seen[-5:])
        # Each reader got the five lines as one buffer, one enqueue: the same
        # object for every reader of a variant (text, IRC, IRC+server-time).
        for nick in [f"reader{i}" for i in range(8)] + ["plain", "timed"]:
            assert len(writes[nick]) == 1, (nick, writes[nick])
            assert writes[nick][0].count(b"burst-") == 5
        assert len({id(writes[f"reader{i}"][0]) for i in range(8)}) == 1
        # Rendered once per variant (3 variants x 5), not once per reader (10
        # readers x 5 messages), and not for alice at all: a text sender's own
        # lines render to nothing (silent_own), so fan-out does not ask.
        assert len(renders) <= 3 * 5, renders
        assert "alice" not in renders, renders
        assert "alice" not in writes  # the text sender's terminal already shows what it typed
        rtt = await b.stop()
        rtt.assert_served()
        for c in (alice, plain, timed, *readers):
            await c.close()
        await b.close()


async def test_one_batch_from_several_senders_echoes_only_to_who_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        alice = await irc_member(srv, "alice")  # no echo-message
        bob = await irc_member(srv, "bob", caps=("echo-message",))
        dave = await irc_member(srv, "dave", caps=("echo-message",))  # not a sender: the shared bytes
        carol = await text_client(srv, "carol")
        # Hold the tick's messages back from the store, so that the three go
        # out together: one batch from two senders.
        monkeypatch.setattr(srv, "store_pending", lambda: None)
        for n, (client, text) in enumerate(((alice, "one"), (bob, "two"), (alice, "three")), 1):
            await client.send(f"PRIVMSG #lobby :{text}")
            await until(lambda n=n: len(srv._unstored) == n)  # type: ignore[misc]
        monkeypatch.undo()
        srv.store_pending()
        everyone = ["alice: one", "bob: two", "alice: three"]
        assert [STAMP.sub("", line) for line in await carol.lines_until("alice: three")] == everyone
        assert privmsgs(await dave.lines_until("three")) == everyone
        assert privmsgs(await bob.lines_until("three")) == everyone  # its own "two" echoed, in place
        await alice.send("PING :after")
        assert privmsgs(await alice.lines_until_cmd("PONG")) == ["bob: two"]  # never its own lines
        rtt = await b.stop()
        rtt.assert_served()
        for c in (alice, bob, dave, carol):
            await c.close()
        await b.close()


async def test_two_rooms_lines_reach_a_member_of_both_in_commit_order() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        sender = await irc_member(srv, "sender")
        await sender.send("JOIN #other")
        await sender.expect_cmd("366")
        both = await irc_member(srv, "both")
        await both.send("JOIN #other")
        await both.expect_cmd("366")
        lobby = await irc_member(srv, "lobbyist")
        lines = [f"PRIVMSG {room} :{n}" for n, room in enumerate(["#lobby", "#other", "#other", "#lobby"] * 5)]
        await sender.send(*lines)  # one write: batches switch room four times per round
        got = await both.lines_until(" :19")
        expected = [f"{room} :{n}" for n, room in enumerate(["#lobby", "#other", "#other", "#lobby"] * 5)]
        assert [" ".join(line.split(" ")[2:]) for line in got if " PRIVMSG " in line] == expected
        mine = [line for line in await lobby.lines_until(" :19") if " PRIVMSG " in line]
        assert [" ".join(line.split(" ")[2:]) for line in mine] == [e for e in expected if e.startswith("#lobby")]
        rtt = await b.stop()
        rtt.assert_served()
        for c in (sender, both, lobby):
            await c.close()
        await b.close()


async def test_a_stalled_reader_is_cut_while_sharing_the_rooms_buffers() -> None:
    async with serving(sendq=64 * 1024, output_stall=1) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", srv.port("irc")))
        stalled.sendall(b"NICK sloth\r\nUSER sloth 0 * :s\r\nJOIN #lobby\r\n")
        talker = await text_client(srv, "talker")
        reader = await text_client(srv, "reader")
        while "sloth" not in reader.seen[-1]:  # sloth registered and joined first
            await reader.send("/who")
            await reader.expect("* in #lobby")
        payload = "q" * 400

        def gone() -> str | None:
            return next((s for s in reader.seen if "sloth has left" in s), None)

        for i in range(1000):  # ~4 MB towards a reader with a 4 KiB window, ten lines a tick
            await talker.send(*(f"{i}-{n} {payload}" for n in range(10)))
            await reader.expect(f"talker: {i}-9 ")  # the reader keeps up, and is never cut
            if gone():
                break
        line = gone() or await reader.expect("sloth has left")
        assert line.startswith("* sloth has left (output queue over 65536 bytes")
        assert not any("reader has left" in s for s in talker.seen)
        rtt = await b.stop()
        rtt.assert_served()
        for c in (talker, reader):
            await c.close()
        stalled.close()
        await b.close()


async def test_a_sender_gets_the_shared_buffer_around_its_own_lines_rendered_for_it_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        alice = await irc_member(srv, "alice")  # no echo-message
        bob = await irc_member(srv, "bob", caps=("echo-message",))
        carol = await text_client(srv, "carol")
        dave = await irc_member(srv, "dave")  # readers only
        erin = await text_client(srv, "erin")
        renders: list[str] = []
        writes: dict[str, list[bytes]] = defaultdict(list)

        def counting(real: Callable[..., bytes]) -> Callable[..., bytes]:
            def render(self: TextProtocol | IrcProtocol, event: Event, cache: dict[object, bytes]) -> bytes:
                if type(event) is Message:
                    renders.append(str(self.nick))
                return real(self, event, cache)
            return render

        real_enqueue = Connection.enqueue

        def enqueue(self: Connection, data: bytes) -> None:
            if b"one" in data or b"two" in data or b"three" in data or b"four" in data:
                writes[str(self.adapter.nick)].append(data)
            real_enqueue(self, data)

        real_shared = fanout.enqueue_shared

        def enqueue_shared(conns: list[Connection], data: bytes) -> None:  # (one buffer, many readers)
            for conn in conns:
                if b"one" in data or b"two" in data or b"three" in data or b"four" in data:
                    writes[str(conn.adapter.nick)].append(data)
            real_shared(conns, data)

        # One batch from three senders (two IRC, one text): the store holds the tick's messages back.
        monkeypatch.setattr(srv, "store_pending", lambda: None)
        sent = ((alice, "PRIVMSG #lobby :one"), (bob, "PRIVMSG #lobby :two"), (carol, "three"),
                (alice, "PRIVMSG #lobby :four"))
        for n, (client, line) in enumerate(sent, 1):
            await client.send(line)
            await until(lambda n=n: len(srv._unstored) == n)  # type: ignore[misc]
        monkeypatch.undo()
        monkeypatch.setattr(TextProtocol, "render", counting(TextProtocol.render))
        monkeypatch.setattr(IrcProtocol, "render", counting(IrcProtocol.render))
        monkeypatch.setattr(Connection, "enqueue", enqueue)
        monkeypatch.setattr(fanout, "enqueue_shared", enqueue_shared)
        srv.store_pending()
        everyone = ["alice: one", "bob: two", "carol: three", "alice: four"]
        assert privmsgs(await dave.lines_until("four")) == everyone
        assert said(await erin.lines_until("alice: four")) == everyone
        assert privmsgs(await bob.lines_until("four")) == everyone  # its own "two" echoed, in place
        assert said(await carol.lines_until("alice: four")) == [
            "alice: one", "bob: two", "alice: four"]  # (the text sender's terminal shows what it typed)
        await alice.send("PING :after")
        assert privmsgs(await alice.lines_until_cmd("PONG")) == ["bob: two", "carol: three"]
        # Each sender got one buffer: the readers' bytes between its own
        # lines, which alone were rendered for it (none of the others' again),
        # and only where they show: bob's echo; not alice's (no echo-message)
        # nor carol's (text), which render to nothing (silent_own).
        for nick in ("alice", "bob", "carol", "dave", "erin"):
            assert len(writes[nick]) == 1, (nick, writes[nick])
        mine = [nick for nick in renders if nick in ("alice", "bob", "carol", "dave", "erin")]
        assert sorted(mine) == sorted(["dave"] * 4 + ["erin"] * 4 + ["bob"]), renders
        rtt = await b.stop()
        rtt.assert_served()
        for c in (alice, bob, carol, dave, erin):
            await c.close()
        await b.close()
