"""What an operator sees: /metrics, /healthz and /readyz over real sockets.

Each test scrapes ``/metrics`` with aiohttp, parses it with prometheus_client's
own parser and checks that the counters moved by exactly what the clients did,
while a bystander keeps pinging (tests/hostile/bystander.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from chinwag.storage.sqlite import SqliteStore
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving, text_client

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def get(srv: Server, path: str, where: str = "web") -> tuple[int, str, str]:
    host, port = srv.addresses[where]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{host}:{port}{path}") as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def scrape(srv: Server, where: str = "web") -> Samples:
    status, ctype, body = await get(srv, "/metrics", where)
    assert status == 200, body
    assert ctype.startswith("text/plain"), ctype
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_a_short_chat_moves_each_counter_by_exactly_what_happened() -> None:
    n, m = 7, 3  # messages from alice (text), from carol (IRC)
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        start = await scrape(srv)
        alice = await text_client(srv, "alice")
        bob = await text_client(srv, "bob")
        await alice.expect("bob has joined")
        carol = await irc_client(srv, "carol")
        await carol.send("JOIN #lobby")
        await carol.expect_cmd("366")
        await alice.expect("carol has joined")
        await bob.expect("carol has joined")
        before = await scrape(srv)

        for i in range(n):
            await alice.send(f"hello {i}")
        for i in range(m):
            await carol.send(f"PRIVMSG #lobby :hi {i}")
        for i in range(n):
            assert (await bob.expect(f"hello {i}")).endswith(f"alice: hello {i}")
            assert (await carol.expect(f"hello {i}")).endswith(f"PRIVMSG #lobby :hello {i}")
        for i in range(m):
            assert (await bob.expect(f"hi {i}")).endswith(f"carol: hi {i}")
            assert (await alice.expect(f"hi {i}")).endswith(f"carol: hi {i}")
        await alice.send("/history 2")
        assert (await alice.expect("hi 2")).endswith("carol: hi 2")  # the history answer's last line
        after = await scrape(srv)
        rtt = await b.stop()
        rtt.assert_served()

        assert moved(start, after, "chinwag_registrations_total") == 3
        assert moved(before, after, "chinwag_messages_received_total", protocol="text") == n
        assert moved(before, after, "chinwag_messages_received_total", protocol="irc") == m
        # alice's to bob (text) and carol (IRC); carol's to alice and bob (text);
        # nobody gets their own back (no echo-message)
        assert moved(before, after, "chinwag_deliveries_total", protocol="text") == n + 2 * m
        assert moved(before, after, "chinwag_deliveries_total", protocol="irc") == n
        assert moved(before, after, "chinwag_deliveries_total", protocol="ws") == 0
        assert moved(before, after, "chinwag_fanout_latency_seconds_count") == n + m
        assert moved(before, after, "chinwag_store_write_seconds_count") >= 1
        assert moved(before, after, "chinwag_history_queries_total") == 1
        assert value(after, "chinwag_store_queue_messages") == 0
        assert value(after, "chinwag_connections", protocol="text", state="registered") == 2
        assert value(after, "chinwag_connections", protocol="irc", state="registered") == 2  # carol, bystander
        assert value(after, "chinwag_connections", protocol="irc", state="unregistered") == 0
        assert value(after, "chinwag_room_members", room="#lobby") == 3
        assert value(after, "chinwag_event_loop_lag_distribution_seconds_count") >= 0
        for name in ("chinwag_flood_throttles_total", "chinwag_flood_cutoffs_total",
                     "chinwag_slow_reader_cutoffs_total"):
            assert moved(start, after, name) == 0, name

        await carol.send("QUIT :bye")
        await alice.expect("carol has left")
        gone = await scrape(srv)
        assert value(gone, "chinwag_connections", protocol="irc", state="registered") == 1
        # a closed connection's deliveries stay counted
        assert value(gone, "chinwag_deliveries_total", protocol="irc") == value(after, "chinwag_deliveries_total",
                                                                                protocol="irc")
        for c in (alice, bob, carol):
            await c.close()
        await b.close()


async def test_a_flood_is_counted_throttled_then_cut_off() -> None:
    async with serving(flood_burst=20, flood_rate=5, flood_backlog=200) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        watcher = await text_client(srv, "watcher")
        before = await scrape(srv)
        flooder = await text_client(srv, "flooder")
        flooder.writer.write("".join(f"spam {i}\n" for i in range(25)).encode())
        await watcher.expect("flooder: spam 21")  # past the burst: throttled, then let through
        throttled = await scrape(srv)
        assert moved(before, throttled, "chinwag_flood_throttles_total") >= 1
        assert moved(before, throttled, "chinwag_flood_cutoffs_total") == 0
        flooder.writer.write("".join(f"spam {i}\n" for i in range(2000)).encode())
        rest = await flooder.closed()
        assert rest[-1] == "* disconnected: excess flood"
        assert await watcher.expect("flooder has left") == "* flooder has left (excess flood)"
        after = await scrape(srv)
        rtt = await b.stop()
        rtt.assert_served()
        assert moved(before, after, "chinwag_flood_cutoffs_total") == 1
        assert value(after, "chinwag_connections", protocol="text", state="registered") == 1
        await watcher.close()
        await flooder.close()
        await b.close()


async def test_a_stalled_reader_cut_off_is_counted() -> None:
    async with serving(sendq=64 * 1024, kernel_sendq=4096, output_stall=1) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        before = await scrape(srv)
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", srv.port("text")))
        stalled.sendall(b"sloth\n")
        talker = await text_client(srv, "talker")
        payload = "z" * 900
        left = asyncio.ensure_future(talker.expect("sloth has left", timeout=20))
        for i in range(400):  # 360 KB at most towards a reader that reads nothing
            if left.done():
                break
            await talker.send(f"{i}:{payload}")
            await asyncio.sleep(0)
        assert (await left).startswith("* sloth has left (output queue over 65536 bytes")
        after = await scrape(srv)
        rtt = await b.stop()
        rtt.assert_served()
        assert moved(before, after, "chinwag_slow_reader_cutoffs_total") == 1
        assert value(after, "chinwag_connections", protocol="text", state="registered") == 1
        stalled.close()
        await talker.close()
        await b.close()


async def test_wrong_passwords_are_counted_by_kind() -> None:
    cfg = dataclasses.replace(make_config(), password="letmein", operators={"admin": "s3cret"})
    srv = Server(cfg)
    await srv.start()
    try:
        b = Bystander(IrcClient(*await asyncio.open_connection("127.0.0.1", srv.port("irc"))))
        await b.client.send("PASS letmein")
        await b.client.register("bystander")
        b.start()
        before = await scrape(srv)
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        guesser = IrcClient(r, w)
        await guesser.send("PASS wrong", "NICK guess", "USER guess 0 * :Guess")
        assert (await guesser.expect_cmd("464")).endswith("464 * :password incorrect")
        await b.client.send("OPER admin nope")
        after = await scrape(srv)
        assert moved(before, after, "chinwag_auth_failures_total", kind="server", reason="wrong") == 1
        rtt = await b.stop()
        assert (await b.client.expect_cmd("464")).endswith(":password incorrect")
        rtt.assert_served()
        final = await scrape(srv)
        assert moved(before, final, "chinwag_auth_failures_total", kind="operator", reason="wrong") == 1
        await guesser.close()
        await b.close()
    finally:
        await srv.shutdown()


async def test_metrics_address_serves_its_own_registry_per_server() -> None:
    cfg = dataclasses.replace(make_config(), metrics_address="127.0.0.1:0")
    one, two = Server(cfg), Server(make_config())
    await one.start()
    await two.start()
    try:
        b = await Bystander.join(one.port("irc"))
        b.start()
        alice = await text_client(one, "alice")
        dedicated, web = await scrape(one, "metrics"), await scrape(one)
        other = await scrape(two)
        rtt = await b.stop()
        rtt.assert_served()
        assert value(dedicated, "chinwag_registrations_total") == value(web, "chinwag_registrations_total") == 2
        assert value(other, "chinwag_registrations_total") == 0  # a registry per server
        assert await get(one, "/healthz", "metrics") == (200, "text/plain; charset=utf-8", "ok")
        status, _, body = await get(one, "/readyz", "metrics")
        assert (status, body) == (200, '{"status": "ok"}')
        await alice.close()
        await b.close()
    finally:
        await one.shutdown()
        await two.shutdown()
    assert "metrics" not in two.addresses


@contextlib.asynccontextmanager
async def serving_sqlite(tmp_path: Path) -> AsyncIterator[Server]:
    srv = Server(dataclasses.replace(make_config(), db=str(tmp_path / "history.db")))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


async def test_readyz_says_the_store_is_full_and_recovers(tmp_path: Path) -> None:
    async with serving_sqlite(tmp_path) as srv:
        now = [0.0]
        srv.readiness.clock = lambda: now[0]
        b = await Bystander.join(srv.port("irc"))
        b.start()
        alice = await text_client(srv, "alice")
        await alice.send("before the disk filled")
        assert (await get(srv, "/readyz"))[::2] == (200, '{"status": "ok"}')
        store = srv.store
        assert isinstance(store, SqliteStore)
        writer: list[sqlite3.Connection] = []

        def fill(conn: sqlite3.Connection) -> None:  # the database may not grow by one page
            writer.append(conn)
            conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")

        await store._write(fill)
        assert (await get(srv, "/readyz"))[::2] == (200, '{"status": "ok"}')  # cached for a second or two
        now[0] += 2
        status, ctype, body = await get(srv, "/readyz")
        assert (status, ctype) == (503, "application/json; charset=utf-8")
        assert body == '{"status": "unready", "problems": ["store: database or disk is full"]}'
        assert await get(srv, "/healthz") == (200, "text/plain; charset=utf-8", "ok")  # alive all the same

        writer[0].execute(f"PRAGMA max_page_count = {1 << 30}")  # space again
        now[0] += 2
        assert (await get(srv, "/readyz"))[::2] == (200, '{"status": "ok"}')
        rtt = await b.stop()
        rtt.assert_served()
        await alice.close()
        await b.close()
