"""Real PostgreSQL and redis-server for the tests: started on 127.0.0.1 and a
free port, data in a temporary directory, stopped at the end.

``scripts/test-deps.sh`` installs the Debian packages; nothing here is mocked
or skipped. PostgreSQL refuses to run as root, so when the tests run as root
its data directory belongs to the ``postgres`` user and its programs run as
that user (``runuser``). Readiness is the server's own "ready" line on its
output followed by a real connection, never a sleep.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

READY_TIMEOUT = 30.0  # seconds: only reached when something is wrong


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _pg_bin(name: str) -> str:
    """PostgreSQL's programs live in /usr/lib/postgresql/N/bin, not on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: run scripts/test-deps.sh (Debian package postgresql)")
    return path


def _as_postgres() -> dict[str, Any]:
    """Popen arguments that run a program as the postgres user when we are root."""
    return {"user": "postgres", "group": "postgres", "extra_groups": []} if os.geteuid() == 0 else {}


class _Output:
    """Reads a child's output on a thread: waits for a line, keeps the rest for errors."""

    def __init__(self, proc: subprocess.Popen[bytes], ready: bytes) -> None:
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._needle = ready
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, pipe: object) -> None:
        for raw in iter(pipe.readline, b""):  # type: ignore[attr-defined]
            self.lines.append(raw.decode(errors="replace").rstrip())
            if self._needle in raw:
                self._ready.set()
        self._ready.set()  # exited: wait() returns, the caller sees why

    def join(self) -> None:
        self._thread.join(READY_TIMEOUT)

    def wait(self, what: str) -> None:
        if not self._ready.wait(READY_TIMEOUT):
            raise RuntimeError(f"{what} not ready after {READY_TIMEOUT} s:\n" + "\n".join(self.lines[-20:]))


def _wait(proc: subprocess.Popen[bytes], output: _Output) -> None:
    try:
        proc.wait(READY_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    output.join()
    if proc.stdout is not None:
        proc.stdout.close()


class Postgres:
    """One PostgreSQL server: ``start()``, ``stop()`` (fast shutdown) and start
    again on the same port and data; ``database()`` makes a fresh database."""

    _names = itertools.count(1)

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="chinwag-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(
            [_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.dir, **_as_postgres(),
        )

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(
            [_pg_bin("postgres"), "-D", str(self.data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
             "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
             "-c", "max_connections=200", "-c", "logging_collector=off"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.dir, **_as_postgres(),
        )
        self.output = _Output(self.proc, b"ready to accept connections")
        self.output.wait("PostgreSQL")
        self.psql("SELECT 1")  # and a real connection

    def stop(self, sig: signal.Signals = signal.SIGINT) -> None:
        """Fast shutdown (clients are disconnected) and wait for the exit;
        SIGQUIT: immediate (no checkpoint, as after a crash)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        _wait(self.proc, self.output)

    def psql(self, sql: str, db: str = "postgres") -> str:
        out = subprocess.run(
            [_pg_bin("psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", self.url_for(db), "-c", sql],
            check=True, capture_output=True, text=True, timeout=READY_TIMEOUT,
        )
        return out.stdout.strip()

    def database(self) -> str:
        """The URL of a new, empty place to store things: a fresh schema, which
        the URL makes the connection's search_path (asyncpg passes unknown URL
        parameters as server settings). As isolated as a database for chinwag,
        whose statements never name a schema, and ~100 times faster to make
        than CREATE DATABASE (1.5 s each on this shared 2-core machine)."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.psql(f"CREATE SCHEMA {name}")
        return f"{self.url}?search_path={name}"

    def close(self) -> None:
        self.stop(signal.SIGQUIT)  # its data is thrown away: no checkpoint
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """One redis-server, nothing saved to disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="chinwag-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--daemonize", "no", "--loglevel", "notice"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.output = _Output(self.proc, b"Ready to accept connections")
        self.output.wait("redis-server")
        assert self.command(b"PING") == b"+PONG\r\n"

    def command(self, *words: bytes) -> bytes:
        """One RESP command over a fresh connection; the raw first reply line."""
        wire = b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)
        with socket.create_connection(("127.0.0.1", self.port), timeout=READY_TIMEOUT) as s:
            s.sendall(wire)
            return s.makefile("rb").readline()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        _wait(self.proc, self.output)

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.dir)
