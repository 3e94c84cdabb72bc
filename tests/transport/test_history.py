"""Nothing lost: history on join, /history, /since, catch-up, restarts."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import signal
from collections.abc import Callable
from pathlib import Path

from chinwag.config import Limits
from chinwag.core.events import Message
from chinwag.core.hub import Hub
from chinwag.storage.base import Receipt, room_key
from chinwag.storage.memory import MemoryStore
from chinwag.storage.open import open_store
from chinwag.transport.server import Server
from tests.conftest import Connect, LineClient, make_config
from tests.test_cli import named, start


async def block(client: LineClient) -> list[str]:
    """The message lines of the next history block, without its markers."""
    await client.expect("--- ")
    lines = await client.lines_until("--- end of history ---")
    return [s.split("] ", 1)[1] for s in lines[:-1] if s.startswith("[")]


async def test_history_shown_on_join_with_the_last_n(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.send("/join #dev", *[f"line {i}" for i in range(25)], "/who")
    await alice.expect("* in #dev: alice (1)")
    bob = await connect("bob")
    await bob.send("/join #dev")
    block = await bob.lines_until("--- end of history ---")
    start_at = block.index("--- history of #dev ---")
    shown = block[start_at + 1 : -1]
    assert len(shown) == 20  # history_on_join
    assert all(re.fullmatch(r"\[\d\d:\d\d\] alice: line \d+", s) for s in shown)
    assert [s.rsplit(" ", 1)[1] for s in shown] == [str(i) for i in range(5, 25)]
    # and live traffic continues after the block, exactly once
    await alice.send("live now")
    assert (await bob.expect("live now")).endswith("alice: live now")


async def test_history_command_and_no_history(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.send("/join #empty", "/history")
    assert await alice.expect("---") == "--- no history of #empty ---"
    await alice.send("/join #lobby", *[f"m{i}" for i in range(60)], "/history 3")
    lines = await alice.lines_until("--- end of history ---")
    assert lines[-5:-1] == lines[-5:-1]
    assert [s.split("] ", 1)[1] for s in lines[-4:-1]] == ["alice: m57", "alice: m58", "alice: m59"]
    await alice.send("/history")
    lines = await alice.lines_until("--- end of history ---")
    assert len(lines) == 50 + 2 and lines[1].endswith("alice: m10")


async def test_since_window_uses_server_time() -> None:
    now = [1_700_000_000.0]
    srv = Server(make_config(), hub=Hub(Limits(), clock=lambda: now[0]))
    await srv.start()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port())
        alice = LineClient(r, w)
        await alice.send("alice")
        await alice.expect("* in #lobby")
        await alice.send("three hours ago", "/who")
        await alice.expect("* in #lobby")
        now[0] += 2 * 3600
        await alice.send("one hour ago", "/who")
        await alice.expect("* in #lobby")
        now[0] += 3600
        await alice.send("/since 90m")
        lines = await alice.lines_until("--- end of history ---")
        assert lines[0] == "--- history of #lobby for the last 90m ---"
        assert [s.split("] ", 1)[1] for s in lines[1:-1]] == ["alice: one hour ago"]
        await alice.send("/since 1d")
        lines = await alice.lines_until("--- end of history ---")
        assert [s.split("] ", 1)[1] for s in lines[1:-1]] == [
            "alice: three hours ago", "alice: one hour ago"]
        await alice.close()
    finally:
        await srv.shutdown()


async def test_returning_name_catches_up_exactly_once_without_private(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    for c in (alice, bob):
        await c.send("/join #dev")
        await c.expect("* in #dev")
    await bob.send("before she left", "/who")
    await alice.expect("before she left")
    await alice.close()
    await bob.expect("alice has left")
    await bob.send("/join #lobby", "missed in lobby", "/join #dev", "missed in dev",
                   "/msg alice secret", "/join #other", "not her room")
    await bob.expect("* in #other")
    back = await connect()
    await back.send("alice")
    lines = await back.lines_until("--- end of history ---")
    start_at = lines.index("--- while you were away ---")
    missed = [s.split("] ", 1)[1] for s in lines[start_at + 1 : -1]]
    assert missed == ["#lobby bob: missed in lobby", "bob: missed in dev"]
    assert not any("history of" in s for s in lines)  # replaces the usual block
    assert "* in #lobby: bob, alice (2)" in lines and "* in #dev: bob, alice (2)" in lines
    await bob.send("/join #dev", "after return")
    assert (await back.expect("after return")).endswith("bob: after return")
    await back.send("/rooms")
    await back.expect("rooms:")
    assert sum("missed in dev" in s for s in back.seen) == 1
    assert not any("secret" in s for s in back.seen)


async def test_retention_prunes_per_room() -> None:
    cfg = dataclasses.replace(make_config(), retain_messages=3)
    srv = Server(cfg)
    await srv.start()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port())
        alice = LineClient(r, w)
        await alice.send("alice", *[f"m{i}" for i in range(10)], "/who")
        await alice.expect("* in #lobby")
        await srv.store.flush()
        assert await srv.store.prune(cfg.retain_messages, cfg.retain_days, srv.hub.clock()) == 7
        await alice.send("/history 50")
        assert await block(alice) == ["alice: m7", "alice: m8", "alice: m9"]
        await alice.close()
    finally:
        await srv.shutdown()


async def test_every_delivered_message_survives_kill_9(tmp_path: Path) -> None:
    db = str(tmp_path / "chat.db")
    proc, port = await start("--text-port", "0", "--db", db)
    watcher, talker = await named(port, "watcher"), await named(port, "talker")
    delivered: list[str] = []

    async def watch() -> None:
        while True:
            try:
                line = await watcher.line()
            except (EOFError, ConnectionError):
                return
            if "talker: burst" in line:
                delivered.append(line.split("talker: ", 1)[1])
                if len(delivered) == 300:
                    proc.send_signal(signal.SIGKILL)  # mid-burst: more are in flight

    watching = asyncio.create_task(watch())
    try:
        for i in range(3000):
            await talker.send(f"burst {i}")
    except ConnectionError:
        pass
    await watching
    await watcher.close()
    await talker.close()
    assert await proc.wait() == -signal.SIGKILL
    assert len(delivered) >= 300
    store = open_store(db)
    await store.start()
    stored = await store.latest(room_key("#lobby"), 100_000)
    await store.close()
    texts = [m.text for m in stored]
    assert set(delivered) <= set(texts), sorted(set(delivered) - set(texts))[:5]
    assert len(texts) == len(set(texts))
    # and the restarted server serves it
    proc2, port2 = await start("--text-port", "0", "--db", db)
    try:
        reader = await named(port2, "reader")
        assert (await block(reader))[-1] == f"talker: {texts[-1]}"  # shown on join
        await reader.send("/history 1")
        assert await block(reader) == [f"talker: {texts[-1]}"]
        await reader.close()
    finally:
        proc2.send_signal(signal.SIGTERM)
        assert await proc2.wait() == 0


async def test_history_survives_a_clean_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "chat.db")
    proc, port = await start("--text-port", "0", "--db", db)
    a = await named(port, "alice")
    await a.send("remember me", "/who")
    await a.expect("* in #lobby")
    await a.close()
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait() == 0
    proc, port = await start("--text-port", "0", "--db", db)
    try:
        b = await named(port, "bob")
        await b.send("/history")
        assert (await b.expect("remember")).endswith("alice: remember me")
        await b.close()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        back = LineClient(r, w)  # a returning name: only what was missed since
        await back.send("alice")
        lines = await back.lines_until("--- nothing new while you were away ---")
        assert not any("remember me" in s for s in lines)
        await back.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0


class SlowStore(MemoryStore):
    """Confirms messages only when told: a disk that is momentarily slow."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = False
        self.unconfirmed: list[Receipt] = []
        self._real_on_commit: Callable[[list[Receipt]], None] | None = None

    def append(self, msg: Message) -> None:
        if self._real_on_commit is None:
            self._real_on_commit = self.on_commit
        self.on_commit = self._count if self.holding else self._real_on_commit
        super().append(msg)

    def _count(self, receipts: list[Receipt]) -> None:
        self.unconfirmed += receipts

    def release(self) -> None:
        self.holding = False
        receipts, self.unconfirmed = self.unconfirmed, []
        assert self._real_on_commit is not None
        self._real_on_commit(receipts)


async def test_input_behind_a_delayed_registration_is_not_stranded() -> None:
    store = SlowStore()
    srv = Server(make_config(), store=store)
    await srv.start()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port())
        alice = LineClient(r, w)
        await alice.send("alice")
        await alice.expect("* in #lobby")
        store.holding = True
        await alice.send("held until stored")
        r2, w2 = await asyncio.open_connection("127.0.0.1", srv.port())
        bob = LineClient(r2, w2)
        await bob.expect("What is your name?")
        await bob.send("bob", "hello after my name")  # one packet, then silence

        async def registered() -> None:
            while "bob" not in srv.hub.nicks:
                await asyncio.sleep(0)

        await asyncio.wait_for(registered(), 5)
        store.release()  # the answer to bob's name goes out only now
        assert (await alice.expect("hello after")).endswith("bob: hello after my name")
        assert (await bob.expect("alice:")).endswith("alice: held until stored")
        await alice.close()
        await bob.close()
    finally:
        await srv.shutdown()


async def test_quit_records_the_departure_for_catch_up(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    for c in (alice, bob):
        await c.send("/join #dev")
        await c.expect("* in #dev")
    await alice.send("/quit lunch")
    await bob.expect("alice has left (lunch)")
    await bob.send("while she ate")
    back = await connect()
    await back.send("alice")
    assert await block(back) == ["bob: while she ate"]  # rejoined #dev, caught up
    assert "--- while you were away ---" in back.seen


async def test_catch_up_after_a_long_absence_shows_the_newest() -> None:
    cfg = dataclasses.replace(make_config(), history_max=2)
    srv = Server(cfg)
    await srv.start()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port())
        alice = LineClient(r, w)
        await alice.send("alice")
        await alice.expect("* in #lobby")
        r2, w2 = await asyncio.open_connection("127.0.0.1", srv.port())
        bob = LineClient(r2, w2)
        await bob.send("bob")
        await bob.expect("* in #lobby")
        await alice.close()
        await bob.expect("alice has left")
        await bob.send(*[f"m{i}" for i in range(50)], "/who")  # far more than 20 x history_max
        await bob.expect("* in #lobby: bob")
        r3, w3 = await asyncio.open_connection("127.0.0.1", srv.port())
        back = LineClient(r3, w3)
        await back.send("alice")
        await back.expect("--- while you were away ---")
        lines = await back.lines_until("--- end of history ---")
        assert lines[0] == "(older messages not shown)"
        assert [s.split("] ", 1)[1] for s in lines[1:-1]] == ["bob: m48", "bob: m49"]
        await bob.close()
        await back.close()
    finally:
        await srv.shutdown()


async def test_quit_waits_for_output_held_for_the_store() -> None:
    store = SlowStore()
    srv = Server(make_config(), store=store)
    await srv.start()
    try:
        clients = []
        for name in ("alice", "bob"):
            r, w = await asyncio.open_connection("127.0.0.1", srv.port())
            c = LineClient(r, w)
            await c.send(name)
            await c.expect("* in #lobby")
            clients.append(c)
        alice, bob = clients
        await alice.expect("bob has joined")
        store.holding = True
        await bob.send("said just before she quit")
        await alice.send("/who", "/quit")

        async def quit_handled() -> None:
            while "alice" in srv.hub.nicks:
                await asyncio.sleep(0)

        await asyncio.wait_for(quit_handled(), 5)
        store.release()
        rest = await alice.closed()
        assert [s.split("] ", 1)[-1] for s in rest] == [
            "bob: said just before she quit", "* in #lobby: alice, bob (2)", "* goodbye"]
        await alice.close()
        await bob.close()
    finally:
        await srv.shutdown()
