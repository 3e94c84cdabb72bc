"""What only the PostgreSQL store has: migrations several nodes may run at
once, the per-conversation sequence, and a database that goes away.

The contract every backend keeps is tested in test_store.py, test_rooms.py
and test_accounts.py (parametrised over memory, SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import asyncpg
import pytest

from chinwag.config import ConfigError, load_config
from chinwag.core.events import Message
from chinwag.core.roomstate import RoomState
from chinwag.storage.base import Receipt, StorageError, private_key, room_key
from chinwag.storage.postgres import PostgresStore
from chinwag.storage.postgres.schema import SCHEMA_VERSION
from chinwag.storage.postgres.store import describe
from tests.services import Postgres, free_port
from tests.storage.test_store import KEY, ROOM, T0, History

pytestmark = pytest.mark.usefixtures("postgres_server")


async def query(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def versions(url: str) -> list[int]:
    return [r[0] for r in await query(url, "SELECT version FROM schema_version ORDER BY version")]


async def test_migrations_run_once_and_again_is_nothing(pg_url: str) -> None:
    first = History(PostgresStore(pg_url))
    await first.store.start()
    sent = first.many(3)
    await first.settled()
    await first.store.close()
    assert await versions(pg_url) == list(range(1, SCHEMA_VERSION + 1))

    again = PostgresStore(pg_url)
    await again.start()  # no step runs twice (CREATE TABLE would fail if it did)
    try:
        assert await versions(pg_url) == list(range(1, SCHEMA_VERSION + 1))
        assert await again.latest(KEY, 10) == sent
    finally:
        await again.close()


async def test_two_nodes_starting_at_once_migrate_once(pg_url: str) -> None:
    nodes = [PostgresStore(pg_url) for _ in range(3)]
    await asyncio.gather(*(n.start() for n in nodes))  # would fail on a duplicate table without the lock
    try:
        assert await versions(pg_url) == list(range(1, SCHEMA_VERSION + 1))
        await nodes[0].save_room(RoomState("#Shared", T0, "nt"))
        assert [r.name for r in await nodes[2].load_rooms()] == ["#Shared"]
    finally:
        for n in nodes:
            await n.close()


async def test_a_newer_schema_is_refused_not_touched(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.start()
    await store.close()
    await query(pg_url, "INSERT INTO schema_version (version) VALUES ($1)", SCHEMA_VERSION + 1)
    with pytest.raises(StorageError, match=f"schema version {SCHEMA_VERSION + 1}; this chinwag knows up to"):
        await PostgresStore(pg_url).start()


async def test_unreachable_postgres_is_a_storage_error_without_the_password() -> None:
    url = f"postgresql://chinwag:hunter2@127.0.0.1:{free_port()}/chinwag"
    with pytest.raises(StorageError) as caught:
        await PostgresStore(url).start()
    assert "cannot use PostgreSQL database postgresql://chinwag@127.0.0.1:" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert describe(url) == url.replace(":hunter2", "")


def _message(msgid: str, room: str = ROOM, text: str = "hi") -> Message:
    return Message(msgid, T0, "alice", room, text, "privmsg")


async def test_each_message_gets_the_next_seq_of_its_conversation(pg_url: str) -> None:
    h = History(PostgresStore(pg_url))
    await h.store.start()
    try:
        h.many(3)
        h.many(2, "#other")
        h.say("bob")
        await h.settled()
        h.many(2)
        await h.settled()
        rows = await query(pg_url, "SELECT key, seq, msgid FROM messages ORDER BY key, seq")
        by_key: dict[str, list[int]] = {}
        for key, seq, _ in rows:
            by_key.setdefault(key, []).append(seq)
        assert by_key == {KEY: [1, 2, 3, 4, 5], "#other": [1, 2], private_key("alice", "bob"): [1]}
        room = [msgid for key, _, msgid in rows if key == KEY]
        assert room == sorted(room)  # seq order is msgid order within one node
    finally:
        await h.store.close()


async def test_concurrent_appends_from_two_nodes_get_a_gap_free_ordered_seq(pg_url: str) -> None:
    """Two stores ("nodes") on one database append to the same rooms at once,
    each committing many small batches: every conversation's seq is 1..N with
    no gap and no repeat, and each node's own messages keep their order."""
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    receipts: dict[str, list[Receipt]] = {"a": [], "b": []}
    a.on_commit, b.on_commit = receipts["a"].extend, receipts["b"].extend
    for s in (a, b):
        await s.start()
    try:
        per_node = 600
        rooms = ["#one", "#two", "#three"]
        for i in range(per_node):
            room = rooms[i % 3]
            a.append(_message(f"a{i:06d}", room))
            b.append(_message(f"b{i:06d}", room))
            if i % 20 == 19:
                # Both writers commit a batch at the same time, contending
                # for the same conversation rows.
                await asyncio.gather(a.flush(), b.flush())
        await asyncio.gather(a.flush(), b.flush())
        rows = await query(pg_url, "SELECT key, seq, msgid FROM messages ORDER BY key, seq")
        assert len(rows) == 2 * per_node
        for room in rooms:
            mine = [(seq, msgid) for key, seq, msgid in rows if key == room_key(room)]
            assert [seq for seq, _ in mine] == list(range(1, 2 * per_node // 3 + 1))
            for node in "ab":
                ids = [msgid for _, msgid in mine if msgid.startswith(node)]
                assert ids == sorted(ids) and len(ids) == per_node // 3
            # Both nodes really wrote in between each other, not one after the other.
            assert {msgid[0] for _, msgid in mine[: len(mine) // 2]} == {"a", "b"}
        counts = await query(pg_url, "SELECT key, seq, count FROM conversations ORDER BY key")
        assert [(k, s, c) for k, s, c in counts] == [(room_key(r), 400, 400) for r in sorted(rooms)]
        # Each node's receipts: its messages in append order, each with the seq it was stored with.
        stored = {msgid: (key, seq) for key, seq, msgid in rows}
        for node, got in receipts.items():
            assert [r.msgid for r in got] == [f"{node}{i:06d}" for i in range(per_node)]
            assert [(r.key, r.seq) for r in got] == [stored[r.msgid] for r in got]
    finally:
        for s in (a, b):
            await s.close()


async def test_seq_never_goes_back_after_pruning_a_conversation_empty(pg_url: str) -> None:
    h = History(PostgresStore(pg_url))
    await h.store.start()
    try:
        h.many(4)
        await h.settled()
        assert await h.store.prune(0, 1, h.now + 10 * 86400) == 4
        assert await h.store.has_history([KEY]) == set()
        assert await h.store.targets(0, h.now + 1, 10) == []
        h.many(2)
        await h.settled()
        rows = await query(pg_url, "SELECT seq FROM messages WHERE key = $1 ORDER BY seq", KEY)
        assert [r[0] for r in rows] == [5, 6]
        assert await h.store.has_history([KEY]) == {KEY}
    finally:
        await h.store.close()


async def test_the_same_msgid_from_two_nodes_is_stored_once_without_a_seq_gap(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    confirmed: list[Receipt] = []
    b.on_commit = confirmed.extend
    for s in (a, b):
        await s.start()
    try:
        a.append(_message("0001", text="first"))
        await a.flush()
        with caplog.at_level(logging.ERROR, logger="chinwag.storage"):
            b.append(_message("0001", text="impostor"))
            b.append(_message("0002", text="second"))
            await b.flush()
        assert "already stored" in caplog.text
        rows = await query(pg_url, "SELECT seq, text FROM messages ORDER BY seq")
        assert [tuple(r) for r in rows] == [(1, "first"), (2, "second")]
        # The careful path still confirms both, the skipped one with the seq it is stored under.
        assert confirmed == [Receipt("0001", KEY, 1), Receipt("0002", KEY, 2)]
    finally:
        for s in (a, b):
            await s.close()


async def test_postgres_going_away_gives_up_after_the_timeout_then_recovers() -> None:
    """Its own PostgreSQL, stopped under the store: appends are given up (not
    confirmed) after write_timeout and on_status says why; once it is back, the
    pool reconnects and the next append is stored and confirmed."""
    pg = Postgres()
    pg.start()
    try:
        h = History(PostgresStore(pg.database(), write_timeout=0.5))
        failed: list[list[str]] = []
        status: list[str | None] = []
        h.store.on_fail = failed.append
        h.store.on_status = status.append
        await h.store.start()
        try:
            before = h.many(2)
            await h.settled()
            await asyncio.to_thread(pg.stop)
            lost = h.say()
            await h.store.flush()
            assert failed == [[lost.msgid]] and sum(h.commits) == 2
            assert status and status[0] is not None and status[0].startswith("PostgreSQL")
            with pytest.raises(StorageError):
                await h.store.check_writable()
            await asyncio.to_thread(pg.start)
            after = h.say()
            await h.store.flush()
            assert sum(h.commits) == 3 and failed == [[lost.msgid]]
            assert status[-1] is None
            await h.store.check_writable()
            assert await h.store.latest(KEY, 10) == [*before, after]
            assert lost not in await h.store.latest(KEY, 10)
        finally:
            await h.store.close()
    finally:
        await asyncio.to_thread(pg.close)


def test_postgres_is_chosen_by_flag_env_or_file_and_must_be_a_url(tmp_path: Path) -> None:
    url = "postgresql://chinwag@127.0.0.1:5432/chinwag"
    assert load_config(None, {}).postgres == ""  # default: SQLite, no service needed
    assert load_config(None, {"CHINWAG_POSTGRES": url}).postgres == url
    f = tmp_path / "c.toml"
    f.write_text(f'postgres = "{url}"\n')
    assert load_config(f, {}).postgres == url
    assert load_config(f, {}, {"postgres": url + "2"}).postgres == url + "2"
    with pytest.raises(ConfigError, match="postgres must be a URL like"):
        load_config(None, {"CHINWAG_POSTGRES": "db.example.org"})


async def test_serve_with_postgres_unreachable_exits_2_naming_the_flag_not_the_password() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chinwag", "serve", "--text-port", "0", "--irc-port", "0", "--web-port", "0",
        "--postgres", f"postgresql://chinwag:hunter2@127.0.0.1:{free_port()}/chinwag",
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    line = err.decode().strip().splitlines()[-1]
    assert line.startswith("chinwag: cannot use PostgreSQL database postgresql://chinwag@127.0.0.1:")
    assert line.endswith("(change --postgres / postgres)")
    assert "hunter2" not in err.decode()


async def test_writes_queued_before_close_are_stored(pg_url: str) -> None:
    """As the server's shutdown does: departures recorded, then close() at once."""
    store = PostgresStore(pg_url)
    await store.start()
    recorded = asyncio.ensure_future(store.record_departure("alice", ["#room"], "0001", T0))
    saved = store.save_room(RoomState("#kept", T0, "nt"))
    await asyncio.sleep(0)  # record_departure has queued its job
    await store.close()
    await recorded
    await saved
    again = PostgresStore(pg_url)
    await again.start()
    try:
        assert await again.departure("ALICE") == (("#room",), "0001", T0)
        assert [r.name for r in await again.load_rooms()] == ["#kept"]
    finally:
        await again.close()
