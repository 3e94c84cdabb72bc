"""Issue 15, round 4: the latency tail at a paced load, over real sockets.

* ``merge_min_waiting``: a tick's output waits for the store's commit in flight
  (``Outbox.merge``, to share one write per connection) only when a load is
  waiting for the store, not for a single message: at a message at a time the
  wait saves nothing and only delays a room.
* ``checkpoint_every``: SQLite's WAL is checkpointed on a thread of its own,
  not inside a commit that messages wait for; what users see is unchanged.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chinwag.transport.server import Server
from tests.conftest import make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import serving_config, text_client
from tests.hostile.test_speed import until
from tests.hostile.test_speed3 import merge_scene

LINE = b":sender!~sender@chinwag PRIVMSG #lobby :%s\r\n"


async def settled(srv: Server) -> None:
    """The tick's flush has run (whatever it wrote or held)."""
    await until(lambda: not srv.outbox.flush_scheduled)


async def test_a_commit_released_under_light_load_is_written_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # merge_wait 5 s: were "one" held for "two"'s commit, only that commit would end the wait.
    async with merge_scene(monkeypatch, merge_wait=5) as scene:  # (merge_min_waiting: the default, 8)
        reader, writes, waiting, commit = scene.reader, scene.writes, scene.waiting, scene.commit
        await scene.sender.send("PRIVMSG #lobby :one", "PRIVMSG #lobby :two")
        await until(lambda: len(waiting) == 2)
        commit(waiting[0])  # "one" is released while "two" (one message) waits for its commit
        assert await reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :one"
        await settled(scene.srv)
        assert writes == [LINE % b"one"]  # written by that tick, not held for "two"
        commit(waiting[1])
        assert await reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :two"
        assert writes == [LINE % b"one", LINE % b"two"]


async def test_output_waits_for_the_next_commit_from_merge_min_waiting_messages_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with merge_scene(monkeypatch, merge_wait=5, merge_min_waiting=2) as scene:
        reader, writes, waiting, commit = scene.reader, scene.writes, scene.waiting, scene.commit
        await scene.sender.send(*(f"PRIVMSG #lobby :m{i}" for i in range(1, 5)))
        await until(lambda: len(waiting) == 4)
        commit(waiting[0])  # m1 released, 3 wait: a load; m1 waits for the next commit ...
        await settled(scene.srv)
        assert writes == []
        commit(waiting[1])  # ... and goes out with m2, in one write
        assert await reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :m1"
        assert await reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :m2"
        await settled(scene.srv)
        commit(waiting[2])  # m3 released, only m4 waits (1 < 2): written at once
        assert await reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :m3"
        await settled(scene.srv)
        assert writes == [LINE % b"m1" + LINE % b"m2", LINE % b"m3"]
        commit(waiting[3])
        assert await reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :m4"
        assert writes == [LINE % b"m1" + LINE % b"m2", LINE % b"m3", LINE % b"m4"]


async def test_chat_over_sqlite_checkpointed_on_its_own_thread_reaches_everyone_and_history(
    tmp_path: Path,
) -> None:
    cfg = dataclasses.replace(make_config(checkpoint_every=0.01), db=str(tmp_path / "h.db"))  # type: ignore[arg-type]
    async with serving_config(cfg) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        alice = await text_client(srv, "alice")
        bob = await text_client(srv, "bob")
        lines = [f"line {i} " + "x" * 100 for i in range(300)]
        for i in range(0, 300, 10):  # in bursts, as people type and paste
            await alice.send(*lines[i:i + 10])
        for text in lines:
            assert (await bob.expect(text)).endswith(f"alice: {text}")
        checkpointer = srv.store.checkpointer  # type: ignore[attr-defined]
        assert checkpointer is not None
        await until(lambda: checkpointer.passes >= 1, timeout=30)  # (its thread runs when the OS lets it)
        carol = await text_client(srv, "carol")
        await carol.send("/history 3")
        for text in lines[-3:]:
            assert (await carol.expect(text)).endswith(f"alice: {text}")
        rtt = await b.stop()
        rtt.assert_served()
        for c in (b, alice, bob, carol):
            await c.close()
