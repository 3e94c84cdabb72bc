"""The SQLite store on a full disk: it says so, gives messages up in order
after its write timeout, and works again once there is room.

The disk is full for real: ``PRAGMA max_page_count`` at the database's size,
and messages too long to fit a b-tree page, so each insert needs a new page and
fails with SQLITE_FULL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from chinwag.core.events import Message
from chinwag.core.hub import MessageIds
from chinwag.storage.sqlite import SqliteStore

T0 = 1_700_000_000.0


async def test_full_disk_is_reported_given_up_in_order_then_recovered(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "h.db", write_timeout=0.2)
    seen: list[tuple[str, object]] = []
    store.on_commit = lambda receipts: seen.append(("commit", [r.msgid for r in receipts]))
    store.on_fail = lambda msgids: seen.append(("fail", msgids))
    store.on_status = lambda why: seen.append(("status", why))
    ids = MessageIds()

    def say(text: str) -> Message:
        msg = Message(ids.next(T0), T0, "alice", "#room", text * 1500, "privmsg")
        store.append(msg)
        return msg

    await store.start()
    writer: list[sqlite3.Connection] = []

    def fill(conn: sqlite3.Connection) -> None:
        writer.append(conn)
        # (free pages first: schema step 9 dropped an index, whose page a message could reuse)
        free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("freelist_count", "page_size"))
        conn.execute("INSERT INTO departures (nick, rooms, last_msgid, ts) VALUES (?, zeroblob(?), '', 0)",
                     ("\x00fill", free * size))
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")

    try:
        await store._write(fill)
        a, b = say("a"), say("b")
        await store.flush()  # returns once they are given up
        assert seen[0] == ("status", "database or disk is full")
        assert {kind for kind, _ in seen[1:]} == {"fail"}
        assert [i for _, given_up in seen[1:] if isinstance(given_up, list) for i in given_up] == [a.msgid, b.msgid]
        c = say("c")  # the store is down: refused without waiting the timeout again
        await store.flush()
        assert seen[-1] == ("fail", [c.msgid])

        seen.clear()
        writer[0].execute(f"PRAGMA max_page_count = {1 << 30}")  # room again
        back = say("d")
        await store.flush()
        assert seen == [("status", None), ("commit", [back.msgid])]
        assert await store.latest("#room", 10) == [back]
    finally:
        await store.close()
