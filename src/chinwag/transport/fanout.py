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

from itertools import accumulate
from typing import TYPE_CHECKING

from chinwag.core.events import Event, Message, Outbound
from chinwag.protocols.base import RenderCache
from chinwag.transport.bulk import enqueue_shared

if TYPE_CHECKING:
    from chinwag.transport.connection import Connection
    from chinwag.transport.host import OutboxHost


class Batch:
    """Consecutive messages of one tick to one target and one set of recipients."""

    __slots__ = ("to", "target", "events", "senders", "local")

    def __init__(self, out: Outbound, event: Message, local: bool = True) -> None:
        self.local = local  # False: other nodes' messages (their fan-out latency is not this node's)
        self.to = out.to
        self.target = event.target
        self.events: list[Message] = [event]
        self.senders: dict[str, list[int]] = {event.nick: [0]}  # nick -> its messages' places in events

    def join(self, out: Outbound, event: Message, local: bool = True) -> bool:
        """Add ``event`` (to ``out.to``) if it belongs here, and say whether it
        did: same target, same recipients (the room's shared tuple: one
        identity test; else a compare in C, nothing per recipient in Python),
        and from the same side (this node, or the others). One call per
        released message: the test and the add are this one method."""
        to = out.to
        if event.target != self.target or local is not self.local or (to is not self.to and to != self.to):
            return False
        events = self.events
        places = self.senders.get(event.nick)
        if places is None:
            self.senders[event.nick] = [len(events)]
        else:
            places.append(len(events))
        events.append(event)
        return True


NOBODY: frozenset[str] = frozenset()


class _Shared:
    """One variant's rendering of a batch: the buffer, and where each message starts in it."""

    __slots__ = ("data", "parts", "_starts")

    def __init__(self, data: bytes, parts: list[bytes]) -> None:
        self.data = data
        self.parts = parts
        self._starts: list[int] | None = None

    def starts(self) -> list[int]:
        starts = self._starts
        if starts is None:
            starts = self._starts = list(accumulate(map(len, self.parts), initial=0))
        return starts


def deliver(server: OutboxHost, batch: Batch) -> None:
    """Fan ``batch`` out: per recipient, one lookup and its variant; then per
    variant, one render and one ``enqueue_shared`` for all of its readers."""
    events = batch.events
    if batch.local:
        server.metrics.fanning_out(events)  # (their latency ends at this tick's flush)
    server.outbox.schedule_flush()
    conns = server.connections
    first = events[0]
    senders = frozenset(batch.senders)
    groups: dict[object, list[Connection]] = {}  # variant -> its readers, in order
    senders_conns: list[Connection] = []
    for sid in batch.to:
        conn = conns.get(sid)
        if conn is None:
            continue
        gated = conn.gated
        if gated is not None:  # a query runs: its messages wait, in order
            gated.extend(events)
            continue
        key = conn.adapter.variant(first, senders)
        if key is None:
            senders_conns.append(conn)
            continue
        group = groups.get(key)
        if group is None:
            groups[key] = [conn]
        else:
            group.append(conn)
    caches: list[RenderCache] = [{} for _ in events]
    shared: dict[object, _Shared | None] = {}
    count = len(events)
    for key, group in groups.items():
        rendered = shared[key] = _render(group[0], events, caches)
        if rendered is None:  # a renderer failed: find out for whom, one by one
            for conn in group:
                alone(conn, events, caches)
        elif rendered.data:
            enqueue_shared(group, rendered.data)
            for conn in group:
                conn.delivered += count
    # Senders last: their variant's buffer is made by a reader's adapter, for
    # which no message in it is its own. Each gets the others' messages as
    # slices of it, and its own rendered for it alone (unless its own render
    # to nothing: silent_own).
    for conn in senders_conns:
        adapter = conn.adapter
        own = batch.senders.get(adapter.nick or "")
        key = adapter.variant(first, NOBODY) if own is not None else None
        rendered = shared.get(key) if key is not None else None
        if rendered is None or own is None or conn.closed:  # (a label captures its output; no reader of its variant)
            alone(conn, events, caches)
        else:
            _with_own(conn, events, caches, rendered, own, not (adapter.silent_own and not first.private))


def _render(conn: Connection, events: list[Message], caches: list[RenderCache]) -> _Shared | None:
    """Every message of the batch for ``conn``'s variant, as one buffer (None: a renderer raised)."""
    render = conn.adapter.render
    try:
        if len(events) == 1:
            data = render(events[0], caches[0])
            return _Shared(data, [data])
        parts = [render(event, cache) for event, cache in zip(events, caches, strict=True)]
    except Exception:
        return None
    return _Shared(b"".join(parts), parts)


def _with_own(conn: Connection, events: list[Message], caches: list[RenderCache], rendered: _Shared,
              own: list[int], render_own: bool) -> None:
    """One sender's bytes: the shared buffer between its own messages, which
    are rendered for it (echo-message, a private receipt), unless ``render_own``
    is False (they render to nothing: Adapter.silent_own). A WebSocket's: the
    same, cut from the shared buffer's frames when its lines start where the
    frames do (``framed_in_place``), else framed whole by its ``enqueue``
    (tests/transport/test_enqueue.py holds the two together)."""
    render = conn.adapter.render
    data = rendered.data
    # A WebSocket cuts the frames of the shared buffer (framed once for all its
    # readers) where they start as its lines do, rather than framing its bytes whole.
    wire = conn.framed_in_place(data) if conn.opcode else None
    if wire is not None:
        data = wire
    starts = rendered.starts()
    pieces: list[bytes] = []
    delivered = len(events) - len(own)  # (as for the shared buffer: every other message)
    done = 0  # messages before this place are in pieces
    for place in own:
        if place > done:
            pieces.append(data[starts[done]:starts[place]])
        done = place + 1
        if not render_own:
            continue
        try:
            mine = render(events[place], caches[place])
        except Exception:
            conn.log.exception("cannot render %s; closing this connection", type(events[place]).__name__)
            conn.close("internal error", abort=True)
            return
        if mine:
            pieces.append(mine if wire is None else conn.framed(mine))
            delivered += 1
    if done < len(events):
        pieces.append(data[starts[done]:])
    out = b"".join(pieces)
    if out:
        if wire is None:
            conn.enqueue(out)
        else:
            conn.enqueue_raw(out)  # (framed already)
        conn.delivered += delivered


def alone(conn: Connection, events: list[Message] | list[Event], caches: list[RenderCache]) -> None:
    """Render for one connection only, message by message (the shared caches
    still serve what others' variants already rendered). A renderer's bug
    closes this connection, never the fan-out."""
    for event, cache in zip(events, caches, strict=True):
        if conn.closed or not one(conn, event, cache):
            return


def one(conn: Connection, event: Event, cache: RenderCache) -> bool:
    """Render ``event`` for ``conn`` and queue it; False if a renderer's bug
    closed the connection (never the fan-out)."""
    try:
        data = conn.adapter.render(event, cache)
    except Exception:
        conn.log.exception("cannot render %s; closing this connection", type(event).__name__)
        conn.close("internal error", abort=True)
        return False
    if data:
        conn.enqueue(data)
        conn.delivered += 1
    return True
