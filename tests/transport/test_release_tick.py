"""The release side of the outbox, per tick: a store that confirms inside
``append`` (memory) has its confirmations applied once, after the tick's
messages are all handed over; released messages to one room join one batch."""

from __future__ import annotations

import pytest

from chinwag.config import Config
from chinwag.core.events import Join, Message, Outbound, Register
from chinwag.core.quick import say
from chinwag.storage.base import Receipt, conversation_key
from chinwag.transport import outbox as outbox_module
from chinwag.transport.fanout import Batch
from chinwag.transport.server import Server


def _server(users: int = 3) -> Server:
    srv = Server(Config(text_port=0, irc_port=0, web_port=0, db=":memory:"))
    for sid in range(1, users + 1):
        srv.hub.connect(sid)
        srv.hub.handle(sid, Register(f"u{sid}", "u", "u"))
        srv.hub.handle(sid, Join("#lobby"))
    srv.outbox.attach_store()  # (as start() does: the store's callbacks)
    return srv


def test_a_ticks_confirmations_from_a_memory_store_are_applied_once(monkeypatch: pytest.MonkeyPatch) -> None:
    srv = _server()
    batches: list[list[str]] = []
    monkeypatch.setattr(outbox_module, "deliver_batch", lambda server, batch: batches.append(
        [event.text for event in batch.events]))
    stored: list[int] = []
    real = srv.metrics.stored
    monkeypatch.setattr(srv.metrics, "stored", lambda count, **kw: (stored.append(count), real(count, **kw)))
    for n, sid in enumerate((1, 2, 1)):
        srv.deliver(srv.hub.handle(sid, say("#lobby", f"line {n}")), sid)
    assert len(srv.outbox.senders) == 3 and not batches  # held for the store
    srv.store_pending()
    assert stored == [3]  # one release for the tick's three confirmations, not one per message
    assert batches == [["line 0", "line 1", "line 2"]]  # one batch, in order
    assert not srv.outbox.held and not srv.outbox.senders and not srv.outbox.confirmed
    assert srv.outbox.commits == 0 and srv.metrics.store_queue == 0


def test_a_store_confirming_later_is_applied_per_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's writer confirms after append: its callback applies (and flushes) at once."""
    srv = _server()
    waiting: list[Message] = []
    monkeypatch.setattr(srv.store, "append", waiting.append)
    batches: list[list[str]] = []
    monkeypatch.setattr(outbox_module, "deliver_batch", lambda server, batch: batches.append(
        [event.text for event in batch.events]))
    for n in range(2):
        srv.deliver(srv.hub.handle(1, say("#lobby", f"line {n}")), 1)
    srv.store_pending()
    assert len(waiting) == 2 and not batches
    srv.outbox.committed([Receipt(waiting[0].msgid, conversation_key(waiting[0]), 0)])
    assert batches == [["line 0"]] and len(srv.outbox.senders) == 1
    srv.outbox.committed([Receipt(waiting[1].msgid, conversation_key(waiting[1]), 0)])
    assert batches == [["line 0"], ["line 1"]] and not srv.outbox.held


def _message(n: int, target: str = "#lobby", nick: str = "a") -> Message:
    return Message(f"{n:016x}", 1.0, nick, target, f"m{n}", "privmsg")


def test_a_batch_joins_only_its_own_target_recipients_and_side() -> None:
    to = (1, 2, 3)
    first = _message(1)
    batch = Batch(Outbound(to, first), first)
    assert batch.join(Outbound(to, _message(2, nick="b")), _message(2, nick="b"))  # the same tuple
    assert batch.join(Outbound(tuple(list(to)), _message(3)), _message(3))  # equal recipients, another object
    assert not batch.join(Outbound(to, _message(4, "#other")), _message(4, "#other"))
    assert not batch.join(Outbound((1, 2), _message(5)), _message(5))
    assert not batch.join(Outbound(to, _message(6)), _message(6), local=False)
    assert [e.msgid for e in batch.events] == [f"{n:016x}" for n in (1, 2, 3)]
    assert batch.senders == {"a": [0, 2], "b": [1]}
