"""Loaded by a server that ``python -m benchmarks.connections --tracemalloc`` spawns
(this directory first on its PYTHONPATH). On each SIGUSR1 it dumps a snapshot to
``$CHINWAG_TRACEMALLOC_OUT.N`` (then touches ``.N.done``); the first one starts
tracing, so what the later ones hold was allocated since (startup runs untraced,
at full speed). Does nothing unless that variable is set."""

import os
import signal
import tracemalloc

_OUT = os.environ.get("CHINWAG_TRACEMALLOC_OUT")
if _OUT:
    _taken = [0]

    def _dump(signum: int, frame: object) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(int(os.environ.get("CHINWAG_TRACEMALLOC_FRAMES", "8")))
        _taken[0] += 1
        path = f"{_OUT}.{_taken[0]}"
        tracemalloc.take_snapshot().dump(path)
        with open(path + ".done", "w"):
            pass

    signal.signal(signal.SIGUSR1, _dump)
