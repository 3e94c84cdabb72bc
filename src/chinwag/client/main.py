"""``chinwag connect``: arguments, then the terminal UI or the script mode."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import re
import ssl
import sys

from chinwag.client.app import Chat
from chinwag.client.connection import Connection
from chinwag.client.protocol import JOIN_HISTORY, Session
from chinwag.client.sasl import Login, read_password_file

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6667
DEFAULT_TLS_PORT = 6697
DEFAULT_ROOM = "#lobby"


def add_connect_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("server", nargs="*", default=[], metavar="HOST[:PORT]",
                   help=f"IRC server (default {DEFAULT_HOST}:{DEFAULT_PORT}, {DEFAULT_TLS_PORT} with --tls); several"
                   " (or a comma list): the nodes of one network, tried in turn when a connection is lost")
    p.add_argument("--nick", help="your nick (default: asked, suggesting your login name)")
    p.add_argument("--room", action="append", default=[], metavar="#ROOM",
                   help=f"join this room (repeatable; default {DEFAULT_ROOM})")
    p.add_argument("--tls", action="store_true", help="connect with TLS")
    p.add_argument("--insecure", action="store_true", help="with --tls: accept any certificate (self-signed)")
    p.add_argument("--ca", metavar="FILE",
                   help="with --tls: trust the certificates in FILE (a CA, or the server's self-signed cert.pem)")
    p.add_argument("--password", default="", help="server password (IRC PASS)")
    p.add_argument("--account", metavar="NAME", help="log in to this account (SASL PLAIN; its password: asked, or"
                   " --password-file)")
    p.add_argument("--password-file", metavar="FILE", help="with --account: the password is this file's first line")
    p.add_argument("--cert", metavar="FILE", help="with --tls: present this client certificate (PEM, with its key);"
                   " without --account, log in with it (SASL EXTERNAL)")
    p.add_argument("--color", "--colour", choices=("auto", "always", "never"), default="auto",
                   help="colours: auto = only on a terminal, and not when NO_COLOR is set")


def parse_server(text: str, tls: bool = False) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` -> (host, port)."""
    default = DEFAULT_TLS_PORT if tls else DEFAULT_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if port and not port.isdigit():
        raise ValueError(f"bad port in {text!r}")
    return host or DEFAULT_HOST, int(port) if port else default


def parse_servers(texts: list[str], tls: bool = False) -> list[tuple[str, int]]:
    """Positional servers, each possibly a comma list -> (host, port) pairs, in order."""
    items = [item.strip() for text in texts for item in text.split(",")]
    servers = [parse_server(item, tls) for item in items if item]
    return servers or [parse_server(DEFAULT_HOST, tls)]


def tls_context(insecure: bool, ca: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "guest"


def user_name() -> str:
    """The IRC user name: the login name, reduced to what any server accepts."""
    return re.sub(r"[^A-Za-z0-9_.-]", "", login_name())[:10] or "chinwag"


def ask_nick(default: str) -> str:
    try:
        answer = input(f"nick [{default}]: ").strip()
    except EOFError:
        answer = ""
    return answer or default


def account_login(args: argparse.Namespace, context: ssl.SSLContext | None, interactive: bool) -> Login | None:
    """--account (PLAIN) or --cert (EXTERNAL), or None: a guest. --cert is loaded into ``context``."""
    if args.cert:
        if context is None:
            raise ValueError("--cert needs --tls")
        context.load_cert_chain(args.cert)
    if args.account:
        if args.password_file:
            password = read_password_file(args.password_file)
        elif interactive:
            password = getpass.getpass(f"password of account {args.account}: ")
        else:
            raise ValueError("--account needs --password-file when stdin is not a terminal")
        return Login("PLAIN", args.account, password)
    if args.password_file:
        raise ValueError("--password-file goes with --account")
    return Login("EXTERNAL") if args.cert else None


def connect(args: argparse.Namespace) -> int:
    try:
        servers = parse_servers(args.server, args.tls or bool(args.ca))
    except ValueError as exc:
        print(f"chinwag connect: {exc}", file=sys.stderr)
        return 2
    try:
        context = tls_context(args.insecure, args.ca) if args.tls or args.ca else None
    except (OSError, ssl.SSLError) as exc:  # --ca: missing, or not PEM
        print(f"chinwag connect: cannot read --ca {args.ca}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 2
    interactive = sys.stdin.isatty()
    try:
        login = account_login(args, context, interactive)
    except (OSError, ssl.SSLError, ValueError) as exc:
        print(f"chinwag connect: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 2
    nick = args.nick or args.account or (ask_nick(login_name()) if interactive else login_name())
    rooms = args.room or [DEFAULT_ROOM]
    if args.color == "auto":
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    else:
        colour = args.color == "always"
    chat = Chat()
    session = Session(nick, rooms, join_history=JOIN_HISTORY if interactive else 0)
    session.login = login
    conn = Connection(
        # A script (stdin not a terminal) says its lines; the room's past is not its output.
        servers, session, chat.on_event,
        tls=context,
        user=user_name(), password=args.password,
    )
    chat.attach(conn)
    if interactive:
        from chinwag.client.ui import TerminalUI  # prompt_toolkit only when needed

        return asyncio.run(TerminalUI(chat, conn, colour=colour).run())
    from chinwag.client.script import run_script

    return asyncio.run(run_script(chat, conn, sys.stdin, sys.stdout, colour=colour))
