"""A bystander's round trip, measured while a hostile client does its worst.

Every hostile test keeps one well-behaved IRC user pinging the server and
reports what it saw; the assertion is that it stayed served (no stall long
enough to be a defect), and the figures go to docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import time
from dataclasses import dataclass, field

from tests.conftest import IrcClient

# A defect stalls the loop for seconds (the figures: 0.7 s to forever);
# a healthy server answers in about a millisecond. This is a stall detector,
# not a speed claim: the measured figures are what docs/reliability.md quotes.
STALL = 0.5


@dataclass
class Rtt:
    samples: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000 if self.samples else float("nan")

    @property
    def max_ms(self) -> float:
        return max(self.samples) * 1000 if self.samples else float("nan")

    def __str__(self) -> str:
        return f"bystander RTT over {len(self.samples)} pings: median {self.median_ms:.2f} ms, max {self.max_ms:.2f} ms"

    def assert_served(self, stall: float = STALL) -> None:
        assert self.samples, "the bystander got no PONG at all"
        assert max(self.samples) < stall, str(self)


class Bystander:
    """An IRC user that PINGs in a loop until stopped; ``rtt`` holds every round trip."""

    def __init__(self, client: IrcClient) -> None:
        self.client = client
        self.rtt = Rtt()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @classmethod
    async def join(cls, port: int, nick: str = "bystander", host: str = "127.0.0.1") -> Bystander:
        r, w = await asyncio.open_connection(host, port)
        client = IrcClient(r, w)
        await client.register(nick)
        return cls(client)

    async def ping_once(self, token: str) -> float:
        sent = time.perf_counter()
        await self.client.send(f"PING :{token}")
        while True:
            line = await self.client.line(timeout=10)
            if " PONG " in line and line.endswith(token):
                rtt = time.perf_counter() - sent
                self.rtt.samples.append(rtt)
                return rtt

    def start(self, interval: float = 0.005) -> None:
        # What the process holds so far is kept out of the collector's full passes,
        # as `chinwag serve` does once started (cli.py: gc.freeze()): the server here
        # shares the test process's heap (pytest's, earlier tests', a test's own data:
        # 20,000 messages in test_pgseq), and a full pass over it (~50-100 ms of CPU,
        # 0.35-0.6 s on a loaded machine) would count as a stall of the server. What
        # the test allocates from now on is collected as usual. (tests/conftest.py thaws.)
        gc.freeze()

        async def loop() -> None:
            n = 0
            # Python 3.11's wait_for (in client.line) can swallow a cancellation
            # that lands as a line arrives: the flag ends the loop all the same.
            while not self._stopping:
                n += 1
                await self.ping_once(f"b{n}")
                await asyncio.sleep(interval)

        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> Rtt:
        self._stopping = True
        if self._task is not None:
            # Python 3.11's wait_for() swallows a cancellation that lands as its
            # PONG arrives (gh-86296); the loop would then ping on forever: insist.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait([self._task], timeout=1)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        print(self.rtt)
        return self.rtt

    async def close(self) -> None:
        await self.client.close()
