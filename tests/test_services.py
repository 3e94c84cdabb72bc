"""The test services themselves: real PostgreSQL and redis-server answer."""

from __future__ import annotations

import asyncpg

from tests.services import Postgres, Redis


async def test_postgres_gives_each_test_a_fresh_place(postgres_server: Postgres, pg_url: str) -> None:
    schema = pg_url.rsplit("search_path=", 1)[1]
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SHOW search_path") == schema
        await conn.execute("CREATE TABLE mine (x int)")
        assert await conn.fetchval("SELECT schemaname FROM pg_tables WHERE tablename = 'mine'") == schema
    finally:
        await conn.close()
    assert postgres_server.psql(f"SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}'") == "1"
    assert postgres_server.psql("SHOW listen_addresses") == "127.0.0.1"


def test_redis_answers_and_keeps_nothing_on_disk(redis_server: Redis) -> None:
    assert redis_server.command(b"SET", b"k", b"v") == b"+OK\r\n"
    assert redis_server.command(b"GET", b"k") == b"$1\r\n"
    assert redis_server.command(b"CONFIG", b"GET", b"save") == b"*2\r\n"
