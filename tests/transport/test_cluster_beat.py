"""A node's heartbeat deciding which nodes are gone (transport/cluster/node.py
``_beat``), with its database a stand-in: a node that joins while the beat
reads must never be declared dead."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from chinwag.core.events import Outbound
from chinwag.core.handlers import remote
from chinwag.core.hub import Hub
from chinwag.core.limits import Limits
from chinwag.core.types import cluster
from chinwag.core.types.cluster import RemoteUser
from chinwag.transport.cluster.node import ClusterNode


class Db:
    """Node "a" (this one) is live; node "c" joins (and its hello is handled
    here) while the beat waits for the list of ended leases."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.live = ["a"]

    async def heartbeat(self, node: str, lease: float) -> bool:
        return True

    async def nodes(self) -> list[str]:
        return list(self.live)

    async def ended(self) -> dict[str, float]:
        self.live.append("c")  # c's row is in, and its hello with its user arrives
        remote.reconcile(self.hub, "c", [cluster.Presence(RemoteUser("zed", "~zed", "zed"), ())])
        return {}

    async def forget_node(self, node: str) -> None:
        raise AssertionError(f"{node} was forgotten")


def node_of(hub: Hub, db: Db, told: list[Outbound]) -> Any:
    node: Any = ClusterNode.__new__(ClusterNode)
    node.db, node.hub, node.limits, node.name = db, hub, Limits(), "a"
    node.alive_since = time.monotonic() - 3600  # in steady contact for long
    node.peers, node.dead = {}, {}
    node.server = SimpleNamespace(spawn=lambda coro: coro.close(), outbox=SimpleNamespace(deliver=told.extend))
    return node


async def test_a_node_that_joins_while_the_heartbeat_reads_is_not_declared_dead() -> None:
    hub = Hub()
    told: list[Outbound] = []
    node = node_of(hub, Db(hub), told)
    await node._beat()
    assert "c" not in node.dead  # (before: dead, its users quit here and its ops ignored until its next hello)
    assert hub.nicks.get("zed") is not None and hub.remote[hub.nicks["zed"]] == "c"
    assert told == []
