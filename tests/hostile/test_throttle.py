"""New connections per address are throttled (transport/admission.py): one
address that connects, closes and connects again, plain or over TLS, gets a
burst and then a rate; others, and the users already in, are not affected."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
from pathlib import Path

from chinwag.config import Config
from tests.conftest import LineClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_edge import GREETING, open_from, text_from_refused
from tests.hostile.test_hostile import serving_config
from tests.tlsutil import Pki


def throttled(**limits: int) -> Config:
    # (loopback is exempt by default: here it is not, so that 127.0.0.x can be throttled)
    return dataclasses.replace(make_config(**limits), throttle_exempt=())


async def test_an_address_that_keeps_reconnecting_is_refused_after_its_burst() -> None:
    async with serving_config(throttled(connect_burst=5, connect_per_minute=1)) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        for _ in range(5):  # connect, see the greeting, leave: each one a new connection
            c = LineClient(*await open_from("127.0.0.9", srv.port("text")))
            assert await c.line() == GREETING
            await c.close()
        assert await text_from_refused(srv, "127.0.0.9") == [
            "* disconnected: connecting too often from 127.0.0.9; wait a minute"]
        r, w = await open_from("127.0.0.9", srv.port("irc"))
        w.write(b"NICK x\r\nUSER x 0 * :x\r\n")
        assert await asyncio.wait_for(r.read(), 10) == (
            b"ERROR :Closing Link: * (connecting too often from 127.0.0.9; wait a minute)\r\n")
        w.close()
        other = LineClient(*await open_from("127.0.0.10", srv.port("text")))  # another address: served
        assert await other.line() == GREETING
        await other.send("olga")
        await other.expect("* in #lobby")
        rtt = await b.stop()
        rtt.assert_served()
        await other.close()
        await b.close()


async def test_a_tls_handshake_flood_from_one_address_is_reset_before_the_handshake(tmp_path: Path) -> None:
    pki = Pki.make(tmp_path / "pki")
    cfg = dataclasses.replace(throttled(connect_burst=10, connect_per_minute=1), tls_cert=str(pki.cert_file),
                              tls_key=str(pki.key_file), irc_tls_port=0, text_tls_port=0, web_tls_port=0)
    async with serving_config(cfg) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        ctx = pki.client_context()
        done = failed = 0
        for _ in range(200):  # as fast as one client can: 10 handshakes, then resets
            try:
                r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc_tls"), ssl=ctx,
                                                     server_hostname="localhost", local_addr=("127.0.0.11", 0))
            except (ConnectionError, ssl.SSLError, OSError):
                failed += 1
                continue
            done += 1
            w.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await w.wait_closed()
        assert (done, failed) == (10, 190)
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()
