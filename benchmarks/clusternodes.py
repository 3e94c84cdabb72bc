"""N chinwag node processes on one PostgreSQL and one redis-server (issue 13).

Used by the cluster tests (tests/cluster/) and ``python -m benchmarks.cluster``::

    async with Cluster(pg_url, redis_url) as cluster:
        await cluster.start(3)                  # node1..node3, OS-chosen ports
        cluster.nodes[0].ports["irc"]           # learned from the node's log
        await cluster.kill9(1)                  # SIGKILL, reaped
        await cluster.term(2)                   # SIGTERM, waits for the exit: its status
        await cluster.add()                     # node4 while the others run
        await cluster.restart(1)                # node2 again (same name, new ports)
    # stop_all(): SIGTERM every node still running (SIGKILL after a timeout)

Each node is ``python -m chinwag serve --postgres URL --redis URL --node-name
nodeN`` with ``--text-port 0 --irc-port 0 --web-port 0`` and a config file of
short cluster limits (TEST_LIMITS) and whatever else the caller passes. A node
is ready when its log (stderr) has said where its three listeners are and
``node nodeN of cluster``: nothing here sleeps, it reads lines. Every node of one
``Cluster`` shares a cluster name of its own (the Redis channel), so clusters
of different tests on one redis-server never hear each other. Loopback only.

``reuse_port=True``: every node binds the same ports with ``--reuse-port``
(SO_REUSEPORT; the first node's OS-chosen ports, then the others', restarts
included), so one port reaches them all and the kernel spreads connections.
``pg_url=None`` (and no Redis): plain ``chinwag serve --db FILE`` processes,
SQLite in the cluster's temporary directory: the zero-setup default.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import signal
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Short enough that a dead node is noticed in about 3 s in a test.
TEST_LIMITS: dict[str, Any] = {
    "cluster_heartbeat": 0.5,
    "cluster_lease": 2.5,
    "cluster_gap_wait": 0.05,
    "cluster_poll": 0.2,
}
# Tests and benchmarks paste many lines at once: flood control has its own tests.
NO_FLOOD: dict[str, Any] = {"flood_burst": 100_000, "flood_backlog": 100_000, "flood_burst_bytes": 1 << 30}
READY_TIMEOUT = 60.0  # seconds: only reached when something is wrong (2 shared cores, many processes)
LISTENER = re.compile(r"\b(text|irc|web|metrics) listener on ([\d.]+):(\d+)")
REGISTERED = re.compile(r"\bconn \d+ from \S+ is (\S+)")  # Server._log, at INFO: a connection's nick
_clusters = itertools.count(1)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the process that started it dies
    (Linux prctl PR_SET_PDEATHSIG), so a test run killed hard leaves no node behind."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


class NodeError(RuntimeError):
    """A node did not start, or a line it should have logged never came."""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def config_toml(settings: Mapping[str, Any], limits: Mapping[str, Any]) -> str:
    """A chinwag config file: top-level ``settings``, then ``[limits]``."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in settings.items()]
    lines.append("[limits]")
    lines += [f"{k} = {_toml_value(v)}" for k, v in limits.items()]
    return "\n".join(lines) + "\n"


class Node:
    """One ``chinwag serve`` process and everything it has logged."""

    def __init__(self, index: int, name: str, proc: asyncio.subprocess.Process, clustered: bool) -> None:
        self.index = index
        self.name = name
        self.proc = proc
        self.clustered = clustered
        self.log: list[str] = []
        self.ports: dict[str, int] = {}
        self._changed = asyncio.Event()
        self._eof = False
        assert proc.stderr is not None
        self._reader = asyncio.get_running_loop().create_task(self._read(proc.stderr))

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def port(self, listener: str) -> int:
        return self.ports[listener]

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                raw = await stream.readline()
            except (ValueError, asyncio.LimitOverrunError):  # an absurdly long line: skip it
                continue
            if not raw:
                break
            line = raw.decode(errors="replace").rstrip()
            self.log.append(line)
            if m := LISTENER.search(line):
                self.ports.setdefault(m.group(1), int(m.group(3)))
            self._changed.set()
        self._eof = True
        self._changed.set()

    async def wait_line(self, pattern: str | re.Pattern[str], start: int = 0,
                        timeout: float = READY_TIMEOUT) -> re.Match[str]:
        """The first log line from index ``start`` on that matches ``pattern``
        (a regex), waiting for it; NodeError if the node exits or time runs out."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern

        async def scan() -> re.Match[str]:
            i = start
            while True:
                while i < len(self.log):
                    if m := regex.search(self.log[i]):
                        return m
                    i += 1
                if self._eof:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.proc.wait(), 5)
                    raise NodeError(f"{self.name} exited (status {self.proc.returncode}) before logging "
                                    f"{regex.pattern!r}:\n" + self.tail())
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise NodeError(f"{self.name} did not log {regex.pattern!r} within {timeout} s:\n" + self.tail()) from None

    async def ready(self) -> None:
        """Its listeners are up, and (in a cluster) it has joined it."""
        for listener in ("text", "irc", "web"):
            await self.wait_line(rf"\b{listener} listener on ")
        if self.clustered:
            await self.wait_line(rf"\bnode {re.escape(self.name)} of cluster\b")

    def registered(self) -> list[str]:
        """The nicks of the connections that registered on this node (from its INFO log)."""
        return [m.group(1) for line in self.log if (m := REGISTERED.search(line))]

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log[-n:])

    async def wait(self, timeout: float = READY_TIMEOUT) -> int:
        """Its exit status once it has exited (and its log is read to the end)."""
        status = await asyncio.wait_for(self.proc.wait(), timeout)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return status

    def signal(self, sig: signal.Signals) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)


class Cluster:
    """Node processes sharing one PostgreSQL database and one redis-server.

    ``redis_url=None`` starts plain ``chinwag serve --postgres`` processes (no
    cluster: each on its own), the baseline a cluster is compared with; with
    ``pg_url=None`` too, ``chinwag serve --db FILE`` (SQLite, one file per node).
    """

    def __init__(
        self,
        pg_url: str | None,
        redis_url: str | None,
        *,
        limits: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        cluster_name: str | None = None,
        log_level: str = "info",
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
        reuse_port: bool = False,
        metrics: bool = False,
    ) -> None:
        if reuse_port and not redis_url:
            raise ValueError("reuse_port is for cluster nodes: pass redis_url")
        if redis_url and not pg_url:
            raise ValueError("a cluster needs PostgreSQL: pass pg_url")
        self.pg_url = pg_url
        self.reuse_port = reuse_port
        self.metrics = metrics  # each node serves /metrics on a port of its own: node.port("metrics")
        self.shared_ports: dict[str, int] = {}  # reuse_port: the ports every node binds (the first node's)
        self.redis_url = redis_url
        self.limits = {**NO_FLOOD, **(TEST_LIMITS if redis_url else {}), **(limits or {})}
        self.settings = dict(settings or {})
        self.cluster_name = cluster_name or f"t{os.getpid()}_{next(_clusters)}"
        self.log_level = log_level
        self.python = python
        self.env = {**os.environ, **(env or {})}
        self.dir = Path(tempfile.mkdtemp(prefix="chinwag-cluster-"))
        self.config = self.dir / "chinwag.toml"
        self.config.write_text(config_toml(self.settings, self.limits), encoding="utf-8")
        self.nodes: list[Node] = []
        self._next = 1

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_all()

    def __getitem__(self, i: int) -> Node:
        return self.nodes[i]

    @property
    def running(self) -> list[Node]:
        return [n for n in self.nodes if n.alive]

    async def _spawn(self, name: str, index: int) -> Node:
        ports = self.shared_ports or {"text": 0, "irc": 0, "web": 0}
        args = [self.python, "-m", "chinwag", "serve", "--config", str(self.config), "--host", "127.0.0.1",
                "--text-port", str(ports["text"]), "--irc-port", str(ports["irc"]), "--web-port", str(ports["web"]),
                "--log-level", self.log_level]
        args += ["--postgres", self.pg_url] if self.pg_url else ["--db", str(self.dir / f"{name}.db")]
        if self.redis_url:
            args += ["--redis", self.redis_url, "--node-name", name, "--cluster-name", self.cluster_name]
        if self.reuse_port:
            args.append("--reuse-port")
        if self.metrics:
            args += ["--metrics-address", "127.0.0.1:0"]
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=self.env, start_new_session=True, limit=1 << 20,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        node = Node(index, name, proc, clustered=bool(self.redis_url))
        try:
            await node.ready()
            if self.metrics:
                await node.wait_line(r"\bmetrics listener on ")
        except BaseException:
            node.signal(signal.SIGKILL)
            with contextlib.suppress(Exception):
                await node.wait(5)
            raise
        if self.reuse_port and not self.shared_ports:
            self.shared_ports = {k: node.ports[k] for k in ("text", "irc", "web")}
        return node

    async def start(self, n: int) -> list[Node]:
        """Start ``n`` more nodes at once; return them when every one is ready."""
        names = [f"node{self._next + k}" for k in range(n)]
        self._next += n
        base = len(self.nodes)
        first: list[Node] = []
        if self.reuse_port and not self.shared_ports and names:  # the first one chooses the ports
            first = [await self._spawn(names[0], base)]
            self.nodes += first
            names, base = names[1:], base + 1
        spawned = await asyncio.gather(*(self._spawn(name, base + k) for k, name in enumerate(names)),
                                       return_exceptions=True)
        nodes = [s for s in spawned if isinstance(s, Node)]
        self.nodes += nodes
        for failure in spawned:
            if isinstance(failure, BaseException):
                raise failure
        return first + nodes

    async def add(self) -> Node:
        """A new node (the next name) while the others run."""
        name = f"node{self._next}"
        self._next += 1
        node = await self._spawn(name, len(self.nodes))
        self.nodes.append(node)
        return node

    async def restart(self, i: int) -> Node:
        """Node ``i`` (stopped or killed) again, under its old name; new ports (the shared ones with reuse_port)."""
        old = self.nodes[i]
        if old.alive:
            raise NodeError(f"{old.name} is still running")
        node = await self._spawn(old.name, i)
        self.nodes[i] = node
        return node

    async def kill9(self, i: int) -> None:
        """SIGKILL node ``i`` and reap it."""
        node = self.nodes[i]
        node.signal(signal.SIGKILL)
        await node.wait()

    async def term(self, i: int, timeout: float = READY_TIMEOUT) -> int:
        """SIGTERM node ``i`` and wait for its exit: its exit status."""
        node = self.nodes[i]
        node.signal(signal.SIGTERM)
        return await node.wait(timeout)

    async def stop_all(self, timeout: float = 20.0) -> None:
        """SIGTERM every node still running, at once; SIGKILL those not gone after ``timeout``."""
        alive = self.running
        for node in alive:
            node.signal(signal.SIGTERM)
        for node in alive:
            try:
                await node.wait(timeout)
            except TimeoutError:
                node.signal(signal.SIGKILL)
                with contextlib.suppress(TimeoutError):
                    await node.wait(5)
        with contextlib.suppress(OSError):
            self.config.unlink()
            self.dir.rmdir()
