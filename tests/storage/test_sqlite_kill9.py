"""kill -9 mid-burst loses nothing that on_commit had confirmed.

The child prints each msgid only after its commit was confirmed, which is
exactly when the server would deliver it; whatever it printed before dying
must be in the file when it is reopened.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from chinwag.storage.base import private_key, room_key
from chinwag.storage.sqlite import SqliteStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

TIMEOUT = 30.0  # only reached when something is wrong
CONFIRMED_BEFORE_KILL = 5000

CHILD = r"""
import asyncio, sys, time
from collections import deque
from chinwag.core.events import Message
from chinwag.core.hub import MessageIds
from chinwag.storage.sqlite import SqliteStore

async def main(path):
    store = SqliteStore(path)
    waiting = deque()
    out = sys.stdout

    def committed(receipts):
        for r in receipts:
            assert waiting.popleft() == r.msgid  # confirmed in append order
        out.write("".join(r.msgid + "\n" for r in receipts))
        out.flush()

    store.on_commit = committed
    await store.start()
    out.write("ready\n")
    out.flush()
    ids, i = MessageIds(), 0
    while True:  # until killed
        for _ in range(100):
            ts = time.time()
            target = "bob" if i % 5 == 0 else "#burst"
            msg = Message(ids.next(ts), ts, "alice", target, f"message {i}", "privmsg")
            waiting.append(msg.msgid)
            store.append(msg)
            i += 1
        if len(waiting) > 20000:
            await store.flush()  # do not outrun the writer without bound
        else:
            await asyncio.sleep(0)  # let confirmations run

asyncio.run(main(sys.argv[1]))
"""


async def test_sigkill_mid_burst_loses_no_confirmed_message(tmp_path: Path) -> None:
    db = tmp_path / "kill9.db"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(db), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None and child.stderr is not None
    printed: list[str] = []
    try:
        first = await asyncio.wait_for(child.stdout.readline(), TIMEOUT)
        assert first == b"ready\n", (first, await child.stderr.read())
        while len(printed) < CONFIRMED_BEFORE_KILL:
            line = await asyncio.wait_for(child.stdout.readline(), TIMEOUT)
            assert line.endswith(b"\n"), (line, await child.stderr.read())
            printed.append(line.decode().strip())
        child.send_signal(signal.SIGKILL)
        # What it printed before dying is confirmed too, except a torn last line.
        rest = await asyncio.wait_for(child.stdout.read(), TIMEOUT)
        await asyncio.wait_for(child.stderr.read(), TIMEOUT)
        assert await asyncio.wait_for(child.wait(), TIMEOUT) == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    printed += rest.decode().split("\n")[:-1]

    store = SqliteStore(db)
    await store.start()
    try:
        stored = await store.latest(room_key("#burst"), 10**9) + await store.latest(private_key("alice", "bob"), 10**9)
    finally:
        await store.close()
    stored_ids = {m.msgid for m in stored}
    missing = [msgid for msgid in printed if msgid not in stored_ids]
    assert not missing, f"{len(missing)} of {len(printed)} confirmed messages lost, first {missing[:3]}"
    assert len(stored_ids) >= len(printed)
