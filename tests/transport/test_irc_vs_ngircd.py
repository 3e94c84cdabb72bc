"""Where RFC 2812 leaves the shape open, chinwag answers as ngircd does: the same
exchange against both servers, compared command by command and parameter count."""

from __future__ import annotations

import asyncio

from chinwag.protocols.irc.message import Message
from chinwag.transport.server import Server
from tests.client.conftest import ngircd  # noqa: F401  (the fixture: a real ngircd on a free port)
from tests.conftest import IrcClient, make_config


async def _client(port: int, nick: str) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    c = IrcClient(r, w)
    await c.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} real")
    await c.expect_cmd("251")
    await c.send("PING :registered")
    await c.expect("registered")
    return c


async def _exchange(port: int) -> list[list[tuple[str, int]]]:
    """(command, number of parameters) of each answer, per question."""
    alice, bob = await _client(port, "alice"), await _client(port, "bob")
    answers = []
    await alice.send("JOIN #a", "JOIN #b", "AWAY :lunch", "PING :ready")
    await alice.expect("ready")

    async def ask(client: IrcClient, line: str) -> None:
        await client.send(line, "PING :end-of-answer")
        got = await client.lines_until_cmd("PONG")
        msgs = [Message.parse(line) for line in got[:-1]]
        answers.append([(m.command, len(m.params)) for m in msgs])

    await ask(bob, "NAMES #a,#nowhere,#b")
    await ask(bob, "WHOIS alice")
    await ask(bob, "WHOWAS ghost")
    await ask(bob, "INFO")
    await alice.close()
    await bob.close()
    return answers


async def test_names_whois_whowas_have_ngircds_shape(ngircd: int) -> None:  # noqa: F811
    theirs = await _exchange(ngircd)
    srv = Server(make_config())
    await srv.start()
    try:
        ours = await _exchange(srv.port("irc"))
    finally:
        await srv.shutdown()
    names, whois, whowas, info = ours
    assert names == theirs[0]  # one 353/366 pair per room, a lone 366 for one that is not there
    # WHOIS: the same numerics with the same parameters; the order between 318's
    # predecessors is the server's choice (ngircd: 312 before 319), 318 is last in both.
    assert sorted(whois) == sorted(theirs[1]) and whois[-1] == theirs[1][-1] == ("318", 3)
    assert whowas == theirs[2] == [("406", 3), ("369", 3)]
    for answer in (info, theirs[3]):  # some 371 lines, then 374
        assert answer[-1] == ("374", 2) and set(answer[:-1]) == {("371", 2)}
