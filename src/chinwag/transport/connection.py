"""One client connection: bytes <-> protocol adapter <-> hub.

Output is queued per connection and written once per event-loop tick (see
``Server.mark_dirty``): one ``write()`` carrying every pending line is what lets
fan-out reach millions of deliveries per second instead of a few hundred
thousand. What the kernel does not take waits in the transport; a reader that
keeps reading is never cut off, one that reads nothing while over ``sendq`` is,
and all queues together stay under a budget by making senders wait
(transport/output.py).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from typing import TYPE_CHECKING, Any, cast

from chinwag.core.events import (
    ChatHistory,
    Command,
    Event,
    HistoryRequest,
    Message,
    Query,
    Quit,
    Recall,
    Register,
    Say,
)
from chinwag.core.ratelimit import Flood
from chinwag.core.types.chat import SendTags
from chinwag.core.types.lookup import Sync
from chinwag.core.types.moderation import Oper
from chinwag.protocols.base import Adapter
from chinwag.protocols.sanitize import safe_output
from chinwag.transport.accounts import ACCOUNT_COMMANDS
from chinwag.transport.bulk import BIG_BACKLOG, write_queued
from chinwag.transport.ircv3 import V3_QUERIES
from chinwag.transport.tls import fingerprint

if TYPE_CHECKING:
    from chinwag.transport.admission import Admission
    from chinwag.transport.host import Host

log = logging.getLogger("chinwag.conn")


def tags_size(command: SendTags) -> int:
    """The flood-control size of a TAGMSG: its client tags' bytes (``key=value;``)."""
    return sum(len(key.encode()) + len(value.encode()) + 2 for key, value in command.tags)


QUERIES = (Recall, HistoryRequest, ChatHistory)  # (V3_QUERIES: transport/ircv3.py)
FREE = (Quit, Sync)
_ids = itertools.count(1)
CHUNK = 64 * 1024  # bytes written to a connection per tick while it has a backlog


def tune_socket(transport: asyncio.BaseTransport, kernel_sendq: int) -> tuple[str, str]:
    """TCP_NODELAY, and TCP_NOTSENT_LOWAT so that a slow reader shows up in the
    transport's buffer (sendq) instead of the kernel's; return (peer, ip)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lowat = getattr(socket, "TCP_NOTSENT_LOWAT", None)
        if lowat is not None:
            sock.setsockopt(socket.IPPROTO_TCP, lowat, kernel_sendq)
    peer: Any = transport.get_extra_info("peername")
    if isinstance(peer, tuple):
        return f"{peer[0]}:{peer[1]}", str(peer[0])
    return str(peer), str(peer)


class Connection(asyncio.Protocol):
    __slots__ = (
        "server",
        "adapter",
        "kind",
        "sid",
        "peer",
        "transport",
        "out",
        "closed",
        "close_reason",
        "busy",
        "gated",
        "at_eof",
        "bucket",
        "stashed",
        "lag",
        "ip",
        "lowat",
        "pump_due",
        "closing_later",
        "barrier",
        "budget_wait",
        "paused",
        "wrote",
        "drained",
        "drained_at",
        "delivered",
        "unread",
        "unread_lines",
        "eof_later",
        "limits",
        "opcode",
    )

    def __init__(self, server: Host, adapter: Adapter, kind: str) -> None:
        self.server = server
        self.adapter = adapter
        self.kind = kind
        self.sid = next(_ids)
        self.peer = "?"
        self.transport: asyncio.Transport | None = None
        self.out: list[bytes] = []
        self.closed = False
        self.close_reason = "connection closed"
        # While a query runs, input waits (busy) and live messages are held
        # (gated) so that history and live traffic arrive in order, once each.
        self.busy = False
        self.gated: list[Event] | None = None
        self.at_eof = False
        self.limits = limits = server.config.limits  # (read twice a read: two attribute loads, not four)
        self.pump_due = False  # a pump is scheduled (see Outbox.release)
        self.closing_later = False  # closes once output held for it is out
        self.lowat = limits.kernel_sendq  # over this in the transport: backed up (OutputGuard)
        self.bucket: Flood | None = Flood(
            limits.flood_rate, limits.flood_burst, limits.flood_rate_bytes, limits.flood_burst_bytes
        )
        self.budget_wait = False  # a message waits for the output budget (input paused)
        self.paused = False  # the transport is full (pause_writing): output waits in `out`
        self.wrote = 0  # bytes handed to the transport, ever
        self.drained = 0  # of which the kernel had taken this many ...
        self.drained_at = 0.0  # ... when last seen making progress (OutputGuard)
        self.stashed: Command | Query | None = None  # taken from the adapter, waiting for a token
        self.lag: asyncio.TimerHandle | None = None  # set while input is delayed (fake lag)
        self.ip = ""
        self.barrier: Sync | None = None  # an opening Sync, waiting for its command
        self.delivered = 0  # events fan-out wrote to this connection (transport/metrics.py)
        # Input read but not yet handed to the adapter: a big read is handled
        # input_per_tick bytes per loop iteration, with reading paused meanwhile.
        self.unread: memoryview | None = None
        self.unread_lines = 0  # line ends in it: flood control counts them as waiting
        self.eof_later = False  # the peer's EOF came while input was still unread
        # 0: output is written as queued; else the WebSocket opcode each line is
        # framed with (WsConnection.framed: enqueue_shared frames once per opcode).
        self.opcode = 0

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """This connection's logger (its id in every record); made when used,
        so 10,000 idle connections do not each carry one."""
        return logging.LoggerAdapter(log, {"conn": self.sid, "peer": self.peer})

    @property
    def tls_fingerprint(self) -> str | None:
        """SHA-256 (hex) of the client certificate this connection presented
        over TLS, or None (plain, or no certificate): for SASL EXTERNAL."""
        return fingerprint(self.transport)

    # --- asyncio.Protocol ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)
        self.peer, self.ip = self._address(transport)
        # pause_writing() fires once the kernel stops taking our bytes and the
        # transport holds more than kernel_sendq: the output guard watches it.
        transport.set_write_buffer_limits(high=self.lowat)
        refusal = self.server.attach(self)
        self.log.debug("connected from %s (%s)", self.peer, self.kind)
        if refusal:
            self.log.warning("refusing %s: %s", self.peer, refusal)
            self.adapter.data_to_send()  # no greeting for a refused connection
            self.adapter.abort(refusal)
            self._pump()
            return
        self._send_local()

    def data_received(self, data: bytes) -> None:
        step = self.limits.input_per_tick
        if self.unread is None and len(data) <= step:
            self._handle(data)  # the commonest read (_handle returns at once when closed)
            return
        if self.closed:
            return
        if self.unread is not None:  # (reading is paused: a layer above may still hold some)
            self.unread = memoryview(bytes(self.unread) + data)
            self.unread_lines += data.count(b"\n")
            return
        if len(data) > step:
            # One read can carry 256 KiB (5,000 lines): take a slice now and
            # the rest a slice per loop iteration, reading paused until it is
            # all in, so the lines reach flood control in the same order.
            self.unread = memoryview(data)[step:]
            self.unread_lines = data.count(b"\n", step)
            data = data[:step]
            self._reading(False)
            asyncio.get_running_loop().call_soon(self._read_more)
        self._handle(data)

    def _read_more(self) -> None:
        """The next slice of a big read (called once per loop iteration)."""
        rest = self.unread
        if rest is None:
            return
        if self.closed or self.adapter.closing:
            self.unread = None  # cut off, or gone (QUIT): what it sent after is not read
            self.unread_lines = 0
            return
        step = self.limits.input_per_tick
        data = bytes(rest[:step])
        self.unread_lines -= data.count(b"\n")
        if len(rest) > step:
            self.unread = rest[step:]
            asyncio.get_running_loop().call_soon(self._read_more)
        else:
            self.unread = None
            self.unread_lines = 0
            if self.eof_later:
                self.eof_later = False
                self._handle(data)
                if not self.closed:
                    self.eof_received()
                return
            if not self.busy and not self.budget_wait and not self.at_eof and self.transport is not None:
                self._reading(True)
        self._handle(data)

    def _handle(self, data: bytes) -> None:
        """Bytes to the adapter, flood control on its backlog, then commands."""
        if self.closed:
            return
        adapter = self.adapter
        # (receive_data answers the adapter's backlog.) Lines of a big read not
        # handed over yet wait as much as the adapter's.
        waiting = adapter.receive_data(data) + self.unread_lines
        if waiting > self.limits.flood_backlog and not adapter.closing:
            self.log.warning("%s: excess flood (%d lines waiting)", self.peer, waiting)
            self.server.metrics.flood_cutoffs += 1
            self._cut("excess flood")
        elif self.lag is not None or self.budget_wait:
            return  # input waits for its token (fake lag); reading goes on to spot floods
        try:
            self._pump_commands()  # (what _pump does, its guard being this one)
        except Exception:
            # One connection's bad luck must not reach the others.
            self.log.exception("error while handling input; closing this connection")
            self.close("internal error", abort=True)

    def eof_received(self) -> bool:
        if self.closed:
            return False  # the peer finished a lingering close
        if self.unread is not None:
            self.eof_later = True  # after the input read before it
            return True
        # `printf 'alice\nhello\n' | nc` may half-close before its lines are
        # handled (a query can be in flight): finish them, then close.
        self.close_reason = "connection closed"
        self.at_eof = True
        if not self.closed:
            self._pump()
        return True

    def pause_writing(self) -> None:
        # Not a verdict: only a reader that stops reading is cut (OutputGuard).
        # Until resume_writing, output stays in `out`: references to the bytes
        # every recipient shares, not one copy per connection in the transport.
        self.paused = True
        self.server.output.watch(self)

    def resume_writing(self) -> None:
        self.paused = False
        self.server.output.unwatch(self)  # (if it also waits to send, it still does)
        if self.out and not self.closed:
            self.server.mark_dirty([self])

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self.closed:
            self.close_reason = "connection reset"
        if self.lag is not None:
            self.lag.cancel()
            self.lag = None
        self.closed = True
        self.out.clear()
        self.server.output.forget(self)
        self.server.detach(self)

    # --- used by the server ----------------------------------------------

    def _address(self, transport: asyncio.Transport) -> tuple[str, str]:
        """(peer for the log, address to count): the socket's here (WebSocket: maybe a proxy's client)."""
        return tune_socket(transport, self.server.config.limits.kernel_sendq)

    def admit(self, admission: Admission) -> str:
        """Be counted (see transport/admission.py); why refused, or ''."""
        return admission.admit(self, self.ip)

    def evict(self, reason: str) -> None:
        """Make way for a newer unregistered connection from the same address."""
        if self.closed or self.adapter.closing:
            return
        self.log.warning("closing %s: %s", self.peer, reason)
        self._cut(reason)
        self._pump()

    def _cut(self, reason: str) -> None:
        """The adapter says goodbye; its Quit goes first, without waiting for a flood token."""
        self.stashed = None
        self.bucket = None
        if self.lag is not None:
            self.lag.cancel()
            self.lag = None
        self.adapter.abort(reason)

    def budget_released(self) -> None:
        """The output budget has room again: read and send."""
        self.budget_wait = False
        if self.closed or self.transport is None:
            return
        if not self.busy and not self.at_eof and self.unread is None:
            self._reading(True)
        self.pump()

    def _lagged(self) -> None:
        self.lag = None
        self.pump()

    def _pump(self) -> None:
        """Every caller (a read, a timer, a finished query) gets the same guard:
        one connection's bug closes that connection, never the loop's callback."""
        try:
            self._pump_commands()
        except Exception:
            self.log.exception("error while handling input; closing this connection")
            self.close("internal error", abort=True)

    def _pump_commands(self) -> None:
        """Commands from the adapter to where they go, one at a time, each
        when the flood bucket has a token for it (otherwise it is kept in
        ``stashed``, and the pump comes back when there will be one)."""
        adapter = self.adapter
        server = self.server
        while not self.busy and self.lag is None and not self.budget_wait:
            command = self.stashed
            if command is None:
                command = adapter.next_command()
                if command is None:
                    break
            else:
                self.stashed = None
            if type(command) is Say or type(command) is SendTags:
                if server.output.throttled:  # readers are behind: the sender waits
                    self.stashed = command
                    server.output.wait(self)
                    break
                # A TAGMSG (+typing...) fans out like a message: one line and the
                # bytes of its tags, as a message costs one line and its text's bytes.
                if type(command) is Say:
                    text = command.text  # its bytes (ASCII, the commonest: one a character, no copy to count them)
                    size = len(text) if text.isascii() else len(text.encode())
                else:
                    size = tags_size(cast(SendTags, command))
            else:  # Quit always passes; Sync is a labeled-response marker, not input
                size = -1 if isinstance(command, FREE) else 0
            bucket = self.bucket
            if size >= 0 and bucket is not None and not bucket.take(size):
                self.stashed = command  # kept until the bucket has a token (fake lag)
                if self.lag is None and server.loop is not None:
                    server.metrics.flood_throttles += 1
                    self.lag = server.loop.call_later(bucket.delay(size), self._lagged)
                break
            if adapter.unsent:
                self._send_local()
            if type(command) is Say and self.barrier is None:  # the commonest: none of the checks below is about it
                server.dispatch(self, command)
                continue
            if type(command) is Sync and command.opens:
                self.barrier = command  # goes to the hub with the command after it
                continue
            barrier, self.barrier = self.barrier, None
            credential = server.passwords.credential(command)
            if credential is not None:  # Register (with a server password), Oper
                server.passwords.check(self, cast(Register | Oper, command), credential, barrier)
                continue
            if barrier is not None:
                server.dispatch(self, barrier)
            if isinstance(command, QUERIES):
                server.query(self, command)
                continue
            if isinstance(command, V3_QUERIES):
                server.v3.handle(self, command)
                continue
            if isinstance(command, ACCOUNT_COMMANDS):
                server.accounts.handle(self, command)
                continue
            if isinstance(command, Quit):
                self.close_reason = command.reason
                server.dispatch(self, command)
                break
            server.dispatch(self, command)
        if adapter.unsent:
            self._send_local()
        if (
            (adapter.closing or self.at_eof)
            and not self.busy
            and self.lag is None
            and not self.budget_wait
            and not self.closing_later
        ):
            self.closing_later = True
            server.close_after_held(self)

    def pump(self) -> None:
        """Process input that is ready, unless a query holds it."""
        self.pump_due = False
        if not self.closed and not self.busy:
            self._pump()

    def pause(self, *, gate: bool = True) -> None:
        """Hold input while a query is answered, and live messages too when
        ``gate`` (a password check holds input only)."""
        self.busy = True
        if gate:
            self.gated = []
        if self.transport is not None and not self.closed and not self.at_eof:
            self._reading(False)

    def resume(self, shown: set[str]) -> None:
        """Release held messages not already shown in the answer, then input."""
        self.server.settle()  # (messages gathered while the query ran are held too, and may be in the answer)
        held, self.gated = self.gated or [], None
        self.busy = False
        for event in held:  # in order; a message the answer showed is not repeated
            if type(event) is not Message or event.msgid not in shown:
                self.enqueue(self.adapter.render(event, {}))
        if self.closed or self.transport is None:
            return
        if not self.at_eof and not self.budget_wait and self.unread is None:
            self._reading(True)
        self._pump()

    def _reading(self, on: bool) -> None:
        """Flow control of the input: the socket's own here (WebSocket overrides it)."""
        assert self.transport is not None
        if on:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    def _send_local(self) -> None:
        """What the adapter wrote itself (numerics that echo what was typed,
        PONG, a goodbye): terminal-safe like every event (Outbox.deliver)."""
        data = self.adapter.data_to_send()
        if data:
            self.server.send_local(self, safe_output(data))

    def enqueue(self, data: bytes) -> None:
        """Queue ``data`` for this tick's write (``bulk.enqueue_shared``: the
        same for many connections at once; tests/transport/test_enqueue.py
        holds the two together)."""
        if self.closed or not data:
            return
        out = self.out
        if not out:
            self.server.mark_dirty([self])
        out.append(data)

    #: Queue bytes already as this connection writes them (a WebSocket's own
    #: frames: a pong, a sender's bytes cut from the shared frames): never framed.
    enqueue_raw = enqueue

    def framed(self, data: bytes) -> bytes:
        """``data`` (lines a renderer made) as this connection writes them: as
        they are (a WebSocket: one frame per line, ``WsConnection.framed``)."""
        return data

    def framed_in_place(self, data: bytes) -> bytes | None:
        """``framed(data)``, if a slice of ``data`` between two line starts is
        the same slice of it (here: it is ``data``), else None."""
        return data

    def flush(self, force: bool = False) -> None:
        """Write what is queued, in one write (``bulk.flush_all``: the tick's
        dirty connections at once; tests/transport/test_enqueue.py holds the two together)."""
        if self.paused and not force:
            return  # resume_writing() brings it back
        transport = self.transport
        out = self.out
        if out and transport is not None and not self.closed:
            if len(out) > BIG_BACKLOG and not force:
                self._flush_some(transport)
                return
            write_queued(self, transport, out)
        out.clear()

    def _flush_some(self, transport: asyncio.Transport) -> None:
        """A backlog (a paste storm, a reader catching up): write it a chunk
        per tick, so that no tick copies megabytes for every reader at once."""
        out = self.out
        size = n = 0
        while n < len(out) and size < CHUNK:
            size += len(out[n])
            n += 1
        chunk = b"".join(out[:n])
        del out[:n]
        self.wrote += len(chunk)
        transport.write(chunk)
        if out and not self.paused and not self.closed:
            self.server.mark_dirty([self])  # the kernel took it all: the next chunk next tick

    def close(self, reason: str, *, abort: bool = False) -> None:
        """Close after pending output is written (or at once when ``abort``)."""
        if self.closed or self.transport is None:
            return
        self.close_reason = reason
        if abort:
            self.log.warning("closing %s: %s", self.peer, reason)
            self.closed = True
            self.out.clear()
            self.transport.abort()
        else:
            self.flush(force=True)
            self.closed = True
            transport = self.transport
            if self.at_eof or not transport.can_write_eof():
                transport.close()
                return
            # Lingering close: send FIN after the goodbye, and drop what the
            # peer still sends until it closes too. Closing with unread input
            # would send RST, and the peer's kernel would discard our goodbye.
            try:
                transport.write_eof()
            except OSError:  # the peer is already gone
                transport.close()
                return
            loop = self.server.loop
            if loop is not None:
                loop.call_later(self.server.config.limits.close_linger, transport.abort)
