"""Fan-out per room per tick: one buffer per wire-format variant, shared.

The messages the store confirms together (one commit: a tick's worth) are
released together (``Server._release``). Consecutive messages to the same
target and the same recipients form one :class:`Batch`; it is rendered once
per *variant* (``Adapter.variant``: protocol x the caps that change bytes, or
the text protocol's "in your current room or not") into one ``bytes`` buffer,
and every member whose variant it is gets a reference to that buffer: one
``enqueue`` per connection per batch, whatever the number of messages in it.

A connection that must not get the shared bytes (it sent one of the
messages: echo-message, the text protocol's private receipt, a label's
capture) has no variant (None): its lines are rendered for it alone, one
message at a time, through the same per-message render caches, so the other
senders' lines are cache hits, never rendered again.

Order is kept: a batch is settled (``Outbox.settle``) before anything else is
fanned out or queued, so every connection sees exactly the byte sequence the
per-message fan-out produced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.core.events import Event, Message, Outbound
from chinwag.protocols.base import RenderCache

if TYPE_CHECKING:
    from chinwag.transport.connection import Connection
    from chinwag.transport.server import Server


class Batch:
    """Consecutive messages of one tick to one target and one set of recipients."""

    __slots__ = ("to", "target", "events", "senders")

    def __init__(self, out: Outbound, event: Message) -> None:
        self.to = out.to
        self.target = event.target
        self.events: list[Message] = [event]
        self.senders = {event.nick}

    def takes(self, out: Outbound, event: Message) -> bool:
        """Does ``event`` (to ``out.to``) join this batch? Same target, same
        recipients (a list compare in C: nothing per recipient in Python)."""
        to = out.to
        return event.target == self.target and (to is self.to or to == self.to)

    def add(self, event: Message) -> None:
        self.events.append(event)
        self.senders.add(event.nick)


def deliver(server: Server, batch: Batch) -> None:
    """Fan ``batch`` out: per recipient, one lookup and one enqueue."""
    events = batch.events
    metrics = server.metrics
    for event in events:
        metrics.fanning_out(event.msgid)  # (its latency ends at this tick's flush)
    server.outbox.schedule_flush()
    conns = server.connections
    first = events[0]
    senders = frozenset(batch.senders)
    caches: list[RenderCache] = [{} for _ in events]
    buffers: dict[object, bytes] = {}
    count = len(events)
    for sid in batch.to:
        conn = conns.get(sid)
        if conn is None:
            continue
        gated = conn.gated
        if gated is not None:  # a query runs: its messages wait, in order
            gated.extend(events)
            continue
        key = conn.adapter.variant(first, senders)
        if key is not None:
            data = buffers.get(key)
            if data is None:
                data = _render(conn, events, caches)
                if data is None:  # a renderer failed: find out for whom, one by one
                    alone(conn, events, caches)
                    continue
                buffers[key] = data
            if data:
                conn.enqueue(data)
                conn.delivered += count
        else:
            alone(conn, events, caches)


def _render(conn: Connection, events: list[Message], caches: list[RenderCache]) -> bytes | None:
    """Every message of the batch for ``conn``'s variant, as one buffer (None: a renderer raised)."""
    render = conn.adapter.render
    try:
        if len(events) == 1:
            return render(events[0], caches[0])
        return b"".join([render(event, cache) for event, cache in zip(events, caches, strict=True)])
    except Exception:
        return None


def alone(conn: Connection, events: list[Message] | list[Event], caches: list[RenderCache]) -> None:
    """Render for one connection only, message by message (the shared caches
    still serve what others' variants already rendered). A renderer's bug
    closes this connection, never the fan-out."""
    render = conn.adapter.render
    for event, cache in zip(events, caches, strict=True):
        if conn.closed:
            return
        try:
            data = render(event, cache)
        except Exception:
            conn.log.exception("cannot render %s; closing this connection", type(event).__name__)
            conn.close("internal error", abort=True)
            return
        if data:
            conn.enqueue(data)
            conn.delivered += 1
