"""TLS for the listeners: certificates, and a TLS layer of our own over a plain
transport.

Why not ``loop.create_server(ssl=...)``: both asyncio's and uvloop's SSL
protocols keep a 256 KiB read buffer per connection, about 281 KiB per idle
TLS connection against 4 KiB plain, so 10,000 idle users would take 2.7 GiB.
:class:`TlsLayer` is an ``asyncio.Protocol`` under the connection's own
protocol and the transport that protocol sees: ciphertext goes through two
``ssl.MemoryBIO`` in pieces of at most :data:`CHUNK` bytes each way, so
nothing per connection is sized for the largest read or write.
Python sets ``SSL_MODE_RELEASE_BUFFERS`` on every context, so OpenSSL frees its
record buffers while a connection is idle (docs/performance.md has the figures).

The protocol above is told ``connection_made`` at once, before the handshake:
a client that never finishes it still counts against ``max_per_ip``, and what
the protocol writes (the text greeting) waits until the handshake is done. A
handshake must end within ``Limits.tls_handshake_timeout`` seconds; a
connection closed before (refused: too many from one address) is reset.

Certificates are read into a fresh context each time (:class:`Certificates`);
``reload`` (SIGHUP) builds new contexts and swaps them in only when the new
pair loads, so a bad pair leaves the old one serving. Connections that are up
keep the context they were made with.
"""

from __future__ import annotations

import asyncio
import asyncio.constants
import asyncio.transports
import hashlib
import logging
import ssl
from dataclasses import dataclass
from typing import Any, Final, cast

from chinwag.config import Config

log = logging.getLogger("chinwag.tls")

#: Bytes handed to OpenSSL at a time, each way. A memory BIO keeps the
#: capacity of the most it ever held, for the connection's lifetime: writing
#: 100 KiB through one at once would cost 100 KiB per connection from then on.
CHUNK: Final = 4096
READ: Final = 16384  # plaintext taken at once (a new bytes object each time, not kept)


class TlsError(Exception):
    """A certificate or key cannot be used; ``key`` is the config key to change."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


def make_context(cert: str, key: str = "", client_ca: str = "") -> ssl.SSLContext:
    """A server context with modern defaults (TLS >= 1.2) for ``cert``/``key``.

    With ``client_ca`` the context asks for a client certificate signed by it
    and accepts clients without one (``CERT_OPTIONAL``).
    """
    for path, which, word in ((cert, "tls_cert", "certificate"), (key, "tls_key", "key"),
                              (client_ca, "tls_client_ca", "client CA")):
        if path:  # OpenSSL's errors do not say which file: open each first
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                reason = (exc.strerror or str(exc)).lower()
                raise TlsError(f"cannot read TLS {word} {path}: {reason}", which) from None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as exc:  # not PEM, or a key that is not the certificate's
        reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
        raise TlsError(f"cannot use TLS certificate {cert} with key {key or cert}: {reason}", "tls_cert") from None
    if client_ca:
        try:
            ctx.load_verify_locations(client_ca)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
            raise TlsError(f"cannot read TLS client CA {client_ca}: {reason}", "tls_client_ca") from None
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


@dataclass(slots=True)
class Certificates:
    """The contexts the TLS listeners hand to new connections: ``plain`` for
    text and web, ``irc`` (asks for client certificates if configured)."""

    cert: str
    key: str
    client_ca: str
    plain: ssl.SSLContext
    irc: ssl.SSLContext

    @classmethod
    def load(cls, config: Config) -> Certificates | None:
        """None without a certificate configured; TlsError if it cannot be used."""
        if not config.tls_cert:
            return None
        plain = make_context(config.tls_cert, config.tls_key)
        irc = make_context(config.tls_cert, config.tls_key, config.tls_client_ca) if config.tls_client_ca else plain
        return cls(config.tls_cert, config.tls_key, config.tls_client_ca, plain, irc)

    def reload(self) -> bool:
        """Read the files again; on success new handshakes use the new pair.
        On failure keep serving the old one. One log line either way."""
        try:
            plain = make_context(self.cert, self.key)
            irc = make_context(self.cert, self.key, self.client_ca) if self.client_ca else plain
        except TlsError as exc:
            log.error("TLS certificate not reloaded, keeping the old one: %s", exc)
            return False
        self.plain, self.irc = plain, irc
        log.info("TLS certificate reloaded from %s", self.cert)
        return True


def fingerprint(transport: asyncio.BaseTransport | None) -> str | None:
    """SHA-256 (hex) of the client certificate a TLS connection presented, if any."""
    if transport is None:
        return None
    obj = transport.get_extra_info("ssl_object")
    if not isinstance(obj, ssl.SSLObject):
        return None
    try:
        der = obj.getpeercert(binary_form=True)
    except ValueError:  # handshake not done
        return None
    return hashlib.sha256(der).hexdigest() if der else None


class TlsLayer(asyncio.transports._FlowControlMixin, asyncio.Protocol):
    """Server-side TLS between a plain transport (below) and ``app`` (above).

    To the transport below it is a Protocol; to ``app`` it is the Transport.
    Write flow control is the transport below's (its buffer holds the
    ciphertext). The flow-control mixin and ``_sendfile_compatible`` are what
    asyncio's own TLS transport has: ``loop.sendfile()`` (aiohttp's static
    files) then copies through ``write()``.
    """

    _sendfile_compatible = asyncio.constants._SendfileMode.FALLBACK

    __slots__ = (
        "_app", "_raw", "_in", "_out", "_ssl", "_ctx", "_ready", "_closing", "_paused", "_cipher",
        "_early", "_timer", "_timeout", "_app_made", "_eof", "_yielding",
    )

    def __init__(self, ctx: ssl.SSLContext, app: asyncio.Protocol, handshake_timeout: float) -> None:
        super().__init__(None, asyncio.get_running_loop())
        self._app = app
        self._ctx = ctx
        self._raw: asyncio.Transport | None = None
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._ssl = ctx.wrap_bio(self._in, self._out, server_side=True)
        self._ready = False  # handshake done
        self._closing = False
        self._paused = False  # the app paused reading
        self._cipher: list[memoryview] = []  # received, not yet fed to OpenSSL
        self._early: list[bytes] | None = []  # plaintext written before the handshake ended
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = handshake_timeout
        self._app_made = False
        self._eof = False  # the peer's close_notify came: the app was told, input is over
        self._yielding = False  # READ bytes went up in one callback: the rest waits an iteration

    # --- the transport below calls these ------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        self._timer = asyncio.get_running_loop().call_later(self._timeout, self._too_slow)
        self._app_made = True
        self._app.connection_made(self)

    def data_received(self, data: bytes) -> None:
        if self._eof or (self._closing and self._ready):
            return  # after close_notify, or closed by us: what the peer still sends is dropped
        self._cipher.append(memoryview(data))
        self._process()

    def eof_received(self) -> bool | None:
        if not self._ready:
            return False
        if self._eof:  # the app already had its EOF (close_notify): keep writing if it wants
            return not self._closing
        self._process()
        if self._closing or self._eof:
            return not self._closing
        self._eof = True  # a TCP FIN without close_notify: the same to the app
        return self._app.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._cipher.clear()
        self._early = None
        if self._app_made:
            self._app_made = False
            self._app.connection_lost(exc)

    def pause_writing(self) -> None:
        self._protocol_paused = True
        self._app.pause_writing()

    def resume_writing(self) -> None:
        self._protocol_paused = False
        self._app.resume_writing()

    # --- TLS -------------------------------------------------------------------

    def _too_slow(self) -> None:
        self._timer = None
        if not self._ready and self._raw is not None:
            log.debug("TLS handshake from %s not done in %s s", self._raw.get_extra_info("peername"), self._timeout)
            self._raw.abort()

    def _feed(self) -> bool:
        """Hand OpenSSL at most CHUNK more bytes of ciphertext; False if none."""
        cipher = self._cipher
        if not cipher:
            return False
        first = cipher[0]
        if len(first) <= CHUNK:
            cipher.pop(0)
            self._in.write(first)
        else:
            self._in.write(first[:CHUNK])
            cipher[0] = first[CHUNK:]
        return True

    def _process(self) -> None:
        """Feed, handshake, decrypt and deliver until input runs out or the
        app pauses reading; send what OpenSSL has to send."""
        raw = self._raw
        delivered = 0
        try:
            while raw is not None and not raw.is_closing():
                if not self._ready:
                    try:
                        self._ssl.do_handshake()
                    except ssl.SSLWantReadError:
                        if self._feed():
                            continue
                        break
                    self._handshake_done()
                    continue
                if self._paused or self._closing:
                    break
                try:
                    data = self._ssl.read(READ)
                except ssl.SSLWantReadError:
                    if self._feed():
                        continue
                    break
                except ssl.SSLZeroReturnError:
                    data = b""
                if not data:  # close_notify: the peer is done sending
                    self._flush()
                    self._cipher.clear()
                    self._eof = True
                    if not self._app.eof_received():
                        self.close()
                    break
                self._app.data_received(data)
                delivered += len(data)
                if delivered >= READ and not self._paused:
                    # Many small records in one read: the rest on the next loop
                    # iteration, so that no read's plaintext is handled at once.
                    self._yield()
                    break
        except ssl.SSLError as exc:
            self._failed(exc)
            return
        self._flush()

    def _yield(self) -> None:
        if self._raw is not None and not self._yielding:
            self._yielding = True
            self._raw.pause_reading()
            asyncio.get_running_loop().call_soon(self._go_on)

    def _go_on(self) -> None:
        self._yielding = False
        if self._paused or self._raw is None or self._raw.is_closing():
            return  # the app paused reading: its resume_reading() goes on
        self._raw.resume_reading()
        self._process()

    def _handshake_done(self) -> None:
        self._ready = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        early, self._early = self._early, None
        if early:
            self._encrypt(b"".join(early))
        if self._closing:
            self._shutdown()

    def _failed(self, exc: ssl.SSLError) -> None:
        raw = self._raw
        if raw is None:
            return
        peer = raw.get_extra_info("peername")
        if self._ready:
            log.info("TLS error from %s: %s", peer, exc.reason or exc)
        else:
            log.debug("TLS handshake from %s failed: %s", peer, exc.reason or exc)
        self._flush()  # the alert, if OpenSSL made one
        raw.close()

    def _flush(self) -> None:
        if self._out.pending and self._raw is not None and not self._raw.is_closing():
            self._raw.write(self._out.read())

    def _shutdown(self) -> None:
        """Send close_notify after what is written, then close below."""
        try:
            self._ssl.unwrap()
        except ssl.SSLError:  # the peer's close_notify is not awaited
            pass
        self._flush()
        if self._raw is not None:
            self._raw.close()

    # --- the app calls these (asyncio.Transport) --------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._raw is None:
            return
        if not self._ready:
            if self._early is not None:
                self._early.append(bytes(data))
            return
        try:
            self._encrypt(data)
        except ssl.SSLError as exc:
            self._failed(exc)

    def _encrypt(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            self._ssl.write(view[start : start + CHUNK])
            self._flush()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._ready:
            self._shutdown()
        else:  # nothing can reach a client that has not finished its handshake
            self.abort()

    def abort(self) -> None:
        self._closing = True
        if self._raw is not None:
            self._raw.abort()

    def is_closing(self) -> bool:
        return self._closing or self._raw is None or self._raw.is_closing()

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("TLS: close() sends close_notify")

    def pause_reading(self) -> None:
        self._paused = True
        if self._raw is not None:
            self._raw.pause_reading()

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        if self._raw is not None:
            self._raw.resume_reading()
            # Input received while paused: delivered from the loop, not from
            # inside the app's own call.
            asyncio.get_running_loop().call_soon(self._process)

    def is_reading(self) -> bool:
        return not self._paused

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._raw is not None:
            self._raw.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size() if self._raw is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._raw.get_write_buffer_limits() if self._raw is not None else (0, 0)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._app = cast(asyncio.Protocol, protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._app

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self._ssl
        if name == "sslcontext":
            return self._ctx
        if name == "peercert":
            return self._ssl.getpeercert() if self._ready else default
        if name == "cipher":
            return self._ssl.cipher() if self._ready else default
        return self._raw.get_extra_info(name, default) if self._raw is not None else default

