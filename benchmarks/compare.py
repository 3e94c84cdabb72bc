"""``python -m benchmarks --compare ngircd`` (or ``python -m benchmarks.compare``): chinwag beside ngircd.

The same load (clients, senders, window, duration) against chinwag (history on:
``--db tmp`` by default) and against ngircd, each spawned fresh per run and
pinned to ``--server-cpu``, with the generator (and its C receiver) on
``--client-cpu``; interleaved A B A B ... for ``--rounds`` rounds so that a
machine that drifts moves both alike. Per run it prints deliveries/s, the
server's and the generator's CPU per delivery, loss and duplicates; then the
ratios chinwag/ngircd per round (a round's two runs are neighbours in time) with
their median and spread. The ratios, not the absolute figures, are the result:
the absolute ones move with whatever else the machine is doing.

ngircd always speaks IRC; ``--protocol`` picks chinwag's side (text, irc, ws).
``--smoke`` is a bounded check that the harness works (a few seconds, 0 loss on
both sides). Loopback only; every run is bounded in clients and seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

from benchmarks.__main__ import (
    DEFAULTS,
    MAX_CLIENTS,
    MAX_SECONDS,
    format_text,
    raise_fd_limit,
    resolve_receiver,
    run_loop,
)
from benchmarks.loadgen import BenchError, Options, Result
from benchmarks.ngircd import CONNECT_CONCURRENCY, NgircdServer
from benchmarks.ngircd import SpawnError as NgircdSpawnError
from benchmarks.procinfo import SpawnedServer, SpawnError, machine_cpu_seconds

SMOKE: dict[str, Any] = {**DEFAULTS, "clients": 20, "senders": 2, "duration": 1.0, "warmup": 0.3, "rounds": 1}
SERVERS = ("chinwag", "ngircd")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks --compare ngircd",
        description="chinwag and ngircd under the same fan-out load, interleaved, with the ratios.",
    )
    p.add_argument("--compare", choices=("ngircd",), default="ngircd", help="the server to compare with (ngircd)")
    p.add_argument("--protocol", choices=("text", "irc", "ws"), default="irc", help="chinwag's side (default irc)")
    p.add_argument("--rounds", type=int, help="chinwag, ngircd pairs (default 3)")
    p.add_argument("--clients", type=int, help="connections, all in #lobby (default 200)")
    p.add_argument("--senders", type=int, help="how many of them send (default 10)")
    p.add_argument("--rate", type=float, help="total messages/s; 0 = as fast as the window allows (default 0)")
    p.add_argument("--window", type=int, help="messages in flight per sender when --rate 0 (default 8)")
    p.add_argument("--duration", type=float, help="measured seconds per run (default 10)")
    p.add_argument("--warmup", type=float, help="seconds of load before measuring (default 1)")
    p.add_argument("--drain", type=float, default=5.0, help="max seconds to wait for in-flight deliveries (5)")
    p.add_argument("--db", default="tmp", help="chinwag's history: tmp (default: a throwaway SQLite file), :memory:")
    p.add_argument("--server-cpu", type=int, help="pin each server to this CPU (default 0 on 2+ CPUs)")
    p.add_argument("--client-cpu", type=int, help="pin the generator to this CPU (default 1 on 2+ CPUs)")
    p.add_argument("--receiver", choices=("auto", "c", "python"), default="auto", help="see python -m benchmarks")
    p.add_argument(
        "--calm",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each run, wait up to SECONDS for the machine to be idle (under 10%% of a core busy over 1 s); "
        "default 0: do not wait. Whether it was reached is printed with the run",
    )
    p.add_argument("--first", choices=SERVERS, default="chinwag", help="which server runs first in each round")
    p.add_argument("--connect-timeout", type=float, default=20.0, help="seconds to start, connect and register (20)")
    p.add_argument("--loop", choices=("auto", "asyncio"), default="auto", help="auto = uvloop when installed")
    p.add_argument("--smoke", action="store_true", help="bounded harness check: 20 clients, 2 senders, 1 s, 1 round")
    p.add_argument("--verbose", action="store_true", help="print each run's full report too")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


@dataclasses.dataclass
class Run:
    server: str
    round: int
    protocol: str
    result: Result
    status: int | None
    before: float | None = None  # the machine's busy share (cores) just before the run, with --calm

    @property
    def ok(self) -> bool:
        return self.result.ok and self.status in (None, 0)


def _values(args: argparse.Namespace) -> dict[str, Any]:
    base = SMOKE if args.smoke else {**DEFAULTS, "rounds": 3}
    v = {k: (base[k] if getattr(args, k) is None else getattr(args, k)) for k in base}
    if not 2 <= v["clients"] <= MAX_CLIENTS or not 1 <= v["senders"] <= v["clients"]:
        raise BenchError(f"--clients must be 2..{MAX_CLIENTS} and --senders 1..clients")
    if not 1 <= v["rounds"] <= 50 or v["window"] < 1 or v["rate"] < 0:
        raise BenchError("--rounds must be 1..50, --window >= 1, --rate >= 0")
    if not 0 < v["duration"] <= MAX_SECONDS or not 0 <= v["warmup"] <= MAX_SECONDS:
        raise BenchError(f"--duration must be in (0, {MAX_SECONDS:g}] and --warmup in [0, {MAX_SECONDS:g}]")
    if not 0 <= args.drain <= 60 or not 0 < args.connect_timeout <= 120:
        raise BenchError("--drain must be 0..60 and --connect-timeout 0..120")
    return v


def _pins(args: argparse.Namespace) -> tuple[int | None, int | None]:
    server, client = args.server_cpu, args.client_cpu
    if server is None and client is None and len(os.sched_getaffinity(0)) >= 2:
        cpus = sorted(os.sched_getaffinity(0))
        server, client = cpus[0], cpus[1]
    if (server is None) != (client is None):
        raise BenchError("give both --server-cpu and --client-cpu, or neither")
    if server is not None and server == client:
        raise BenchError("--server-cpu and --client-cpu must differ: the point is one core each")
    return server, client


def wait_calm(limit: float, busy: float = 0.10) -> float:
    """Wait (up to ``limit`` seconds) until under ``busy`` of a core was in use for a whole second.

    Returns the last second's busy share (cores), so the run can say how calm it started.
    """
    deadline = time.monotonic() + limit
    while True:
        b0, t0 = machine_cpu_seconds()[0], time.monotonic()
        time.sleep(1.0)
        share = (machine_cpu_seconds()[0] - b0) / (time.monotonic() - t0)
        if share < busy or time.monotonic() >= deadline:
            return share


def one_run(server: str, rnd: int, args: argparse.Namespace, base: Options, server_cpu: int | None) -> Run:
    """Spawn ``server`` fresh, load it, stop it."""
    protocol = args.protocol if server == "chinwag" else "irc"
    with tempfile.TemporaryDirectory(prefix="chinwag-compare-") as tmp:
        spawned: SpawnedServer | NgircdServer
        if server == "chinwag":
            db = os.path.join(tmp, "bench.db") if args.db == "tmp" else args.db
            # One address, many clients connecting at once: lift both per-address caps.
            caps = ("MAX_PER_IP", "MAX_UNREGISTERED_PER_IP")
            per_ip = {f"CHINWAG_LIMITS__{k}": str(base.clients + 100) for k in caps}
            spawned = SpawnedServer(base.host, server_cpu, db, env=per_ip)
        else:
            spawned = NgircdServer(server_cpu)
            base = dataclasses.replace(base, connect_concurrency=CONNECT_CONCURRENCY)
        status: int | None = None
        try:
            port = spawned.start(timeout=base.connect_timeout)
            if protocol != "text":
                port = spawned.listener_port("irc" if protocol == "irc" else "web", base.connect_timeout)
            opts = dataclasses.replace(base, port=port, server_pid=spawned.pid, protocol=protocol)
            result = run_loop(opts, args.loop)
        except (BenchError, SpawnError, NgircdSpawnError, OSError) as exc:
            raise BenchError(f"{server} (round {rnd}): {exc}; server log: {spawned.tail()}") from None
        finally:
            status = spawned.stop()
    return Run(server, rnd, protocol, result, status)


def _us(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def run_line(run: Run) -> str:
    r = run.result
    w = r.window_s or 1.0
    lat = r.latency_us
    flags = []
    if r.other_cpu_s is not None and r.other_cpu_s / w > 0.25:
        flags.append(f"disturbed: rest of the machine {r.other_cpu_s / w:.0%} of a core")
    if run.before is not None:
        flags.append(f"machine {run.before:.0%} of a core busy before it")
    if r.generator_cpu_s / w > 0.9:
        flags.append("generator-bound")
    if not run.ok:
        flags.append(
            f"FAILED (loss {r.loss}, dups {r.duplicates}, lost connections {r.connections_lost}, exit {run.status})"
        )
    server_share = f"{(r.server_cpu_s or 0) / w:.0%}"
    c_part = "" if r.receiver_cpu_s is None else f", C {r.receiver_cpu_s / w:.0%}"
    return (
        f"round {run.round}  {run.server:8} {run.protocol:4}  {r.deliveries_per_s:>11,.0f} deliveries/s  "
        f"server {_us(r.server_us_per_delivery)} us/d ({server_share} core)  "
        f"generator {_us(r.generator_us_per_delivery)} us/d ({r.generator_cpu_s / w:.0%} core{c_part})  "
        f"{r.deliveries_per_write or 0:.0f} d/write  "
        f"loss/dups {r.loss}/{r.duplicates}  p50/p99/p99.9 "
        f"{'/'.join(f'{lat.get(k, 0) / 1000:.2f}' for k in ('p50', 'p99', 'p99.9'))} ms  "
        f"rest of machine {(r.other_cpu_s or 0) / w:.0%}"
        + (f"  [{'; '.join(flags)}]" if flags else "")
    )


def _spread(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def summary(runs: list[Run]) -> dict[str, Any]:
    """Per-round ratios chinwag/ngircd and their median and spread; medians of each side too."""
    by_round: dict[int, dict[str, Result]] = {}
    for run in runs:
        by_round.setdefault(run.round, {})[run.server] = run.result
    pairs = [(d["chinwag"], d["ngircd"]) for _, d in sorted(by_round.items()) if len(d) == 2]
    out: dict[str, Any] = {"rounds": len(pairs)}
    if not pairs:
        return out
    tput = [c.deliveries_per_s / n.deliveries_per_s for c, n in pairs if n.deliveries_per_s]
    cpu = [
        c.server_us_per_delivery / n.server_us_per_delivery
        for c, n in pairs
        if c.server_us_per_delivery and n.server_us_per_delivery
    ]
    if tput:
        out["deliveries_per_s_ratio"] = _spread(tput)
    if cpu:
        out["server_us_per_delivery_ratio"] = _spread(cpu)
    p99 = [c.latency_us["p99"] / n.latency_us["p99"] for c, n in pairs
           if c.latency_us.get("p99") and n.latency_us.get("p99")]
    if p99:
        out["p99_ratio"] = _spread(p99)
    for name, idx in (("chinwag", 0), ("ngircd", 1)):
        side = [p[idx] for p in pairs]
        gen = [r.generator_us_per_delivery for r in side if r.generator_us_per_delivery is not None]
        srv = [r.server_us_per_delivery for r in side if r.server_us_per_delivery is not None]
        out[name] = {
            "deliveries_per_s": _spread([r.deliveries_per_s for r in side]),
            "server_us_per_delivery": _spread(srv) if srv else None,
            "generator_us_per_delivery": _spread(gen) if gen else None,
            "generator_core_share": _spread([r.generator_cpu_s / (r.window_s or 1.0) for r in side]),
            "server_core_share": _spread([(r.server_cpu_s or 0.0) / (r.window_s or 1.0) for r in side]),
            "latency_ms": {
                k: _spread([r.latency_us[k] / 1000 for r in side if k in r.latency_us]) for k in ("p50", "p99", "p99.9")
                if any(k in r.latency_us for r in side)
            },
        }
    return out


def format_summary(s: dict[str, Any]) -> str:
    if not s.get("rounds"):
        return "no complete round: no ratio"

    def rng(d: dict[str, float], fmt: str) -> str:
        return f"median {format(d['median'], fmt)} (rounds {format(d['min'], fmt)} .. {format(d['max'], fmt)})"

    lines = [f"chinwag / ngircd over {s['rounds']} round(s), each round's two runs paired:"]
    if "deliveries_per_s_ratio" in s:
        lines.append(f"  deliveries/s            {rng(s['deliveries_per_s_ratio'], '.2f')}   goal >= 2")
    if "server_us_per_delivery_ratio" in s:
        lines.append(f"  server CPU per delivery {rng(s['server_us_per_delivery_ratio'], '.2f')}   goal <= 0.5")
    if "p99_ratio" in s:
        lines.append(f"  p99 latency             {rng(s['p99_ratio'], '.2f')}")
    for name in SERVERS:
        d = s[name]
        gen = d["generator_us_per_delivery"]
        lines.append(
            f"  {name:8} deliveries/s {rng(d['deliveries_per_s'], ',.0f')}; server "
            f"{'-' if d['server_us_per_delivery'] is None else rng(d['server_us_per_delivery'], '.3f')} us/d; "
            f"generator {'-' if gen is None else format(gen['median'], '.3f')} us/d at "
            f"{d['generator_core_share']['median']:.0%} of its core"
        )
        if d.get("latency_ms"):
            lines.append(f"  {name:8} latency ms " + "; ".join(
                f"{k} {rng(v, '.2f')}" for k, v in d["latency_ms"].items()))
    gen_share = max(s[n]["generator_core_share"]["max"] for n in SERVERS)
    if gen_share > 0.9:
        lines.append("note: the generator used over 90% of its core in some run: it may have been the limit there")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        v = _values(args)
        server_cpu, client_cpu = _pins(args)
        base = Options(
            clients=v["clients"],
            senders=v["senders"],
            rate=v["rate"],
            window=v["window"],
            duration=v["duration"],
            warmup=v["warmup"],
            drain=args.drain,
            connect_timeout=args.connect_timeout,
            host="127.0.0.1",
            receiver=resolve_receiver(args.receiver),
        )
        raise_fd_limit(base.clients + 64)
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})  # servers are pinned by taskset, the C receiver inherits this
        order = SERVERS if args.first == "chinwag" else SERVERS[::-1]
        if not args.json:
            print(
                f"compare: chinwag ({args.protocol}, --db {args.db}) vs {args.compare} (irc); {base.clients} clients, "
                f"{base.senders} senders, {f'window {base.window}' if not base.rate else f'{base.rate:g} msgs/s'}, "
                f"{base.duration:g} s after {base.warmup:g} s warm-up, {v['rounds']} round(s); servers on cpu "
                f"{server_cpu}, generator on cpu {client_cpu}; receiver "
                f"{'C' if base.receiver else 'Python'}; load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        runs: list[Run] = []
        for rnd in range(1, v["rounds"] + 1):
            for server in order:
                before = wait_calm(args.calm) if args.calm > 0 else None
                run = one_run(server, rnd, args, base, server_cpu)
                run.before = before
                runs.append(run)
                if not args.json:
                    if args.verbose:
                        print(format_text(run.result, server_cpu, client_cpu, args.db if server == "chinwag" else None))
                    print(run_line(run), flush=True)
    except BenchError as exc:
        print(f"benchmarks.compare: {exc}", file=sys.stderr)
        return 2
    s = summary(runs)
    if args.json:
        out = {
            "protocol": args.protocol,
            "db": args.db,
            "server_cpu": server_cpu,
            "client_cpu": client_cpu,
            "runs": [
                {
                    "server": r.server,
                    "round": r.round,
                    "protocol": r.protocol,
                    "server_exit_status": r.status,
                    "busy_before": r.before,
                }
                | r.result.to_dict()
                for r in runs
            ],
            "summary": s,
        }
        print(json.dumps(out, indent=2))
    else:
        print(format_summary(s))
        print("result  " + ("OK" if all(r.ok for r in runs) else "FAILED: loss, duplicates or dropped connections"))
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
