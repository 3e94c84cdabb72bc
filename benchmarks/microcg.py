"""Instructions of one statement under callgrind (deterministic), for a small piece of the hot path.

    python -m benchmarks.microcg "from chinwag.core.ratelimit import Flood; f = Flood(1e9, 1e9, 1e12, 1e12)" "f.take(7)"
    python -m benchmarks.microcg "from chinwag.protocols.irc.fastpath import say" "say(b'PRIVMSG #a :hi')"

SETUP runs once; STMT runs in a loop of 1,000 and of 3,000 (after one warm-up loop, so the
interpreter has specialized it), each window between two ``os.getppid()`` markers
(``--dump-before=os_getppid``); the same with ``pass`` is subtracted: what is left is STMT's
own cost per run. A statement that changes state (a buffer filling) must undo it itself.
Each figure takes four valgrind runs of a few seconds. Round 7 (in7a) measured the read side with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile


def _child(setup: str, stmt: str, n: int) -> None:
    env: dict[str, object] = {}
    exec(setup, env)  # noqa: S102 (a benchmark's own input)
    exec(compile(f"def _run():\n    for _ in range({n}):\n        {stmt}\n", "microcg", "exec"), env)  # noqa: S102
    run = env["_run"]
    run()  # type: ignore[operator]  # warm: specialized
    os.getppid()
    run()  # type: ignore[operator]
    os.getppid()


def _window(setup: str, stmt: str, n: int, work: str) -> int:
    out = os.path.join(work, f"cg.{n}")
    subprocess.run(["valgrind", "--tool=callgrind", "--dump-before=os_getppid", f"--callgrind-out-file={out}",
                    sys.executable, "-m", "benchmarks.microcg", "--child", setup, stmt, str(n)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for line in open(out + ".2"):
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary in {out}.2")


def per_run(setup: str, stmt: str) -> float:
    with tempfile.TemporaryDirectory(prefix="microcg-") as work:
        counts = [_window(setup, s, n, work) for s in (stmt, "pass") for n in (1000, 3000)]
    return ((counts[1] - counts[0]) - (counts[3] - counts[2])) / 2000


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(f"{per_run(sys.argv[1], sys.argv[2]):10,.0f}  {sys.argv[2]}")


if __name__ == "__main__":
    main()
