"""Two nodes of a cluster on one machine share its ports (``reuse_port``,
SO_REUSEPORT): the kernel spreads connections over them, and users who landed
on different nodes talk as one network (real PostgreSQL and redis-server)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from chinwag.config import Config
from chinwag.transport.server import Server
from tests.conftest import make_config
from tests.services import Redis

pytestmark = pytest.mark.usefixtures("postgres_server")


def node_config(pg_url: str, redis_url: str, name: str, irc_port: int = 0, text_port: int = 0,
                web_port: int = 0) -> Config:
    return dataclasses.replace(make_config(), postgres=pg_url, redis=redis_url, node_name=name, reuse_port=True,
                               irc_port=irc_port, text_port=text_port, web_port=web_port)


@pytest.fixture
async def two_nodes(pg_url: str, redis_server: Redis) -> AsyncIterator[tuple[Server, Server]]:
    first = Server(node_config(pg_url, redis_server.url, "shared-1"))
    await first.start()
    second = Server(node_config(pg_url, redis_server.url, "shared-2", first.port("irc"), first.port("text"),
                                first.port("web")))
    try:
        await second.start()
        yield first, second
        await second.shutdown()
    finally:
        await first.shutdown()


async def register(port: int, nick: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
    await until(reader, " 001 ")
    return reader, writer


async def until(reader: asyncio.StreamReader, needle: str) -> str:
    async with asyncio.timeout(10):
        while True:
            line = (await reader.readline()).decode()
            assert line, f"closed before {needle!r}"
            if needle in line:
                return line.rstrip("\r\n")


async def test_two_nodes_bind_one_port_and_users_on_either_talk(two_nodes: tuple[Server, Server]) -> None:
    first, second = two_nodes
    port = first.port("irc")
    assert second.port("irc") == port and second.port("text") == first.port("text")
    # Connect until the kernel has put someone on each node (it hashes the
    # client's address and port: a few tries at most).
    users: dict[Server, tuple[str, asyncio.StreamReader, asyncio.StreamWriter]] = {}
    writers = []
    for n in range(100):
        reader, writer = await register(port, f"user{n}")
        writers.append(writer)
        # (the node it is on holds it as a local user: a positive sid; the other one as a ghost)
        (home,) = [s for s in (first, second) if s.hub.nicks.get(f"user{n}", -1) > 0]
        users.setdefault(home, (f"user{n}", reader, writer))
        if len(users) == 2:
            break
    assert len(users) == 2, "the kernel never spread the connections"
    (a, ra, wa), (b, rb, wb) = users[first], users[second]
    wa.write(b"JOIN #shared\r\n")
    await until(ra, " 366 ")
    wb.write(b"JOIN #shared\r\n")
    await until(rb, " 366 ")
    assert await until(ra, " JOIN ") == f":{b}!~{b}@chinwag JOIN #shared"
    wa.write(b"PRIVMSG #shared :one port, two nodes\r\n")
    assert await until(rb, "PRIVMSG") == f":{a}!~{a}@chinwag PRIVMSG #shared :one port, two nodes"
    wb.write(f"PRIVMSG {a} :and back\r\n".encode())
    assert await until(ra, "PRIVMSG") == f":{b}!~{b}@chinwag PRIVMSG {a} :and back"
    # LUSERS counts the other node as a server, its users as global only.
    local = sum(1 for sid in first.hub.nicks.values() if sid > 0)
    wa.write(b"LUSERS\r\n")
    assert (await until(ra, " 251 ")).endswith(f"There are {len(writers)} users and 0 invisible on 2 servers")
    assert (await until(ra, " 255 ")).endswith(f":I have {local} clients and 1 servers")
    assert f"Current local users {local}," in await until(ra, " 265 ")
    assert f"Current global users {len(writers)}," in await until(ra, " 266 ")
    for writer in writers:
        writer.close()


async def status_line(port: int, path: str = "/healthz") -> str:
    """One HTTP request on a new connection: the response's status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        async with asyncio.timeout(10):
            return (await reader.readline()).decode().rstrip("\r\n")
    finally:
        writer.close()


async def test_a_draining_node_leaves_the_shared_web_port_to_the_other(
    pg_url: str, redis_server: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a node drains (here: its store is slow to confirm the last writes), the
    kernel must not hand it new connections on any shared port: web requests and
    IRC registrations on the shared ports all reach the node still serving."""
    first = Server(node_config(pg_url, redis_server.url, "drain-1"))
    await first.start()
    second = Server(node_config(pg_url, redis_server.url, "drain-2", first.port("irc"), first.port("text"),
                                first.port("web")))
    draining: asyncio.Task[None] | None = None
    try:
        await second.start()
        flushing, confirm = asyncio.Event(), asyncio.Event()
        real_flush = first.store.flush

        async def slow_flush() -> None:
            flushing.set()
            await confirm.wait()
            await real_flush()

        monkeypatch.setattr(first.store, "flush", slow_flush)
        draining = asyncio.create_task(first.shutdown())
        await flushing.wait()  # first is draining: it said so, and waits for its store
        answers = [await status_line(first.port("web")) for _ in range(16)]
        assert answers == ["HTTP/1.1 200 OK"] * 16  # not one "503 ... server is shutting down"
        reader, writer = await register(first.port("irc"), "late")
        writer.close()
        assert second.hub.nicks.get("late", -1) > 0  # the IRC port too (it closed at once already)
        confirm.set()
        await draining
    finally:
        if draining is None:
            await first.shutdown()
        elif not draining.done():
            confirm.set()
            await draining
        await second.shutdown()
