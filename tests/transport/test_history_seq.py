"""History answers on PostgreSQL follow seq, the order a cluster delivers in.

A server on PostgreSQL, and a second store on the same database standing for
another node (msgid slot 1): it makes two messages and commits the later-made
one first, so seq order (the order every node showed them live) is not msgid
order. CHATHISTORY and the text protocol's catch-up must show seq order, and
CHATHISTORY AFTER the message a user saw last must neither repeat nor skip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from chinwag.core.events import Message
from chinwag.core.hub import MessageIds
from chinwag.storage.postgres import PostgresStore
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.test_hostile import text_client
from tests.transport.test_chathistory import batch, msgid, texts

pytestmark = pytest.mark.usefixtures("postgres_server")

CAPS = ("batch", "server-time", "message-tags", "draft/chathistory")


@pytest.fixture
async def on_pg(pg_url: str) -> AsyncIterator[tuple[Server, PostgresStore]]:
    srv = Server(dataclasses.replace(make_config(), postgres=pg_url))
    other = PostgresStore(pg_url)
    await srv.start()
    await other.start()
    yield srv, other
    await other.close()
    await srv.shutdown()


async def other_node_says(other: PostgresStore, room: str) -> None:
    """Two messages of "carol" on the other node: the second made commits first."""
    ids = MessageIds(1)
    now = time.time()
    made_first = Message(ids.next(now), now, "carol", room, "committed second", "privmsg")
    made_second = Message(ids.next(now), now, "carol", room, "committed first", "privmsg")
    assert made_first.msgid < made_second.msgid
    other.append(made_second)
    await other.flush()
    other.append(made_first)
    await other.flush()


async def test_chathistory_after_the_last_message_seen_neither_repeats_nor_skips(
    on_pg: tuple[Server, PostgresStore],
) -> None:
    srv, other = on_pg
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    bob = IrcClient(r, w)
    try:
        await bob.register("bob", CAPS)
        await bob.send("JOIN #dev")
        await bob.expect_cmd("366")
        await bob.send("PRIVMSG #dev :from bob", "PING :x")
        await bob.expect_cmd("PONG")
        await other_node_says(other, "#dev")

        _, shown = await batch(bob, "CHATHISTORY LATEST #dev * 10")
        assert texts(shown) == ["from bob", "committed first", "committed second"]
        for k, line in enumerate(shown):  # after each one seen: exactly the rest
            _, after = await batch(bob, f"CHATHISTORY AFTER #dev msgid={msgid(line)} 10")
            assert texts(after) == texts(shown[k + 1 :]), k
            _, before = await batch(bob, f"CHATHISTORY BEFORE #dev msgid={msgid(line)} 10")
            assert texts(before) == texts(shown[:k]), k
        _, latest = await batch(bob, f"CHATHISTORY LATEST #dev msgid={msgid(shown[0])} 10")
        assert texts(latest) == ["committed first", "committed second"]
    finally:
        await bob.close()


async def test_text_catch_up_shows_what_was_missed_in_seq_order(on_pg: tuple[Server, PostgresStore]) -> None:
    srv, other = on_pg
    alice = await text_client(srv, "alice")
    await alice.send("/join #dev", "seen before leaving", "/who")
    await alice.expect("* in #dev")  # (the join)
    await alice.expect("* in #dev")  # (the /who: her message is handled)
    await alice.close()
    while await srv.store.departure("alice") is None:  # (recorded by a task once she is gone)
        await asyncio.sleep(0.01)
    await other_node_says(other, "#dev")
    back = await text_client(srv, "alice")
    lines = await back.lines_until("--- end of history ---")
    start_at = lines.index("--- while you were away ---")
    missed = [s.split("] ", 1)[1] for s in lines[start_at + 1 : -1]]
    assert missed == ["carol: committed first", "carol: committed second"]
    await back.close()
