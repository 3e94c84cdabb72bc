"""``python -m benchmarks``: parse options, start (or find) the server, run, report.

Exit status: 0 when every expected delivery arrived exactly once, 1 on any loss,
duplicate or dropped connection, 2 when the run could not be set up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import ipaddress
import json
import os
import resource
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from benchmarks import creceiver, loadgen, pyspy
from benchmarks.loadgen import Bench, BenchError, Options, Result
from benchmarks.procinfo import SpawnedServer, SpawnError

DEFAULTS: dict[str, Any] = {
    "clients": 200,
    "senders": 10,
    "rate": 0.0,
    "window": 8,
    "duration": 10.0,
    "warmup": 1.0,
}
# Small and quick enough for every `make test`, big enough to exercise fan-out and the window.
SMOKE: dict[str, Any] = {**DEFAULTS, "clients": 20, "senders": 2, "duration": 2.0, "warmup": 0.5}
MAX_CLIENTS = 20_000
MAX_SECONDS = 600.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Load generator for chinwag (text, IRC or IRC over WebSocket): one room, S senders, "
        "N-1 receivers per message.",
    )
    p.add_argument(
        "--protocol",
        choices=("text", "irc", "ws"),
        default="text",
        help="text (default), irc (plain RFC IRC), or ws (IRC over WebSocket at /irc, text.ircv3.net)",
    )
    p.add_argument(
        "--compare",
        choices=("ngircd",),
        help="run the same load against chinwag and ngircd, interleaved, and print the ratios "
        "(its own options: python -m benchmarks --compare ngircd --help)",
    )
    p.add_argument("--clients", type=int, help="connections, all in #lobby (default 200)")
    p.add_argument("--senders", type=int, help="how many of them send (default 10)")
    p.add_argument("--rate", type=float, help="total messages/s; 0 = as fast as the window allows (default 0)")
    p.add_argument("--window", type=int, help="messages in flight per sender when --rate 0 (default 8)")
    p.add_argument("--duration", type=float, help="measured seconds (default 10)")
    p.add_argument("--warmup", type=float, help="seconds of load before measuring (default 1)")
    p.add_argument("--drain", type=float, default=5.0, help="max seconds to wait for in-flight deliveries (5)")
    p.add_argument("--pad", type=int, default=0, help="filler characters added to each message (0)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address only (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, help="use a running server on this port (of --protocol's listener) instead of spawning one"
    )
    p.add_argument("--server-pid", type=int, help="with --port: the server's pid, for CPU and RSS figures")
    p.add_argument(
        "--db",
        default=":memory:",
        help="history store of the spawned server: :memory: (default), 'tmp' for a throwaway SQLite file, or a path",
    )
    p.add_argument(
        "--postgres",
        metavar="URL",
        help="the spawned server stores history in this PostgreSQL (on a loopback address) instead of --db",
    )
    p.add_argument("--server-cpu", type=int, help="pin the spawned server to this CPU (taskset)")
    p.add_argument("--client-cpu", type=int, help="pin this load generator to this CPU")
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to start, connect and register (10)")
    p.add_argument("--loop", choices=("auto", "asyncio"), default="auto", help="auto = uvloop when installed")
    p.add_argument(
        "--receiver",
        choices=("auto", "c", "python"),
        default="auto",
        help="who reads the pure receivers' sockets: c (benchmarks/receiver.c, compiled now with cc), python, "
        "or auto (c when cc works, else python with a warning)",
    )
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="record the server with py-spy during the measured window into FILE (collapsed stacks) and print "
        "its top functions by own time; needs the server's pid (spawned, or --server-pid)",
    )
    p.add_argument(
        "--stages",
        metavar="FILE",
        help="a spawned server times each message's stages (read, stored, loop woken, flush start and end) and "
        "every garbage collection during the measured window (benchmarks/stages/sitecustomize.py); the figures "
        "go to FILE (JSON) and are printed",
    )
    p.add_argument("--smoke", action="store_true", help="tiny bounded correctness run (20 clients, 2 senders, 2 s)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


def _loopback(host: str) -> str:
    """The host as a loopback IP literal; anything else is refused (this tool floods what it targets)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise BenchError(f"cannot resolve {host!r}: {exc}") from None
    addrs = [str(info[4][0]) for info in infos]
    if not addrs or not all(ipaddress.ip_address(a).is_loopback for a in addrs):
        raise BenchError(f"refusing {host!r}: only loopback addresses may be benchmarked")
    return addrs[0]


def resolve_receiver(choice: str) -> str | None:
    """The compiled C receiver's path for --receiver c/auto, None for python (auto warns on the way)."""
    if choice == "python":
        return None
    exe, why = creceiver.build()
    if exe is None:
        if choice == "c":
            raise BenchError(f"--receiver c: {why}")
        print(f"benchmarks: warning: reading in Python, not C ({why}); the generator may be the limit", file=sys.stderr)
    return exe


def _options(args: argparse.Namespace) -> Options:
    base = SMOKE if args.smoke else DEFAULTS
    values = {k: (base[k] if getattr(args, k) is None else getattr(args, k)) for k in base}
    if not 2 <= values["clients"] <= MAX_CLIENTS:
        raise BenchError(f"--clients must be 2..{MAX_CLIENTS}")
    if not 1 <= values["senders"] <= values["clients"]:
        raise BenchError("--senders must be 1..clients")
    if values["rate"] < 0 or values["window"] < 1 or not 0 <= args.pad <= 3000:
        raise BenchError("--rate must be >= 0, --window >= 1, --pad 0..3000 (the server's line limit is 4096)")
    for name in ("duration", "warmup"):
        if not 0 <= values[name] <= MAX_SECONDS:
            raise BenchError(f"--{name} must be 0..{MAX_SECONDS:g}")
    if values["duration"] <= 0:
        raise BenchError("--duration must be > 0")
    if not 0 <= args.drain <= 60 or not 0 < args.connect_timeout <= 120:
        raise BenchError("--drain must be 0..60 and --connect-timeout 0..120")
    if args.port is None and args.server_pid is not None:
        raise BenchError("--server-pid goes with --port (a spawned server's pid is known)")
    if args.port is not None and (args.server_cpu is not None or args.db != ":memory:" or args.postgres):
        raise BenchError("--server-cpu, --db and --postgres apply to a spawned server; start your own as you like")
    if args.postgres:
        _loopback(urlsplit(args.postgres).hostname or "")
    return Options(
        **values,
        drain=args.drain,
        pad=args.pad,
        connect_timeout=args.connect_timeout,
        host=_loopback(args.host),
        port=args.port or 0,
        server_pid=args.server_pid,
        protocol=args.protocol,
        receiver=resolve_receiver(args.receiver),
    )


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < need:
            raise BenchError(f"open-file limit {hard} is too low for {need - 64} clients")


def run_loop(opts: Options, loop: str, on_window: Callable[[], None] | None = None) -> Result:
    """On uvloop when installed, as the server runs, unless --loop asyncio."""
    main: Callable[[str], Coroutine[Any, Any, Result]] = Bench(opts, on_window).run
    if loop == "auto":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            version = getattr(uvloop, "__version__", "?")
            return uvloop.run(main(f"uvloop {version}"))
    return asyncio.run(main("asyncio"))


def stages_env(path: str) -> dict[str, str]:
    """What makes a spawned server load benchmarks/stages/sitecustomize.py and write to ``path``."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stages")
    rest = os.environ.get("PYTHONPATH", "")
    return {
        "CHINWAG_STAGES_OUT": os.path.abspath(path),
        "CHINWAG_STAGES_BASE_NS": str(loadgen._BASE_NS),
        "PYTHONPATH": here + (os.pathsep + rest if rest else ""),
    }


def _also(first: Callable[[], None] | None, then: Callable[[], None]) -> Callable[[], None]:
    def both() -> None:
        if first is not None:
            first()
        then()

    return both


def format_stages(path: str) -> str:
    """The server's stage timings (ms), as the sitecustomize wrote them."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        return f"stages: no figures ({exc})"
    lines = ["server stages (ms)   n / p50 / p90 / p99 / p99.9 / max"]
    for name, v in data.items():
        if isinstance(v, dict) and "n" in v:
            if not v["n"]:
                lines.append(f"  {name:22} none")
                continue
            lines.append(f"  {name:22} {v['n']:>6} / " + " / ".join(f"{v[k]:.3f}" for k in
                                                                         ("p50", "p90", "p99", "p99.9", "max")))
        elif isinstance(v, dict):
            lines.append(f"  {name}: " + ", ".join(f"{k} {x:.3f}" for k, x in v.items()))
        else:
            lines.append(f"  {name:22} {v}")
    return "\n".join(lines)


def _ms(us: float | None) -> str:
    return "-" if us is None else f"{us / 1000:.3f}"


def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f} MiB"


def format_text(r: Result, server_cpu_pin: int | None, client_cpu_pin: int | None, db: str | None) -> str:
    o = r.options
    mode = f"{o['rate']:g} msgs/s total" if o["rate"] else f"as fast as possible, window {o['window']}/sender"
    lat, first = r.latency_us, r.latency_first_us
    w = r.window_s or 1.0
    lines = [
        f"chinwag bench: {o['protocol']}, {o['clients']} clients, {o['senders']} senders, {mode}; "
        f"{r.window_s:.2f} s measured after {o['warmup']:g} s warm-up; {r.loop}",
        f"server pid {r.server_pid or '-'} (cpu {'-' if server_cpu_pin is None else server_cpu_pin}"
        f"{'' if db is None else f', --db {db}'}), "
        f"generator pid {os.getpid()} (cpu {'-' if client_cpu_pin is None else client_cpu_pin})",
        f"connections          {r.clients_connected} made in {r.setup_s:.2f} s, {r.connections_lost} lost",
        f"messages sent        {r.sent_total:,} in all, {r.sent_window:,} in the window ({r.sent_window / w:,.0f}/s)",
        f"deliveries expected  {r.expected:,} (sent x {r.clients_connected - 1} receivers)",
        f"deliveries received  {r.received_unique:,} unique; drained in {r.drain_s:.2f} s",
        f"loss / duplicates    {r.loss:,} / {r.duplicates:,} (late but delivered: {r.late:,})",
        f"deliveries/s         {r.deliveries_per_s:,.0f} ({r.received_window:,} in the window)",
        f"latency ms           p50 {_ms(lat.get('p50'))}  p90 {_ms(lat.get('p90'))}  p99 {_ms(lat.get('p99'))}  "
        f"p99.9 {_ms(lat.get('p99.9'))}  max {_ms(lat.get('max'))}  ({r.latency_samples:,} samples)",
        f"  first recipient    p50 {_ms(first.get('p50'))}  p99 {_ms(first.get('p99'))}  max {_ms(first.get('max'))}"
        "  (client 0, written to first: the path without the rest of the fan-out)",
    ]
    if r.server_cpu_s is not None:
        per = r.server_us_per_delivery
        lines.append(
            f"server CPU           {r.server_cpu_s:.2f} s ({r.server_cpu_s / w:.0%} of one core; "
            f"sys {r.server_cpu_sys_s or 0:.2f} s), {'-' if per is None else f'{per:.3f}'} us/delivery"
        )
    else:
        lines.append("server CPU           - (no --server-pid)")
    if r.server_writes:
        lines.append(
            f"server writes        {r.server_writes:,} write syscalls ({r.server_writes / w:,.0f}/s), "
            f"{r.deliveries_per_write or 0:.1f} deliveries per write"
        )
    rss = r.server_rss_kib
    lines.append(
        f"server RSS           idle {_mib(rss.get('idle'))}, connected {_mib(rss.get('connected'))}, "
        f"after {_mib(rss.get('after'))}"
    )
    gper = r.generator_us_per_delivery
    lines.append(
        f"generator CPU        {r.generator_cpu_s:.2f} s ({r.generator_cpu_s / w:.0%} of one core; "
        f"sys {r.generator_cpu_sys_s:.2f} s), {'-' if gper is None else f'{gper:.3f}'} us/delivery"
    )
    if r.receiver_cpu_s is not None:
        lines.append(
            f"  C receiver         {r.receiver_cpu_s:.2f} s of it, reading {r.receiver_clients} of "
            f"{r.clients_connected} clients; Python {r.generator_cpu_s - r.receiver_cpu_s:.2f} s "
            "(senders, observers, the rest)"
        )
    else:
        lines.append("  receiver           Python reads every client (--receiver python, or no C compiler)")
    if r.other_cpu_s is not None:
        lines.append(
            f"rest of the machine  {r.other_cpu_s:.2f} s CPU ({r.other_cpu_s / w:.0%} of one core; other processes "
            f"and kernel softirq work), steal {r.steal_s:.2f} s"
        )
        if r.other_cpu_s / w > 0.25:
            lines.append("note: the machine was busy with other work; these figures are disturbed")
    if r.folds_in_window:
        lines.append("note: the generator folded its latency samples during the window (a stall); use a shorter run")
    if o["rate"] and r.sent_window < 0.95 * o["rate"] * w:
        lines.append("note: the generator could not keep up with --rate; the figures are for the rate achieved")
    if r.generator_cpu_s / w > 0.9:
        lines.append("note: the generator was CPU-bound; deliveries/s may be its limit rather than the server's")
    lines.append("result               " + ("OK" if r.ok else "FAILED: loss, duplicates or dropped connections"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--"]:  # `chinwag bench -- --smoke` forwards the separator too
        argv = argv[1:]
    if any(a == "--compare" or a.startswith("--compare=") for a in argv):
        from benchmarks import compare

        return compare.main(argv)
    args = _parser().parse_args(argv)
    server: SpawnedServer | None = None
    status: int | None = None
    stack = contextlib.ExitStack()  # the throwaway database directory, removed after the server stops
    try:
        opts = _options(args)
        raise_fd_limit(opts.clients + 64)
        if args.port is None:
            db = args.db
            if db == "tmp":
                db = os.path.join(stack.enter_context(tempfile.TemporaryDirectory(prefix="chinwag-bench-")), "bench.db")
            # All clients come from one loopback address: lift the per-IP cap too
            # (procinfo lifts the flood limits; versions without a limit ignore it).
            per_ip = {"CHINWAG_LIMITS__MAX_PER_IP": str(opts.clients + 100),
                      "CHINWAG_LIMITS__MAX_UNREGISTERED_PER_IP": str(opts.clients + 100)}
            if args.postgres:  # the server's CHINWAG_POSTGRES: it wins over --db
                per_ip["CHINWAG_POSTGRES"] = args.postgres
                where = urlsplit(args.postgres)
                args.db = f"(PostgreSQL {where.hostname}:{where.port or 5432}{where.path})"  # as the report shows it
            if args.stages:
                per_ip.update(stages_env(args.stages))
            server = SpawnedServer(opts.host, args.server_cpu, db, env=per_ip)
            port = server.start(timeout=opts.connect_timeout)
            if opts.protocol != "text":
                port = server.listener_port("irc" if opts.protocol == "irc" else "web", opts.connect_timeout)
            opts = dataclasses.replace(opts, port=port, server_pid=server.pid)
        if args.client_cpu is not None:
            os.sched_setaffinity(0, {args.client_cpu})  # after the spawn, so the server does not inherit it
        recorder: pyspy.Recorder | None = None
        if args.profile:
            if opts.server_pid is None:
                raise BenchError("--profile needs the server's pid: let the tool spawn it, or give --server-pid")
            try:
                recorder = pyspy.Recorder(opts.server_pid, args.profile, opts.duration)
            except RuntimeError as exc:
                raise BenchError(str(exc)) from None
        on_window = recorder.start if recorder is not None else None
        if args.stages:
            if server is None:
                raise BenchError("--stages needs a spawned server (no --port)")
            on_window = _also(on_window, functools.partial(os.kill, server.pid, signal.SIGUSR2))
        result = run_loop(opts, args.loop, on_window)
        profile_error = recorder.wait() if recorder is not None else ""
    except (BenchError, SpawnError, OSError) as exc:
        print(f"benchmarks: {exc}", file=sys.stderr)
        if server is not None:
            print(f"benchmarks: server log: {server.tail()}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            status = server.stop()
        stack.close()
    if args.json:
        out = result.to_dict()
        out["server_cpu_pin"], out["client_cpu_pin"] = args.server_cpu, args.client_cpu
        out["server_exit_status"] = status
        out["db"] = None if args.port else args.db
        print(json.dumps(out, indent=2))
    else:
        print(format_text(result, args.server_cpu, args.client_cpu, None if args.port else args.db))
        if args.profile:
            print(f"py-spy failed: {profile_error}" if profile_error else pyspy.format_summary(args.profile))
        if args.stages:
            print(format_stages(args.stages))
        if status not in (None, 0):
            print(f"server exited with status {status}: {server.tail() if server else ''}")
    return 0 if result.ok and status in (None, 0) else 1


if __name__ == "__main__":
    sys.exit(main())
