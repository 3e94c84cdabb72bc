"""History on SQLite vs PostgreSQL, interleaved in one session:

    python -m benchmarks.storage_ab --rounds 3 [--protocol irc] [-- more load generator options]

Starts its own PostgreSQL (tests/services.py: initdb into a temp dir, as the
postgres user, 127.0.0.1 and a free port; stopped at the end), then runs
``python -m benchmarks --json`` alternately with ``--db tmp`` and
``--postgres URL`` (a fresh schema each run), and prints per run and as
medians: deliveries/s, the chinwag server's CPU per delivery, and PostgreSQL's
own CPU per delivery (its postmaster and backends, read from /proc over the
whole run, so an upper bound on the measured window's share). Exit status 1
if any run lost or duplicated a delivery. Bounded: each run is the load
generator's own bounded run; loopback only. Smoke: ``--rounds 1 -- --smoke``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(root_pid: int) -> float:
    """User + system CPU seconds of ``root_pid``, its children now alive and
    those it has reaped (PostgreSQL's backends end with their connections)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        pid, ppid = int(entry), int(fields[1])
        if pid == root_pid:
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        elif ppid == root_pid:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def _run(extra: list[str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--json", *extra], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    if out.returncode not in (0, 1) or not out.stdout.strip():
        raise SystemExit(f"benchmark run failed ({out.returncode}): {out.stderr[-2000:]}")
    result: dict[str, object] = json.loads(out.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.storage_ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="pairs of runs (default 3)")
    p.add_argument("--protocol", default="irc")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="after --: options for python -m benchmarks")
    args = p.parse_args(argv)
    if not 1 <= args.rounds <= 10:
        p.error("--rounds must be 1..10")
    rest = [a for a in args.rest if a != "--"]
    sys.path.insert(0, str(ROOT))
    from tests.services import Postgres

    pg = Postgres()
    pg.start()
    assert pg.proc is not None
    rows: dict[str, list[tuple[float, float, float | None]]] = {"sqlite": [], "postgres": []}
    all_ok = True
    try:
        for i in range(args.rounds):
            for kind in ("sqlite", "postgres") if i % 2 == 0 else ("postgres", "sqlite"):
                store = ["--db", "tmp"] if kind == "sqlite" else ["--postgres", pg.database()]
                before = _tree_cpu_s(pg.proc.pid)
                r = _run(["--protocol", args.protocol, *store, *rest])
                pg_cpu = _tree_cpu_s(pg.proc.pid) - before
                got = int(r["received_window"])  # type: ignore[call-overload]
                per_s = float(r["deliveries_per_s"])  # type: ignore[arg-type]
                server_us = float(r["server_us_per_delivery"] or 0)  # type: ignore[arg-type]
                pg_us = pg_cpu * 1e6 / got if kind == "postgres" and got else None
                rows[kind].append((per_s, server_us, pg_us))
                all_ok = all_ok and bool(r["ok"])
                print(f"round {i + 1} {kind:8} {per_s:10.0f} deliveries/s  server {server_us:.3f} us/delivery"
                      + (f"  PostgreSQL {pg_us:.3f} us/delivery" if pg_us is not None else "")
                      + ("" if r["ok"] else "  (NOT OK: loss or duplicates)"), flush=True)
    finally:
        pg.close()
    med = {k: (statistics.median(v[0] for v in rows[k]), statistics.median(v[1] for v in rows[k])) for k in rows}
    pg_med = statistics.median(v[2] or 0.0 for v in rows["postgres"])
    print(f"median sqlite   {med['sqlite'][0]:.0f} deliveries/s, server {med['sqlite'][1]:.3f} us/delivery")
    print(f"median postgres {med['postgres'][0]:.0f} deliveries/s, server {med['postgres'][1]:.3f} us/delivery,"
          f" PostgreSQL {pg_med:.3f} us/delivery")
    print(f"ratio postgres/sqlite: deliveries/s {med['postgres'][0] / med['sqlite'][0]:.3f},"
          f" server CPU per delivery {med['postgres'][1] / med['sqlite'][1]:.3f}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
