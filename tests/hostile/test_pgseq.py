"""CHATHISTORY on a big PostgreSQL room with ids that are no message.

Reads place a reference by seq (storage/postgres/history.py): a msgid of the
room is one index lookup; any other id (a made-up one, a time) is placed after
the greatest seq among the messages at or below it, which walks the (key,
seq) index from the newest down (or the (key, msgid) index up to it, if the
planner finds that shorter). A user pipelining such queries against a 20,000
message room must get exact answers, in seq order, while everyone else is
served on time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from chinwag.core.events import Message
from chinwag.core.hub import MessageIds
from chinwag.storage.postgres import PostgresStore
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.bystander import Bystander

pytestmark = pytest.mark.usefixtures("postgres_server")

CAPS = ("batch", "server-time", "message-tags", "draft/chathistory")
BIG = 20_000
QUERIES = 200


async def read_batch(c: IrcClient) -> list[str]:
    """The texts of the next CHATHISTORY batch."""
    opening = await c.expect_cmd("BATCH")
    assert "chathistory #big" in opening, opening
    body = await c.lines_until_cmd("BATCH")
    return [line.rsplit(" :", 1)[1] for line in body[:-1]]


async def test_chathistory_with_ids_that_are_no_message_on_a_big_room(pg_url: str) -> None:
    srv = Server(dataclasses.replace(make_config(), postgres=pg_url))
    await srv.start()
    bulk, late = PostgresStore(pg_url), PostgresStore(pg_url)
    await bulk.start()
    await late.start()
    try:
        # 20,000 messages from another node (slot 1), then two whose commit
        # order is not their msgid order: slot 2 makes one, slot 1 one after
        # it, and slot 1's commits first.
        ids, ids2 = MessageIds(1), MessageIds(2)
        t0 = time.time() - BIG
        made = [Message(ids.next(t0 + i), t0 + i, "carol", "#big", f"m{i}", "privmsg") for i in range(BIG)]
        for m in made:
            bulk.append(m)
        now = time.time()
        first = Message(ids2.next(now), now, "dave", "#big", "committed last", "privmsg")
        second = Message(ids.next(now + 0.001), now + 0.001, "carol", "#big", "committed before it", "privmsg")
        assert first.msgid < second.msgid
        bulk.append(second)
        await bulk.flush()
        late.append(first)
        await late.flush()
        seen = [m.text for m in made] + ["committed before it", "committed last"]

        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        mallory = IrcClient(r, w)
        await mallory.register("mallory", CAPS)
        await mallory.send("JOIN #big")
        await mallory.expect_cmd("366")

        b = await Bystander.join(srv.port("irc"))
        b.start()
        # Made-up ids (3 above a message's, so none is stored) spread over the
        # whole room, the middle ones the costliest to place; four verbs.
        wanted = []
        lines = []
        for q in range(QUERIES):
            k = (q * 97) % BIG  # the made-up id falls just after message k
            ref = f"{int(made[k].msgid, 16) + 3:016x}"
            verb = ("AFTER", "BEFORE", "AROUND", "LATEST")[q % 4]
            if verb == "AFTER":
                lines.append(f"CHATHISTORY AFTER #big msgid={ref} 50")
                wanted.append(seen[k + 1 : k + 51])
            elif verb == "BEFORE":
                lines.append(f"CHATHISTORY BEFORE #big msgid={ref} 50")
                wanted.append(seen[max(0, k - 49) : k + 1])
            elif verb == "AROUND":
                lines.append(f"CHATHISTORY AROUND #big msgid={ref} 50")
                wanted.append(seen[max(0, k - 24) : k + 26])
            else:
                lines.append(f"CHATHISTORY LATEST #big msgid={ref} 50")
                wanted.append(seen[max(k + 1, len(seen) - 50) :])
        await mallory.send(*lines)
        for q in range(QUERIES):
            assert await read_batch(mallory) == wanted[q], lines[q]
        # After the message each user saw last: what came after it in seq order.
        await mallory.send(f"CHATHISTORY AFTER #big msgid={second.msgid} 50",
                           f"CHATHISTORY AFTER #big msgid={made[-1].msgid} 50")
        assert await read_batch(mallory) == ["committed last"]
        assert await read_batch(mallory) == ["committed before it", "committed last"]
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        await mallory.close()
    finally:
        await bulk.close()
        await late.close()
        await srv.shutdown()

