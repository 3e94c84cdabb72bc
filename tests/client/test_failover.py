"""Several servers (the nodes of one network): the client tries them in turn,
and when its server dies it comes back on another with nothing lost.

Real servers on 127.0.0.1 and OS-chosen ports; the node that dies is a real
``chinwag serve`` process (``kill -9`` or SIGTERM); the two nodes share one
PostgreSQL database (tests/services.py) and nothing else (no redis).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import sys
from collections.abc import AsyncIterator

import pytest

from chinwag.client import protocol
from chinwag.client.connection import Backoff, Connection
from chinwag.client.events import ClientEvent, Status
from chinwag.client.protocol import ClientProtocol, Session
from chinwag.transport.server import Server
from tests.client.conftest import TIMEOUT, MakeHeadless, free_port, run_connect
from tests.conftest import SPAWNED, TEST_FLOOD, IrcClient, make_config

FLOOD_ENV = {f"CHINWAG_LIMITS__{k.upper()}": str(v) for k, v in TEST_FLOOD.items()}
IRC_LISTENER = re.compile(rb"irc listener on [\d.]+:(\d+)")


# ------------------------------------------------------------ the schedule


async def test_round_robin_with_backoff_doubling_to_ten_seconds() -> None:
    """Three servers that refuse: tried in order and again, waits 0.5 s doubling to 10 s."""
    ports = [free_port() for _ in range(3)]
    statuses: list[str] = []
    waits: list[float] = []

    def on_event(event: ClientEvent) -> None:
        if isinstance(event, Status):
            statuses.append(event.text)

    conn: Connection

    async def sleep(delay: float) -> None:  # the injected wait: record it, do not wait
        waits.append(delay)
        if len(waits) == 8:
            conn.close()

    conn = Connection([("127.0.0.1", p) for p in ports], Session("alice", ()), on_event,
                      backoff=Backoff(random=lambda: 0.5), sleep=sleep)  # jitter: 0.2 * 0.5 = 10% off
    await asyncio.wait_for(conn.run(), TIMEOUT)
    assert waits == [0.45, 0.9, 1.8, 3.6, 7.2, 9.0, 9.0, 9.0]
    tried = [re.search(r"cannot connect to 127\.0\.0\.1:(\d+)", s) for s in statuses]
    assert [int(m.group(1)) for m in tried if m] == [ports[i % 3] for i in range(8)]
    assert statuses[0].endswith(f"; trying 127.0.0.1:{ports[1]} in 0.5s"), statuses[0]
    assert statuses[2].endswith(f"; trying 127.0.0.1:{ports[0]} in 1.8s"), statuses[2]


def test_the_jitter_takes_off_at_most_a_fifth() -> None:
    assert Backoff(random=lambda: 0.0).delay(0) == 0.5
    assert Backoff(random=lambda: 1.0).delay(0) == pytest.approx(0.4)
    assert Backoff(random=lambda: 0.0).delay(30) == 10.0


# ------------------------------------------------------ the first refuses


async def test_the_first_address_refuses_the_second_serves(server: Server, headless: MakeHeadless) -> None:
    closed, port = free_port(), server.port("irc")
    alice = await headless([closed, port], "alice")  # returns once in #lobby (and its NAMES)
    await alice.expect(f"cannot connect to 127.0.0.1:{closed}")
    await alice.expect(f"trying 127.0.0.1:{port} in ")
    await alice.expect("connected as alice")
    bob = await headless(port, "bob")
    alice.type("hello from the second\r")
    await bob.expect("alice: hello from the second")


@pytest.mark.parametrize("comma", [False, True], ids=["positional", "comma-list"])
async def test_script_mode_skips_a_refusing_server(server: Server, headless: MakeHeadless, comma: bool) -> None:
    closed, port = free_port(), server.port("irc")
    bob = await headless(port, "bob")
    addresses = [f"127.0.0.1:{closed}", f"127.0.0.1:{port}"]
    args = [",".join(addresses)] if comma else addresses
    rc, out, err = await run_connect(*args, "--nick", "bot", stdin=b"hi\n")
    assert rc == 0, err
    await bob.expect("bot: hi")
    assert f"cannot connect to 127.0.0.1:{closed}" in out
    assert "now talking in #lobby" in out


async def test_script_mode_fails_once_every_server_refused() -> None:
    first, second = free_port(), free_port()
    rc, out, _ = await run_connect(f"127.0.0.1:{first}", f"127.0.0.1:{second}", "--nick", "bot", stdin=b"hi\n")
    assert rc == 1
    assert f"cannot connect to 127.0.0.1:{first}" in out
    assert f"disconnected: cannot connect to 127.0.0.1:{second}" in out


# ---------------------------------------------- the nick we asked for back


def test_the_nick_asked_for_is_taken_back_when_its_holder_quits() -> None:
    """Registered as alice_ because alice (our connection to a dead node) was
    still there: when alice quits, NICK alice."""
    p = ClientProtocol(Session("alice", ("#lobby",)))
    p.start()
    p.receive_data(b":srv 433 * alice :Nickname is already in use\r\n:srv 001 alice_ :Welcome\r\n")
    p.data_to_send()
    p.receive_data(b":carol!c@h QUIT :gone\r\n")
    assert p.data_to_send() == b""
    p.receive_data(b":alice!a@h QUIT :node a.example is gone\r\n")
    assert p.data_to_send() == b"NICK alice\r\n"
    p.receive_data(b":alice_!a@h NICK alice\r\n")
    assert p.nick == "alice"
    p.receive_data(b":bob!b@h NICK alice2\r\n")
    assert p.data_to_send() == b""


# ------------------------------------------ two nodes, one PostgreSQL


async def serve_node(pg_url: str) -> tuple[asyncio.subprocess.Process, int]:
    """``chinwag serve --postgres`` as a process; its IRC port."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chinwag", "serve", "--irc-port", "0", "--web-port", "0", "--text-port", "0",
        "--postgres", pg_url,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **FLOOD_ENV},
    )
    SPAWNED.append(proc)
    assert proc.stderr is not None
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), TIMEOUT)
        assert line, "server exited before listening"
        if m := IRC_LISTENER.search(line):
            asyncio.get_running_loop().create_task(proc.stderr.read())  # keep its pipe from filling up
            return proc, int(m.group(1))


@pytest.fixture
async def node_b(pg_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    """Node B in this process, on the same database; ``playback``: its IRC history on join."""
    playback: int = getattr(request, "param", 0)
    srv = Server(dataclasses.replace(make_config(), postgres=pg_url, irc_history_on_join=playback))
    await srv.start()
    yield srv
    await srv.shutdown()


LINE = re.compile(r"\b(?:alice|bob|carol): (?:before|mine|missed) \d\b")


# chathistory: the client asks CHATHISTORY AFTER its last msgid. playback: the
# client does not use draft/chathistory, B plays the room's last 20 messages on
# join (old and new), and the client drops the msgids it has shown.
@pytest.mark.parametrize(
    ("death", "catch_up", "node_b"),
    [(signal.SIGKILL, "chathistory", 0), (signal.SIGTERM, "chathistory", 0), (signal.SIGKILL, "playback", 20)],
    ids=["kill-9", "shutdown", "kill-9-playback"],
    indirect=["node_b"],
)
async def test_node_a_dies_the_client_catches_up_on_b_exactly_once(
    pg_url: str, node_b: Server, headless: MakeHeadless, monkeypatch: pytest.MonkeyPatch,
    death: signal.Signals, catch_up: str,
) -> None:
    if catch_up == "playback":
        monkeypatch.setattr(protocol, "WANTED_CAPS", tuple(c for c in protocol.WANTED_CAPS if c != "draft/chathistory"))
    node_a, port_a = await serve_node(pg_url)
    port_b = node_b.port("irc")
    # alice knows both nodes; a long backoff keeps her away until retry_now().
    wait = Backoff(initial=60.0, maximum=60.0, jitter=0.0)
    alice = await headless([port_a, port_b], "alice", ["#room"], backoff=wait)
    r, w = await asyncio.open_connection("127.0.0.1", port_a)
    carol = IrcClient(r, w)
    await carol.register("carol")
    await carol.send("JOIN #room")
    await alice.expect("carol joined #room")
    await carol.send("PRIVMSG #room :before 1", "PRIVMSG #room :before 2")
    await alice.expect("carol: before 2")
    alice.type("mine 1\r")
    await alice.expect("alice: mine 1")  # echoed by A: stored
    start = alice.mark()

    node_a.send_signal(death)
    await alice.expect(f"reconnecting to 127.0.0.1:{port_b} in 60.0s", start)
    await asyncio.wait_for(node_a.wait(), TIMEOUT)
    await carol.close()

    bob = await headless(port_b, "bob", ["#room"])
    for i in range(1, 4):
        bob.type(f"missed {i}\r")
    await bob.expect("bob: missed 3")  # echoed by B: stored
    assert alice.chat.conn is not None
    alice.chat.conn.retry_now()
    await alice.expect(f"reconnected to 127.0.0.1:{port_b}", start)
    await alice.expect("bob: missed 3", start)
    alice.type("back 1\r")
    await bob.expect("alice: back 1")
    await alice.chat.conn.roundtrip()  # anything else in flight has arrived
    proto = alice.chat.conn.protocol
    assert proto is not None and ("draft/chathistory" in proto.caps) == (catch_up == "chathistory")

    shown = [m.group(0) for line in alice.ui.transcript if (m := LINE.search(line))]
    assert shown == ["carol: before 1", "carol: before 2", "alice: mine 1",
                     "bob: missed 1", "bob: missed 2", "bob: missed 3"], alice.ui.transcript
    assert any("connection lost: " in line for line in alice.ui.transcript[start:])
    assert alice.chat.nick == "alice"
    assert alice.chat.current == "#room"



async def test_script_mode_carries_on_on_the_next_server(headless: MakeHeadless) -> None:
    """A piped ``chinwag connect A B``: A shuts down between two input lines;
    the second line is said on B."""
    a, b = Server(make_config()), Server(make_config())
    await a.start()
    await b.start()
    try:
        on_a, on_b = await headless(a.port("irc"), "bob"), await headless(b.port("irc"), "carol")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chinwag", "connect", f"127.0.0.1:{a.port('irc')}", f"127.0.0.1:{b.port('irc')}",
            "--nick", "bot", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        SPAWNED.append(proc)
        assert proc.stdin is not None and proc.stdout is not None
        out: list[str] = []

        async def until(fragment: str) -> None:
            assert proc.stdout is not None
            while not any(fragment in line for line in out):
                line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
                assert line, f"{fragment!r} not printed: {out}"
                out.append(line.decode())

        proc.stdin.write(b"one\n")
        await on_a.expect("bot: one")
        await a.shutdown()
        await until(f"reconnected to 127.0.0.1:{b.port('irc')}")
        proc.stdin.write(b"two\n")
        proc.stdin.close()
        await on_b.expect("bot: two")
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
        assert any("connection lost: closed by the server" in line for line in out), out
    finally:
        for srv in (a, b):
            if not srv.stopping:
                await srv.shutdown()
