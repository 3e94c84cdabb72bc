"""Issue 15, round 3: the IRC input fast path (protocols/irc/fastpath.py) over real sockets.

A plain ``PRIVMSG #room :text`` skips the general parse and verb layers. The
same line with a client tag in front (``@+x=1 ...``) takes the general path
(the sender has not enabled message-tags: its tags are dropped, so the command
is the same). Whatever the line and the room's rules, both must answer the
sender and reach the room the same way, byte for byte.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable

import pytest

from chinwag.core.events import Message
from chinwag.transport import outbox as outbox_module
from chinwag.transport.connection import Connection
from chinwag.transport.server import Server
from tests.conftest import IrcClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving, text_client
from tests.hostile.test_speed import irc_member, said, until

GENERAL = b"@+x=1 "  # a tag the sender's caps drop: the general path, the same command
_tokens = itertools.count(1)


async def answer(client: IrcClient, line: bytes) -> list[str]:
    """What ``client`` gets back for ``line``: every line up to the PONG of a PING sent after it."""
    token = f"t{next(_tokens)}"
    client.writer.write(line + b"\r\nPING :" + token.encode() + b"\r\n")
    start = len(client.seen)
    while not (await client.line()).endswith(f"PONG chinwag {token}"):
        pass
    return client.seen[start:-1]


async def heard(reader: IrcClient) -> list[str]:
    """What ``reader`` got since last asked (its PING answered: everything before is in)."""
    return await answer(reader, b"")


async def room_setup(srv: Server) -> tuple[IrcClient, IrcClient, IrcClient]:
    owner = await irc_client(srv, "owner")
    for room in ("#open", "#quiet", "#other"):
        await owner.send(f"JOIN {room}")
        await owner.expect_cmd("366")
    await owner.send("MODE #quiet +m")
    await owner.expect_cmd("MODE")
    al = await irc_client(srv, "al")
    reader = await irc_client(srv, "reader")
    for client, rooms in ((al, ("#open", "#quiet")), (reader, ("#open", "#quiet"))):
        for room in rooms:
            await client.send(f"JOIN {room}")
            await client.expect_cmd("366")
    for client in (owner, al, reader):
        await heard(client)
    return owner, al, reader


LINES = [
    b"PRIVMSG #open :hello there",
    b"NOTICE #open :a notice",
    b"PRIVMSG #open :\x01ACTION waves\x01",
    b"PRIVMSG #open :\x01VERSION\x01",
    b"PRIVMSG #open :\x1b[31mred\x1b[0m and \x02bold\x02",
    b"PRIVMSG #open :bad utf-8 \xff here",
    b"PRIVMSG #open :",
    b"PRIVMSG #open,#quiet :two targets",
    b"PRIVMSG #nowhere :unknown room",
    b"NOTICE #nowhere :unknown room, a notice",
    b"PRIVMSG #quiet :moderated",
    b"NOTICE #quiet :moderated, a notice",
    b"PRIVMSG #other :not a member",
    b"PRIVMSG #OPEN :another case",
]


async def test_plain_room_messages_get_the_same_answers_on_the_fast_and_the_general_path() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        owner, al, reader = await room_setup(srv)
        text = await text_client(srv, "texter")  # (a text user sees an action, a notice... in its own way)
        await text.send("/join #open")
        await text.expect("* in #open")
        start = len(text.seen)
        for client in (owner, al, reader):
            await heard(client)
        for line in LINES:
            fast = (await answer(al, line), await heard(reader), await heard(owner))
            general = (await answer(al, GENERAL + line), await heard(reader), await heard(owner))
            assert fast == general, line
        await answer(al, b"PRIVMSG #open :the end")
        await text.expect("al: the end")
        await heard(reader)
        shown = said(text.seen[start:-1])
        assert len(shown) >= 10 and shown[0::2] == shown[1::2], shown  # each line twice in a row
        assert "* al waves" in shown
        # (the answers are real ones, not two empty lists)
        assert (await answer(al, b"PRIVMSG #nowhere :x"))[0].startswith(":chinwag 403 al #nowhere ")
        assert (await answer(al, b"PRIVMSG #quiet :x"))[0].startswith(":chinwag 404 al #quiet ")
        await answer(al, b"PRIVMSG #open :\x01ACTION waves\x01")
        assert await heard(reader) == [":al!~al@chinwag PRIVMSG #open :\x01ACTION waves\x01"]
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        for c in (owner, al, reader, text):
            await c.close()


async def test_a_flood_of_fast_path_lines_is_cut_off_like_one_of_general_path_lines() -> None:
    async with serving(flood_burst=20, flood_rate=5, flood_backlog=200) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        watcher = await irc_client(srv, "watcher")
        await watcher.send("JOIN #lobby")
        await watcher.expect_cmd("366")
        seen = []
        for nick, prefix in (("fast", b""), ("general", GENERAL)):
            flooder = await irc_client(srv, nick)
            await flooder.send("JOIN #lobby")
            await flooder.expect_cmd("366")
            flooder.writer.write(b"".join(prefix + b"PRIVMSG #lobby :spam %d\r\n" % i for i in range(2000)))
            rest = await flooder.closed()
            got = [line for line in await heard(watcher) if f":{nick}!" in line]
            seen.append((rest[-1].replace(nick, "N"), [line.replace(nick, "N") for line in got]))
            await flooder.close()
        assert seen[0] == seen[1]
        assert seen[0][0].startswith("ERROR :Closing Link: N (excess flood)")
        assert sum("PRIVMSG #lobby :spam" in line for line in seen[0][1]) <= 25  # the burst, no more
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        await watcher.close()


# --- more messages per write: a busy tick's output waits for the commit in flight (Outbox.merge) ---


async def held_store(srv: Server, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Message], Callable[[Message], None]]:
    """The store's appends wait in a list until the test commits them (the memory store commits on append)."""
    waiting: list[Message] = []
    commit = srv.store.append
    monkeypatch.setattr(srv.store, "append", waiting.append)
    return waiting, commit


def record_writes(conn: Connection, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What each flush of ``conn`` hands to its socket (one write each)."""
    writes: list[bytes] = []
    flush = Connection.flush

    def recording(self: Connection, force: bool = False) -> None:
        if self is conn and self.out and not self.paused:
            writes.append(b"".join(self.out))
        flush(self, force)

    flush_all = outbox_module.flush_all

    def recording_all(conns: list[Connection]) -> None:  # (the tick's flush: every dirty connection at once)
        if conn in conns and conn.out and not conn.paused:
            writes.append(b"".join(conn.out))
        flush_all(conns)

    monkeypatch.setattr(Connection, "flush", recording)
    monkeypatch.setattr(outbox_module, "flush_all", recording_all)
    return writes


@dataclasses.dataclass
class Scene:
    """A reader and a sender in #lobby; what each flush hands the reader's
    socket; the store's appends, held until the test commits them."""

    srv: Server
    reader: IrcClient
    sender: IrcClient
    writes: list[bytes]
    waiting: list[Message]
    commit: Callable[[Message], None]


@contextlib.asynccontextmanager
async def merge_scene(monkeypatch: pytest.MonkeyPatch, **limits: float) -> AsyncIterator[Scene]:
    """A :class:`Scene` on a server with ``limits``, a bystander served throughout."""
    async with serving(**limits) as srv:  # type: ignore[arg-type]
        b = await Bystander.join(srv.port("irc"))
        b.start()
        reader = await irc_member(srv, "reader")
        sender = await irc_member(srv, "sender")
        writes = record_writes(srv.connections[srv.hub.nicks["reader"]], monkeypatch)
        waiting, commit = await held_store(srv, monkeypatch)
        yield Scene(srv, reader, sender, writes, waiting, commit)
        rtt = await b.stop()
        rtt.assert_served()
        for c in (b, reader, sender):
            await c.close()


async def test_what_two_commits_release_in_a_row_reaches_a_reader_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    # (merge_wait long: only the commit ends the wait here)
    async with merge_scene(monkeypatch, merge_wait=5, merge_min_waiting=1) as scene:
        await scene.sender.send("PRIVMSG #lobby :one", "PRIVMSG #lobby :two")
        await until(lambda: len(scene.waiting) == 2)
        scene.commit(scene.waiting[0])  # "one" is released while "two" waits for its commit ...
        await until(lambda: not scene.srv.outbox.flush_scheduled)  # ... and that tick's flush is over
        scene.commit(scene.waiting[1])
        assert await scene.reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :one"
        assert await scene.reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :two"
        line = b":sender!~sender@chinwag PRIVMSG #lobby :%s\r\n"
        assert scene.writes == [line % b"one" + line % b"two"]


async def test_output_waits_for_a_commit_no_longer_than_merge_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    async with merge_scene(monkeypatch, merge_wait=0.05, merge_min_waiting=1) as scene:
        await scene.sender.send("PRIVMSG #lobby :one", "PRIVMSG #lobby :two")
        await until(lambda: len(scene.waiting) == 2)
        scene.commit(scene.waiting[0])  # "two" never commits while we wait: "one" goes out all the same
        assert await scene.reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :one"
        scene.commit(scene.waiting[1])
        assert await scene.reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :two"
