"""TLS test helpers: certificates from trustme, a server with its TLS listeners
on OS-chosen ports, and line clients over TLS."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import trustme

from chinwag.transport.server import Server
from tests.conftest import IrcClient, LineClient, make_config


@dataclass
class Pki:
    """A CA and a server certificate for 127.0.0.1/localhost, written to files."""

    ca: trustme.CA
    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def make(cls, where: Path, ca: trustme.CA | None = None, name: str = "server") -> Pki:
        ca = ca or trustme.CA()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        where.mkdir(parents=True, exist_ok=True)
        pki = cls(ca, where / "ca.pem", where / f"{name}-cert.pem", where / f"{name}-key.pem")
        ca.cert_pem.write_to_path(str(pki.ca_file))
        leaf.cert_chain_pems[0].write_to_path(str(pki.cert_file))
        leaf.private_key_pem.write_to_path(str(pki.key_file))
        return pki

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx


def served_fingerprint(writer: asyncio.StreamWriter) -> str:
    """SHA-256 of the certificate the server presented on this connection."""
    obj = writer.get_extra_info("ssl_object")
    assert obj is not None
    der = obj.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


@contextlib.asynccontextmanager
async def tls_serving(pki: Pki, client_ca: Path | None = None, sts: int = 0, **limits: int) -> AsyncIterator[Server]:
    cfg = dataclasses.replace(
        make_config(**limits), tls_cert=str(pki.cert_file), tls_key=str(pki.key_file),
        tls_client_ca=str(client_ca or ""), irc_tls_port=0, text_tls_port=0, web_tls_port=0, sts_duration=sts,
    )
    srv = Server(cfg)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


async def tls_open(port: int, ctx: ssl.SSLContext) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")


async def tls_text(srv: Server, ctx: ssl.SSLContext, name: str | None = None) -> LineClient:
    c = LineClient(*await tls_open(srv.port("text_tls"), ctx))
    await c.expect("What is your name?")
    if name:
        await c.send(name)
        await c.expect("* in #lobby")
    return c


async def tls_irc(srv: Server, ctx: ssl.SSLContext, nick: str | None = None) -> IrcClient:
    c = IrcClient(*await tls_open(srv.port("irc_tls"), ctx))
    if nick:
        await c.register(nick)
    return c


async def close_all(*clients: LineClient) -> None:
    """Close, tolerating what asyncio's TLS client says when the server's last
    lines (someone else leaving) cross its close_notify."""
    for c in clients:
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await c.close()
