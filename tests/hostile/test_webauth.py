"""Browser accounts over HTTP (POST/GET/DELETE /session and the cookie the
WebSocket upgrade brings), the registration limit on every protocol, and SASL
EXTERNAL with a trustme client certificate; a bystander served throughout."""

from __future__ import annotations

import base64
import hashlib
import ssl
from pathlib import Path

import aiohttp
import trustme

from chinwag.transport.server import Server
from tests.conftest import IrcClient
from tests.hostile.bystander import Bystander
from tests.hostile.test_accounts import FAST, PASSWORD, registered, serving, text_client
from tests.tlsutil import Pki, tls_open, tls_serving

SRC = "chinwag"
COOKIE = "chinwag_session"
SESSION = "session"  # the store's kind of credential for a web session (storage/accounts.py)


def token_hash(token: str) -> str:
    """What the store keeps of a session token (never the token)."""
    return hashlib.sha256(token.encode()).hexdigest()


def url(srv: Server, path: str) -> str:
    host, port = srv.addresses["web"]
    return f"http://{host}:{port}{path}"


def browser() -> aiohttp.ClientSession:
    """A client that keeps cookies as a browser would (for 127.0.0.1 too)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def post(http: aiohttp.ClientSession, srv: Server, **body: object) -> tuple[int, dict[str, object], str]:
    async with http.post(url(srv, "/session"), json=body, headers={"Origin": url(srv, "")}) as r:
        return r.status, await r.json(), r.headers.get("Set-Cookie", "")


async def ws_lines(http: aiohttp.ClientSession, srv: Server, nick: str) -> tuple[aiohttp.ClientWebSocketResponse,
                                                                                    list[str]]:
    """Open /irc (the cookie goes along), register ``nick``; the lines up to 001."""
    ws = await http.ws_connect(url(srv, "/irc"), protocols=("text.ircv3.net",))
    await ws.send_str(f"NICK {nick}")
    await ws.send_str(f"USER {nick} 0 * :{nick}")
    lines: list[str] = []
    while not lines or f" 001 {nick} " not in lines[-1]:
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        lines.append(msg.data)
    return ws, lines


async def whois_account(watcher: IrcClient, nick: str) -> str:
    await watcher.send(f"WHOIS {nick}")
    lines = await watcher.lines_until_cmd("318")
    return next((line for line in lines if " 330 " in line), "no 330")


async def test_browser_login_survives_a_reconnect_and_logout_ends_it() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        watcher = await text_client(srv, "watcher")
        irc = await Bystander.join(srv.port("irc"), "irc")
        async with browser() as http:
            status, body, cookie = await post(http, srv, name="Вася", password=PASSWORD, create=True)
            assert (status, body) == (200, {"account": "Вася", "created": True})
            token = cookie.split(";")[0].partition("=")[2]
            attrs = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
            assert cookie.startswith(f"{COOKIE}=") and len(token) >= 40
            assert "httponly" in attrs and attrs["samesite"] == "SameSite=Strict" and attrs["path"] == "Path=/"
            assert "secure" not in attrs  # plain HTTP here (Secure on HTTPS)
            assert PASSWORD not in cookie and token not in str(await srv.store.list_credentials(SESSION, "вася"))
            assert await srv.store.list_credentials(SESSION, "вася") == [token_hash(token)]
            async with http.get(url(srv, "/session")) as r:
                assert await r.json() == {"account": "Вася"}

            ws, lines = await ws_lines(http, srv, "Вася")  # "a page reload": a new socket, the cookie only
            assert f":{SRC} 900 * *!*@chinwag Вася :You are now logged in as Вася" in lines
            assert await whois_account(irc.client, "Вася") == f":{SRC} 330 irc Вася Вася :is logged in as"
            await ws.send_str("JOIN #lobby")
            assert await watcher.expect("joined") == "* Вася has joined #lobby"
            await watcher.send("/who")
            assert await watcher.expect("* in #lobby:") == "* in #lobby: watcher, Вася (logged in) (2)"
            await ws.close()

            async with http.delete(url(srv, "/session"), headers={"Origin": url(srv, "")}) as r:
                assert r.status == 200 and await r.json() == {"account": None}
                assert f"{COOKIE}=\"\"" in r.headers["Set-Cookie"] or f"{COOKIE}=;" in r.headers["Set-Cookie"]
            assert await srv.store.find_credential(SESSION, token_hash(token), srv.hub.clock()) is None
            async with http.get(url(srv, "/session")) as r:
                assert await r.json() == {"account": None}
            ws, lines = await ws_lines(http, srv, "Вася")
            assert not any(" 900 " in line for line in lines)
            assert await whois_account(irc.client, "Вася") == "no 330"
            await ws.close()
        # The old token, replayed by hand after the logout, logs nobody in.
        async with aiohttp.ClientSession(cookies={COOKIE: token}) as thief:
            async with thief.get(url(srv, "/session")) as r:
                assert await r.json() == {"account": None}
        rtt = await b.stop()
        rtt.assert_served()
        await watcher.close()
        await irc.close()
        await b.close()


async def test_wrong_passwords_through_the_form_are_rate_limited_like_any_login() -> None:
    async with serving(auth_failures_per_ip=3) as srv:
        owner = await registered(srv, "alice")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        async with browser() as http:
            first = await post(http, srv, name="alice", password="wrong-password-1")
            assert first[:2] == (401, {"error": "invalid account name or password", "retry_after": 0.05})
            assert first[2] == ""  # no cookie
            second = await post(http, srv, name="nobody", password="wrong-password-2")  # same answer, unknown name
            assert second[0] == 401 and second[1]["error"] == "invalid account name or password"
            third = await post(http, srv, name="alice", password="wrong-password-3")  # the last one allowed
            assert third[:2] == (429, {"error": "invalid account name or password"})
            # Past auth_failures_per_ip the address is refused, even with the right password.
            blocked = await post(http, srv, name="alice", password=PASSWORD)
            assert blocked[0] == 429 and blocked[1]["error"] == "too many failed passwords from 127.0.0.1"
            bad = await post(http, srv, name="alice")  # no password: a clear 400, nothing checked
            assert bad[:2] == (400, {"error": "name and password are strings, create is true or false"})
            async with http.post(url(srv, "/session"), json={"name": "x", "password": "y"},
                                 headers={"Origin": "https://evil.example"}) as r:
                assert r.status == 403
        rtt = await b.stop()
        rtt.assert_served()
        await owner.close()
        await b.close()


async def test_registrations_per_address_are_limited_on_every_protocol() -> None:
    async with serving(max_accounts_per_address=2) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        first = await registered(srv, "one")
        async with browser() as http:
            status, body, _ = await post(http, srv, name="two", password=PASSWORD, create=True)
            assert (status, body) == (200, {"account": "two", "created": True})
            status, body, cookie = await post(http, srv, name="three", password=PASSWORD, create=True)
            assert (status, body, cookie) == (
                429, {"error": "too many accounts registered from your address lately; try again later"}, "")
        reason = "too many accounts registered from your address lately; try again later"
        text = await text_client(srv, "four")
        await text.send(f"/register {PASSWORD}")
        assert await text.expect("error:") == f"error: {reason}"
        irc = await Bystander.join(srv.port("irc"), "five")
        await irc.client.send(f"REGISTER * * {PASSWORD}")
        assert await irc.client.expect_cmd("FAIL") == f":{SRC} FAIL REGISTER TEMPORARILY_UNAVAILABLE five :{reason}"
        await irc.client.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        notice = await irc.client.expect_cmd("NOTICE")
        assert notice == f":NickServ!NickServ@services NOTICE five :{reason[0].upper()}{reason[1:]}"
        assert await srv.store.get_account("three") is None and await srv.store.get_account("four") is None
        rtt = await b.stop()
        rtt.assert_served()
        for c in (first, text):
            await c.close()
        await irc.close()
        await b.close()


# --- SASL EXTERNAL --------------------------------------------------------------------


def client_cert(ca: trustme.CA, where: Path, name: str) -> tuple[Path, str]:
    """A client certificate from ``ca`` (key and chain in one file), and its SHA-256 fingerprint."""
    leaf = ca.issue_cert(f"{name}@example.org")
    where.mkdir(parents=True, exist_ok=True)
    chain = where / f"{name}.pem"
    chain.write_bytes(leaf.private_key_and_cert_chain_pem.bytes())
    return chain, hashlib.sha256(ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())).hexdigest()


def context(pki: Pki, chain: Path | None) -> ssl.SSLContext:
    ctx = pki.client_context()
    if chain is not None:
        ctx.load_cert_chain(str(chain))
    return ctx


async def external(srv: Server, ctx: ssl.SSLContext, nick: str, authzid: str = "") -> tuple[IrcClient, list[str]]:
    c = IrcClient(*await tls_open(srv.port("irc_tls"), ctx))
    await c.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP REQ :sasl")
    ls = await c.expect_cmd("CAP")
    await c.expect_cmd("CAP")
    await c.send("AUTHENTICATE EXTERNAL")
    assert await c.line() == "AUTHENTICATE +"
    await c.send("AUTHENTICATE " + (base64.b64encode(authzid.encode()).decode() if authzid else "+"))
    lines = [await c.line()]
    if " 900 " in lines[0]:
        lines.append(await c.line())
    return c, [ls, *lines]


async def test_sasl_external_logs_in_with_a_certificate_added_by_its_owner(tmp_path: Path) -> None:
    pki = Pki.make(tmp_path / "server")
    users = trustme.CA()
    users.cert_pem.write_to_path(str(tmp_path / "users-ca.pem"))
    alice_chain, alice_fp = client_cert(users, tmp_path, "alice")
    mallory_chain, mallory_fp = client_cert(users, tmp_path, "mallory")
    # (made before the bystander starts: loading a context's CAs takes the test's loop a while)
    alice_ctx, mallory_ctx, none_ctx = context(pki, alice_chain), context(pki, mallory_chain), context(pki, None)
    # Each connection its own user (multiclient off), so that al, al2 keep their nicks.
    async with tls_serving(pki, client_ca=tmp_path / "users-ca.pem", multiclient=False, **FAST) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        owner = await registered(srv, "alice")
        # Before it is added, the certificate logs in to nothing.
        c, lines = await external(srv, alice_ctx, "al")
        assert "sasl=PLAIN,SCRAM-SHA-256,EXTERNAL" in lines[0].split(" :", 1)[1].split()
        assert lines[1] == f":{SRC} 904 * :SASL authentication failed"
        # Logged in by password over TLS with the certificate: CERT ADD without an argument takes it.
        await c.send("CAP END")
        await c.expect_cmd("001")
        await c.send(f"PRIVMSG NickServ :IDENTIFY alice {PASSWORD}")
        await c.expect_cmd("900")
        assert await c.expect_cmd("NOTICE") == ":NickServ!NickServ@services NOTICE al :You are now identified for alice"
        await c.send("PRIVMSG NickServ :CERT ADD")
        assert await c.expect_cmd("NOTICE") == (
            f":NickServ!NickServ@services NOTICE al :certificate {alice_fp} added to account alice:"
            " SASL EXTERNAL now logs in with it")
        await c.close()
        again, lines = await external(srv, alice_ctx, "al2")
        assert lines[1:] == [f":{SRC} 900 * *!~al2@chinwag alice :You are now logged in as alice",
                             f":{SRC} 903 * :SASL authentication successful"]
        await again.send("CAP END")
        await again.expect_cmd("001")
        await again.send("WHOIS al2")
        assert await again.expect_cmd("330") == f":{SRC} 330 al2 al2 alice :is logged in as"
        # Another certificate, an authzid naming someone else, no certificate: 904.
        for ctx, authzid in ((mallory_ctx, ""), (alice_ctx, "bob"),
                             (none_ctx, "")):
            c, lines = await external(srv, ctx, "m", authzid)
            assert lines[1] == f":{SRC} 904 * :SASL authentication failed"
            await c.close()
        c, lines = await external(srv, alice_ctx, "al3", authzid="ALICE")
        assert lines[2] == f":{SRC} 903 * :SASL authentication successful"
        await c.close()
        # The text protocol: /cert list, add by fingerprint (with colons), del.
        await owner.send("/cert list")
        assert await owner.expect("* certificates") == "* certificates of account alice: 1"
        assert await owner.expect("* certificate ") == f"* certificate {alice_fp}"
        colons = ":".join(mallory_fp[i : i + 2] for i in range(0, 64, 2)).upper()
        await owner.send(f"/cert add {colons}")
        assert await owner.expect("* certificate") == (
            f"* certificate {mallory_fp} added to account alice: SASL EXTERNAL now logs in with it")
        await owner.send("/cert add 1234")
        assert await owner.expect("error:") == "error: a certificate fingerprint is 64 hex digits (SHA-256)"
        await owner.send(f"/cert del {alice_fp}")
        assert await owner.expect("* certificate") == f"* certificate {alice_fp} removed from account alice"
        c, lines = await external(srv, alice_ctx, "al4")
        assert lines[1] == f":{SRC} 904 * :SASL authentication failed"
        await c.close()
        guest = await text_client(srv, "guest")
        await guest.send(f"/cert add {alice_fp}")
        assert await guest.expect("error:") == "error: log in first to manage your account's certificates"
        # Plain listeners do not offer EXTERNAL.
        plain = await Bystander.join(srv.port("irc"), "plain")
        await plain.client.send("CAP LS 302")
        assert "sasl=PLAIN,SCRAM-SHA-256" in (await plain.client.expect_cmd("CAP")).split(" :", 1)[1].split()
        rtt = await b.stop()
        rtt.assert_served()
        for x in (again, owner, guest):
            await x.close()
        await plain.close()
        await b.close()


async def test_the_form_refuses_names_in_use_or_reserved_and_a_new_password_ends_browser_logins() -> None:
    async with serving() as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        online = await text_client(srv, "ace")
        async with browser() as http:
            for name, error in (
                ("ACE", "ace is online right now; choose another name"),
                ("\u0430\u0441\u0435", "ace is online right now; choose another name"),  # Cyrillic "асе"
                ("NickServ", "invalid name: NickServ is one of the server's services"),
                ("chinwag", "invalid name: ‘chinwag’ is reserved for the server's services"),
                ("#room", "invalid name: ‘#’ is not allowed in a name (it starts room names)"),
            ):
                status, body, cookie = await post(http, srv, name=name, password=PASSWORD, create=True)
                assert (status, body, cookie) == (400, {"error": error}, ""), name
            status, body, _ = await post(http, srv, name="carol", password=PASSWORD, create=True)
            assert status == 200
            async with http.get(url(srv, "/session")) as r:
                assert await r.json() == {"account": "carol"}
            # carol changes her password from telnet: the browser must log in again.
            carol = await text_client(srv, "carol2")
            await carol.send(f"/login carol {PASSWORD}")
            await carol.expect("* you are now logged in as carol")
            await carol.send(f"/password {PASSWORD} another-long-password")
            assert await carol.expect("* password") == "* password of account carol changed"
            async with http.get(url(srv, "/session")) as r:
                assert await r.json() == {"account": None}
            assert await srv.store.list_credentials(SESSION, "carol") == []
        rtt = await b.stop()
        rtt.assert_served()
        for c in (online, carol):
            await c.close()
        await b.close()


async def test_over_https_the_cookie_is_secure_and_the_wss_upgrade_logs_in(tmp_path: Path) -> None:
    pki = Pki.make(tmp_path / "server")
    ctx = pki.client_context()
    async with tls_serving(pki) as srv:
        b = await Bystander.join(srv.port("irc"))
        b.start()
        port = srv.addresses["web_tls"][1]
        base = f"https://localhost:{port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{base}/session", json={"name": "zoë", "password": PASSWORD, "create": True},
                                 headers={"Origin": base}, ssl=ctx) as r:
                assert r.status == 200 and await r.json() == {"account": "zoë", "created": True}
                attrs = [a.strip().lower() for a in r.headers["Set-Cookie"].split(";")[1:]]
                assert "secure" in attrs and "httponly" in attrs and "samesite=strict" in attrs
            ws = await http.ws_connect(f"wss://localhost:{port}/irc", protocols=("text.ircv3.net",), ssl=ctx)
            first = await ws.receive(timeout=10)
            assert first.data == ":chinwag 900 * *!*@chinwag zoë :You are now logged in as zoë"
            await ws.close()
        rtt = await b.stop()
        rtt.assert_served()
        await b.close()


async def test_past_web_sessions_max_a_new_browser_login_ends_the_oldest() -> None:
    async with serving(web_sessions_max=2) as srv:
        owner = await registered(srv, "alice")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        tokens = []
        for _ in range(3):  # three browsers, one after the other
            async with browser() as http:
                status, _body, cookie = await post(http, srv, name="alice", password=PASSWORD)
                assert status == 200
                tokens.append(cookie.split(";")[0].partition("=")[2])
        seen = []
        for token in tokens:
            async with aiohttp.ClientSession(cookies={COOKIE: token}) as http, http.get(url(srv, "/session")) as r:
                seen.append((await r.json())["account"])
        assert seen == [None, "alice", "alice"]
        assert len(await srv.store.list_credentials(SESSION, "alice")) == 2
        rtt = await b.stop()
        rtt.assert_served()
        await owner.close()
        await b.close()
