"""Other nodes' messages on a node (real PostgreSQL and redis-server): those
that arrive together go out as one shared buffer per reader, as the node's own
do (transport/fanout.py), and nothing queued for a reader around them (a
PONG, a history answer) overtakes them or repeats them. A node drops its own
messages echoed back by the bus before decoding them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from chinwag.core.events import Message
from chinwag.transport import fanout
from chinwag.transport.cluster import wire
from chinwag.transport.connection import Connection
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving_config
from tests.services import Redis

pytestmark = pytest.mark.usefixtures("postgres_server")

OTHER = "fanout-2"


@pytest.fixture
async def node(pg_url: str, redis_server: Redis) -> AsyncIterator[Server]:
    config = dataclasses.replace(make_config(nick_grace=0), postgres=pg_url, redis=redis_server.url,
                                 node_name="fanout-1", cluster_name="fanout")
    async with serving_config(config) as srv:
        yield srv


def said(n: int, text: str) -> Message:
    """A message another node's user ``bob`` said in #room (msgid in that node's slot, 5)."""
    return Message(f"{(2_000_000_000 + n) * 16 + 5:016x}", 1_700_000_000.0 + n, "bob", "#room", text, "privmsg",
                   user="~bob@chinwag")


def from_bus(srv: Server, seq: int, msg: Message, node: str = OTHER) -> None:
    """As if the bus had just brought it (what Bus._receive hands the node)."""
    assert srv.cluster is not None
    srv.cluster._received(wire.message(node, "#room", seq, msg))


async def reader_in_room(srv: Server) -> tuple[IrcClient, Connection, int]:
    reader = await irc_client(srv, "reader")
    await reader.send("JOIN #room")
    await reader.expect_cmd("366")
    conn = srv.connections[srv.hub.nicks["reader"]]
    assert srv.cluster is not None
    head = srv.cluster.sequencer.convs["#room"].next  # the next seq this node delivers in #room
    return reader, conn, head


def line(text: str) -> str:
    return f":bob!~bob@chinwag PRIVMSG #room :{text}"


async def test_other_nodes_messages_arriving_together_are_one_buffer_per_reader(
    node: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = await Bystander.join(node.port("irc"))
    b.start()
    reader, conn, head = await reader_in_room(node)
    enqueued: list[bytes] = []
    enqueue = Connection.enqueue

    def recording(self: Connection, data: bytes) -> None:
        if self is conn:
            enqueued.append(data)
        enqueue(self, data)

    shared = fanout.enqueue_shared

    def recording_shared(conns: list[Connection], data: bytes) -> None:  # (one buffer, many readers)
        if conn in conns:
            enqueued.append(data)
        shared(conns, data)

    monkeypatch.setattr(Connection, "enqueue", recording)
    monkeypatch.setattr(fanout, "enqueue_shared", recording_shared)
    from_bus(node, head, said(1, "one"))
    from_bus(node, head + 1, said(2, "two"))
    from_bus(node, head + 2, said(3, "three"))
    assert await reader.expect_cmd("PRIVMSG") == line("one")
    assert await reader.expect_cmd("PRIVMSG") == line("two")
    assert await reader.expect_cmd("PRIVMSG") == line("three")
    # One enqueue of the room's shared buffer, not one per message.
    assert [data.decode() for data in enqueued] == ["".join(line(t) + "\r\n" for t in ("one", "two", "three"))]
    rtt = await b.stop()
    rtt.assert_served()
    await b.close()
    await reader.close()


async def test_a_reply_queued_right_after_another_nodes_message_comes_after_it(node: Server) -> None:
    reader, conn, head = await reader_in_room(node)
    from_bus(node, head, said(1, "first"))
    node.send_local(conn, b":chinwag PONG chinwag :after\r\n")  # (what a PING read in the same tick gets)
    assert await reader.expect_cmd("PRIVMSG") == line("first")
    assert (await reader.expect_cmd("PONG")).endswith(":after")
    await reader.close()


async def test_another_nodes_message_shown_in_a_history_answer_is_not_repeated_after_it(node: Server) -> None:
    reader, conn, head = await reader_in_room(node)
    shown = said(1, "in the answer")
    conn.pause()  # a history query runs ...
    from_bus(node, head, shown)  # ... the message arrives meanwhile, and its answer shows it
    from_bus(node, head + 1, said(2, "after the answer"))
    conn.resume({shown.msgid})
    assert await reader.expect_cmd("PRIVMSG") == line("after the answer")
    await reader.send("PING :end")
    await reader.expect_cmd("PONG")
    assert [seen for seen in reader.seen if " PRIVMSG " in seen] == [line("after the answer")]
    await reader.close()


def test_own_messages_are_known_by_how_they_begin() -> None:
    msg = said(1, "hello")
    own = wire.own_messages("node-1")
    assert wire.message("node-1", "#room", 7, msg).startswith(own)
    assert wire.message("node-1", "#room", 7, msg, to="node-2").startswith(own)
    # Not another node's, not even one whose name begins the same, nor any other kind of this node's.
    for other in ("node-10", "node-", "Node-1", "node-1\u00e9"):
        assert not wire.message(other, "#room", 7, msg).startswith(own)
    assert not wire.want("node-1").startswith(own)
    assert not wire.bye("node-1").startswith(own)
    assert not wire.hello("node-1", "e", 1, []).startswith(own)
    # A name JSON escapes is escaped alike on both sides.
    assert wire.message('n"1\u2028', "#room", 1, msg).startswith(wire.own_messages('n"1\u2028'))
