"""chinwag behind a real HAProxy (Debian's package) in TCP mode with
``send-proxy`` / ``send-proxy-v2``, as docs/cluster.md deploys it: users are
counted by their own addresses, not the balancer's."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_edge import GREETING, open_from
from tests.services import free_port

BALANCER = "127.0.0.3"  # HAProxy's address towards chinwag (its `source`): the trusted proxy


@pytest.fixture
async def behind_haproxy(tmp_path: Path) -> AsyncIterator[tuple[Server, dict[str, int]]]:
    """A server trusting HAProxy, and HAProxy's frontend port for each listener."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    config = dataclasses.replace(make_config(max_per_ip=1), trusted_proxies=(BALANCER,), proxy_protocol=True)
    srv = Server(config)
    await srv.start()
    fronts = {"text": free_port(), "irc": free_port()}
    sections = []
    for name, version in (("text", "send-proxy"), ("irc", "send-proxy-v2")):
        sections.append(f"""
frontend {name}
    bind 127.0.0.1:{fronts[name]}
    mode tcp
    default_backend {name}_nodes
backend {name}_nodes
    mode tcp
    server node1 127.0.0.1:{srv.port(name)} {version} source {BALANCER}
""")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("""
global
    maxconn 100
defaults
    timeout connect 5s
    timeout client 1m
    timeout server 1m
""" + "".join(sections))
    log = tmp_path / "haproxy.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=out, stderr=subprocess.STDOUT)
    try:
        for port in fronts.values():  # ready when both frontends accept
            async with asyncio.timeout(30):
                while True:
                    assert proc.poll() is None, log.read_text()
                    try:
                        _, w = await asyncio.open_connection("127.0.0.1", port)
                    except OSError:
                        await asyncio.sleep(0.05)
                        continue
                    w.close()
                    break
        yield srv, fronts
    finally:
        proc.terminate()
        proc.wait(10)
        await srv.shutdown()


async def test_users_behind_haproxy_are_counted_by_their_own_addresses(
    behind_haproxy: tuple[Server, dict[str, int]],
) -> None:
    srv, fronts = behind_haproxy
    b = await Bystander.join(srv.port("irc"))  # directly, from 127.0.0.1: no header
    b.start()
    ann = LineClient(*await open_from("127.0.0.5", fronts["text"]))
    assert await ann.expect("What is your name?") == GREETING
    await ann.send("ann")
    await ann.expect("* in #lobby")
    bob = LineClient(*await open_from("127.0.0.6", fronts["text"]))  # another user: another address
    await bob.expect("What is your name?")
    await bob.send("bob")
    assert await bob.expect("* in #lobby") == "* in #lobby: ann, bob (2)"
    again = LineClient(*await open_from("127.0.0.5", fronts["text"]))  # ann's address again: max_per_ip 1
    await again.expect("What is your name?")
    await again.send("ann2")
    assert await again.closed() == ["* disconnected: too many connections from 127.0.0.5"]
    cy = IrcClient(*await open_from("127.0.0.7", fronts["irc"]))  # (v2 header)
    await cy.register("cy")
    cy2 = IrcClient(*await open_from("127.0.0.7", fronts["irc"]))
    await cy2.send("NICK cy2", "USER cy2 0 * :cy2")
    assert (await cy2.expect("ERROR")).endswith("(too many connections from 127.0.0.7)")
    rtt = await b.stop()
    rtt.assert_served()
    for c in (ann, bob, again, cy, cy2):
        await c.close()
    await b.close()
