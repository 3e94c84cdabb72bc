"""What names in every script cost: casefold, skeletons, validation, registration.

    python -m benchmarks.names            # 20,000 names of each kind
    python -m benchmarks.names --smoke    # a second or so, for `make test`
    python -m benchmarks.names --json

No sockets. ``casefold`` runs on hot paths (every message to a room or a nick,
every ban check), the rest once per registration or nick change. Names are
fresh each run where it matters ("uncached": more distinct names than the
caches hold), so the figures are the worst case, not a cache's.

Exit status: 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import unicodedata
from collections.abc import Callable
from typing import Any

from chinwag.config import Limits
from chinwag.core.confusables import skeleton
from chinwag.core.events import Register
from chinwag.core.hub import Hub
from chinwag.core.names import casefold, validate_nick

CYRILLIC = "абвгдежзийклмнопрстуфхцчшщэя"  # no ы, ю: their skeletons are two letters (bl, lo)


def ascii_name(i: int) -> str:
    return f"User[{i}]"


def cyrillic_name(i: int) -> str:
    digits = []
    while True:
        i, r = divmod(i, len(CYRILLIC))
        digits.append(CYRILLIC[r])
        if not i:
            break
    return "Вася" + "".join(digits).upper()


def vietnamese_nfd(i: int) -> str:
    return unicodedata.normalize("NFD", f"Nguyễn{i}")


def per_call_us(fn: Callable[[str], object], names: list[str]) -> float:
    start = time.perf_counter()
    for name in names:
        fn(name)
    return (time.perf_counter() - start) / len(names) * 1e6


def run(count: int) -> dict[str, Any]:
    kinds = {"ascii": ascii_name, "cyrillic": cyrillic_name, "vietnamese (NFD)": vietnamese_nfd}
    out: dict[str, Any] = {"names": count}
    for label, make in kinds.items():
        names = [make(i) for i in range(count)]
        row = {
            "casefold uncached (us)": per_call_us(casefold, names),
            "casefold again (us)": per_call_us(casefold, names[-1000:]),
            "skeleton uncached (us)": per_call_us(skeleton, names),
            "validate_nick (us)": per_call_us(lambda n: validate_nick(n, 32), names),
        }
        hub = Hub(Limits())
        start = time.perf_counter()
        for sid, name in enumerate(names):
            hub.connect(sid)
            hub.handle(sid, Register(name, ()))
        row["Register into a hub of that many (us)"] = (time.perf_counter() - start) / count * 1e6
        assert len(hub.nicks) == len(hub.skeletons) == count, "look-alikes among the names"
        out[label] = {k: round(v, 2) for k, v in row.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.names", description=__doc__.split("\n\n")[0])
    p.add_argument("--names", type=int, default=20_000, help="names of each kind (default 20000)")
    p.add_argument("--smoke", action="store_true", help="2,000 names: a quick check that it runs")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    result = run(2_000 if args.smoke else max(1, min(args.names, 200_000)))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['names']} names of each kind, per call:")
    for label, row in result.items():
        if isinstance(row, dict):
            print(f"  {label}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
