"""What a connection needs of the server it belongs to: :class:`Host`; and
what the outbox (commit gate, fan-out, flush) needs of it: :class:`OutboxHost`.

``Connection`` (and ``WsConnection``, and the ``TlsLayer`` under either) is
typed against this, not against ``Server``: the list below is everything a
connection may ask of its host, so the server's parts can change (or a node
of a cluster implement it) without a connection noticing. ``Server``
implements it (transport/server.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chinwag.config import Config
    from chinwag.core.events import Command, Message, Query
    from chinwag.storage.base import Store
    from chinwag.transport.accounts import AccountService
    from chinwag.transport.connection import Connection
    from chinwag.transport.ircv3 import V3Service
    from chinwag.transport.outbox import Outbox
    from chinwag.transport.passwords import PasswordChecks


class Output(Protocol):
    """The output guard as a connection sees it (transport/output.py)."""

    @property
    def throttled(self) -> bool:
        """Readers are behind: senders' messages wait."""

    def watch(self, conn: Connection) -> None:
        """``conn``'s transport is full: watch whether its reader reads."""

    def unwatch(self, conn: Connection) -> None: ...

    def forget(self, conn: Connection) -> None: ...

    def wait(self, conn: Connection) -> None:
        """``conn`` has a message ready while throttled: hold it."""


class FloodCounters(Protocol):
    """The metrics a connection counts itself (transport/metrics.py)."""

    flood_cutoffs: int
    flood_throttles: int


class Host(Protocol):
    """Everything a connection asks of the server."""

    @property
    def config(self) -> Config:
        """Its limits above all (flood control, queues, lingering close)."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """For timers (fake lag, lingering close); None before start()."""

    @property
    def metrics(self) -> FloodCounters: ...

    @property
    def output(self) -> Output: ...

    # Services off the hub that take a connection's command and answer it later.
    @property
    def passwords(self) -> PasswordChecks: ...

    @property
    def accounts(self) -> AccountService: ...

    @property
    def v3(self) -> V3Service: ...

    def attach(self, conn: Connection) -> str:
        """A new connection: register it; why it is refused, or ''."""

    def detach(self, conn: Connection) -> None:
        """The connection is gone: forget it (its user leaves)."""

    def dispatch(self, conn: Connection, command: Command) -> None:
        """A command for the hub."""

    def query(self, conn: Connection, query: Query) -> None:
        """A history query (the connection is paused until it is answered)."""

    def send_local(self, conn: Connection, data: bytes) -> None:
        """Output the adapter made itself, behind output held for ``conn``."""

    def close_after_held(self, conn: Connection) -> None:
        """Close ``conn`` once what is held for it has gone out."""

    def mark_dirty(self, conns: list[Connection]) -> None:
        """``conns`` have output to write at the end of this tick."""

    def settle(self) -> None:
        """Fan out the messages gathered so far (before anything is queued around them)."""



class DeliveryCounters(Protocol):
    """The metrics the outbox keeps (transport/metrics.py): store latency and
    each message's time from accepted to written."""

    fanned: list[float]
    accepted: deque[tuple[str, float]]  # (msgid, clock()) of each message accepted (Outbox.deliver appends)
    clock: Callable[[], float]

    def fanning_out(self, messages: Iterable[Message]) -> None: ...

    def written(self) -> None: ...

    def to_store(self, count: int) -> None: ...

    def stored(self, count: int, *, committed: bool = True) -> None: ...


class Budget(Protocol):
    """The output guard as the outbox sees it (transport/output.py)."""

    def message(self, size: int) -> None:
        """A message of ``size`` bytes for everyone it goes to is on its way."""

    def written(self) -> None:
        """This tick's output was handed to the transports."""


class OutboxHost(Protocol):
    """Everything the outbox and fan-out (transport/outbox.py, fanout.py) ask
    of the server: the store, the live connections, the output budget."""

    @property
    def config(self) -> Config: ...

    @property
    def store(self) -> Store: ...

    @property
    def connections(self) -> Mapping[int, Connection]: ...

    @property
    def metrics(self) -> DeliveryCounters: ...

    @property
    def output(self) -> Budget: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def stopping(self) -> bool:
        """Shutting down: what the store gives up on is lost, not retried."""

    def store_pending(self) -> None:
        """Hand what this tick appended to the store now."""
