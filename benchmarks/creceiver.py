"""The C receiver (benchmarks/receiver.c): compiled at run time, fed registered sockets, asked for counts.

A Python process reading for 200 clients spends ~0.4 µs of CPU per delivery, more
than the servers under test; ``receiver.c`` does the same accounting for a
fraction of that. It is compiled with the machine's ``cc`` into a temporary
directory (once per process); without a compiler :func:`build` returns None and
the caller falls back to reading in Python, with a warning.

The Python side keeps talking to it over two pipes, one command line each way
(see the comment at the top of receiver.c), so the measured window opens and
closes at the same instants for both halves of the generator.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.procinfo import cpu_seconds

SOURCE = Path(__file__).with_name("receiver.c")
_built: list[str | None] = []  # [path or None] once build() has run


class ReceiverError(RuntimeError):
    """The C receiver failed or did not answer."""


def build() -> tuple[str | None, str]:
    """(path of the compiled receiver or None, why not). Compiles once per process."""
    if _built:
        return _built[0], "" if _built[0] else "compilation failed earlier"
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        _built.append(None)
        return None, "no C compiler (cc) on PATH"
    out = tempfile.mkdtemp(prefix="chinwag-receiver-")
    atexit.register(shutil.rmtree, out, True)
    exe = os.path.join(out, "receiver")
    proc = subprocess.run([cc, "-O2", "-o", exe, str(SOURCE)], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        _built.append(None)
        return None, f"{cc} failed: {proc.stderr.strip()[-500:]}"
    _built.append(exe)
    return exe, ""


class CReceiver:
    """One running receiver process reading the given (already registered) sockets."""

    def __init__(self, exe: str, fds: list[int], mode: str, tag: bytes, senders: int, base_ns: int) -> None:
        self.proc = subprocess.Popen(
            [exe, mode, tag.decode(), str(senders), str(base_ns), ",".join(map(str, fds))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=fds,
        )
        self.count = len(fds)
        line = self._read_line(10.0)
        if line.split() != ["ready", str(len(fds))]:
            self.kill()
            raise ReceiverError(f"C receiver did not start: {line!r}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu(self) -> tuple[float, float]:
        """(user, sys) CPU seconds of the receiver so far."""
        return cpu_seconds(self.proc.pid) or (0.0, 0.0)

    def _read_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise ReceiverError(f"C receiver did not answer within {timeout:g} s")
        line = self.proc.stdout.readline()
        if not line:
            raise ReceiverError(f"C receiver exited (status {self.proc.poll()})")
        return line.decode()

    def ask(self, cmd: str, timeout: float = 5.0) -> list[int]:
        """Send one command (w, e or c) and return the numbers of its answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd.encode() + b"\n")
        self.proc.stdin.flush()
        words = self._read_line(timeout).split()
        if words[:1] != [cmd]:
            raise ReceiverError(f"C receiver answered {words!r} to {cmd!r}")
        return [int(w) for w in words[1:]]

    def finish(self, timeout: float = 10.0) -> dict[str, Any]:
        """The final report (see receiver.c); the process exits, closing its copies of the sockets."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"q\n")
        self.proc.stdin.flush()
        report: dict[str, Any] = json.loads(self._read_line(timeout))
        self.proc.wait(timeout)
        self._close_pipes()
        return report

    def kill(self) -> None:
        """Stop it if still running (after finish(), or on an error) and close the pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()
