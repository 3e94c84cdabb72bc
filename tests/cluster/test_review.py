"""Cluster defects found in review (issue 13), each as a user sees it: node
PROCESSES on a real PostgreSQL and redis-server, lines waited for, never time."""

from __future__ import annotations

import asyncio
import base64
import re

from benchmarks.clusternodes import Cluster
from tests.cluster.conftest import SLOW, Clients, wait_for
from tests.cluster.test_cluster import served
from tests.conftest import IrcClient, irc_command

PASSWORD = "correct-horse-battery"


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


async def test_multiclient_on_a_node_of_a_cluster_attaches_and_a_rename_from_the_second_device_stays_claimed(
    cluster: Cluster, clients: Clients
) -> None:
    n1, n2 = await cluster.start(2)
    b = await clients.bystander(n1)
    laptop = await clients.irc(n1, "zed")
    await laptop.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    await laptop.expect_cmd("900", SLOW)
    xena = await clients.irc(n2, "xena")
    assert ":zed xena" in xena.seen[-2] or " :xena zed" in xena.seen[-2], xena.seen[-2]  # (NAMES: zed is seen)

    # A second device of zed's account on zed's node, with zed's own nick (what
    # every client sends): it attaches, as on a lone server; never "nick in use".
    r, w = await asyncio.open_connection("127.0.0.1", n1.port("irc"))
    phone = IrcClient(r, w)
    clients.all.append(phone)
    await phone.send("CAP LS 302", "NICK zed", "USER zed 0 * :zed", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
    await phone.expect_cmd("AUTHENTICATE", SLOW)
    await phone.send("AUTHENTICATE " + b64(f"\0zed\0{PASSWORD}"))
    await phone.expect_cmd("903", SLOW)
    await phone.send("CAP END")
    first = await wait_for(phone, lambda s: irc_command(s) in ("001", "433"))
    assert irc_command(first) == "001", first
    assert first.split(" ")[2] == "zed"
    await phone.expect_cmd("422", SLOW)

    # The phone renames the user; then it goes: the user (on the laptop) keeps
    # the new nick, and its row in PostgreSQL with it.
    await phone.send("NICK zed2")
    assert re.match(r"^:zed!\S+ NICK :?zed2$", await phone.expect_cmd("NICK", SLOW))
    assert re.match(r"^:zed!\S+ NICK :?zed2$", await wait_for(xena, lambda s: irc_command(s) == "NICK"))
    await phone.send("QUIT :bye")
    await phone.closed()
    await xena.send("NICK zed2")  # the laptop's nick still: refused
    assert re.match(r"^:\S+ 433 xena zed2 :", await wait_for(xena, lambda s: irc_command(s) in ("NICK", "433")))
    await laptop.send("QUIT :done")
    await wait_for(xena, lambda s: bool(re.match(r"^:zed2!\S+ QUIT :?done$", s)))
    await xena.send("NICK zed2")  # free again everywhere
    assert re.match(r"^:xena!\S+ NICK :?zed2$", await wait_for(xena, lambda s: irc_command(s) in ("NICK", "433")))
    await served(b)
