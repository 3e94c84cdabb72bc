"""The text protocol's ``HH:MM`` (made once per second) is strftime's for every time."""

from __future__ import annotations

import random
import time

from chinwag.protocols.text_devices import clock_hhmm


def test_clock_hhmm_is_strftimes() -> None:
    rnd = random.Random(7)
    now = time.time()
    for _ in range(20_000):
        whole = rnd.randrange(0, 2**31)
        for ts in (whole + rnd.random(), whole + 0.999999, float(whole), now + rnd.uniform(-120, 120), whole - 1e-9):
            assert clock_hhmm(ts) == time.strftime("%H:%M", time.localtime(ts)), ts
