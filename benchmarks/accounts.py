"""What one account password costs the server: argon2id + SCRAM credentials.

    python -m benchmarks.accounts              # 20 of each, default limits
    python -m benchmarks.accounts --smoke      # 3 of each, for `make test`
    python -m benchmarks.accounts --json

No sockets: it times the pure functions the password pool runs in its threads
(core/accounts.py) with the cost in ``Limits`` (argon2_time_cost,
argon2_memory_kib, scram_iterations): ``make_secrets`` (register, password
change: argon2id hash plus PBKDF2 for SCRAM), ``verify_password`` (a login) and
a SCRAM-SHA-256 server exchange (cheap: it runs on the event loop). With
``auth_checks`` threads the server does at most auth_checks / verify-time
logins per second; the event loop never waits for one.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import statistics
import time
from collections.abc import Callable

from chinwag.config import Limits
from chinwag.core.accounts import HashParams, ScramServer, make_secrets, verify_password


def _timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _scram_exchange(params: HashParams, password: str) -> Callable[[], object]:
    secrets = make_secrets(password, params)
    creds = secrets.scram

    def run() -> object:
        server = ScramServer()
        bare = "n=user,r=clientnonce"
        server.client_first("n,," + bare)
        first = server.server_first(creds)
        nonce = first.split(",")[0][2:]
        # The client's side (what a client computes; included to make a valid proof).
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), creds.salt, creds.iterations)
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        without = f"c=biws,r={nonce}"
        sig = hmac.new(hashlib.sha256(client_key).digest(), f"{bare},{first},{without}".encode(), "sha256").digest()
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig, strict=True))).decode()
        return server.client_final(f"{without},p={proof}")

    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.accounts", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--smoke", action="store_true", help="3 runs of each")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    runs = 3 if args.smoke else args.runs
    limits = Limits()
    params = HashParams(limits.argon2_time_cost, limits.argon2_memory_kib, limits.scram_iterations)
    password = "correct-horse-battery"
    stored = make_secrets(password, params).password_hash
    results = {
        "make_secrets_ms": _timed(lambda: make_secrets(password, params), runs),
        "verify_password_ms": _timed(lambda: verify_password(stored, password, params), runs),
        "verify_unknown_account_ms": _timed(lambda: verify_password(None, password, params), runs),
        "scram_exchange_with_client_side_ms": _timed(_scram_exchange(params, password), runs),
    }
    medians = {name: round(statistics.median(v), 2) for name, v in results.items()}
    report = {"params": {"argon2_time_cost": params.time_cost, "argon2_memory_kib": params.memory_kib,
                         "scram_iterations": params.scram_iterations, "runs": runs},
              "median_ms": medians, "max_ms": {n: round(max(v), 2) for n, v in results.items()},
              "logins_per_s_per_thread": round(1000 / medians["verify_password_ms"], 1)}
    if args.json:
        print(json.dumps(report))
    else:
        for name, ms in medians.items():
            print(f"{name:<38} median {ms:8.2f} ms   max {report['max_ms'][name]:8.2f} ms")
        print(f"logins per second per auth_checks thread: {report['logins_per_s_per_thread']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
