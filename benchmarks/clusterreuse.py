"""One process and two processes sharing the port: ``python -m benchmarks.cluster --reuse-port``.

Issue 15: several chinwag processes on one machine share its ports
(``--reuse-port``, SO_REUSEPORT) as nodes of a local cluster (PostgreSQL and
redis-server, started by ``benchmarks.cluster`` on 127.0.0.1 free ports). The
load is benchmarks/clusterfanout.py's: one room, R IRC receivers and S IRC
senders keeping W messages in flight each, but every client connects to the one
IRC port and the kernel chooses the process (each node's log says which
connections registered on it: printed, and the 2-process run fails if one node
got none). In the same run, as the reference, one plain ``chinwag serve --db
FILE``: SQLite history, no PostgreSQL, no Redis (the zero-setup default); the
other rows are printed as ratios against it. Each round runs the three, in
alternating order. A run is complete when, after a drain, the receivers got
exactly (messages sent) x receivers messages: fewer is a loss, more a duplicate
(a count: the churn run, ``python -m benchmarks.cluster``, checks message by
message). Exit status 1 if a run lost or duplicated anything or the kernel did
not spread the connections; bounded in clients and time, loopback only.
``--profile DIR``: py-spy on every node over each window (a dev tool).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from typing import Any

from benchmarks.clusterfanout import fanout_once
from benchmarks.pyspy import format_summary

# (label, nodes, clustered, sqlite)
PLAN: list[tuple[str, int, bool, bool]] = [
    ("1 process, SQLite (reference)", 1, False, True),
    ("1 node, reuse_port", 1, True, False),
    ("2 nodes, reuse_port", 2, True, False),
]


def _fmt_row(label: str, row: dict[str, Any]) -> str:
    landed = "  ".join(f"{name} {r}r+{s}s" for name, (r, s) in row["per_node"].items())
    pg = "" if row["sqlite"] else (f"  PostgreSQL {row['postgres_us_per_delivery']:5.2f}"
                                   f"  redis {row['redis_us_per_delivery']:5.2f}"
                                   f" (refills {row['refills_per_message']:.3f} per message)")
    return (f"{label:31} {row['deliveries_per_s']:9.0f} deliveries/s  nodes {row['node_cpu_us_per_delivery']:5.2f} "
            f"us/delivery ({row['node_cpu_share']:.2f} CPUs; {row['node_cpu_us_per_message']:.0f} us per message, "
            f"{row['node_cpu_us_per_message'] / row['nodes']:.0f} per node; "
            f"{row['deliveries_per_write']:.0f} deliveries per write){pg}  generator "
            f"{row['generator_us_per_delivery']:5.2f}"
            f" us/delivery ({row['generator_cpu_share']:.2f} of its core)  machine {row['machine_busy_share']:.2f} "
            f"CPUs busy ({row['others_cpu_share']:.2f} of them not this benchmark's)  lost {row['lost']} dup "
            f"{row['duplicated']}  [{landed}]")


def _check(row: dict[str, Any], receivers: int, senders: int) -> list[str]:
    """What is wrong with a run (empty: nothing)."""
    problems = []
    if row["lost"] or row["duplicated"]:
        problems.append(f"{row['lost']} deliveries lost, {row['duplicated']} duplicated")
    landed = row["per_node"]
    if sum(r for r, _ in landed.values()) != receivers or sum(s for _, s in landed.values()) != senders:
        problems.append(f"the nodes' logs account for {landed}, not {receivers} receivers and {senders} senders")
    if row["nodes"] > 1 and any(r + s == 0 for r, s in landed.values()):
        problems.append(f"the kernel did not spread the connections: {landed}")
    return problems


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


async def reuse_table(pg: Any, redis: Any, args: argparse.Namespace) -> int:
    """``pg``, ``redis``: the running tests/services.py Postgres and Redis."""
    rows: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in PLAN}
    problems: list[str] = []
    for r in range(args.rounds):
        for label, nodes, clustered, sqlite in PLAN if r % 2 == 0 else PLAN[::-1]:
            row = await fanout_once(pg, redis, nodes, clustered, args, reuse_port=clustered, sqlite=sqlite)
            expected = row["sent"] * args.receivers
            row.update(label=label, sqlite=sqlite, round=r + 1, expected=expected,
                       lost=max(0, expected - row["received"]), duplicated=max(0, row["received"] - expected),
                       # every receiver gets every message: the nodes' CPU per message sent
                       node_cpu_us_per_message=row["node_cpu_us_per_delivery"] * args.receivers,
                       # the machine's busy CPUs less ours (nodes, generator, PostgreSQL, redis): other people's work
                       others_cpu_share=row["machine_busy_share"] - row["node_cpu_share"] - row["generator_cpu_share"]
                       - (row["postgres_us_per_delivery"] + row["redis_us_per_delivery"])
                       * row["deliveries_per_s"] / 1e6)
            rows[label].append(row)
            problems += [f"{label}, round {r + 1}: {p}" for p in _check(row, args.receivers, args.senders)]
            if not args.json:
                print(_fmt_row(label, row), flush=True)
                for name, path in row["profiles"].items():
                    print(f"  {name}: " + (format_summary(path, 20) if os.path.exists(path) else path), flush=True)
    ref_label = PLAN[0][0]
    ref_rate = _median(rows[ref_label], "deliveries_per_s")
    ref_cpu = _median(rows[ref_label], "node_cpu_us_per_delivery")
    summary = []
    for label, *_ in PLAN:
        got = rows[label]
        rate, cpu = _median(got, "deliveries_per_s"), _median(got, "node_cpu_us_per_delivery")
        shared = _median(got, "postgres_us_per_delivery") + _median(got, "redis_us_per_delivery")
        summary.append({"label": label, "deliveries_per_s": rate, "node_cpu_us_per_delivery": cpu,
                        "node_cpu_us_per_message": _median(got, "node_cpu_us_per_message"),
                        "shared_us_per_delivery": 0.0 if got[0]["sqlite"] else shared,
                        "rate_ratio": rate / ref_rate if ref_rate else float("nan"),
                        "cpu_ratio": cpu / ref_cpu if ref_cpu else float("nan")})
    if args.json:
        print(json.dumps({"rows": [r for label, *_ in PLAN for r in rows[label]], "summary": summary,
                          "problems": problems}))
    else:
        print(f"medians over {args.rounds} round(s); ratios against {ref_label}:")
        for s in summary:
            print(f"  {s['label']:31} {s['deliveries_per_s']:9.0f} deliveries/s ({s['rate_ratio']:.2f}x)  nodes "
                  f"{s['node_cpu_us_per_delivery']:5.2f} us/delivery ({s['cpu_ratio']:.2f}x; "
                  f"{s['node_cpu_us_per_message']:.0f} us per message)"
                  + (f"  + PostgreSQL and redis {s['shared_us_per_delivery']:.2f}" if s["shared_us_per_delivery"]
                     else ""))
        for p in problems:
            print(f"  NOT OK: {p}")
        print("  " + ("ok: no loss, no duplicates, connections on every node" if not problems else "NOT OK"),
              flush=True)
    return 1 if problems else 0
