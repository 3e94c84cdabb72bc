"""TLS listeners over real sockets, with certificates from trustme: IRC, the text
protocol (Python's ssl and `openssl s_client`), https and wss, `chinwag connect
--tls`, SIGHUP reloads, start-up errors, `chinwag tls-selfsigned`, STS and
client certificates."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import ssl
import stat
import sys
from pathlib import Path

import aiohttp
import pytest
import trustme

from chinwag.config import ConfigError, load_config
from tests.conftest import SPAWNED, TIMEOUT, IrcClient, LineClient
from tests.hostile.test_hostile import irc_client, serving, text_client
from tests.test_cli import STARTUP, start
from tests.test_startup import refused
from tests.tlsutil import Pki, close_all, served_fingerprint, tls_irc, tls_open, tls_serving, tls_text


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki.make(tmp_path / "pki")


async def test_no_certificate_no_tls_listeners() -> None:
    async with serving() as srv:
        assert set(srv.addresses) == {"text", "irc", "web"}


def test_a_key_or_client_ca_without_a_certificate_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="tls_key and tls_client_ca need tls_cert"):
        load_config(None, {"CHINWAG_TLS_KEY": "key.pem"})
    assert load_config(None, {"CHINWAG_TLS_CERT": "c.pem", "CHINWAG_IRC_TLS_PORT": "0"}).irc_tls_port == 0


async def test_irc_over_tls_chats_with_a_plain_irc_user_and_a_text_user(pki: Pki) -> None:
    async with tls_serving(pki) as srv:
        ctx = pki.client_context()
        alice = await tls_irc(srv, ctx, "alice")
        bob = await irc_client(srv, "bob")
        carol = await text_client(srv, "carol")
        for c in (alice, bob):
            await c.send("JOIN #lobby")
            await c.expect_cmd("366")
        await alice.send("PRIVMSG #lobby :hello over TLS")
        assert (await bob.expect("hello over TLS")).endswith("PRIVMSG #lobby :hello over TLS")
        assert (await carol.expect("hello over TLS")).endswith("alice: hello over TLS")
        await bob.send("PRIVMSG #lobby :plain answer")
        assert (await alice.expect("plain answer")).startswith(":bob!")
        await carol.send("text answer")
        assert (await alice.expect("text answer")).endswith("PRIVMSG #lobby :text answer")
        await close_all(alice, bob, carol)


async def test_text_over_tls_with_pythons_ssl(pki: Pki) -> None:
    async with tls_serving(pki) as srv:
        ctx = pki.client_context()
        alice = await tls_text(srv, ctx, "alice")
        bob = await text_client(srv, "bob")
        await alice.send("hi from TLS")
        assert (await bob.expect("hi from TLS")).endswith("alice: hi from TLS")
        await alice.send("/quit done")
        assert "* goodbye" in await alice.closed()
        assert (await bob.expect("alice has left")) == "* alice has left (done)"
        await close_all(alice, bob)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl program")
async def test_text_over_tls_with_openssl_s_client(pki: Pki) -> None:
    async with tls_serving(pki) as srv:
        bob = await text_client(srv, "bob")
        proc = await asyncio.create_subprocess_exec(
            "openssl", "s_client", "-quiet", "-connect", f"127.0.0.1:{srv.port('text_tls')}",
            "-CAfile", str(pki.ca_file), "-verify_return_error",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        SPAWNED.append(proc)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"sam\nencrypted hello\n")
        assert (await bob.expect("encrypted hello")).endswith("sam: encrypted hello")
        proc.stdin.write(b"/quit\n")
        out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        lines = out.decode().splitlines()
        assert lines[0] == "Welcome to chinwag! What is your name?"
        assert "Welcome to chinwag, sam! Type /help for commands." in lines
        assert lines[-1] == "* goodbye"
        await bob.close()


async def test_https_healthz_and_irc_over_wss(pki: Pki) -> None:
    async with tls_serving(pki) as srv:
        bob = await irc_client(srv, "bob")
        await bob.send("JOIN #lobby")
        await bob.expect_cmd("366")
        base = f"https://localhost:{srv.port('web_tls')}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pki.client_context())) as s:
            async with s.get(f"{base}/healthz") as r:
                assert (r.status, await r.text()) == (200, "ok")
            async with s.get(f"{base}/") as r:
                assert r.status == 200 and "<html" in await r.text()
            async with s.ws_connect(f"wss://localhost:{srv.port('web_tls')}/irc", protocols=("text.ircv3.net",)) as ws:
                await ws.send_str("NICK webby")
                await ws.send_str("USER webby 0 * :web")
                await ws.send_str("JOIN #lobby")
                await ws.send_str("PRIVMSG #lobby :from wss")
                assert (await bob.expect("from wss")).startswith(":webby!")
        await bob.close()


async def test_chinwag_connect_tls_with_ca_in_script_mode(pki: Pki) -> None:
    async with tls_serving(pki) as srv:
        carol = await text_client(srv, "carol")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chinwag", "connect", "--tls", "--ca", str(pki.ca_file),
            f"127.0.0.1:{srv.port('irc_tls')}", "--nick", "deploybot", "--room", "#lobby",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        SPAWNED.append(proc)
        out, err = await asyncio.wait_for(proc.communicate(b"deploy done over TLS\n"), 20)
        assert proc.returncode == 0, err
        assert (await carol.expect("deploy done")).endswith("deploybot: deploy done over TLS")
        assert "connected as deploybot" in out.decode()
        await carol.close()


async def test_chinwag_connect_tls_refuses_a_certificate_it_does_not_trust(pki: Pki, tmp_path: Path) -> None:
    other = Pki.make(tmp_path / "other")
    async with tls_serving(pki) as srv:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chinwag", "connect", "--tls", "--ca", str(other.ca_file),
            f"127.0.0.1:{srv.port('irc_tls')}", "--nick", "eve",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        SPAWNED.append(proc)
        assert proc.stdout is not None and proc.stdin is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert b"CERTIFICATE_VERIFY_FAILED" in line or b"certificate verify failed" in line, line
        proc.kill()
        await proc.wait()


async def _tls_ports(proc: asyncio.subprocess.Process) -> dict[str, int]:
    """The listeners a spawned server logged after its text listener (irc, web, text_tls...)."""
    assert proc.stderr is not None
    ports: dict[str, int] = {}
    while "web_tls" not in ports:
        line = (await asyncio.wait_for(proc.stderr.readline(), STARTUP)).decode()
        assert line, "server exited"
        for name in ("irc", "web", "text_tls", "irc_tls", "web_tls"):
            if f" {name} listener on " in line:
                ports[name] = int(line.rsplit(":", 1)[1])
    return ports


async def _log_line(proc: asyncio.subprocess.Process, fragment: str) -> str:
    """The next line of the server's log containing ``fragment``."""
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 10)).decode()
        assert line, "server exited"
        if fragment in line:
            return line.rstrip("\n")


async def test_sighup_new_certificate_for_new_connections_old_ones_keep_chatting(tmp_path: Path) -> None:
    ca = trustme.CA()
    first = Pki.make(tmp_path / "pki", ca, "first")
    second = Pki.make(tmp_path / "pki", ca, "second")
    live_cert, live_key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(first.cert_file, live_cert)
    shutil.copy(first.key_file, live_key)
    proc, port = await start("--text-port", "0", "--db", ":memory:", "--tls-cert", str(live_cert),
                             "--tls-key", str(live_key), "--irc-tls-port", "0", "--text-tls-port", "0",
                             "--web-tls-port", "0")
    ports = await _tls_ports(proc)
    ctx = first.client_context()
    old = LineClient(*await tls_open(ports["text_tls"], ctx))
    await old.send("oldie")
    await old.expect("* in #lobby")
    old_print = served_fingerprint(old.writer)
    assert old_print == hashlib.sha256(ssl.PEM_cert_to_DER_cert(first.cert_file.read_text())).hexdigest()
    shutil.copy(second.cert_file, live_cert)
    shutil.copy(second.key_file, live_key)
    proc.send_signal(signal.SIGHUP)
    line = await _log_line(proc, "chinwag.tls")
    assert line.endswith(f"INFO chinwag.tls: TLS certificate reloaded from {live_cert}")
    new = LineClient(*await tls_open(ports["text_tls"], ctx))
    new_print = served_fingerprint(new.writer)
    assert new_print == hashlib.sha256(ssl.PEM_cert_to_DER_cert(second.cert_file.read_text())).hexdigest()
    await new.send("newbie")
    await new.expect("* in #lobby")
    await old.send("still here after the reload")
    assert (await new.expect("still here")).endswith("oldie: still here after the reload")
    await new.send("welcome")
    assert (await old.expect("welcome")).endswith("newbie: welcome")
    # A bad pair: the old one stays, one error line.
    live_key.write_text("not a key\n")
    proc.send_signal(signal.SIGHUP)
    line = await _log_line(proc, "chinwag.tls")
    assert "ERROR chinwag.tls: TLS certificate not reloaded, keeping the old one: " in line
    third = LineClient(*await tls_open(ports["text_tls"], ctx))
    assert served_fingerprint(third.writer) == new_print
    await third.expect("What is your name?")
    await close_all(old, new, third)
    proc.terminate()
    assert await asyncio.wait_for(proc.wait(), 10) == 0


@pytest.mark.parametrize("which", ["--tls-cert", "--tls-key"])
async def test_a_missing_certificate_or_key_is_one_line_and_exit_2(pki: Pki, tmp_path: Path, which: str) -> None:
    missing = tmp_path / "nowhere.pem"
    files = {"--tls-cert": str(pki.cert_file), "--tls-key": str(pki.key_file), which: str(missing)}
    err = await refused("--text-port", "0", "--irc-port", "0", "--web-port", "0", "--irc-tls-port", "0",
                        "--text-tls-port", "0", "--web-tls-port", "0", "--db", ":memory:",
                        *(arg for pair in files.items() for arg in pair))
    what = {"--tls-cert": "certificate", "--tls-key": "key"}[which]
    key = which[2:].replace("-", "_")
    assert err == f"chinwag: cannot read TLS {what} {missing}: no such file or directory (change {which} / {key})\n"


async def test_a_key_that_is_not_the_certificates_is_one_line_and_exit_2(pki: Pki, tmp_path: Path) -> None:
    other = Pki.make(tmp_path / "other")
    err = await refused("--text-port", "0", "--irc-port", "0", "--web-port", "0", "--irc-tls-port", "0",
                        "--text-tls-port", "0", "--web-tls-port", "0", "--db", ":memory:",
                        "--tls-cert", str(pki.cert_file), "--tls-key", str(other.key_file))
    assert err.startswith(f"chinwag: cannot use TLS certificate {pki.cert_file} with key {other.key_file}: ")
    assert err.endswith(" (change --tls-cert / tls_cert)\n") and err.count("\n") == 1


async def test_tls_selfsigned_makes_a_pair_clients_can_verify(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chinwag", "tls-selfsigned", "--out", str(out), "--host", "chat.lan",
        "--host", "10.0.0.5", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, stderr
    cert, key = out / "cert.pem", out / "key.pem"
    assert stdout.decode().splitlines()[0] == (
        f"wrote {cert} and {key} (valid for chat.lan, 10.0.0.5, localhost, 127.0.0.1, ::1)"
    )
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    pki = Pki(trustme.CA(), cert, cert, key)
    async with tls_serving(pki) as srv:
        for hostname in ("127.0.0.1", "localhost"):
            ctx = ssl.create_default_context(cafile=str(cert))  # the certificate is its own CA
            r, w = await asyncio.open_connection("127.0.0.1", srv.port("text_tls"), ssl=ctx,
                                                 server_hostname=hostname)
            c = LineClient(r, w)
            await c.expect("What is your name?")
            await c.close()
        ctx = ssl.create_default_context(cafile=str(cert))
        with pytest.raises(ssl.SSLCertVerificationError):  # a name it was not made for
            await asyncio.open_connection("127.0.0.1", srv.port("text_tls"), ssl=ctx, server_hostname="other.lan")


async def _cap_ls(c: IrcClient) -> str:
    await c.send("CAP LS 302")
    return await c.expect_cmd("CAP")


async def test_sts_port_on_plain_duration_on_tls(pki: Pki) -> None:
    async with tls_serving(pki, sts=86400) as srv:
        plain = await irc_client(srv, "plain")
        secure = await tls_irc(srv, pki.client_context(), "secure")
        plain_ls, secure_ls = await _cap_ls(plain), await _cap_ls(secure)
        assert plain_ls.endswith(f" sts=port={srv.port('irc_tls')}"), plain_ls
        assert secure_ls.endswith(" sts=duration=86400"), secure_ls
        await plain.send("CAP REQ :sts")  # a policy, not something to request
        assert await plain.expect_cmd("CAP") == ":chinwag CAP plain NAK sts"
        await close_all(plain, secure)
    async with tls_serving(pki) as srv:  # sts_duration = 0: not advertised
        plain = await irc_client(srv, "plain")
        assert "sts" not in await _cap_ls(plain)
        await plain.close()


async def test_client_certificate_fingerprint_is_recorded(pki: Pki, tmp_path: Path) -> None:
    users = trustme.CA()
    users_file = tmp_path / "users.pem"
    users.cert_pem.write_to_path(str(users_file))
    alice_cert = users.issue_cert("alice@chinwag")
    async with tls_serving(pki, client_ca=users_file) as srv:
        with_cert = pki.client_context()
        alice_cert.configure_cert(with_cert)
        alice = await tls_irc(srv, with_cert, "alice")
        bob = await tls_irc(srv, pki.client_context(), "bob")  # no certificate: let in all the same
        text = await tls_text(srv, with_cert, "carol")  # the text listener does not ask
        prints = {srv.hub.nick_of(sid): conn.tls_fingerprint for sid, conn in srv.connections.items()}
        der = ssl.PEM_cert_to_DER_cert(alice_cert.cert_chain_pems[0].bytes().decode())
        assert prints == {"alice": hashlib.sha256(der).hexdigest(), "bob": None, "carol": None}
        await close_all(alice, bob, text)


@pytest.mark.parametrize("ending", ["fin", "close_notify"])
async def test_a_script_that_sends_its_lines_and_stops_sending_gets_its_answers(pki: Pki, ending: str) -> None:
    """`printf 'alice\\nhello\\n' | ncat --ssl`: the lines are handled and answered, then the
    server closes; whether the client ends with a TCP FIN or a TLS close_notify."""
    async with tls_serving(pki) as srv:
        bob = await text_client(srv, "bob")
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = pki.client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("text_tls"))
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                w.write(outgoing.read())
                incoming.write(await asyncio.wait_for(r.read(65536), TIMEOUT))
        tls.write(b"alice\nhello, and goodbye\n")
        if ending == "close_notify":
            with pytest.raises(ssl.SSLWantReadError):  # sent; the server's comes later
                tls.unwrap()
        w.write(outgoing.read())
        w.write_eof()
        while data := await asyncio.wait_for(r.read(65536), TIMEOUT):
            incoming.write(data)
        text = b""
        with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            while chunk := tls.read(65536):
                text += chunk
        lines = text.decode().splitlines()
        assert lines[0] == "Welcome to chinwag! What is your name?"
        assert "Welcome to chinwag, alice! Type /help for commands." in lines
        assert (await bob.expect("hello, and goodbye")).endswith("alice: hello, and goodbye")
        assert (await bob.expect("alice has left")) == "* alice has left (connection closed)"
        w.close()
        await bob.close()
