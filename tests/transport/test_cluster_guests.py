"""Names the server hands out itself in a cluster (real PostgreSQL and
redis-server): guest names are numbered per node, and a rename the shared
nick table refuses ends in another guest name, never in two holders."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest

from chinwag.storage.postgres import PostgresStore
from chinwag.storage.postgres.cluster import PgCluster
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving_config, text_client
from tests.hostile.test_speed import until
from tests.services import Redis
from tests.storage.test_pg_cluster import until as poll_db
from tests.storage.test_postgres import query

pytestmark = pytest.mark.usefixtures("postgres_server")

PASSWORD = "correct-horse-battery"
FAST_HASH = {"argon2_memory_kib": 8, "argon2_time_cost": 1}


@pytest.fixture
async def node(pg_url: str, redis_server: Redis) -> AsyncIterator[Server]:
    config = dataclasses.replace(make_config(nick_grace=0, **FAST_HASH), postgres=pg_url, redis=redis_server.url,
                                 node_name="guests-1")
    async with serving_config(config) as srv:
        yield srv


async def test_a_server_rename_to_a_nick_another_node_claimed_ends_in_another_guest_name(
    node: Server, pg_url: str
) -> None:
    # Another live node (a second store on the database, as a process would
    # be) has just given Guest1 to one of its users; this node has not heard
    # of that user yet (the bus is slower than the table), so its own first
    # guest name is Guest1 too.
    other = PostgresStore(pg_url)
    await other.start()
    try:
        cluster = PgCluster(other)
        await cluster.join("guests-2", 60.0)
        assert await cluster.claim_nick("guest1", "Guest1", "guests-2", 7) is None
        owner = await text_client(node, "alice")
        await owner.send(f"/register {PASSWORD}")
        await owner.expect("* account alice registered")
        await owner.send("/quit")
        await owner.closed()
        b = await Bystander.join(node.port("irc"))
        b.start()
        taker = await irc_client(node, "alice")  # renamed at once (nick_grace 0): to Guest1, refused by the table
        if not any(line.endswith(" NICK Guest17") for line in taker.seen):
            await taker.expect(" NICK Guest17")
        assert [line for line in taker.seen if " NICK " in line] == [
            ":alice!~alice@chinwag NICK Guest1",
            ":Guest1!~alice@chinwag NICK Guest17",  # (this node's numbers, slot 0: 1, 17, 33...)
        ]
        await taker.send("WHOIS Guest17")
        assert (await taker.expect_cmd("311")).startswith(":chinwag 311 Guest17 Guest17 ~alice chinwag")
        # (Guest17's row is written after the rename users see, by the node's queue of
        # nick rows: read until it is there.)
        wanted = [("guest1", "guests-2"), ("guest17", "guests-1")]
        rows: list[tuple[str, str]] = []

        async def rows_are_wanted() -> bool:
            rows[:] = [tuple(r) for r in await query(
                pg_url, "SELECT key, node FROM cluster_nicks WHERE key IN ('guest1', 'guest17') ORDER BY key")]
            return rows == wanted

        with contextlib.suppress(AssertionError):
            await poll_db(rows_are_wanted)
        assert rows == wanted
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        await taker.close()
        await owner.close()
    finally:
        await other.close()


async def test_a_nick_a_user_of_this_node_just_gave_up_is_its_next_takers_once_its_row_is_gone(
    node: Server, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user leaves and someone (or they, reconnecting) takes the nick at once on
    # the same node, while the release of its row is still on its way to
    # PostgreSQL (held back here, as a loaded database does): the claim waits for
    # the row to go. (It used to be refused by that row, "name taken", and on a
    # quiet machine the release only happened to come first.)
    assert node.cluster is not None
    db = node.cluster.db
    release, claim = db.release_nick, db.claim_nick
    gate = asyncio.Event()
    held: list[str] = []
    claims: list[tuple[str, str | None]] = []

    async def held_release(key: str, name: str, sid: int) -> None:
        held.append(key)
        await gate.wait()
        await release(key, name, sid)

    async def recorded_claim(key: str, nick: str, name: str, sid: int) -> str | None:
        holder = await claim(key, nick, name, sid)
        claims.append((key, holder))
        return holder

    monkeypatch.setattr(db, "release_nick", held_release)
    monkeypatch.setattr(db, "claim_nick", recorded_claim)
    b = await Bystander.join(node.port("irc"))
    b.start()
    alice = await irc_client(node, "alice")
    await alice.send("QUIT :brb")
    await alice.closed()
    await until(lambda: held == ["alice"])  # her row's release is on its way
    before = len(claims)
    r, w = await asyncio.open_connection("127.0.0.1", node.port("irc"))
    again = IrcClient(r, w)
    await again.send("NICK alice", "USER alice 0 * :back again")
    # The release goes on once the new claim waits for it (its connection's input
    # held meanwhile), or, as it used to be, once that claim was answered: refused
    # by the row still there.
    await until(lambda: len(claims) > before or ("alice" in node.cluster.nicks.releasing
                                                 and any(c.busy for c in node.connections.values())))
    gate.set()
    first = await again.line()
    assert first.startswith(":chinwag 001 alice "), first
    await again.expect_cmd("422")
    assert claims[before:] == [("alice", None)]
    rows = await query(pg_url, "SELECT nick, node FROM cluster_nicks WHERE key = 'alice'")
    assert [tuple(r) for r in rows] == [("alice", "guests-1")]
    rtt = await b.stop()
    rtt.assert_served()
    await b.close()
    await again.close()
    await alice.close()
