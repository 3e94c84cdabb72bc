"""Profile the server under load with py-spy (a dev tool) and summarise where its time goes.

``python -m benchmarks --profile FILE ...`` records the spawned (or ``--server-pid``)
server with ``py-spy record --nonblocking --function --format raw`` for the
measured window only, writes the collapsed stacks to FILE (feed them to any
flame graph tool) and prints the top functions by own time: the "before" and
"after" tables of the speed work. ``--nonblocking`` never pauses the server, so
what it costs the server is only py-spy reading its memory from the other core;
still, take the speed figures from runs without ``--profile``.

``python -m benchmarks.pyspy FILE`` prints the summary of a file recorded earlier.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass


def find() -> str | None:
    """py-spy next to this Python (the venv's bin) or on PATH."""
    local = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return local if os.access(local, os.X_OK) else shutil.which("py-spy")


class Recorder:
    """One ``py-spy record`` of ``pid`` for ``seconds``, started when the window opens."""

    def __init__(self, pid: int, out: str, seconds: float, rate: int = 250) -> None:
        exe = find()
        if exe is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy; it is in the dev extra)")
        self.cmd = [
            exe, "record", "--nonblocking", "--function", "--format", "raw",
            "--rate", str(rate), "--duration", str(max(1, round(seconds))), "--pid", str(pid), "--output", out,
        ]  # fmt: skip
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait(self, timeout: float = 30.0) -> str:
        """Wait for py-spy to write its file; returns its error output ('' when fine)."""
        if self.proc is None:
            return "py-spy was never started"
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return "" if self.proc.returncode == 0 else err.decode(errors="replace").strip()[-500:]


@dataclass(frozen=True)
class Row:
    function: str
    own: int
    total: int  # samples with the function anywhere on the stack


def summarise(path: str) -> tuple[int, list[Row]]:
    """(samples, rows by own samples, largest first) from a py-spy raw (collapsed stacks) file."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            samples += n
            own[frames[-1]] += n
            for fn in set(frames):
                total[fn] += n
    rows = [Row(fn, n, total[fn]) for fn, n in own.most_common()]
    return samples, rows


def short(frame: str) -> str:
    """``func (/long/path/site-packages/chinwag/x.py:12)`` -> ``func (chinwag/x.py:12)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name


def format_summary(path: str, top: int = 15) -> str:
    samples, rows = summarise(path)
    if not samples:
        return f"py-spy: no samples in {path}"
    lines = [f"py-spy: {samples:,} samples of the server on CPU, top {min(top, len(rows))} by own time ({path})"]
    lines.append(f"{'own':>7} {'total':>7}  function")
    for r in rows[:top]:
        lines.append(f"{r.own / samples:>7.1%} {r.total / samples:>7.1%}  {short(r.function)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pyspy", description="summarise a py-spy raw profile")
    p.add_argument("file")
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args(argv)
    print(format_summary(args.file, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
