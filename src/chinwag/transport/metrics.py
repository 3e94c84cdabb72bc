"""What an operator can see: Prometheus metrics, kept cheap on the hot path.

The transport bumps plain ints (a slot per connection for deliveries, a few
attributes here for the rest); nothing touches ``prometheus_client`` until a
scrape, when :class:`_Collector` reads them all at once. Latencies go into
:class:`Buckets`, a histogram of plain ints (one ``bisect`` per observation,
no lock: only the event loop writes it). Each server has its own
``CollectorRegistry``, so several servers in one process never collide.

Hooks, each one line where the thing happens:

* ``Server.dispatch``: registrations and messages in (per command, not per recipient);
* ``Outbox.deliver``: the accept time of each message (``accepted``);
* ``Outbox.fan_out``: ``conn.delivered += 1`` per recipient written to, and the
  accept time of each message fanned out; ``Outbox.flush`` observes those
  once per tick, when they have been written to the sockets;
* ``Outbox.store_pending`` / ``committed``: store write latency (append to
  commit, per tick's batch) and the store queue's depth;
* ``Connection``: flood throttles and cut-offs, slow readers cut off;
* ``PasswordChecks``: wrong and refused passwords.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from chinwag.core.events import Message
    from chinwag.transport.server import Server

PROTOCOLS: Final = ("text", "irc", "ws", "text_tls", "irc_tls")  # a connection's kind (its listener)
#: Seconds: fan-out and store writes take about a millisecond when all is well.
LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LAG_INTERVAL: Final = 0.25  # seconds between two event-loop lag probes
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


class Buckets:
    """A cumulative histogram in plain ints, for one writer (the event loop)."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def observe_since(self, now: float, stamps: Iterable[float]) -> None:
        """``observe(now - stamp)`` for each stamp: one call per tick, not one per message."""
        counts, bounds, total = self.counts, self.bounds, 0.0
        for stamp in stamps:
            took = now - stamp
            counts[bisect_left(bounds, took)] += 1
            total += took
        self.sum += total

    def family(self, name: str, doc: str) -> HistogramMetricFamily:
        cumulative, total = [], 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            total += count
            cumulative.append((bound, float(total)))
        return HistogramMetricFamily(name, doc, buckets=cumulative, sum_value=self.sum)


class Metrics:
    """The server's counters and histograms (see the module docstring)."""

    def __init__(self, server: Server, clock: Callable[[], float] = time.perf_counter) -> None:
        self.server = server
        self.clock = clock
        self.registrations = 0
        self.messages_in = dict.fromkeys(PROTOCOLS, 0)
        self.delivered_gone = dict.fromkeys(PROTOCOLS, 0)  # deliveries to connections since closed
        self.history_queries = 0
        self.flood_throttles = 0
        self.flood_cutoffs = 0
        self.slow_readers_cut = 0
        self.auth_failures: dict[tuple[str, str], int] = {}  # (kind, reason) -> count
        # Messages accepted and not yet fanned out: (msgid, when), in msgid order;
        # Outbox.deliver appends (msgid, clock()) for each message it accepts.
        self.accepted: deque[tuple[str, float]] = deque()
        self.fanned: list[float] = []  # accept times of this tick's fanned-out messages
        self.fanout = Buckets(LATENCY_BUCKETS)
        # Batches handed to the store and not yet confirmed: [when, messages left].
        self.store_batches: deque[list[float]] = deque()
        self.store_queue = 0  # messages handed to the store, not yet confirmed
        self.store_write = Buckets(LATENCY_BUCKETS)
        self.loop_lag = 0.0
        self.loop_lags = Buckets(LAG_BUCKETS)
        self._lag_timer: asyncio.TimerHandle | None = None
        self._lag_due = 0.0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))

    # --- hooks --------------------------------------------------------------

    def fanning_out(self, messages: Iterable[Message]) -> None:
        """These messages' fan-out begins (in order; a batch at once): their
        latency ends at this tick's flush."""
        accepted = self.accepted
        fanned = self.fanned
        for message in messages:
            msgid = message.msgid
            while accepted and accepted[0][0] < msgid:  # (given up, never delivered)
                accepted.popleft()
            if accepted and accepted[0][0] == msgid:
                fanned.append(accepted.popleft()[1])

    def written(self) -> None:
        """Once per tick, after every connection's output went to its socket."""
        if self.fanned:
            self.fanout.observe_since(self.clock(), self.fanned)
            self.fanned.clear()

    def to_store(self, count: int) -> None:
        self.store_batches.append([self.clock(), float(count)])
        self.store_queue += count

    def stored(self, count: int, *, committed: bool = True) -> None:
        """``count`` more messages left the store's queue, in order: committed
        (their batch's latency is observed once all of it is), or given up
        (a store that reports failures calls this with ``committed=False``)."""
        self.store_queue = max(0, self.store_queue - count)
        batches, now = self.store_batches, None
        while count > 0 and batches:
            first = batches[0]
            taken = min(count, int(first[1]))
            first[1] -= taken
            count -= taken
            if first[1] <= 0:
                batches.popleft()
                if committed:
                    now = self.clock() if now is None else now
                    self.store_write.observe(now - first[0])

    def auth_failure(self, kind: str, reason: str) -> None:
        key = (kind, reason)
        self.auth_failures[key] = self.auth_failures.get(key, 0) + 1

    # --- event-loop lag -------------------------------------------------------

    def start(self) -> None:
        self._arm(asyncio.get_running_loop())

    def stop(self) -> None:
        if self._lag_timer is not None:
            self._lag_timer.cancel()
            self._lag_timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._lag_due = loop.time() + LAG_INTERVAL
        self._lag_timer = loop.call_at(self._lag_due, self._lagged, loop)

    def _lagged(self, loop: asyncio.AbstractEventLoop) -> None:
        """How late this timer fired: what any callback waits behind right now."""
        self.loop_lag = max(0.0, loop.time() - self._lag_due)
        self.loop_lags.observe(self.loop_lag)
        self._arm(loop)

    # --- exposition ---------------------------------------------------------------

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _counter(name: str, doc: str, labels: Sequence[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=labels)


class _Collector(Collector):
    """Reads the plain ints at scrape time; per-room and per-connection
    figures are computed here, never per event."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m, server = self.metrics, self.metrics.server
        hub, limits = server.hub, server.config.limits
        connected = {(kind, state): 0 for kind in PROTOCOLS for state in ("unregistered", "registered")}
        delivered = dict(m.delivered_gone)
        sessions = hub.sessions
        for conn in server.connections.values():
            session = sessions.get(conn.sid)
            state = "registered" if session is not None and session.nick is not None else "unregistered"
            connected[conn.kind, state] = connected.get((conn.kind, state), 0) + 1
            delivered[conn.kind] = delivered.get(conn.kind, 0) + conn.delivered

        gauge = GaugeMetricFamily("chinwag_connections", "Open client connections", labels=["protocol", "state"])
        for (kind, state), count in connected.items():
            gauge.add_metric([kind, state], count)
        yield gauge
        c = _counter("chinwag_registrations", "Connections that completed registration (chose a name)")
        c.add_metric([], m.registrations)
        yield c
        c = _counter("chinwag_messages_received", "Chat messages accepted from clients (one per target)", ["protocol"])
        for kind, count in m.messages_in.items():
            c.add_metric([kind], count)
        yield c
        c = _counter("chinwag_deliveries", "Events written to a recipient by fan-out", ["protocol"])
        for kind, count in delivered.items():
            c.add_metric([kind], count)
        yield c
        yield m.fanout.family("chinwag_fanout_latency_seconds",
                              "From a message being accepted to its fan-out being written to the sockets")
        yield m.store_write.family("chinwag_store_write_seconds",
                                   "From a tick's messages being handed to the store to their commit")
        g = GaugeMetricFamily("chinwag_store_queue_messages", "Messages handed to the store, not yet committed")
        g.add_metric([], m.store_queue + len(server.outbox.unstored))
        yield g
        g = GaugeMetricFamily("chinwag_held_events", "Events waiting behind a message the store has not confirmed")
        g.add_metric([], len(server.outbox.held))
        yield g
        c = _counter("chinwag_history_queries", "History queries answered from the store (join, /history, CHATHISTORY)")
        c.add_metric([], m.history_queries)
        yield c
        c = _counter("chinwag_flood_throttles", "Times a client's input was delayed for flood control")
        c.add_metric([], m.flood_throttles)
        yield c
        c = _counter("chinwag_flood_cutoffs", "Clients disconnected for excess flood")
        c.add_metric([], m.flood_cutoffs)
        yield c
        c = _counter("chinwag_slow_reader_cutoffs", "Clients disconnected for not reading their output")
        c.add_metric([], m.slow_readers_cut)
        yield c
        c = _counter("chinwag_auth_failures", "Wrong or refused passwords", ["kind", "reason"])
        for (kind, reason), count in sorted(m.auth_failures.items()):
            c.add_metric([kind, reason], count)
        yield c
        g = GaugeMetricFamily("chinwag_rooms", "Rooms with members")
        g.add_metric([], len(hub.rooms))
        yield g
        g = GaugeMetricFamily("chinwag_room_members",
                              f"Members of the {limits.metrics_rooms} largest rooms", labels=["room"])
        for room in heapq.nlargest(limits.metrics_rooms, hub.rooms.values(), key=lambda r: len(r.members)):
            g.add_metric([room.name], len(room.members))
        yield g
        g = GaugeMetricFamily("chinwag_event_loop_lag_seconds", "How late the last periodic timer fired")
        g.add_metric([], m.loop_lag)
        yield g
        yield m.loop_lags.family("chinwag_event_loop_lag_distribution_seconds",
                                 f"How late a timer fired, sampled every {LAG_INTERVAL} s")
        cluster = m.server.cluster
        if cluster is not None:  # a node of a cluster (transport/cluster/node.py)
            g = GaugeMetricFamily("chinwag_cluster_bus_up", "1 while the Redis bus is subscribed and publishing")
            g.add_metric([], 1.0 if cluster.bus.up else 0.0)
            yield g
            g = GaugeMetricFamily("chinwag_cluster_nodes", "Other nodes this node hears from")
            g.add_metric([], len(cluster.peers))
            yield g
            g = GaugeMetricFamily("chinwag_cluster_remote_users", "Users of other nodes (ghosts) known here")
            g.add_metric([], len(hub.remote))
            yield g
            c = _counter("chinwag_cluster_refills", "Gaps in a conversation's sequence read back from PostgreSQL")
            c.add_metric([], cluster.refills)
            yield c
            c = _counter("chinwag_cluster_bus_dropped", "Bus messages dropped (Redis down or the queue full)")
            c.add_metric([], cluster.bus.dropped)
            yield c
