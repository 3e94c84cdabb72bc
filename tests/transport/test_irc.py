"""IRC over real sockets: raw conversations with the exact numerics expected."""

from __future__ import annotations

from tests.conftest import IrcConnect


async def test_registration_burst(irc: IrcConnect) -> None:
    c = await irc()
    await c.send("NICK alice", "USER alice 0 * :Alice A")
    burst = await c.lines_until_cmd("422")
    print("\n".join(burst))
    assert burst[0] == ":chinwag 001 alice :Welcome to the chinwag IRC Network alice!alice@chinwag"
