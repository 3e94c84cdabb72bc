"""Output under pressure, over real sockets: readers that keep up are never cut
off, a stalled one is; a full output budget makes senders wait, not readers;
flood control counts bytes; big rooms get summaries instead of a line per join.

Every test keeps an IRC bystander pinging (tests/hostile/bystander.py); run
with ``-s`` to see its round trips (quoted in docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, irc_command
from tests.hostile.bystander import Bystander
from tests.hostile.test_hostile import irc_client, serving, text_client

LINE = 4000  # bytes per pasted line: under max_line (4096)


async def windowed_client(srv: Server, name: str, rcvbuf: int) -> LineClient:
    """A text user whose receive window is ``rcvbuf`` (as across a real network:
    on loopback the kernel would otherwise buffer megabytes for it)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect, or autotuning wins
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", srv.port("text")))
    r, w = await asyncio.open_connection(sock=sock)
    c = LineClient(r, w)
    await c.expect("What is your name?")
    await c.send(name)
    await c.expect("* in #lobby")
    return c


def stalled_reader(srv: Server, name: str) -> socket.socket:
    """A user that names itself and never reads another byte."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", srv.port("text")))
    sock.sendall(f"{name}\n".encode())
    return sock


def paste(sender: int, lines: int) -> bytes:
    out = []
    for i in range(lines):
        head = f"p{sender}-{i}:"
        out.append(head + "x" * (LINE - len(head)) + "\n")
    return "".join(out).encode()


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for server-side state a user cannot see directly (bounded)."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_paste_storm_fast_readers_are_never_cut_and_a_stalled_one_is() -> None:
    """Issue 10 item 3: 25 users paste 20 lines of 4,000 bytes each (inside the
    real flood limits), ~2 MB in front of every member at once. Everyone who
    reads gets every line once; only the reader that reads nothing is cut."""
    pasters, lines = 25, 20
    async with serving(flood_burst=20, flood_rate=5, flood_backlog=200, flood_burst_bytes=81920,
                       flood_rate_bytes=4096, output_stall=1) as srv:
        sloth = stalled_reader(srv, "sloth")
        clients = [await windowed_client(srv, f"u{k}", 65536) for k in range(pasters)]
        b = await Bystander.join(srv.port("irc"))
        b.start()
        got: list[dict[str, int]] = [{} for _ in clients]
        expected = (pasters - 1) * lines

        async def read(k: int) -> None:
            pasted = 0
            while pasted < expected or "sloth" not in got[k]:
                line = await clients[k].line(timeout=20)
                if ": p" in line:
                    key = line.split(": ", 1)[1].split(":", 1)[0]
                    got[k][key] = got[k].get(key, 0) + 1
                    pasted += 1
                elif "has left" in line:
                    got[k]["sloth" if line.startswith("* sloth has left") else line] = 1

        readers = [asyncio.create_task(read(k)) for k in range(pasters)]
        for k, c in enumerate(clients):  # all at once: each writes its paste without waiting
            c.writer.write(paste(k, lines))
        await asyncio.gather(*(c.writer.drain() for c in clients))
        await asyncio.wait_for(asyncio.gather(*readers), 30)
        rtt = await b.stop()
        for k in range(pasters):
            keys = {f"p{s}-{i}" for s in range(pasters) if s != k for i in range(lines)}
            assert {key: n for key, n in got[k].items() if key.startswith("p")} == dict.fromkeys(keys, 1)
            assert set(got[k]) - keys == {"sloth"}, set(got[k]) - keys  # nobody else left
        left = next(s for s in clients[0].seen if s.startswith("* sloth has left"))
        assert left == "* sloth has left (output queue over 1048576 bytes and nothing read for 1 s)"
        await clients[0].send("/who")
        who = await clients[0].expect("* in #lobby")
        assert who.endswith(f"({pasters})") and "sloth" not in who
        rtt.assert_served()
        await b.close()
        for c in clients:
            await c.close()
        sloth.close()


async def test_full_output_budget_makes_senders_wait_not_readers() -> None:
    """Two members stop reading while a third pastes far more than the budget:
    the sender's messages wait (its input paused) instead of the readers being
    cut; once they read again everything arrives, once, in order."""
    count = 300  # 1.2 MB of messages towards each reader; the budget is 512 KiB
    async with serving(sendq=128 * 1024, output_budget=512 * 1024, output_stall=30) as srv:
        slow = [await windowed_client(srv, f"slow{k}", 16384) for k in range(2)]
        watcher = await text_client(srv, "watcher")
        sender = await text_client(srv, "sender")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        sender.writer.write(b"".join(f"m{i}:{'y' * LINE}\n".encode() for i in range(count)))
        await until(lambda: srv.output.throttled)
        sender_conn = next(c for c in srv.connections.values() if srv.hub.nick_of(c.sid) == "sender")
        await until(lambda: sender_conn.budget_wait)  # its next message waits for the readers

        def taken(lines: list[str]) -> list[str]:
            return [s.split("sender: ", 1)[1].split(":", 1)[0] for s in lines if "sender: m" in s]

        # The watcher reads everything up to the answer to its /who (not a
        # message: never held): the paste has stopped partway, held for the readers.
        await watcher.send("/who")
        so_far = taken(await watcher.lines_until("* in #lobby"))
        assert 0 < len(so_far) < count, len(so_far)

        async def read_all(c: LineClient, msgs: list[str]) -> list[str]:
            while len(msgs) < count:
                line = await c.line(timeout=20)
                msgs += taken([line])
                assert "has left" not in line, line
            return msgs

        results = await asyncio.wait_for(
            asyncio.gather(*(read_all(c, []) for c in slow), read_all(watcher, so_far)), 60
        )
        rtt = await b.stop()
        want = [f"m{i}" for i in range(count)]
        assert results == [want, want, want]
        assert not srv.output.throttled and not sender_conn.budget_wait
        await watcher.send("/who")
        assert await watcher.expect("* in #lobby") == "* in #lobby: slow0, slow1, watcher, sender (4)"
        rtt.assert_served()
        await b.close()
        for c in (*slow, watcher, sender):
            await c.close()


async def test_flood_control_counts_bytes_as_well_as_lines() -> None:
    """Eight 4,000-byte lines are few lines but a lot of bytes: the first four
    (16 KiB, the byte burst) go at once, the rest at flood_rate_bytes, and a
    short line from someone else is not stuck behind them."""
    async with serving(flood_burst=20, flood_rate=5, flood_backlog=200, flood_burst_bytes=16384,
                       flood_rate_bytes=8192) as srv:
        watcher = await text_client(srv, "watcher")
        paster = await text_client(srv, "paster")
        other = await text_client(srv, "other")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        paster.writer.write(paste(0, 8))
        for i in range(4):  # the byte burst: 4 x 4,000 <= 16,384
            assert f"paster: p0-{i}:" in await watcher.expect("paster: ")
        await other.send("hello")  # the next 4,000 bytes need (4000 - 384) / 8192 s more
        order = await watcher.lines_until("other: hello")
        assert not any("paster: " in s for s in order), order  # nothing of the paste overtook it
        for i in range(4, 8):  # then the rest, at the byte rate, none lost
            assert f"paster: p0-{i}:" in await watcher.expect("paster: ")
        short = "".join(f"short {i}\n" for i in range(15)).encode()  # 15 short lines: a paste, at once
        paster.writer.write(short)
        for i in range(15):
            assert (await watcher.expect("paster: short")).endswith(f"paster: short {i}")
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        for c in (watcher, paster, other):
            await c.close()


def irc_lines_of(c: IrcClient, command: str) -> list[str]:
    return [s for s in c.seen if irc_command(s) == command]


async def test_big_room_announces_joins_and_leaves_in_summaries() -> None:
    """Above crowd_size (3 here) joins, parts and quits come as one summary per
    crowd_interval: text users get counts, IRC users the JOIN/PART/QUIT lines
    (their member list needs them), and a joiner gets a count, not the list."""
    async with serving(crowd_size=3, crowd_interval=2) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        alice = await text_client(srv, "alice")
        bob = await text_client(srv, "bob")
        carol = await text_client(srv, "carol")
        assert await alice.expect("carol has joined") == "* carol has joined #lobby"  # 3: still one by one
        irc = await irc_client(srv, "ircy")
        await irc.send("JOIN #lobby")
        names = await irc.lines_until_cmd("366")  # 4 members: the joiner still gets NAMES in full
        assert [s for s in names if irc_command(s) == "353"][0].endswith(":alice bob carol ircy")  # (no op: #lobby)
        dave = await text_client(srv, "dave")
        assert dave.seen[-1] == "* in #lobby: 5 people (/who #lobby lists them)"
        # Nobody heard ircy and dave one by one: one summary after crowd_interval.
        assert await alice.expect("people joined") == "* 2 people joined #lobby"
        assert not any("has joined" in s for s in alice.seen[alice.seen.index("* carol has joined #lobby") + 1 :])
        assert await irc.expect_cmd("JOIN") == ":dave!dave@chinwag JOIN #lobby"  # only what came after its NAMES
        # Several changes within one interval: one line for text users, the lines themselves for IRC.
        erin = await text_client(srv, "erin")
        await dave.send("/quit gone fishing")
        await dave.closed()
        await bob.send("/part")
        await bob.expect("* you left #lobby")
        assert await alice.expect("joined #lobby,") == "* 1 person joined #lobby, 2 left"
        assert await erin.expect("left #lobby") == "* 2 people left #lobby"  # what came after erin joined
        start = len(irc.seen)
        await irc.expect_cmd("PART")
        assert irc.seen[start:] == [
            ":erin!erin@chinwag JOIN #lobby",
            ":dave!dave@chinwag QUIT :gone fishing",
            ":bob!bob@chinwag PART #lobby",
        ]
        await carol.send("/who")
        assert await carol.expect("* in #lobby:") == "* in #lobby: alice, carol, ircy, erin (4)"
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
        for c in (alice, bob, carol, irc, dave, erin):
            await c.close()
