"""The HTTP listener and IRC over WebSocket, with aiohttp's client on real sockets."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import aiohttp
import pytest

from chinwag.config import ConfigError, load_config
from chinwag.transport.server import Server
from chinwag.transport.web import origin_allowed
from chinwag.transport.websocket import OP_BINARY, frames
from tests.conftest import Connect, IrcClient, IrcConnect, make_config
from tests.web.conftest import WsConnect, WsIrc, web_url


async def test_healthz_and_index(server: Server) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(web_url(server, "/healthz")) as r:
            assert (r.status, await r.text()) == (200, "ok")
        async with s.get(web_url(server, "/")) as r:
            assert r.status == 200
            assert r.content_type == "text/html"
            assert "<title>chinwag" in await r.text()
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        async with s.get(web_url(server, "/app.js")) as r:
            assert r.status == 200
            assert "javascript" in r.content_type
        async with s.get(web_url(server, "/../config.py")) as r:
            assert r.status == 404
        async with s.get(web_url(server, "/irc")) as r:  # not an upgrade
            assert r.status == 400


async def test_favicon(server: Server) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(web_url(server, "/")) as r:
            assert '<link rel="icon" href="favicon.svg" type="image/svg+xml">' in await r.text()
        for path in ("/favicon.svg", "/favicon.ico"):  # browsers ask for /favicon.ico whatever the page says
            async with s.get(web_url(server, path)) as r:
                assert (r.status, r.content_type) == (200, "image/svg+xml"), path
                assert (await r.text()).startswith("<svg "), path
                assert "default-src 'self'" in r.headers["Content-Security-Policy"]


async def test_subprotocols_in_the_clients_order(ws_irc: WsConnect) -> None:
    text = await ws_irc("ann")
    assert text.ws.protocol == "text.ircv3.net"
    assert set(text.kinds) == {aiohttp.WSMsgType.TEXT}
    binary = await ws_irc("bob", protocols=("binary.ircv3.net", "text.ircv3.net"))
    assert binary.ws.protocol == "binary.ircv3.net"
    assert set(binary.kinds) == {aiohttp.WSMsgType.BINARY}
    legacy = await ws_irc("cat", protocols=())  # none negotiated: text frames
    assert legacy.ws.protocol is None
    assert set(legacy.kinds) == {aiohttp.WSMsgType.TEXT}


async def test_foreign_origin_is_refused(server: Server, ws_irc: WsConnect) -> None:
    host, port = server.addresses["web"]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await ws_irc(headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as other_port:
        await ws_irc(headers={"Origin": f"http://{host}:{port + 1}"})
    assert other_port.value.status == 403
    same = await ws_irc(headers={"Origin": f"http://{host}:{port}"})
    await same.register("same")


async def test_configured_origins() -> None:
    cfg = dataclasses.replace(make_config(), web_origins=("https://chat.example.org",))
    srv = Server(cfg)
    await srv.start()
    try:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(web_url(srv, "/irc"), protocols=("text.ircv3.net",),
                                    headers={"Origin": "https://chat.example.org"}) as ws:
                await ws.send_str("PING :x")
                assert (await ws.receive_str(timeout=5)).endswith("PONG chinwag x")
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await s.ws_connect(web_url(srv, "/irc"), headers={"Origin": "https://other.example.org"})
    finally:
        await srv.shutdown()


def test_origin_rules() -> None:
    assert origin_allowed(None, "h:1", ())
    assert origin_allowed("http://h:8080", "h:8080", ())
    assert origin_allowed("HTTP://H:8080/", "h:8080", ())
    assert origin_allowed("https://h", "h:443", ())
    assert origin_allowed("http://[::1]:8080", "[::1]:8080", ())
    assert not origin_allowed("http://h:8081", "h:8080", ())
    assert not origin_allowed("https://h:8080.evil", "h:8080", ())
    assert not origin_allowed("null", "h:8080", ())
    assert not origin_allowed("http://h:8080", None, ())
    assert origin_allowed("https://a.org", "h:8080", ("https://a.org",))
    assert origin_allowed("https://b.org", "h:8080", ("*",))


def test_frames_one_per_line() -> None:
    assert frames(b"PING :a\r\nPONG :b\r\n") == b"\x81\x07PING :a\x81\x07PONG :b"
    long = b"x" * 300
    assert frames(long + b"\r\n", OP_BINARY) == b"\x82\x7e\x01\x2c" + long
    assert frames(b"") == b""


async def test_one_line_per_message_both_ways(ws_irc: WsConnect) -> None:
    c = await ws_irc()
    await c.send("NICK ann", "USER ann 0 * :Ann")
    burst = await c.expect_cmd("422")
    assert burst
    assert all("\r" not in line and "\n" not in line for line in c.seen)
    assert c.seen[0].startswith(":chinwag 001 ann ")
    await c.send("PING :tail\r\n")  # a trailing CRLF is tolerated
    assert (await c.expect_cmd("PONG")).endswith("tail")
    await c.send("PING :a\r\nQUIT :smuggled")  # two lines in one message: refused
    with pytest.raises(EOFError):
        await c.expect_cmd("PONG")


async def test_text_user_and_websocket_user_chat(connect: Connect, ws_irc: WsConnect) -> None:
    alice = await connect("alice")
    web = await ws_irc("webby")
    await web.send("JOIN #lobby")
    await web.expect_cmd("366")
    await alice.expect("webby has joined")
    await alice.send("hello web")
    assert (await web.expect_cmd("PRIVMSG")).endswith("PRIVMSG #lobby :hello web")
    await web.send("PRIVMSG #lobby :hello text")
    assert (await alice.expect("hello text")).endswith("] webby: hello text")


async def test_a_burst_reaches_irc_and_both_websocket_kinds_line_for_line(irc: IrcConnect, ws_irc: WsConnect) -> None:
    """Fan-out frames a room's shared buffer once per opcode for its WebSocket
    readers (transport/bulk.py): every reader, whatever it connected with,
    sees every message of a burst from several senders, in one order, each line
    in a frame of its own of the kind it negotiated; the WebSocket sender sees
    the others' lines around its own (which it does not get back)."""
    tcp = await irc("tcp")
    text = await ws_irc("wtext")
    binary = await ws_irc("wbin", protocols=("binary.ircv3.net",))
    talker = await ws_irc("wtalk")
    loud = await irc("loud")
    web = (text, binary, talker)
    for c in (tcp, loud, *web):
        await c.send("JOIN #burst")
    for c in (tcp, loud, *web):
        await c.expect_cmd("366")  # (each join is in before anyone speaks)
    count = 60
    said = {"loud": [f"loud {i} " + "x" * (i * 3) for i in range(count)],  # some over 125 bytes a frame
            "wtalk": [f"wtalk {i}" for i in range(count)]}
    await asyncio.gather(loud.send(*(f"PRIVMSG #burst :{t}" for t in said["loud"])),
                         talker.send(*(f"PRIVMSG #burst :{t}" for t in said["wtalk"])))

    async def privmsgs(c: IrcClient | WsIrc, want: int) -> list[str]:
        got: list[str] = []
        while len(got) < want:
            line = await c.expect_cmd("PRIVMSG")
            got.append(line.split(" ", 1)[0].split("!")[0] + " " + line.split(" :", 1)[1])
        return got

    seen = await asyncio.gather(*(privmsgs(c, 2 * count) for c in (tcp, text, binary)),
                                privmsgs(talker, count), privmsgs(loud, count))
    assert seen[1] == seen[2] == seen[0], "every reader sees the same lines in the same order"
    for nick in said:
        assert [m.split(" ", 1)[1] for m in seen[0] if m.startswith(f":{nick} ")] == said[nick]
    assert seen[3] == [f":loud {t}" for t in said["loud"]]
    assert seen[4] == [f":wtalk {t}" for t in said["wtalk"]]
    assert set(text.kinds) == {aiohttp.WSMsgType.TEXT} and set(talker.kinds) == {aiohttp.WSMsgType.TEXT}
    assert set(binary.kinds) == {aiohttp.WSMsgType.BINARY}
    assert all("\r" not in line and "\n" not in line for c in web for line in c.seen)


async def test_shutdown_says_goodbye_over_websocket() -> None:
    srv = Server(make_config())
    await srv.start()
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(web_url(srv, "/irc"), protocols=("text.ircv3.net",))
        await ws.send_str("NICK ann")
        await ws.send_str("USER ann 0 * :Ann")
        while " 422 " not in await ws.receive_str(timeout=5):
            pass
        stop = asyncio.create_task(srv.shutdown())
        lines = []
        while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
            lines.append(msg.data)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert any(line.startswith("ERROR :") and "shutting down" in line for line in lines), lines
        await ws.close()
        await asyncio.wait_for(stop, 5)
    assert not srv.connections


def test_web_config_keys(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('web_port = 9090\nweb_origins = ["https://Chat.example.org/", "*"]\n')
    c = load_config(f, {})
    assert (c.web_port, c.web_origins) == (9090, ("https://chat.example.org", "*"))
    c = load_config(None, {"CHINWAG_WEB_PORT": "0", "CHINWAG_WEB_ORIGINS": "http://a.lan:8080, https://b.org"})
    assert (c.web_port, c.web_origins) == (0, ("http://a.lan:8080", "https://b.org"))
    assert load_config(None, {}, {"web_port": 1234}).web_port == 1234
    with pytest.raises(ConfigError, match="web_port must be 0..65535"):
        load_config(None, {"CHINWAG_WEB_PORT": "70000"})
    with pytest.raises(ConfigError, match="web_origins"):
        load_config(None, {"CHINWAG_WEB_ORIGINS": "chat.example.org"})


async def test_flood_limits_apply_to_websocket_clients() -> None:
    srv = Server(make_config(flood_burst=20, flood_rate=5, flood_backlog=50))
    await srv.start()
    try:
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(web_url(srv, "/irc"), protocols=("text.ircv3.net",))
            await ws.send_str("NICK flood")
            await ws.send_str("USER flood 0 * :x")
            while " 422 " not in await ws.receive_str(timeout=5):
                pass
            for i in range(200):
                await ws.send_str(f"PRIVMSG flood :{i}")
            lines = []
            while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
                lines.append(msg.data)
            assert any(line.startswith("ERROR :") and "excess flood" in line.lower() for line in lines), lines[-3:]
            await ws.close()
    finally:
        await srv.shutdown()
