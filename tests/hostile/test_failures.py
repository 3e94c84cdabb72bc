"""A full disk: nothing unstored is delivered, the sender is told, the server
stays responsive, /healthz says what is wrong, and service resumes when space
comes back.

The in-process tests fill the disk for real and cheaply: ``PRAGMA
max_page_count`` set to the database's current size, so the writer's next
insert needing a page fails with SQLite's own SQLITE_FULL ("database or disk is
full"). Messages are longer than a page's local payload (about 1000 bytes), so
each needs an overflow page, whatever free room the leaf pages have. The
process test fills a small tmpfs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from chinwag.storage.sqlite import SqliteStore
from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import text_client
from tests.test_cli import named, start

NOT_SENT = "* not sent: history store unavailable (disk full?)"
LONG = 1500  # bytes: more than a b-tree page holds locally, so storing needs a new page


@contextlib.asynccontextmanager
async def serving_sqlite(tmp_path: Path, **limits: int) -> AsyncIterator[Server]:
    cfg = dataclasses.replace(make_config(irc_line=4096, **limits), db=str(tmp_path / "history.db"))
    srv = Server(cfg)
    await srv.start()
    try:
        yield srv
    finally:
        await disk(srv, full=False)  # let the goodbyes' departures be stored
        await srv.shutdown()


_WRITER: dict[int, sqlite3.Connection] = {}  # id(server) -> its store's writer connection


async def disk(srv: Server, *, full: bool) -> None:
    """Full: the database may not grow by one page. Not full: it may again.

    Filling goes through the writer's queue (and keeps its connection);
    emptying uses that connection directly, as space freed on a real disk
    reaches a writer that is busy retrying (SQLite serializes the two threads).
    """
    store = srv.store
    assert isinstance(store, SqliteStore)
    if full:

        def limit(conn: sqlite3.Connection) -> None:
            _WRITER[id(srv)] = conn
            # (free pages first: schema step 9 dropped an index, whose page a message could reuse)
            free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("freelist_count", "page_size"))
            sql = "INSERT OR REPLACE INTO departures (nick, rooms, last_msgid, ts) VALUES (?, zeroblob(?), '', 0)"
            conn.execute(sql, ("\x00fill", free * size))
            conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")

        await store._write(limit)
    elif (conn := _WRITER.pop(id(srv), None)) is not None:
        conn.execute(f"PRAGMA max_page_count = {1 << 30}")


async def irc_in_lobby(srv: Server, nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick, caps)
    await c.send("JOIN #lobby")
    await c.expect_cmd("366")
    return c


def store_failing(srv: Server) -> asyncio.Event:
    """Set once the store has told the server that its writes fail (after the
    server has taken it in: /healthz says so from then on)."""
    store = srv.store
    told = store.on_status
    assert told is not None
    failing = asyncio.Event()

    def on_status(trouble: str | None) -> None:
        told(trouble)
        if trouble is not None:
            failing.set()

    store.on_status = on_status
    return failing


async def healthz(srv: Server) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{srv.port('web')}/healthz") as resp:
            return resp.status, await resp.text()


def words(n: int, word: str) -> str:
    return (word + " ") * (n // (len(word) + 1))


async def test_full_disk_senders_are_told_pong_is_answered_healthz_says_why_then_recovery(
    tmp_path: Path,
) -> None:
    async with serving_sqlite(tmp_path, store_timeout=1) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        tom = await text_client(srv, "tom")
        bob = await irc_in_lobby(srv, "bob", ("standard-replies",))
        carl = await irc_in_lobby(srv, "carl")  # no IRCv3: told by NOTICE
        await tom.send("before the disk filled")
        for c in (bob, carl):
            assert (await c.expect_cmd("PRIVMSG")).endswith("PRIVMSG #lobby :before the disk filled")
        assert await healthz(srv) == (200, "ok")

        await disk(srv, full=True)
        # The first write to fail: carl's PING is answered at once, not after
        # the store gives the message up (store_timeout later).
        await carl.send(f"PRIVMSG #lobby :{words(LONG, 'carl')}", "PING :alive")
        got = await carl.lines_until_cmd("NOTICE")
        assert got == [":chinwag PONG chinwag alive",
                       ":chinwag NOTICE carl :*** Message to #lobby not sent: history store unavailable (disk full?)"]
        status, body = await healthz(srv)
        assert status == 503
        assert body == "history store unavailable: database or disk is full\nmessages are not being sent"

        await tom.send(words(LONG, "tom"))
        assert await tom.expect("not sent") == NOT_SENT
        await bob.send(f"PRIVMSG #lobby :{words(LONG, 'bob')}", "PING :here")
        assert await bob.lines_until_cmd("FAIL") == [
            ":chinwag PONG chinwag here",
            ":chinwag FAIL PRIVMSG TEMPORARILY_UNAVAILABLE #lobby :Message not sent: history store unavailable "
            "(disk full?)",
        ]

        await disk(srv, full=False)
        await tom.send("space is back")
        assert (await bob.expect_cmd("PRIVMSG")).endswith("PRIVMSG #lobby :space is back")
        assert (await carl.expect_cmd("PRIVMSG")).endswith("PRIVMSG #lobby :space is back")
        # Nothing that was refused ever reached anyone.
        assert not [line for c in (tom, bob, carl) for line in c.seen if "tom tom" in line or "bob bob" in line
                    or "carl carl" in line]
        assert await healthz(srv) == (200, "ok")
        history = await srv.store.latest("#lobby", 10)
        assert [m.text for m in history] == ["before the disk filled", "space is back"]
        (await b.stop()).assert_served()
        for c in (tom, bob, carl):
            await c.close()
        await b.close()


async def test_beyond_held_messages_further_messages_are_refused_not_queued(tmp_path: Path) -> None:
    async with serving_sqlite(tmp_path, store_timeout=60, held_messages=3) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        tom = await text_client(srv, "tom")
        bob = await irc_in_lobby(srv, "bob")
        failing = store_failing(srv)
        await disk(srv, full=True)
        await tom.send(*(f"{i} {words(LONG, 'held')}" for i in range(5)))
        # Three wait for the store (for up to a minute); the other two are refused now.
        assert [await tom.expect("not sent"), await tom.expect("not sent")] == [NOT_SENT, NOT_SENT]
        # (the refusals come from held_messages, at once; the writer's failed
        # attempt is reported a moment later: /healthz answers from then on)
        await asyncio.wait_for(failing.wait(), 30)
        status, _ = await healthz(srv)
        assert status == 503
        await disk(srv, full=False)
        for i in range(3):  # the disk has room again: the three held ones are stored and delivered
            assert (await bob.expect_cmd("PRIVMSG")).startswith(f":tom!~tom@chinwag PRIVMSG #lobby :{i} held")
        await tom.send("/history 10")
        got = await tom.lines_until("--- end of history ---")
        assert [line.split(": ", 1)[1][:1] for line in got if "tom: " in line] == ["0", "1", "2"]
        assert await healthz(srv) == (200, "ok")
        (await b.stop()).assert_served()
        await tom.close()
        await bob.close()
        await b.close()


@contextlib.contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs at ``where`` (needs root: skipped without it)."""
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


async def stderr_until(proc: asyncio.subprocess.Process, fragment: str, timeout: float = 10) -> str:
    """The server's next log line containing ``fragment`` (within ``timeout`` s in all)."""
    stderr = proc.stderr
    assert stderr is not None

    async def scan() -> str:
        while True:
            line = (await stderr.readline()).decode()
            assert line, f"server exited before logging {fragment!r}"
            if fragment in line:
                return line

    return await asyncio.wait_for(scan(), timeout)


async def test_sigterm_with_unstored_messages_exits_non_zero(tmp_path: Path) -> None:
    # The WAL file may have room for a few more commits on a full disk (it starts
    # over after a checkpoint, storage/sqlite_checkpoint.py), so many long messages
    # are sent at once: more than that room, whatever part of them it takes.
    burst = 40
    with small_disk(tmp_path / "disk") as disk_dir:
        proc, port = await start("--text-port", "0", "--db", str(disk_dir / "history.db"),
                                 env={"CHINWAG_LIMITS__STORE_TIMEOUT": "60", "CHINWAG_SHUTDOWN_GRACE": "1",
                                      "CHINWAG_LIMITS__FLOOD_BURST": str(burst),
                                      "CHINWAG_LIMITS__FLOOD_BURST_BYTES": str(burst * 4096)})
        irc_port = int((await stderr_until(proc, "irc listener on")).rsplit(":", 1)[1])
        b = await Bystander.join(irc_port)
        b.start()
        alice, bob = await named(port, "alice"), await named(port, "bob")
        await alice.send("stored before the disk filled")
        await bob.expect("alice: stored before the disk filled")
        fill(disk_dir)
        await alice.send(*(words(3900, f"lost{i}") for i in range(burst)))
        await stderr_until(proc, "history store failing: database or disk is full")
        (await b.stop()).assert_served()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 1
        log = await stderr_until(proc, "could not be stored")
        lost = int(log.split(" messages could not be stored and were never delivered")[0].rsplit(" ", 1)[1])
        # What bob got before the end: the messages the store took, in order; none of the others.
        seen = bob.seen + await bob.closed()
        got = [int(line.split("alice: lost")[1].split(" ", 1)[0]) for line in seen if "alice: lost" in line]
        assert got == list(range(len(got)))
        assert lost >= 1 and len(got) + lost <= burst
        for c in (alice, bob):
            await c.close()
        await b.close()


async def test_sigterm_with_everything_stored_still_exits_zero(tmp_path: Path) -> None:
    proc, port = await start("--text-port", "0", "--db", str(tmp_path / "history.db"))
    alice: LineClient = await named(port, "alice")
    await alice.send("hello")
    await alice.send("/history 1")
    await alice.expect("alice: hello")
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    await alice.close()
