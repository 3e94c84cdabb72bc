"""The server under test: spawn it (optionally pinned), read its CPU and RSS, stop it.

CPU and RSS come straight from /proc so that measuring costs the server nothing.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
_LISTENING = re.compile(r"text listener on (\S+):(\d+)")


def cpu_seconds(pid: int) -> tuple[float, float] | None:
    """(user, sys) CPU seconds of ``pid`` (all threads), or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            text = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; everything after its ')' is fixed.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # fields 14 and 15: utime, stime


def rss_kib(pid: int) -> int | None:
    """Resident set size (VmRSS) of ``pid`` in KiB, or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def write_syscalls(pid: int) -> int | None:
    """How many write-type system calls ``pid`` has made (syscw of /proc/<pid>/io:
    write and writev on its sockets, and its history store's file writes), or None."""
    try:
        with open(f"/proc/{pid}/io", encoding="ascii") as f:
            for line in f:
                if line.startswith("syscw:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds summed over all CPUs since boot, from /proc/stat.

    Busy minus the server's and the generator's own time is what anything else
    on the machine took, so a run on a shared box can say how disturbed it was.
    """
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def own_cpu_seconds() -> tuple[float, float]:
    """This process's (user, sys) CPU seconds, all threads."""
    t = os.times()
    return t.user, t.system


class SpawnError(RuntimeError):
    """The server did not start; the message carries the end of its log."""


class SpawnedServer:
    """``python -m chinwag serve`` on an OS-chosen loopback port, pinned with taskset.

    Its stderr is drained by a thread for the whole run: the server logs every
    join at INFO, and a full pipe would block it mid-benchmark.
    """

    def __init__(
        self, host: str, cpu: int | None = None, db: str = ":memory:", env: dict[str, str] | None = None
    ) -> None:
        self.env = env or {}
        self.host = host
        self.cpu = cpu
        self.db = db
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_tail: collections.deque[str] = collections.deque(maxlen=50)
        self._lines: queue.Queue[str | None] = queue.Queue()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float) -> int:
        """Start the server and return its port once it logs that it listens."""
        cmd = [sys.executable, "-m", "chinwag", "serve", "--host", self.host, "--text-port", "0"]
        for flag in self._other_listeners():
            cmd += [flag, "0"]  # any free port: no clash with a server already running
        cmd += ["--db", self.db, "--log-level", "INFO"]
        preexec: Callable[[], None] | None = None
        if self.cpu is not None:
            taskset = shutil.which("taskset")
            if taskset is not None:
                cmd = [taskset, "-c", str(self.cpu), *cmd]  # taskset execs: the pid stays the server's
            else:
                preexec = functools.partial(os.sched_setaffinity, 0, {self.cpu})
        # A load test is a flood by design: lift the per-connection flood limits
        # (they would cap each sender at a few lines a second).
        lifted = {f"CHINWAG_LIMITS__{k}": "1000000" for k in ("FLOOD_RATE", "FLOOD_BURST", "FLOOD_BACKLOG",
                                                                  "FLOOD_RATE_BYTES", "FLOOD_BURST_BYTES")}
        env = {**os.environ, **lifted, **self.env}
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=preexec,
            env=env,
        )
        threading.Thread(target=self._drain, name="server-stderr", daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise SpawnError(f"server did not report its port within {timeout:g} s: {self.tail()}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.stop()
                raise SpawnError(f"server exited before listening: {self.tail()}")
            m = _LISTENING.search(line)
            if m:
                self.port = int(m.group(2))
                return self.port

    @staticmethod
    def _other_listeners() -> list[str]:
        """The serve flags for listeners besides text (IRC, web) that this chinwag version has."""
        try:
            usage = subprocess.run(
                [sys.executable, "-m", "chinwag", "serve", "--help"], capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        return [flag for flag in ("--irc-port", "--web-port") if flag in usage]

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        listening = False
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self.log_tail.append(line)
            if not listening:
                self._lines.put(line)
                listening = _LISTENING.search(line) is not None
        self._lines.put(None)

    def listener_port(self, name: str, timeout: float = 10.0) -> int:
        """The port another listener ("irc", "web") logged, once it has."""
        pattern = re.compile(rf"{name} listener on [^ ]+:(\d+)")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.log_tail):
                if m := pattern.search(line):
                    return int(m.group(1))
            time.sleep(0.01)
        raise SpawnError(f"no {name} listener logged: {self.tail()}")

    def tail(self, n: int = 10) -> str:
        return " | ".join(list(self.log_tail)[-n:]) or "(no output)"

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait (the server's own grace is 5 s); SIGKILL past ``timeout``."""
        return None if self.proc is None else terminate(self.proc, timeout)


def report(result: dict[str, Any], ok: bool, as_json: bool) -> int:
    """Print a tool's result (one JSON object, or aligned ``key value`` lines
    ending in ``result OK|FAILED``); return its exit status."""
    if as_json:
        print(json.dumps({**result, "ok": ok}, indent=1))
    else:
        for key, value in result.items():
            print(f"{key:24} {value}")
        print(f"{'result':24} {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


def terminate(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode
