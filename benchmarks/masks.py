"""WHO with adversarial masks against a hub of many users.

    python -m benchmarks.masks                 # 10,000 users, every mask 20 times
    python -m benchmarks.masks --smoke         # a few seconds, for `make test`
    python -m benchmarks.masks --users 20000 --json

No sockets: one in-process Hub holds the users, and each WHO is what the server
does for it on its event loop: Hub.handle(WhoQuery) plus rendering the reply to
IRC bytes. Half the nicks are ``user<N>``, half are long runs of ``a`` (the
names that made the old regex backtrack). For each mask the median of the runs
is reported, and the worst mask's median is the figure that matters: every user
of the server waits that long while one WHO is answered.

Exit status: 0; 1 with ``--budget MS`` when the worst median is over it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import string
import sys
import time
from typing import Any

from chinwag.config import Config, Limits
from chinwag.core.events import Register
from chinwag.core.hub import Hub
from chinwag.core.types.lookup import WhoQuery, WhoReply
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol

MAX_USERS = 100_000


def masks(limits: Limits) -> list[str]:
    n = limits.mask_len
    return [
        "*a*a*a*a*a*a*a*a*a*a*a!",  # the WHO: 0.7 s with the old regex
        ("*" * 100 + "\x01")[:n],  # the one that never finished
        ("*a" * n)[: n - 1] + "!",  # as many *a as the limit allows, then a miss
        "*a" * 20 + "*",  # matches every a-name: the answer stops at who_max
        "*a" * 29 + "*b*",  # 29 finds in each a-name, then a miss
        "*a?" * 14 + "*b",  # the same with '?' (chunks checked at offsets)
        "*a*z" * 10 + "*",  # alternating segments: no run to split at once
        "*" + "*".join(string.ascii_lowercase) + "*",
        "*" + "a?" * 14 + "*",
        ("*?" * n)[:n],
        "?" * limits.nick_len,
        "*" + "a" * limits.nick_len + "*",
        "*u*s*e*r*1*2*3*",
        "user1*",
        "*9",
        "*",
    ]


def nick(i: int, nick_len: int) -> str:
    if i % 2 == 0:
        return f"user{i}"
    letters = ""
    while i:  # a unique tail in base 26, after as many a's as fit
        i, r = divmod(i, 26)
        letters += string.ascii_lowercase[r]
    return "a" * (nick_len - len(letters) - 1) + "z" + letters


def build(users: int, limits: Limits) -> Hub:
    hub = Hub(limits, clock=lambda: 1_700_000_000.0)
    for sid in range(users):
        hub.connect(sid)
        hub.handle(sid, Register(nick(sid, limits.nick_len)))
    return hub


def run(users: int, repeat: int) -> dict[str, Any]:
    config = Config()
    limits = config.limits
    hub = build(users, limits)
    asker = 0
    irc = IrcProtocol(IrcInfo.from_config(config))
    rows = []
    for mask in masks(limits):
        times = []
        lines = 0
        for _ in range(repeat):
            start = time.perf_counter()
            out = hub.handle(asker, WhoQuery(mask))
            data = b"".join(irc.render(o.event, {}) for o in out)
            times.append(time.perf_counter() - start)
            lines = data.count(b"\r\n")
        reply = out[0].event
        truncated = isinstance(reply, WhoReply) and reply.truncated
        rows.append({
            "mask": mask,
            "lines": lines,
            "truncated": truncated,
            "median_ms": statistics.median(times) * 1000,
            "max_ms": max(times) * 1000,
        })
    worst = max(rows, key=lambda r: r["median_ms"])
    return {"users": users, "repeat": repeat, "who_max": limits.who_max, "mask_len": limits.mask_len,
            "rows": rows, "worst_mask": worst["mask"], "worst_median_ms": worst["median_ms"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.masks", description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=10_000, help="registered users in the hub (10000)")
    p.add_argument("--repeat", type=int, default=20, help="runs of each WHO; the median is reported (20)")
    p.add_argument("--smoke", action="store_true", help="3 runs of each mask: a few seconds")
    p.add_argument("--budget", type=float, help="exit 1 if the worst median is over this many ms")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS or not 1 <= args.repeat <= 1000:
        p.error(f"--users must be 1..{MAX_USERS} and --repeat 1..1000")
    repeat = 3 if args.smoke else args.repeat
    result = run(args.users, repeat)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"WHO against {result['users']} users, {repeat} runs per mask "
              f"(who_max {result['who_max']}, mask_len {result['mask_len']}):")
        for r in result["rows"]:
            shown = r["mask"] if len(r["mask"]) <= 40 else r["mask"][:37] + "..."
            more = " (truncated)" if r["truncated"] else ""
            print(f"  {shown.encode('unicode_escape').decode():<44} {r['lines']:>4} lines{more:<12} "
                  f"median {r['median_ms']:7.2f} ms  max {r['max_ms']:7.2f} ms")
        print(f"worst: {result['worst_median_ms']:.2f} ms (median) for {result['worst_mask'][:40]!r}")
    if args.budget is not None and result["worst_median_ms"] > args.budget:
        print(f"over budget: {result['worst_median_ms']:.2f} ms > {args.budget} ms", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
