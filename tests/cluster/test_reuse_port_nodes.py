"""Two ``chinwag serve --reuse-port`` PROCESSES on one machine's ports, as an
operator runs them (README, "--reuse-port"): the kernel spreads connections
over both, users on either talk as one network, and when one node is drained
(SIGTERM) its users reconnect to the SAME port and reach the other one; the
node started again binds that port again. (tests/transport/test_reuse_port.py
covers two in-process servers; this goes through the command line.)"""

from __future__ import annotations

import asyncio
import re
import signal

from benchmarks.clusternodes import Cluster, Node
from tests.cluster.conftest import SETTINGS, SLOW, Clients, irc_said, wait_for
from tests.conftest import IrcClient
from tests.services import Redis

TRIES = 64  # connections until both nodes have one: the kernel hashes each one's source port


async def home(nodes: list[Node], nick: str) -> Node:
    """The node whose log says ``nick`` registered on it."""
    pattern = rf"\bconn \d+ from \S+ is {re.escape(nick)}$"
    waits = {asyncio.ensure_future(n.wait_line(pattern, timeout=SLOW)): n for n in nodes}
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    task = next(iter(done))
    task.result()  # (a NodeError if that node exited or never logged it)
    return waits[task]


async def spread(clients: Clients, cluster: Cluster, prefix: str, want: list[Node]) -> dict[Node, IrcClient]:
    """IRC users connected to the one shared port until each node in ``want`` has one."""
    found: dict[Node, IrcClient] = {}
    for k in range(TRIES):
        nick = f"{prefix}{k}"
        c = await clients.irc(cluster.nodes[0] if cluster.nodes[0].alive else cluster.running[0], nick)
        found.setdefault(await home(cluster.running, nick), c)
        if all(n in found for n in want):
            return found
    raise AssertionError(f"after {TRIES} connections to one port, users only on {[n.name for n in found]}")


async def test_two_processes_share_one_port_and_a_drained_nodes_users_come_back_on_it(
    pg_url: str, redis_server: Redis, clients: Clients
) -> None:
    async with Cluster(pg_url, redis_server.url, settings=SETTINGS, reuse_port=True) as cluster:
        first, second = await cluster.start(2)
        assert first.ports == second.ports  # every listener: text, IRC and web
        users = await spread(clients, cluster, "u", [first, second])
        a, b = users[first], users[second]
        await a.send("PRIVMSG #lobby :one port, two processes")
        said = await wait_for(b, lambda line: irc_said(line) is not None)
        assert irc_said(said) == (a.nick, "#lobby", "one port, two processes")

        # Drain the second node: its users are told, and come back on the same port.
        second.signal(signal.SIGTERM)
        assert await wait_for(b, lambda line: line.startswith("ERROR ")) == (
            f"ERROR :Closing Link: {b.nick} (node {second.name} is shutting down: reconnect to another node)")
        assert await cluster.nodes[1].wait() == 0
        # (its QUIT reaches the others once its nick is given back)
        await wait_for(a, lambda line: bool(re.match(rf"^:{b.nick}!\S+ QUIT ", line)))
        back = await clients.irc(first, b.nick)  # first.port("irc") is the shared port: the only node left
        assert await home([first], b.nick) is first
        await back.send("PRIVMSG #lobby :back on the same port")
        said = await wait_for(a, lambda line: irc_said(line) is not None)
        assert irc_said(said) == (b.nick, "#lobby", "back on the same port")

        # Started again, it binds the same ports and gets its share of new connections.
        again = await cluster.restart(1)
        assert again.ports == first.ports
        users = await spread(clients, cluster, "v", [again])
        await users[again].send("PRIVMSG #lobby :restarted, same port")
        said = await wait_for(a, lambda line: "restarted, same port" in line)
        assert irc_said(said) == (users[again].nick, "#lobby", "restarted, same port")
