"""Loaded by a server that ``python -m benchmarks --stages FILE`` spawns (this
directory first on its PYTHONPATH): where each message's time goes inside the
server, and every garbage collection's pause. Does nothing unless
``CHINWAG_STAGES_OUT`` is set.

Per message (all on CLOCK_MONOTONIC, which the generator's ``perf_counter`` is
too: ``CHINWAG_STAGES_BASE_NS`` is its zero, so the payload's SENT_US is
comparable): sent by the generator -> ``Outbox.deliver`` (read, parsed, hub) ->
the writer thread's commit done (``_confirm``) -> the loop hears of it
(``Outbox.committed``) -> the flush that writes it starts -> that flush ends
(its last recipient's write); in between, the hand-off to the store
(``store_pending``: handed), the writer's transaction start (ins0) and the
release queued (rel, when not written by ``committed`` itself). Also: WAL
checkpoint passes, the slowest 1 %'s share behind another message's writes or
during a checkpoint, and every delivery's estimated time (a flush's writes spread
evenly between its start and end). Recording starts on SIGUSR2 (the measured
window opens) and the figures are written as JSON at exit.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import re
import signal
import threading
import time

_OUT = os.environ.get("CHINWAG_STAGES_OUT")
if _OUT:
    from chinwag.core.events import Message
    from chinwag.storage import sqlite as _sqlite
    from chinwag.transport import outbox as _outbox
    from chinwag.transport import ticker as _ticker

    _ns = time.perf_counter_ns
    _BASE = int(os.environ.get("CHINWAG_STAGES_BASE_NS", "0"))
    _PAYLOAD = re.compile(r"~\w+ (\d+) (\d+)")
    _on = [False]
    _lock = threading.Lock()
    rec: dict[str, dict[str, int]] = {}  # msgid -> stage -> ns
    gcs: list[tuple[int, int, int]] = []  # (generation, pause ns, start ns)
    inserts: list[int] = []  # the writer's _insert durations, ns
    flushes: list[tuple[int, int, int]] = []  # write_out: (start ns, duration ns, connections)
    merges = [0]
    ticks: list[int] = []  # the Ticker's runs (every connection's tick and pump), ns
    pending: list[str] = []  # msgids committed since the last write_out
    _gc_start = [0]

    def _gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            _gc_start[0] = _ns()
        elif _on[0]:
            gcs.append((info["generation"], _ns() - _gc_start[0], _gc_start[0]))

    gc.callbacks.append(_gc)
    if os.environ.get("CHINWAG_STAGES_SWITCH"):  # an experiment: the GIL's switch interval (s)
        import sys

        sys.setswitchinterval(float(os.environ["CHINWAG_STAGES_SWITCH"]))

    def _start(signum: int, frame: object) -> None:
        rec.clear()
        gcs.clear()
        inserts.clear()
        flushes.clear()
        merges[0] = 0
        ticks.clear()
        checkpoints.clear()
        _on[0] = True

    signal.signal(signal.SIGUSR2, _start)

    _deliver = _outbox.Outbox.deliver

    def deliver(self, outbound, sender=0):  # type: ignore[no-untyped-def]
        if _on[0]:
            outbound = list(outbound)
            now = _ns()
            for out in outbound:
                ev = out.event
                if type(ev) is Message:
                    m = _PAYLOAD.search(ev.text)
                    stages = {"in": now}
                    if m and _BASE:
                        stages["sent"] = _BASE + int(m.group(2)) * 1000
                    rec[ev.msgid] = stages
        return _deliver(self, outbound, sender)

    _outbox.Outbox.deliver = deliver  # type: ignore[method-assign]

    _store_pending = _outbox.Outbox.store_pending

    def store_pending(self):  # type: ignore[no-untyped-def]
        if _on[0] and self.unstored:
            now = _ns()
            for m in self.unstored:
                s = rec.get(m.msgid)
                if s is not None:
                    s["handed"] = now
        return _store_pending(self)

    _outbox.Outbox.store_pending = store_pending  # type: ignore[method-assign]

    def stamping(method, stage, then=None):  # type: ignore[no-untyped-def]
        """``method(self, receipts)`` that first stamps ``stage`` on each receipt's record."""

        def stamped(self, receipts):  # type: ignore[no-untyped-def]
            if _on[0]:
                now = _ns()
                for r in receipts:
                    s = rec.get(r.msgid)
                    if s is not None:
                        s[stage] = now
                        if then is not None:
                            then(r.msgid)
            return method(self, receipts)

        return stamped

    # the writer thread confirms (stored), then the loop is told (loop)
    _sqlite.SqliteStore._confirm = stamping(_sqlite.SqliteStore._confirm, "stored")  # type: ignore[method-assign]
    _committed = stamping(_outbox.Outbox.committed, "loop", pending.append)

    def committed(self, receipts):  # type: ignore[no-untyped-def]
        try:
            return _committed(self, receipts)
        finally:
            if _on[0]:
                now = _ns()
                for r in receipts:
                    s = rec.get(r.msgid)
                    if s is not None and "w0" not in s:
                        s["rel"] = now  # released: rendered and queued (unless already written)

    _outbox.Outbox.committed = committed  # type: ignore[method-assign]

    _insert = _sqlite._insert

    def insert(conn, rows):  # type: ignore[no-untyped-def]
        t = _ns()
        if _on[0]:
            for r in rows:
                s = rec.get(r[1])
                if s is not None:
                    s["ins0"] = t
        try:
            return _insert(conn, rows)
        finally:
            if _on[0]:
                inserts.append(_ns() - t)

    _sqlite._insert = insert

    from chinwag.storage import sqlite_checkpoint as _ckpt

    checkpoints: list[tuple[int, int, bool]] = []  # (start ns, end ns, on the checkpoint thread)
    _checkpoint = _ckpt.checkpoint

    def checkpoint(conn):  # type: ignore[no-untyped-def]
        t = _ns()
        try:
            return _checkpoint(conn)
        finally:
            if _on[0]:
                checkpoints.append((t, _ns(), threading.current_thread().name == "chinwag-history-checkpoint"))

    _ckpt.checkpoint = checkpoint

    _write_out = _outbox.Outbox.write_out

    def write_out(self):  # type: ignore[no-untyped-def]
        t0 = _ns()
        n = len(self.dirty)
        try:
            return _write_out(self)
        finally:
            if _on[0]:
                t1 = _ns()
                flushes.append((t0, t1 - t0, n))
                for msgid in pending:
                    s = rec.get(msgid)
                    if s is not None:
                        s["w0"], s["w1"] = t0, t1
                pending.clear()

    _outbox.Outbox.write_out = write_out  # type: ignore[method-assign]

    _merge = _outbox.Outbox.merge

    def merge(self):  # type: ignore[no-untyped-def]
        held = _merge(self)
        if held and _on[0]:
            merges[0] += 1
        return held

    _outbox.Outbox.merge = merge  # type: ignore[method-assign]

    _tick_run = _ticker.Ticker._run

    def tick_run(self):  # type: ignore[no-untyped-def]
        t = _ns()
        try:
            return _tick_run(self)
        finally:
            if _on[0]:
                ticks.append(_ns() - t)

    _ticker.Ticker._run = tick_run  # type: ignore[method-assign]

    def _pct(xs: list[int]) -> dict[str, float]:
        if not xs:
            return {"n": 0}
        xs = sorted(xs)
        n = len(xs)

        def at(p: float) -> float:
            return xs[min(n - 1, int(p / 100 * n))] / 1e6

        return {"n": n, "p50": at(50), "p90": at(90), "p99": at(99), "p99.9": at(99.9), "max": xs[-1] / 1e6,
                "mean": sum(xs) / n / 1e6}

    def _dump() -> None:
        _on[0] = False
        spans = {
            "sent->in": ("sent", "in"), "in->stored": ("in", "stored"), "stored->loop": ("stored", "loop"),
            "loop->w0": ("loop", "w0"), "w0->w1": ("w0", "w1"),
            "in->handed": ("in", "handed"), "handed->ins0": ("handed", "ins0"), "ins0->stored": ("ins0", "stored"),
            "loop->rel": ("loop", "rel"), "rel->w0": ("rel", "w0"), "loop->w1": ("loop", "w1"),
            "in->w1": ("in", "w1"), "sent->w1": ("sent", "w1"),
        }
        out: dict[str, object] = {}
        for name, (a, b) in spans.items():
            out[name] = _pct([s[b] - s[a] for s in rec.values() if a in s and b in s])
        # The slowest 1% of messages (by sent->w1, else in->w1): what their time was spent on.
        key = "sent" if any("sent" in s for s in rec.values()) else "in"
        done = sorted((s for s in rec.values() if key in s and "w1" in s), key=lambda s: s["w1"] - s[key])
        tail = done[-max(1, len(done) // 100):] if done else []
        out["slowest 1%: mean ms per stage"] = {
            name: sum(s[b] - s[a] for s in tail if a in s and b in s) / max(1, len(tail)) / 1e6
            for name, (a, b) in spans.items()
        }
        # Did the slowest wait behind another message's writes (its w0..w1 inside this one's sent..w0)?
        spans_w = sorted((s["w0"], s["w1"]) for s in done)
        import bisect

        def behind(s: dict[str, int]) -> bool:
            a, b = s.get("sent", s["in"]), s["w0"]
            i = bisect.bisect_left(spans_w, (a - 5_000_000, 0))
            return any(w1 > a and w0 < b and (w0, w1) != (s["w0"], s["w1"]) for w0, w1 in spans_w[i:i + 64])

        out["slowest 1%: share behind another message's writes"] = sum(map(behind, tail)) / max(1, len(tail))
        out["all: share behind another message's writes"] = sum(map(behind, done)) / max(1, len(done))
        # Every delivery, as if the writes of a flush were evenly spread between
        # w0 and w1 (99 recipients): the server's share of the generator's figure.
        for name, a in (("est. delivery, sent->write", "sent"), ("est. delivery, in->write", "in")):
            xs = []
            for s in done:
                if a in s:
                    w0, span = s["w0"] - s[a], s["w1"] - s["w0"]
                    xs.extend(w0 + span * k // 98 for k in range(99))
            out[name] = _pct(xs)
        for name, mine in (("checkpoint pass (thread)", True), ("checkpoint finish (writer)", False)):
            out[name] = _pct([b - a for a, b, t in checkpoints if t is mine])
            out[f"slowest 1%: share during a {name}"] = sum(
                any(a < s["w1"] and b > s.get("sent", s["in"]) for a, b, t in checkpoints if t is mine)
                for s in tail) / max(1, len(tail))
            out[f"all: share during a {name}"] = sum(
                any(a < s["w1"] and b > s.get("sent", s["in"]) for a, b, t in checkpoints if t is mine)
                for s in done) / max(1, len(done))
        for g in (0, 1, 2):
            out[f"gc gen{g} pause"] = _pct([d for gen, d, _ in gcs if gen == g])
        out["gc pauses total ms"] = sum(d for _, d, _ in gcs) / 1e6
        out["slowest 1%: share with a gc inside in->w1"] = sum(
            any(s["in"] <= t0 <= s["w1"] for _, _, t0 in gcs) for s in tail) / max(1, len(tail))
        out["insert"] = _pct(inserts)
        out["flush (write_out)"] = _pct([d for _, d, _ in flushes])
        out["flush connections"] = _pct([n * 1_000_000 for _, _, n in flushes])  # (as counts: "ms" = count)
        out["ticker run"] = _pct(ticks)
        out["merges"] = merges[0]
        out["messages"] = len(rec)
        with open(str(_OUT), "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)

    atexit.register(_dump)
