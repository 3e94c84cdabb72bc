"""`chinwag serve | connect | bench | tls-selfsigned`: load the config, start,
reload certificates on SIGHUP, stop cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chinwag import __version__
from chinwag.client.main import add_connect_arguments
from chinwag.config import LOG_FORMATS, LOG_LEVELS, Config, ConfigError, load_config
from chinwag.logs import setup_logging

if TYPE_CHECKING:
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag")


def run(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed (the default on Linux), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def raise_nofile_limit() -> int | None:
    """Thousands of connections need thousands of descriptors: take the hard limit."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        soft = target
    return soft


def _fail(message: str, key: str) -> int:
    """One line on stderr naming the flag and the config key to change; status 2."""
    print(f"chinwag: {message} (change --{key.replace('_', '-')} / {key})", file=sys.stderr)
    return 2


async def serve(config: Config) -> int:
    from chinwag.storage.base import StorageError
    from chinwag.transport.server import ListenError, Server
    from chinwag.transport.tls import TlsError

    nofile = raise_nofile_limit()
    server = Server(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the listeners: no early default death
        loop.add_signal_handler(sig, stop.set)
    hup = getattr(signal, "SIGHUP", None)  # not on Windows
    if hup is not None:
        loop.add_signal_handler(hup, _reload, server)
    try:
        await server.start()
    except ListenError as exc:
        return _fail(str(exc), exc.key)
    except TlsError as exc:
        return _fail(str(exc), exc.key)
    except StorageError as exc:
        return _fail(str(exc), "postgres" if config.postgres else "db")
    if nofile is not None:
        log.info("open file limit: %d", nofile)
    # Everything allocated so far lives as long as the server: keep it out of
    # the collector's full passes, which otherwise stall the loop as it grows.
    gc.freeze()
    await stop.wait()
    log.info("signal received, shutting down")
    await server.shutdown()
    # Messages given up at shutdown (a full disk) were lost: say so to whatever
    # restarts us, as a failed run.
    return 1 if server.lost_at_shutdown else 0


def _reload(server: Server) -> None:
    """SIGHUP: read the TLS certificate and key again (connections stay up)."""
    if server.tls is None:
        log.info("SIGHUP: no TLS certificate configured, nothing to reload")
    else:
        server.tls.reload()


def _selfsigned(args: argparse.Namespace) -> int:
    try:
        from chinwag.selfsigned import make_pair
    except ImportError:
        print("chinwag tls-selfsigned: needs the cryptography package (pip install cryptography)", file=sys.stderr)
        return 2
    try:
        cert, key, fingerprint = make_pair(args.out, args.host)
    except OSError as exc:
        print(f"chinwag tls-selfsigned: cannot write to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    names = ", ".join([*args.host, "localhost", "127.0.0.1", "::1"])
    print(f"wrote {cert} and {key} (valid for {names})")
    print(f"SHA-256 fingerprint {fingerprint}")
    print(f"serve with: chinwag serve --tls-cert {cert} --tls-key {key}")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chinwag", description="A self-hosted chat server.")
    p.add_argument("--version", action="version", version=f"chinwag {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the server")
    s.add_argument("--config", type=Path, help="TOML file (flags > CHINWAG_* env > file)")
    s.add_argument("--host", help="address to bind (default 127.0.0.1; 0.0.0.0 for a LAN)")
    s.add_argument("--text-port", type=int, help="telnet/netcat port (default 2626; 0 = any)")
    s.add_argument("--irc-port", type=int, help="IRC port (default 6667; 0 = any)")
    s.add_argument("--web-port", type=int, help="web client and IRC over WebSocket port (default 8080; 0 = any)")
    s.add_argument("--tls-cert", help="PEM certificate: also serve IRC, text and web over TLS (default: none)")
    s.add_argument("--tls-key", help="PEM private key of --tls-cert (default: in the certificate file)")
    s.add_argument("--tls-client-ca", help="CA file: IRC over TLS asks clients for a certificate it signed")
    s.add_argument("--irc-tls-port", type=int, help="IRC over TLS port (default 6697; 0 = any)")
    s.add_argument("--text-tls-port", type=int, help="telnet/netcat over TLS port (default 2627; 0 = any)")
    s.add_argument("--web-tls-port", type=int, help="https/wss port (default 8443; 0 = any)")
    s.add_argument("--metrics-address", help="also serve /metrics, /healthz, /readyz on HOST:PORT (default: none)")
    s.add_argument("--db", help="history database path (default chinwag.db)")
    s.add_argument("--postgres", metavar="URL",
                   help="postgresql://USER@HOST:PORT/DB: history, rooms and accounts there instead of --db")
    s.add_argument("--redis", metavar="URL",
                   help="redis://[:PASSWORD@]HOST:PORT/DB: run as a node of a cluster (needs --postgres)")
    s.add_argument("--reuse-port", action="store_true", default=None,
                   help="share the ports with other nodes of the cluster on this machine (SO_REUSEPORT)")
    s.add_argument("--node-name", metavar="NAME", help="this node's name in the cluster (default HOSTNAME:IRC_PORT)")
    s.add_argument("--cluster-name", metavar="NAME",
                   help="nodes with the same cluster name and Redis are one network (default chinwag)")
    s.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS)
    s.add_argument("--log-format", type=str.lower, choices=LOG_FORMATS, help="text (default) or json lines")
    sub.add_parser("hash-password", help="read a password on stdin, print a hash for the config file")
    add_connect_arguments(sub.add_parser("connect", help="chat from a terminal (an IRC client)"))
    t = sub.add_parser("tls-selfsigned", help="write a self-signed certificate and key for a LAN")
    t.add_argument("--out", type=Path, required=True, help="directory for cert.pem and key.pem (key mode 0600)")
    t.add_argument("--host", action="append", default=[], metavar="NAME",
                   help="a name or IP address clients use (repeatable); localhost, 127.0.0.1, ::1 always")
    b = sub.add_parser("bench", help="run the load generator (see benchmarks/)")
    b.add_argument("args", nargs=argparse.REMAINDER)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # its options belong to the load generator, not to us
        return _bench(argv[1:])
    args = _parser().parse_args(argv)
    if args.cmd == "connect":
        from chinwag.client.main import connect

        return connect(args)
    if args.cmd == "tls-selfsigned":
        return _selfsigned(args)
    if args.cmd == "hash-password":
        from chinwag.core.auth import hash_password

        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            print("chinwag hash-password: no password on stdin", file=sys.stderr)
            return 2
        print(hash_password(password))
        return 0
    try:
        config = load_config(
            args.config,
            os.environ,
            {
                "host": args.host,
                "text_port": args.text_port,
                "irc_port": args.irc_port,
                "web_port": args.web_port,
                "tls_cert": args.tls_cert,
                "tls_key": args.tls_key,
                "tls_client_ca": args.tls_client_ca,
                "irc_tls_port": args.irc_tls_port,
                "text_tls_port": args.text_tls_port,
                "web_tls_port": args.web_tls_port,
                "metrics_address": args.metrics_address,
                "db": args.db,
                "postgres": args.postgres,
                "redis": args.redis,
                "node_name": args.node_name,
                "cluster_name": args.cluster_name,
                "reuse_port": args.reuse_port,
                "log_level": args.log_level,
                "log_format": args.log_format,
            },
        )
    except ConfigError as exc:
        print(f"chinwag: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    return run(serve(config))


def _bench(argv: list[str]) -> int:
    """The load generator lives in the repository's benchmarks/ package."""
    root = Path(__file__).resolve().parents[2]
    if (root / "benchmarks" / "__init__.py").exists():
        sys.path.insert(0, str(root))
    try:
        bench = importlib.import_module("benchmarks.__main__")
    except ImportError:
        print("chinwag bench: run it from a source checkout (benchmarks/ not found)", file=sys.stderr)
        return 2
    result: int = bench.main(argv)
    return result
