"""A chinwag cluster as its users see it: node PROCESSES on a real PostgreSQL
and redis-server (nothing mocked), users of every protocol on different nodes.

Each test waits on lines, never on time; the only timing assertion is the
bystander's stall detector (tests/hostile/bystander.py) on a node that stays up.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from benchmarks.clusternodes import Cluster
from tests.cluster.conftest import (
    HISTORY_CAPS,
    SETTINGS,
    SLOW,
    Clients,
    irc_said,
    text_said,
    wait_all,
    wait_for,
)
from tests.conftest import IrcClient, LineClient, irc_command
from tests.hostile.bystander import Bystander
from tests.services import Redis
from tests.transport.test_chathistory import batch, msgid, texts

N = 8  # messages per sender in the concurrent bursts
Match = Callable[[str], bool]


async def served(b: Bystander) -> None:
    """The bystander's verdict: node 1 answered it all along (tests/hostile/bystander.py)."""
    rtt = await b.stop()
    await b.close()
    rtt.assert_served()


def joined(nick: str) -> Match:
    """An IRC JOIN of ``nick`` to #lobby (any host, extended-join or not)."""
    return lambda line: bool(re.match(rf"^(?:@\S+ )?:{nick}!\S+ JOIN :?#lobby\b", line))


def quit_of(nick: str) -> Match:
    return lambda line: bool(re.match(rf"^(?:@\S+ )?:{nick}!\S+ QUIT\b", line))


def text_left(nick: str) -> Match:
    return lambda line: line.startswith(f"* {nick} has left (")


async def room_texts(c: LineClient, count: int, timeout: float = SLOW) -> list[str]:
    """The next ``count`` #lobby messages ``c`` receives, as 'nick: text' in arrival order."""
    got: list[str] = []

    def take(line: str) -> bool:
        said = irc_said(line)
        if said is not None and said[1] == "#lobby":
            got.append(f"{said[0]}: {said[2]}")
        elif said is None and (t := text_said(line)) is not None:
            got.append(f"{t[0]}: {t[1]}")
        return len(got) == count

    await wait_for(c, take, timeout)
    return got


async def stored(c: LineClient, said: str) -> None:
    """Wait until text user ``c``'s message ``said`` is in the shared history:
    its ``/history`` (answered after its node's store flushed) shows it. A
    catch-up on another node reads PostgreSQL, which the sender's node may not
    have committed to yet."""
    await c.send("/history")
    await wait_for(c, lambda s: s.startswith("--- history of #lobby"))
    lines = []
    while (line := await c.line(SLOW)) != "--- end of history ---":
        lines.append(line)
    assert any(line.endswith(f"] {said}") for line in lines), lines


def count(c: LineClient, match: Match) -> int:
    return sum(1 for line in c.seen if match(line))


async def test_three_nodes_text_irc_and_websocket_users_share_a_room_in_one_order(
    cluster: Cluster, clients: Clients
) -> None:
    n1, n2, n3 = await cluster.start(3)
    b = await clients.bystander(n1)
    tess = await clients.text(n1, "tess")
    ivan = await clients.irc(n2, "ivan", ("echo-message", *HISTORY_CAPS))
    assert await wait_for(tess, lambda s: "ivan" in s) == "* ivan has joined #lobby"
    wendy = await clients.ws(n3, "wendy", ("echo-message",))
    names = [s for s in wendy.seen if irc_command(s) == "353"]
    assert sorted(names[-1].rsplit(":", 1)[1].split()) == ["ivan", "tess", "wendy"]
    assert await wait_for(tess, lambda s: "wendy" in s) == "* wendy has joined #lobby"
    await wait_for(ivan, joined("wendy"))

    # Three senders on three nodes at once; every user sees one order.
    await asyncio.gather(
        tess.send(*[f"t{i}" for i in range(N)]),
        ivan.send(*[f"PRIVMSG #lobby :i{i}" for i in range(N)]),
        wendy.send(*[f"PRIVMSG #lobby :w{i}" for i in range(N)]),
    )
    seen_ivan, seen_wendy, seen_tess = await asyncio.gather(
        room_texts(ivan, 3 * N), room_texts(wendy, 3 * N), room_texts(tess, 2 * N))
    assert seen_ivan == seen_wendy  # echo-message: each sees all 3N, its own in place
    assert sorted(seen_ivan) == sorted([f"tess: t{i}" for i in range(N)] + [f"ivan: i{i}" for i in range(N)]
                                       + [f"wendy: w{i}" for i in range(N)])
    assert seen_tess == [m for m in seen_ivan if not m.startswith("tess: ")]
    for who, prefix in (("tess", "t"), ("ivan", "i"), ("wendy", "w")):  # each sender's own order kept
        assert [m for m in seen_ivan if m.startswith(f"{who}: ")] == [f"{who}: {prefix}{i}" for i in range(N)]
    # and the room's history is in that order too
    _, inner = await batch(ivan, "CHATHISTORY LATEST #lobby * 100")
    assert [f"{irc_said(s)[0]}: {irc_said(s)[2]}" for s in inner if irc_said(s)] == seen_ivan  # type: ignore[index]

    # A nick change on node 2, seen on nodes 1 and 3.
    await ivan.send("NICK ivo")
    assert await wait_for(tess, lambda s: s.startswith("* ivan")) == "* ivan is now known as ivo"
    assert re.match(r"^:ivan!\S+ NICK :?ivo$", await wait_for(wendy, lambda s: irc_command(s) == "NICK"))

    # Private messages across nodes, every direction.
    await tess.send("/msg wendy psst from node1")
    assert re.match(r"^:tess!\S+ PRIVMSG wendy :psst from node1$", await wait_for(wendy, lambda s: "psst" in s))
    await wendy.send("PRIVMSG ivo :hi from node3")
    got = await wait_for(ivan, lambda s: "from node3" in s)
    assert re.match(r"^(?:@\S+ )?:wendy!\S+ PRIVMSG ivo :hi from node3$", got)
    await ivan.send("PRIVMSG tess :hi from node2")
    assert (await wait_for(tess, lambda s: "from node2" in s)).endswith("] *ivo* hi from node2")
    await served(b)


async def test_names_who_whois_list_and_text_who_show_users_of_other_nodes(
    cluster: Cluster, clients: Clients
) -> None:
    n1, n2, n3 = await cluster.start(3)
    b = await clients.bystander(n1)
    tess = await clients.text(n1, "tess")
    ivan = await clients.irc(n2, "ivan")
    wendy = await clients.ws(n3, "wendy")
    await wait_all(tess, [lambda s: s == "* ivan has joined #lobby", lambda s: s == "* wendy has joined #lobby"])
    await wait_for(ivan, joined("wendy"))
    everyone = ["ivan", "tess", "wendy"]

    await ivan.send("NAMES #lobby")
    got = await ivan.lines_until_cmd("366")
    assert sorted(n.lstrip("@+") for n in got[0].rsplit(":", 1)[1].split()) == everyone

    await ivan.send("WHO #lobby")
    got = await ivan.lines_until_cmd("315")
    assert sorted(line.split()[7] for line in got if irc_command(line) == "352") == everyone

    await wendy.send("WHOIS tess")
    got = await wendy.lines_until_cmd("318")
    assert [line.split()[3] for line in got if irc_command(line) == "311"] == ["tess"]
    assert any(irc_command(line) == "319" and "#lobby" in line for line in got), got

    await ivan.send("LIST")
    got = await ivan.lines_until_cmd("323")
    assert [line.split()[3:5] for line in got if irc_command(line) == "322"] == [["#lobby", "3"]]

    await tess.send("/who")
    assert await tess.expect("* in #lobby:") == "* in #lobby: tess, ivan, wendy (3)"
    await served(b)


async def test_a_nick_held_on_one_node_is_refused_on_another_until_its_holder_quits(
    cluster: Cluster, clients: Clients
) -> None:
    n1, n2, n3 = await cluster.start(3)
    b = await clients.bystander(n1)
    ivan = await clients.irc(n2, "ivan")
    xena = await clients.irc(n3, "xena")
    await wait_for(ivan, joined("xena"))
    await xena.send("NICK ivan")
    assert re.match(r"^:\S+ 433 xena ivan :", await xena.expect_cmd("433", SLOW))
    newcomer = await clients.text_raw(n1)
    await newcomer.send("IVAN")  # the same nick, casefolded
    assert await newcomer.line(SLOW) == "name taken; try IVAN2. What is your name?"  # (as on a lone server)

    await ivan.send("QUIT :bye")
    await wait_for(xena, quit_of("ivan"))
    await newcomer.send("ivan")  # freed: the text user on node 1 gets it
    await wait_for(newcomer, lambda s: s == "Welcome to chinwag, ivan! Type /help for commands.")
    assert await newcomer.expect("* in #lobby:") == "* in #lobby: xena, ivan (2)"
    await xena.send("NICK ivan")  # held again, now by node 1
    assert re.match(r"^:\S+ 433 xena ivan :", await xena.expect_cmd("433", SLOW))
    await newcomer.send("/quit")
    await wait_for(xena, quit_of("ivan"))
    await xena.send("NICK ivan")
    assert re.match(r"^:xena!\S+ NICK :?ivan$", await wait_for(xena, lambda s: irc_command(s) in ("NICK", "433")))
    await served(b)


async def test_kill9_of_a_node_its_users_quit_once_everywhere_and_irc_catches_up_on_another_node(
    cluster: Cluster, clients: Clients
) -> None:
    n1, n2, n3 = await cluster.start(3)
    b = await clients.bystander(n1)
    tess = await clients.text(n1, "tess")
    ivan = await clients.irc(n2, "ivan", ("echo-message", *HISTORY_CAPS))
    kim = await clients.text(n2, "kim")
    wendy = await clients.ws(n3, "wendy")
    await wait_all(tess, [lambda s: s == "* ivan has joined #lobby", lambda s: s == "* kim has joined #lobby",
                          lambda s: s == "* wendy has joined #lobby"])
    await wait_for(ivan, joined("wendy"))
    await wait_for(kim, lambda s: s == "* wendy has joined #lobby")

    # a busy room on two other nodes at once, then ivan's node dies
    await asyncio.gather(tess.send(*[f"t{i}" for i in range(N)]),
                         ivan.send(*[f"PRIVMSG #lobby :i{i}" for i in range(N)]),
                         wendy.send(*[f"PRIVMSG #lobby :w{i}" for i in range(N)]))
    got = [await wait_for(ivan, lambda s: irc_said(s) is not None) for _ in range(3 * N)]
    before = texts(got)
    assert sorted(before) == sorted([f"{p}{i}" for p in "tiw" for i in range(N)])
    last = msgid(got[-1])

    await cluster.kill9(1)  # node2: ivan and kim vanish without a word
    await wait_all(tess, [text_left("ivan"), text_left("kim")])
    await wait_all(wendy, [quit_of("ivan"), quit_of("kim")])
    # the conversation goes on without them
    await tess.send("during one")
    assert await room_texts(wendy, 1) == ["tess: during one"]
    await wendy.send("PRIVMSG #lobby :during two")
    assert await room_texts(tess, 1) == ["wendy: during two"]
    await tess.send("during three")
    assert await room_texts(wendy, 1) == ["tess: during three"]
    await wendy.send("PRIVMSG #lobby :mark")
    assert await room_texts(tess, 1) == ["wendy: mark"]
    await tess.send("mark")
    assert await room_texts(wendy, 1) == ["tess: mark"]
    # their quits were announced once to each (nothing more came before the marks)
    for c, left in ((tess, text_left), (wendy, quit_of)):
        assert [count(c, left("ivan")), count(c, left("kim"))] == [1, 1], c.seen[-15:]

    # ivan comes back on node 3 with the same nick and catches up after the last msgid he saw
    ivan2 = await clients.irc(n3, "ivan", HISTORY_CAPS)
    _, inner = await batch(ivan2, f"CHATHISTORY AFTER #lobby msgid={last} 100")
    privmsgs = [line for line in inner if irc_command(line) == "PRIVMSG"]
    assert texts(privmsgs) == ["during one", "during two", "during three", "mark", "mark"]
    await tess.send("after")
    assert texts([await wait_for(ivan2, lambda s: irc_said(s) is not None)]) == ["after"]
    everything = texts([s for s in ivan.seen + ivan2.seen if irc_said(s) is not None and "@batch" not in s]
                       + privmsgs)
    assert sorted(everything) == sorted([*before, "during one", "during two", "during three",
                                         "mark", "mark", "after"])  # each exactly once
    # and from any message on, the catch-up is exactly what came after it, in the order everyone saw live
    order = [*before, "during one", "during two", "during three", "mark", "mark", "after"]
    for i, line in enumerate(got):
        _, inner = await batch(ivan2, f"CHATHISTORY AFTER #lobby msgid={msgid(line)} 100")
        assert texts([s for s in inner if irc_command(s) == "PRIVMSG"]) == order[i + 1:], f"after {texts([line])}"
    await served(b)


async def test_redis_stopped_and_restarted_mid_conversation_nothing_lost_or_repeated_presence_heals(
    pg_url: str, own_redis: Redis, clients: Clients
) -> None:
    async with Cluster(pg_url, own_redis.url, settings=SETTINGS) as cluster:
        n1, n2, n3 = await cluster.start(3)
        b = await clients.bystander(n1)
        tess = await clients.text(n1, "tess")
        ivan = await clients.irc(n2, "ivan", ("echo-message",))
        wendy = await clients.ws(n3, "wendy", ("echo-message",))
        await wait_all(tess, [lambda s: s == "* ivan has joined #lobby", lambda s: s == "* wendy has joined #lobby"])
        await wait_for(ivan, joined("wendy"))
        await tess.send("before")
        assert list(await asyncio.gather(room_texts(ivan, 1), room_texts(wendy, 1))) == [["tess: before"]] * 2

        await asyncio.to_thread(own_redis.stop)
        await asyncio.gather(
            tess.send(*[f"t{i}" for i in range(N)]),
            ivan.send(*[f"PRIVMSG #lobby :i{i}" for i in range(N)]),
            wendy.send(*[f"PRIVMSG #lobby :w{i}" for i in range(N)]),
        )
        seen_ivan, seen_wendy, seen_tess = await asyncio.gather(
            room_texts(ivan, 3 * N), room_texts(wendy, 3 * N), room_texts(tess, 2 * N))
        assert seen_ivan == seen_wendy
        assert sorted(seen_ivan) == sorted([f"tess: t{i}" for i in range(N)] + [f"ivan: i{i}" for i in range(N)]
                                           + [f"wendy: w{i}" for i in range(N)])
        assert seen_tess == [m for m in seen_ivan if not m.startswith("tess: ")]
        # a newcomer on node 3 while the bus is down: node 3's users see her at once
        nina = await clients.text(n3, "nina")
        await wait_for(wendy, joined("nina"))

        await asyncio.to_thread(own_redis.start)
        # presence heals: the others learn of nina (once), and everyone hears everyone again
        await wait_for(ivan, joined("nina"))
        assert await wait_for(tess, lambda s: "nina" in s) == "* nina has joined #lobby"
        await tess.send("after")
        await nina.send("nina after")
        for c in (ivan, wendy):
            assert sorted(await room_texts(c, 2)) == ["nina: nina after", "tess: after"]
        assert await room_texts(tess, 1) == ["nina: nina after"]
        assert await room_texts(nina, 1) == ["tess: after"]
        await ivan.send("NAMES #lobby")
        got = await ivan.lines_until_cmd("366")
        assert sorted(n.lstrip("@+") for n in got[0].rsplit(":", 1)[1].split()) == ["ivan", "nina", "tess", "wendy"]
        # nothing from the outage came twice
        for c in (ivan, wendy):
            assert count(c, joined("nina")) == 1
            assert sum(1 for s in c.seen if irc_said(s) is not None) == 1 + 3 * N + 2
        assert count(tess, lambda s: s == "* nina has joined #lobby") == 1
        assert sum(1 for s in tess.seen if text_said(s) is not None) == 2 * N + 1
        rtt = await b.stop()
        await b.close()
        rtt.assert_served()


async def test_a_node_added_while_others_run_sees_and_is_seen_by_everyone(
    cluster: Cluster, clients: Clients
) -> None:
    n1, n2 = await cluster.start(2)
    b = await clients.bystander(n1)
    tess = await clients.text(n1, "tess")
    ivan = await clients.irc(n2, "ivan")
    assert await wait_for(tess, lambda s: "ivan" in s) == "* ivan has joined #lobby"
    await tess.send("before node3")
    assert await room_texts(ivan, 1) == ["tess: before node3"]

    n3 = await cluster.add()
    assert n3.name == "node3"
    wendy = await clients.ws(n3, "wendy")
    names = [s for s in wendy.seen if irc_command(s) == "353"]
    assert sorted(names[-1].rsplit(":", 1)[1].split()) == ["ivan", "tess", "wendy"]
    assert await wait_for(tess, lambda s: "wendy" in s) == "* wendy has joined #lobby"
    await wait_for(ivan, joined("wendy"))
    await wendy.send("PRIVMSG #lobby :hello from node3")
    assert await room_texts(tess, 1) == ["wendy: hello from node3"]
    assert await room_texts(ivan, 1) == ["wendy: hello from node3"]
    await tess.send("welcome")
    assert await room_texts(wendy, 1) == ["tess: welcome"]
    await wendy.send("WHOIS ivan")
    got = await wendy.lines_until_cmd("318")
    assert [line.split()[3] for line in got if irc_command(line) == "311"] == ["ivan"]
    await served(b)


async def test_sigterm_on_a_node_tells_its_clients_to_reconnect_and_others_see_their_quits_once(
    cluster: Cluster, clients: Clients
) -> None:
    n1, n2, n3 = await cluster.start(3)
    b = await clients.bystander(n1)
    tess = await clients.text(n1, "tess")
    ivan = await clients.irc(n2, "ivan")
    kim = await clients.text(n2, "kim")
    wendy = await clients.ws(n3, "wendy")
    await wait_all(tess, [lambda s: s == "* ivan has joined #lobby", lambda s: s == "* kim has joined #lobby",
                          lambda s: s == "* wendy has joined #lobby"])
    await wait_for(ivan, joined("wendy"))

    status = asyncio.ensure_future(cluster.term(1))
    irc_last = await ivan.closed(SLOW)
    text_last = await kim.closed(SLOW)
    assert await status == 0
    assert irc_last[-1:] == ["ERROR :Closing Link: ivan (node node2 is shutting down: reconnect to another node)"]
    assert any("reconnect" in s.lower() for s in text_last), text_last
    await wait_all(tess, [text_left("ivan"), text_left("kim")])
    await wait_all(wendy, [quit_of("ivan"), quit_of("kim")])
    await tess.send("mark")
    assert await room_texts(wendy, 1) == ["tess: mark"]
    await wendy.send("PRIVMSG #lobby :mark")
    assert await room_texts(tess, 1) == ["wendy: mark"]
    for c, left in ((tess, text_left), (wendy, quit_of)):
        assert [count(c, left("ivan")), count(c, left("kim"))] == [1, 1], c.seen[-15:]
    # drained, not dead: ivan's nick is free at once on another node
    ivan2: IrcClient = await clients.irc(n3, "ivan")
    assert ivan2.nick == "ivan"
    await served(b)


async def test_kill9_of_a_node_its_text_user_comes_back_on_another_node_and_is_told_what_it_missed(
    cluster: Cluster, clients: Clients
) -> None:
    n1, n2, n3 = await cluster.start(3)
    b = await clients.bystander(n1)
    tess = await clients.text(n1, "tess")
    kim = await clients.text(n2, "kim")
    assert await wait_for(tess, lambda s: "kim" in s) == "* kim has joined #lobby"
    await tess.send("before")
    assert await room_texts(kim, 1) == ["tess: before"]

    await cluster.kill9(1)
    await wait_for(tess, text_left("kim"))
    await tess.send("while kim was away")
    await stored(tess, "tess: while kim was away")
    kim2 = await clients.text_raw(n3)
    await kim2.send("kim")
    start = len(kim2.seen)
    await wait_for(kim2, lambda s: s.startswith("--- end of history") or "nothing new" in s)
    got = kim2.seen[start:]
    assert got[0] == "Welcome to chinwag, kim! Type /help for commands."
    assert "--- while you were away ---" in got
    shown = [s.split("] ", 1)[1] for s in got if s.startswith("[")]
    # nothing missed; a telnet client has no msgids, so the catch-up starts at the dead node's delivery
    # marks and may show again what came just before the kill (docs/cluster.md, Failures; exact after a
    # quiet moment: tests/cluster/test_marks.py)
    assert shown in (["tess: while kim was away"], ["tess: before", "tess: while kim was away"])
    await served(b)
