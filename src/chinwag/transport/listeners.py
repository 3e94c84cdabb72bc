"""The listeners and the protocol registry: which listeners exist, which
protocol adapter each makes per connection, and TLS (transport/tls.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import os
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from chinwag.config import metrics_host_port
from chinwag.core.accounts import EXTERNAL_MECHANISM
from chinwag.protocols.base import Adapter
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol
from chinwag.protocols.irc.caps import sts_value
from chinwag.protocols.text import TextProtocol
from chinwag.transport.connection import Connection
from chinwag.transport.health import MetricsListener
from chinwag.transport.proxyheader import ProxyHeader
from chinwag.transport.tls import Certificates, TlsLayer
from chinwag.transport.web import WebListener

if TYPE_CHECKING:
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag.server")

LISTENER_NAMES = {
    "text": "telnet/netcat",
    "irc": "IRC",
    "web": "the web client",
    "text_tls": "telnet/netcat over TLS",
    "irc_tls": "IRC over TLS",
    "web_tls": "the web client over TLS",
    "metrics": "metrics",
}


class ListenError(Exception):
    """A listener could not bind; ``key`` is the config key to change (its port,
    or the host when the address itself is the problem)."""

    def __init__(self, name: str, host: str, port: int, exc: OSError) -> None:
        if isinstance(exc, socket.gaierror):  # not an address we can resolve
            reason, self.key = str(exc.strerror).lower(), "host"
        else:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            self.key = "host" if exc.errno == errno.EADDRNOTAVAIL else f"{name}_port"
        super().__init__(f"cannot listen for {LISTENER_NAMES.get(name, name)} on {host}:{port}: {reason}")
        self.name = name


class Listeners:
    """Every listener of one server, bound by :meth:`open` (none serving until
    all are bound) and closed by :meth:`close`."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.listeners: list[asyncio.Server] = []  # the TCP ones: text, IRC and their TLS twins
        self.web: WebListener | None = None  # HTTP: the web client and IRC over WebSocket
        self.tls: Certificates | None = None  # set in open() when a certificate is configured
        self.addresses: dict[str, tuple[str, int]] = {}  # listener name -> bound address
        self.metrics_listener: MetricsListener | None = None  # on metrics_address, if set

    async def open(self) -> None:
        """Bind every listener, then serve them all; if one cannot be bound
        (:class:`ListenError`), close those already bound and raise."""
        server = self.server
        cfg = server.config
        try:
            self.tls = tls = Certificates.load(cfg)  # TlsError: a certificate or key we cannot use
            text = lambda: TextProtocol(cfg.limits, cfg.default_room, cfg.history_on_join, bool(cfg.password))  # noqa: E731
            await self._listen("text", cfg.text_port, text)
            irc = IrcInfo.from_config(cfg)
            # STS needs the TLS port, known once bound: factories run per connection, after start().
            infos = {"irc": irc, "irc_tls": dataclasses.replace(irc, sasl=f"{irc.sasl},{EXTERNAL_MECHANISM}")}
            await self._listen("irc", cfg.irc_port, lambda: IrcProtocol(infos["irc"]))
            self.web = WebListener(server, lambda: IrcProtocol(irc))
            try:
                self.addresses["web"] = await self.web.start(cfg.host, cfg.web_port)
            except OSError as exc:
                raise ListenError("web", cfg.host, cfg.web_port, exc) from None
            if tls is not None:
                await self._listen("text_tls", cfg.text_tls_port, text, lambda: tls.plain)
                await self._listen("irc_tls", cfg.irc_tls_port, lambda: IrcProtocol(infos["irc_tls"]), lambda: tls.irc)
                try:
                    self.addresses["web_tls"] = await self.web.start_tls(
                        cfg.host, cfg.web_tls_port, lambda: tls.plain, cfg.limits.tls_handshake_timeout
                    )
                except OSError as exc:
                    raise ListenError("web_tls", cfg.host, cfg.web_tls_port, exc) from None
                if cfg.sts_duration:
                    tls_port = self.port("irc_tls")
                    infos["irc"] = dataclasses.replace(irc, sts=sts_value(False, tls_port, cfg.sts_duration))
                    secure = sts_value(True, tls_port, cfg.sts_duration)
                    infos["irc_tls"] = dataclasses.replace(infos["irc_tls"], sts=secure)
            elif cfg.sts_duration:
                log.warning("sts_duration is set but there is no TLS certificate: STS not advertised")
            if cfg.metrics_address:
                host, port = metrics_host_port(cfg.metrics_address)
                self.metrics_listener = MetricsListener(server)
                try:
                    self.addresses["metrics"] = await self.metrics_listener.start(host, port)
                except OSError as exc:
                    error = ListenError("metrics", host, port, exc)
                    error.key = "metrics_address"  # (the address is one key)
                    raise error from None
            for listener in self.listeners:
                await listener.start_serving()
        except BaseException:
            await self.close()
            raise
        for name, address in self.addresses.items():
            log.info("%s listener on %s:%d", name, *address)

    async def _listen(
        self, name: str, port: int, make: Callable[[], Adapter], tls: Callable[[], ssl.SSLContext] | None = None
    ) -> None:
        """Bind (not yet serving: start() serves once every listener is bound).
        With ``tls`` (the context current at accept), connections are TLS."""
        loop = asyncio.get_running_loop()
        server = self.server
        factory: Callable[[], asyncio.Protocol] = lambda: Connection(server, make(), name)  # noqa: E731
        if tls is not None:
            plain, timeout = factory, server.config.limits.tls_handshake_timeout
            factory = lambda: TlsLayer(tls(), plain(), timeout)  # noqa: E731
        if server.config.proxy_protocol and server.trusted_proxies:
            # (outermost: HAProxy's send-proxy header comes before a TLS handshake)
            inner, wait = factory, server.config.limits.proxy_header_timeout
            factory = lambda: ProxyHeader(inner, server.is_trusted_proxy, wait)  # noqa: E731
        try:
            listener = await loop.create_server(
                factory,
                server.config.host,
                port,
                reuse_address=True,
                reuse_port=server.config.reuse_port or None,
                backlog=server.config.limits.listen_backlog,
                start_serving=False,
            )
        except OSError as exc:
            raise ListenError(name, server.config.host, port, exc) from None
        self.listeners.append(listener)
        sockname = listener.sockets[0].getsockname()
        self.addresses[name] = (sockname[0], sockname[1])

    def port(self, name: str = "text") -> int:
        return self.addresses[name][1]

    def stop_accepting(self) -> None:
        """Shutdown begins: no new connections on the TCP listeners. With ports
        shared by other nodes (reuse_port), none on the web ones either: the
        kernel then gives new connections only to the nodes still serving (alone,
        the web port stays open to answer /healthz with "stopping")."""
        for listener in self.listeners:
            listener.close()
        if self.server.config.reuse_port and self.web is not None:
            self.web.stop_accepting()

    async def close(self) -> None:
        """Close every listener (the web one's connections included)."""
        self.stop_accepting()
        for listener in self.listeners:
            await listener.wait_closed()
        self.listeners.clear()
        if self.web is not None:
            await self.web.stop()
        if self.metrics_listener is not None:
            await self.metrics_listener.stop()
