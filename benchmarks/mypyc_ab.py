"""What compiling the per-message modules with mypyc gives (issue 15, round 5): pure vs compiled.

    python -m benchmarks.mypyc_ab                              # build, then instructions per delivery (callgrind)
    python -m benchmarks.mypyc_ab --compare irc,text --pairs 2 # + real runs against ngircd, interleaved A/B
    python -m benchmarks.mypyc_ab --keep /tmp/cw-mypyc         # leave the compiled copy there
    PYTHONPATH=/tmp/cw-mypyc/src python -m pytest tests ...    # (then: the suite against the compiled copy)

The working tree is never touched: its ``src/`` is copied to a temporary
directory and the ``HOT`` modules are compiled there (``mypyc`` puts the
``.so`` files beside the copied ``.py`` files; nothing else of the copy
changes). Both trees then run the same measurements, A (pure: this tree) and
B (compiled: the copy), in turns:

* instructions per delivery: ``benchmarks.fanout --batch 50 --senders 10``
  (100 IRC members; ``--ws``: over WebSocket too) under ``valgrind
  --tool=callgrind --dump-before=os_getppid``, the measured window's count
  divided by ``messages x (members - 1)``: input (parse, flood control, hub,
  sanitize), the hold for the store (a memory store here: SQLite's writer
  thread is not in this figure), the fan-out and the flush, without the
  kernel's writes. Deterministic: the figure to trust on a busy machine.
* ``--compare P,...``: ``python -m benchmarks --compare ngircd --protocol P``
  (history on, SQLite) for A and B alternately, ``--pairs`` times; its lines
  are printed as they come (its "rest of machine" column says how disturbed
  each run was).

The compile needs gcc and the Python headers (about 2-5 minutes on this
machine, run under ``nice -n 19``). Loopback only; every run is bounded.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The modules a chat message passes through (cProfile and callgrind of benchmarks.fanout), the SQLite
# writer, the text protocol and the WebSocket path: the largest set mypyc (mypy 2.4.1) compiles into a
# server that starts. Left out: storage/base.py, transport/ticker.py, transport/host.py, protocols/base.py
# (their @runtime_checkable Protocol classes fail at import once compiled) and transport/metrics.py (its
# Final tuple LATENCY_BUCKETS is "not set" when Server() runs). websocket.py must be in whenever
# connection.py is: an interpreted class (WsConnection) cannot inherit from a compiled one (Connection).
HOT = [
    "chinwag/core/events.py",
    "chinwag/core/hub.py",
    "chinwag/core/names.py",
    "chinwag/core/ratelimit.py",
    "chinwag/core/limits.py",
    "chinwag/core/commands.py",
    "chinwag/core/roomstate.py",
    "chinwag/core/handlers/chat.py",
    "chinwag/core/handlers/checks.py",
    "chinwag/protocols/sanitize.py",
    "chinwag/protocols/text.py",
    "chinwag/protocols/wsframes.py",
    "chinwag/protocols/irc/adapter.py",
    "chinwag/protocols/irc/fastpath.py",
    "chinwag/protocols/irc/format.py",
    "chinwag/protocols/irc/ircv3.py",
    "chinwag/protocols/irc/message.py",
    "chinwag/protocols/irc/render.py",
    "chinwag/protocols/irc/verbs.py",
    "chinwag/storage/memory.py",
    "chinwag/storage/sqlite.py",
    "chinwag/transport/connection.py",
    "chinwag/transport/fanout.py",
    "chinwag/transport/httpgate.py",
    "chinwag/transport/outbox.py",
    "chinwag/transport/output.py",
    "chinwag/transport/server.py",
    "chinwag/transport/websocket.py",
]


def _nice() -> None:
    os.nice(19)


def build(dest: Path, modules: list[str]) -> None:
    """A copy of this tree's ``src`` in ``dest/src`` with ``modules`` compiled in it."""
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.so", "build"))
    mypyc = [sys.executable, "-m", "mypyc", *modules]
    out = subprocess.run(mypyc, cwd=dest / "src", capture_output=True, text=True, preexec_fn=_nice, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"mypyc failed ({out.returncode}):\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    names = [m.removesuffix(".py").replace("/", ".") for m in modules]
    check = ("import importlib, sys; "
             "print([n for n in sys.argv[1:] if not importlib.import_module(n).__file__.endswith('.so')])")
    got = subprocess.run([sys.executable, "-c", check, *names], env=_env(dest), capture_output=True, text=True)
    if got.stdout.strip() != "[]":
        raise SystemExit(f"not compiled in {dest}: {got.stdout}{got.stderr[-2000:]}")


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{ROOT}"}


def instructions(tree: Path, ws: bool, members: int, messages: int) -> float:
    """Instructions per delivery in benchmarks.fanout's measured window, ``tree``'s sources."""
    with tempfile.TemporaryDirectory(prefix="chinwag-cg-") as tmp:
        cmd = ["valgrind", "--tool=callgrind", "--dump-before=os_getppid", f"--callgrind-out-file={tmp}/cg",
               sys.executable, "-m", "benchmarks.fanout", "--members", str(members), "--batch", "50",
               "--senders", "10", "--messages", str(messages), *(["--ws"] if ws else [])]
        out = subprocess.run(cmd, cwd=ROOT, env=_env(tree), capture_output=True, text=True, preexec_fn=_nice,
                             timeout=1800)
        if out.returncode != 0 or "warning" in out.stdout:
            raise SystemExit(f"fanout failed ({out.returncode}): {out.stdout[-2000:]}{out.stderr[-2000:]}")
        window = Path(f"{tmp}/cg.2").read_text()
        m = re.search(r"^summary: (\d+)", window, re.M)
        assert m, "no summary line in the window's dump"
        return int(m.group(1)) / (messages * (members - 1))


def compare(tree: Path, protocol: str, rounds: int) -> None:
    cmd = [sys.executable, "-m", "benchmarks", "--compare", "ngircd", "--protocol", protocol, "--rounds", str(rounds),
           "--duration", "8", "--warmup", "1"]
    subprocess.run(cmd, cwd=ROOT, env=_env(tree), timeout=900)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.mypyc_ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--keep", metavar="DIR", help="build the compiled copy in DIR (must not exist) and keep it")
    p.add_argument("--compiled", metavar="DIR", help="use a compiled copy built before (--keep) instead of building")
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts")
    p.add_argument("--compare", default="", metavar="P,...", help="protocols for real runs against ngircd (irc,text)")
    p.add_argument("--pairs", type=int, default=2, help="A/B pairs of --compare runs per protocol")
    p.add_argument("--rounds", type=int, default=2, help="rounds per --compare run")
    args = p.parse_args(argv)
    scratch = None
    if args.compiled:
        compiled = Path(args.compiled)
    elif args.keep:
        compiled = Path(args.keep)
    else:
        scratch = tempfile.TemporaryDirectory(prefix="chinwag-mypyc-")
        compiled = Path(scratch.name)
    try:
        if not args.compiled:
            print(f"compiling {len(HOT)} modules into {compiled}/src ...", flush=True)
            build(compiled, HOT)
        pure = ROOT
        if not args.no_callgrind:
            for ws in (False, True):
                kind = "WebSocket" if ws else "IRC"
                a = instructions(pure, ws, args.members, args.messages)
                b = instructions(compiled, ws, args.members, args.messages)
                print(f"{kind:9} instructions per delivery: pure {a:,.0f}  compiled {b:,.0f}  ({b / a - 1:+.1%})",
                      flush=True)
        for protocol in filter(None, args.compare.split(",")):
            for pair in range(1, args.pairs + 1):
                for name, tree in (("pure", pure), ("compiled", compiled)):
                    print(f"=== {protocol}, pair {pair}: {name}", flush=True)
                    compare(tree, protocol, args.rounds)
    finally:
        if scratch is not None:
            scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
