"""Issue 15, round 5: the latency of a paced load, over real sockets.

What a commit releases is written by the commit's own callback
(``Outbox.committed`` flushes), not by a flush on the loop's next iteration,
after whatever input that iteration reads first. A merge (a load waiting for
the store) still holds the output for the next commit, and each reader still
gets one write per flush, in the same order.
"""

from __future__ import annotations

import pytest

from chinwag.storage.base import Receipt
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import serving
from tests.hostile.test_speed import irc_member, until
from tests.hostile.test_speed3 import held_store, merge_scene, record_writes

LINE = b":sender!~sender@chinwag PRIVMSG #lobby :%s\r\n"


async def test_a_commit_at_light_load_is_written_to_each_reader_before_the_loop_runs_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with merge_scene(monkeypatch, merge_wait=5) as scene:
        await scene.sender.send("PRIVMSG #lobby :one")
        await until(lambda: len(scene.waiting) == 1)
        scene.commit(scene.waiting[0])  # the store's confirmation, as its callback on the loop
        assert scene.writes == [LINE % b"one"]  # already in the reader's socket: no flush to wait for
        assert await scene.reader.expect_cmd("PRIVMSG") == ":sender!~sender@chinwag PRIVMSG #lobby :one"


async def test_under_load_a_commit_still_waits_for_the_next_one_and_both_are_written_by_its_callback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with merge_scene(monkeypatch, merge_wait=5, merge_min_waiting=2) as scene:
        await scene.sender.send("PRIVMSG #lobby :m1", "PRIVMSG #lobby :m2", "PRIVMSG #lobby :m3")
        await until(lambda: len(scene.waiting) == 3)
        scene.commit(scene.waiting[0])  # m1 released while 2 wait: a load, so it is not written at once ...
        assert scene.writes == []
        await until(lambda: not scene.srv.outbox.flush_scheduled)
        assert scene.writes == []  # ... nor by the tick's flush: it waits for the commit in flight (merge)
        scene.commit(scene.waiting[1])  # m2 released: m1 and m2 go out together, in one write, at once
        assert scene.writes == [LINE % b"m1" + LINE % b"m2"]
        scene.commit(scene.waiting[2])  # none waits after m3 (< 2): written at once
        assert scene.writes == [LINE % b"m1" + LINE % b"m2", LINE % b"m3"]
        for text in ("m1", "m2", "m3"):
            assert await scene.reader.expect_cmd("PRIVMSG") == f":sender!~sender@chinwag PRIVMSG #lobby :{text}"


async def two_rooms_commit(monkeypatch: pytest.MonkeyPatch, queued: bytes) -> list[bytes]:
    """One commit releasing #lobby, #second, #lobby to a reader in both rooms
    (with ``queued`` waiting in its output first): what each write handed its
    socket right after the commit's callback, and then once the tick is over."""
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        reader = await irc_member(srv, "reader")
        sender = await irc_member(srv, "sender")
        for c in (reader, sender):
            await c.send("JOIN #second")
            await c.expect_cmd("366")
        conn = srv.connections[srv.hub.nicks["reader"]]
        writes = record_writes(conn, monkeypatch)
        waiting, store = await held_store(srv, monkeypatch)
        await sender.send("PRIVMSG #lobby :first", "PRIVMSG #second :second", "PRIVMSG #lobby :third")
        await until(lambda: len(waiting) == 3)
        receipts: list[Receipt] = []
        monkeypatch.setattr(srv.store, "on_commit", receipts.extend)
        for message in waiting:
            store(message)  # stored; the confirmations collected ...
        if queued:
            conn.enqueue(queued)  # (as a reply waiting for this tick's flush)
        srv.outbox.committed(receipts)  # ... and given as one commit, as SQLite's writer does
        at_once = list(writes)
        await until(lambda: not srv.outbox.flush_scheduled and not conn.out)
        if queued:
            assert await reader.expect_cmd("NOTICE") == queued.decode().rstrip("\r\n")
        got = [await reader.expect_cmd("PRIVMSG") for _ in range(3)]
        assert got == [
            ":sender!~sender@chinwag PRIVMSG #lobby :first",
            ":sender!~sender@chinwag PRIVMSG #second :second",
            ":sender!~sender@chinwag PRIVMSG #lobby :third",
        ]
        rtt = await b.stop()
        rtt.assert_served()
        for c in (b, reader, sender):
            await c.close()
        return at_once + [b"--"] + writes


SECOND = b":sender!~sender@chinwag PRIVMSG #second :second\r\n"


async def test_a_commit_releasing_two_rooms_reaches_a_reader_of_both_in_one_write_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released = LINE % b"first" + SECOND + LINE % b"third"
    assert await two_rooms_commit(monkeypatch, b"") == [released, b"--", released]


async def test_output_queued_for_a_reader_before_a_commit_goes_out_first_in_the_same_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notice = b":chinwag NOTICE reader :queued before\r\n"
    released = notice + LINE % b"first" + SECOND + LINE % b"third"
    assert await two_rooms_commit(monkeypatch, notice) == [released, b"--", released]
