"""The commit gate releases messages by receipt (msgid, key, seq), not by count.

Floods from several senders on PostgreSQL: every message is released once,
in the order its conversation's seq gives, and the cluster's hook
(``Outbox.on_confirmed``) sees each seq in turn. A store whose receipts do
not match what is held (a confused backend) is logged and never wedges
delivery. A hook that takes a message for the cluster keeps it from local
fan-out until the cluster hands it over.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from chinwag.core.events import Message, Outbound
from chinwag.storage.base import Receipt
from chinwag.storage.memory import MemoryStore
from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_failures import irc_in_lobby

SENDERS = 4
EACH = 100


async def _privmsgs(c: IrcClient, n: int) -> list[str]:
    """The texts of the next ``n`` PRIVMSGs ``c`` receives."""
    got: list[str] = []
    while len(got) < n:
        line = await c.expect_cmd("PRIVMSG")
        got.append(line.split(" :", 1)[1])
    return got


@pytest.mark.usefixtures("postgres_server")
async def test_a_flood_on_postgres_is_released_in_seq_order_with_each_seq(pg_url: str) -> None:
    srv = Server(dataclasses.replace(make_config(), postgres=pg_url))
    confirmed: list[tuple[str, int]] = []

    def hook(out: Outbound, msg: Message, seq: int) -> bool:
        confirmed.append((msg.text, seq))
        return True  # delivered here, as without a cluster

    srv.outbox.on_confirmed = hook
    await srv.start()
    try:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        watcher = await irc_in_lobby(srv, "watcher")
        senders = [await irc_in_lobby(srv, f"s{i}") for i in range(SENDERS)]
        await asyncio.gather(*(s.send(*(f"PRIVMSG #lobby :s{i} {j}" for j in range(EACH)))
                               for i, s in enumerate(senders)))
        seen = await _privmsgs(watcher, SENDERS * EACH)
        rtt = await b.stop()
        rtt.assert_served()
        # The watcher saw every message once, each sender's in its order...
        assert sorted(seen) == sorted(f"s{i} {j}" for i in range(SENDERS) for j in range(EACH))
        for i in range(SENDERS):
            assert [t for t in seen if t.startswith(f"s{i} ")] == [f"s{i} {j}" for j in range(EACH)]
        # ...in the order of #lobby's seq, which the hook saw 1, 2, 3, ... as they were released.
        assert [seq for _, seq in confirmed] == list(range(1, SENDERS * EACH + 1))
        assert [text for text, _ in confirmed] == seen
        for c in (watcher, *senders):
            await c.close()
        await b.close()
    finally:
        await srv.shutdown()


class ConfusedStore(MemoryStore):
    """Confirms every message with a receipt for some other msgid."""

    def append(self, msg: Message) -> None:
        confirm, self.on_commit = self.on_commit, None
        try:
            super().append(msg)
        finally:
            self.on_commit = confirm
        if confirm is not None:
            confirm([Receipt("f" * 16, "#nowhere", 0)])


async def test_receipts_that_match_nothing_held_are_logged_and_never_wedge_delivery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    srv = Server(make_config(), store=ConfusedStore())
    await srv.start()
    try:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        bob = await irc_in_lobby(srv, "bob")
        alice = await irc_in_lobby(srv, "alice")
        with caplog.at_level(logging.ERROR, logger="chinwag.server"):
            await alice.send(*(f"PRIVMSG #lobby :m{j}" for j in range(50)))
            assert await _privmsgs(bob, 50) == [f"m{j}" for j in range(50)]
        rtt = await b.stop()
        rtt.assert_served()
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 50
        assert errors[0].startswith(f"store confirmed {'f' * 16} but ")
        assert errors[0].endswith(" was next; released anyway")
        for c in (alice, bob):
            await c.close()
        await b.close()
    finally:
        await srv.shutdown()


async def test_a_message_the_cluster_hook_takes_is_fanned_out_only_when_handed_back() -> None:
    srv = Server(make_config())
    taken: list[Outbound] = []

    def hook(out: Outbound, msg: Message, seq: int) -> bool:
        if msg.text.startswith("cluster"):
            taken.append(out)
            return False  # the cluster delivers it, later, in seq order
        return True

    srv.outbox.on_confirmed = hook
    await srv.start()
    try:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        bob = await irc_in_lobby(srv, "bob")
        alice = await irc_in_lobby(srv, "alice")
        await alice.send("PRIVMSG #lobby :cluster one", "PRIVMSG #lobby :local two")
        # bob gets the second at once; the first waits for the cluster
        assert await _privmsgs(bob, 1) == ["local two"]
        assert len(taken) == 1
        srv.outbox.fan_out(taken[0])  # what the cluster's delivery does with it
        srv.outbox.schedule_flush()
        assert await _privmsgs(bob, 1) == ["cluster one"]
        rtt = await b.stop()
        rtt.assert_served()
        for c in (alice, bob):
            await c.close()
        await b.close()
    finally:
        await srv.shutdown()
