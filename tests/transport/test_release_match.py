"""``Outbox._release_held`` tests the commonest answer (a confirmation of the
next message) first and once; held here to the form it had before (round 7),
over random answers: confirmations, refusals, and ones that match nothing."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from chinwag.config import Config
from chinwag.core.events import Join, Message, Register
from chinwag.core.quick import say
from chinwag.storage.base import Receipt, conversation_key
from chinwag.transport import outbox as outbox_module
from chinwag.transport.outbox import Outbox
from chinwag.transport.server import Server


def _general(self: Outbox) -> None:
    """The matching as it was: each condition written out (the general form)."""
    held = self.held
    confirmed, refused, senders = self.confirmed, self.refused, self.senders
    log = outbox_module.log
    while held:
        out = held[0]
        assert not isinstance(out, tuple)
        event = out.event
        assert type(event) is Message
        msgid = event.msgid
        if confirmed and (confirmed[0].msgid == msgid or not (refused and refused[0] == msgid)):
            receipt = confirmed.popleft()
            if receipt.msgid != msgid:
                log.error("store confirmed %s but %s was next; released anyway", receipt.msgid, msgid)
            senders.popleft()
        elif refused:
            given_up = refused.popleft()
            if given_up != msgid:
                log.error("store gave up %s but %s was next; not sent", given_up, msgid)
            held.popleft()
            self.not_sent(senders.popleft(), event)
            continue
        else:
            return
        held.popleft()
        self.released_seq = receipt.seq
        batch = self.batch
        if batch is None or not batch.join(out, event):
            self.gather(out, event)


def _run(seed: int, general: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Any:
    rnd = random.Random(seed)
    srv = Server(Config(text_port=0, irc_port=0, web_port=0, db=":memory:"))
    for sid in (1, 2):
        srv.hub.connect(sid)
        srv.hub.handle(sid, Register(f"u{sid}", "u", "u"))
        srv.hub.handle(sid, Join("#lobby"))
    srv.outbox.attach_store()
    waiting: list[Message] = []
    monkeypatch.setattr(srv.store, "append", waiting.append)
    released: list[str] = []
    monkeypatch.setattr(outbox_module, "deliver_batch", lambda server, batch: released.extend(
        event.msgid for event in batch.events))
    refused_told: list[str] = []
    monkeypatch.setattr(srv.outbox, "not_sent", lambda sender, msg: refused_told.append(msg.msgid))
    if general:
        monkeypatch.setattr(Outbox, "_release_held", _general)
    for n in range(rnd.randint(1, 12)):
        srv.deliver(srv.hub.handle(1 + n % 2, say("#lobby", f"line {n}")), 1 + n % 2)
    srv.store_pending()
    caplog.clear()
    outbox = srv.outbox
    for _ in range(rnd.randint(1, 6)):  # answers, a few at a time; mostly right, some match nothing
        for _ in range(rnd.randint(0, 4)):
            pick = rnd.random()
            m = rnd.choice(waiting)
            if pick < 0.6:
                outbox.confirmed.append(Receipt(m.msgid, conversation_key(m), rnd.randrange(3)))
            elif pick < 0.85:
                outbox.refused.append(m.msgid)
            else:
                outbox.confirmed.append(Receipt("ffff" + m.msgid, "#x", 0))
        outbox.release()
    logs = [r.getMessage() for r in caplog.records if r.name == "chinwag.server"]
    names = {"ffff" + m.msgid: f"x{i}" for i, m in enumerate(waiting)}  # (the ids differ run to run: the clock)
    names.update({m.msgid: f"m{i}" for i, m in enumerate(waiting)})

    def named(ids: Any) -> list[str]:
        return [names[i] for i in ids]

    for msgid, name in names.items():
        logs = [line.replace(msgid, name) for line in logs]
    held = named(out.event.msgid for out in outbox.held)  # type: ignore[union-attr]
    return (named(released), named(refused_told), logs, held, named(r.msgid for r in outbox.confirmed),
            named(outbox.refused), list(outbox.senders), outbox.released_seq)


@pytest.mark.parametrize("seed", range(300))
def test_release_matches_as_the_general_form(
    seed: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="chinwag.server")
    fast = _run(seed, False, monkeypatch, caplog)
    monkeypatch.undo()
    caplog.set_level(logging.ERROR, logger="chinwag.server")
    assert _run(seed, True, monkeypatch, caplog) == fast
    SEEN.append(fast)


SEEN: list[Any] = []


def test_the_random_answers_reach_every_branch() -> None:
    """(after the seeds above) confirmations, refusals, both kinds of mismatch logged, a wait."""
    assert SEEN, "run with the seeds"
    logs = [line for seen in SEEN for line in seen[2]]
    assert any(seen[0] for seen in SEEN) and any(seen[1] for seen in SEEN) and any(seen[3] for seen in SEEN)
    assert any("released anyway" in line for line in logs) and any("not sent" in line for line in logs)
