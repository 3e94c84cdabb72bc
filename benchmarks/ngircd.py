"""ngircd, the C IRC server chinwag is measured against: a minimal config, spawned pinned, stopped.

Debian's ngircd (installed by scripts/test-deps.sh) with a config written to a
temporary directory: 127.0.0.1 on a free port, no PAM, no ident or DNS lookups
(so no resolver subprocesses: the one pid is the whole server), no connection
caps, long nicks, and its flood control lifted as far as its config allows:

* ``MaxPenaltyTime = 0`` disables penalties altogether (ngircd.conf(5)); that
  covers both throttles in conn.c, the per-loop command count and the
  256-bytes-per-second read budget, which only ever add penalty time.
* What cannot be lifted: a user's read buffer is handled at most 3 commands per
  pass of the main loop (``MAX_COMMANDS``; the rest waits for the next pass,
  not for a timer), and a connection whose unread input reaches 2 KiB
  (``READBUFFER_LEN``) or whose output queue reaches ``WRITEBUFFER_MAX_LEN`` is
  closed. A window of 8 short messages per sender stays far below both, and a
  run with a closed connection reports it and fails.

The interface matches :class:`benchmarks.procinfo.SpawnedServer` where the
load generator uses it (``start``, ``pid``, ``listener_port``, ``tail``, ``stop``).
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading

from benchmarks.procinfo import terminate

NAME = "ngircd.bench.local"
# ngircd listens with a backlog of 10 (conn.c: listen(sock, 10)); connecting faster than it accepts
# overflows it and the kernel drops the connections. The generator sets up at most this many at once.
CONNECT_CONCURRENCY = 8


def find() -> str | None:
    """Path of the ngircd binary (it lives in /usr/sbin on Debian), or None."""
    return shutil.which("ngircd") or shutil.which("ngircd", path="/usr/sbin:/usr/local/sbin:/usr/bin:/sbin")


def config(port: int, piddir: str, max_nick: int = 30) -> str:
    return (
        "[Global]\n"
        f"  Name = {NAME}\n"
        "  Info = chinwag benchmark comparison\n"
        "  AdminInfo1 = benchmarks\n  AdminInfo2 = loopback\n  AdminEMail = root@localhost\n"
        "  Listen = 127.0.0.1\n"
        f"  Ports = {port}\n"
        "  MotdPhrase = ngircd under load\n"
        f"  PidFile = {piddir}/ngircd.pid\n"
        "[Limits]\n"
        f"  MaxNickLength = {max_nick}\n"
        "  MaxConnections = 0\n"
        "  MaxConnectionsIP = 0\n"
        "  MaxJoins = 0\n"
        "  MaxPenaltyTime = 0\n"
        "  PingTimeout = 600\n"
        "  PongTimeout = 120\n"
        "[Options]\n"
        "  DNS = no\n  Ident = no\n  PAM = no\n"
    )


class SpawnError(RuntimeError):
    """ngircd did not start; the message carries the end of its output."""


class NgircdServer:
    """``ngircd -n -f CONF`` on 127.0.0.1 and a free port, optionally pinned with taskset."""

    def __init__(self, cpu: int | None = None) -> None:
        self.cpu = cpu
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.dir = tempfile.mkdtemp(prefix="chinwag-ngircd-")
        os.chmod(self.dir, 0o1777)  # ngircd writes its pid file after dropping root for "nobody"
        self.log_tail: collections.deque[str] = collections.deque(maxlen=50)
        self._ready = threading.Event()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float) -> int:
        exe = find()
        if exe is None:
            raise SpawnError("ngircd is not installed (scripts/test-deps.sh installs it)")
        with socket.socket() as s:  # a free port; ngircd takes it a moment later
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        conf = os.path.join(self.dir, "ngircd.conf")
        with open(conf, "w", encoding="ascii") as f:
            f.write(config(self.port, self.dir))
        cmd = [exe, "-n", "-f", conf]
        if self.cpu is not None:
            taskset = shutil.which("taskset")
            if taskset is None:
                raise SpawnError("taskset is needed to pin ngircd")
            cmd = [taskset, "-c", str(self.cpu), *cmd]  # taskset execs: the pid stays ngircd's
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._drain, name="ngircd-output", daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise SpawnError(f"ngircd did not report ready within {timeout:g} s: {self.tail()}")
        if self.proc.poll() is not None:
            raise SpawnError(f"ngircd exited: {self.tail()}")
        return self.port

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:  # one line per connection and more: keep the pipe empty
            line = raw.decode("utf-8", "replace").rstrip()
            self.log_tail.append(line)
            if " ready" in line:
                self._ready.set()
        self._ready.set()  # exited: start() looks at poll()

    def listener_port(self, name: str, timeout: float = 10.0) -> int:
        if name != "irc":
            raise SpawnError(f"ngircd has no {name} listener")
        return self.port

    def tail(self, n: int = 10) -> str:
        return " | ".join(list(self.log_tail)[-n:]) or "(no output)"

    def stop(self, timeout: float = 10.0) -> int | None:
        proc = self.proc
        status: int | None = None
        if proc is not None:
            status = terminate(proc, timeout)
            if status == -signal.SIGTERM:
                status = 0
        shutil.rmtree(self.dir, ignore_errors=True)
        return status
