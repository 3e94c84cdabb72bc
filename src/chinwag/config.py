"""One Config snapshot, built from defaults < TOML file < CHINWAG_* env < flags.

Every limit lives in :class:`Limits` so that readers, the hub and (later) IRC
ISUPPORT all see the same numbers.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """The configuration is invalid; the message says which key and why."""


# Limits for which 0 means something (nick_grace: rename at once); the rest must be > 0.
_ZERO_ALLOWED = frozenset({"nick_grace"})


@dataclass(frozen=True, slots=True)
class Limits:
    """Security and fairness limits, validated once at load."""

    max_line: int = 4096  # bytes per input line, text protocol
    max_unterminated: int = 65536  # bytes with no newline at all before a text client is cut off
    nick_len: int = 32  # characters
    room_len: int = 64  # characters, including the leading '#'
    topic_len: int = 390  # characters
    sendq: int = 1 << 20  # bytes queued for one connection above which it must keep reading (output_stall)
    # Unsent bytes the kernel may hold for one connection (TCP_NOTSENT_LOWAT).
    # Without it the kernel buffers up to tcp_wmem max (4 MiB) per stalled
    # reader, hiding slow readers from sendq for megabytes.
    kernel_sendq: int = 128 * 1024
    # IRC (advertised in ISUPPORT, so clients know them before they hit them).
    irc_line: int = 512  # bytes per IRC line including CRLF, tags not counted (LINELEN)
    irc_tags: int = 8191  # bytes of IRCv3 message tags per line
    max_targets: int = 4  # targets of one PRIVMSG/NOTICE/KICK (MAXTARGETS)
    max_rooms: int = 50  # rooms one user may be in (CHANLIMIT)
    max_modes: int = 6  # mode changes with a parameter per MODE command (MODES)
    max_bans: int = 100  # ban masks per room (MAXLIST)
    away_len: int = 200  # characters (AWAYLEN)
    kick_len: int = 255  # characters of a kick reason (KICKLEN)
    ping_interval: int = 120  # seconds of silence before the server PINGs an IRC client
    ping_timeout: int = 60  # seconds to answer that PING before "Ping timeout"
    register_timeout: int = 20  # seconds a client has to choose a name / finish registering (a person typing at telnet)
    # Floods: a token bucket per connection. A pasted burst goes through; past
    # flood_rate lines/s input is delayed (fake lag); with more than
    # flood_backlog lines waiting, the client is told and disconnected.
    flood_burst: int = 20  # lines
    flood_rate: int = 5  # lines per second, sustained
    flood_backlog: int = 200  # lines waiting
    # Connections: a whole class behind one NAT must fit under max_per_ip.
    max_connections: int = 20_000
    max_per_ip: int = 100
    listen_backlog: int = 1024  # pending TCP connections per listener (a whole class connecting at once)
    close_linger: int = 2  # seconds to wait for a closed client's FIN before dropping it
    # --- limits: masks ---
    # Globs (WHO, bans) are matched in linear time (core/masks.py); these bound
    # one mask and one WHO answer.
    mask_len: int = 128  # characters in a WHO or ban mask; longer ones are refused
    who_max: int = 500  # WHO lines for one mask; past it: 416 "output too large, truncated"
    # --- limits: auth ---
    # Passwords (IRC PASS and OPER, the text protocol's password prompt): each
    # check runs in a thread, at most auth_checks at once, one at a time per
    # connection and per address. After a wrong password the next check of that
    # connection and of that address waits auth_delay_ms, doubling with each
    # failure up to auth_delay_max_ms. Failures drain at auth_failures_per_ip
    # per auth_window seconds; past auth_failures on one connection it is closed,
    # past auth_failures_per_ip from one address its checks are refused (a
    # password already accepted once since start is still let in at once).
    auth_checks: int = 2  # password checks running at once, server-wide
    auth_delay_ms: int = 1000  # wait before the next check after a wrong password
    auth_delay_max_ms: int = 30_000  # the doubling wait stops growing here
    auth_failures: int = 5  # wrong passwords on one connection before it is closed
    auth_failures_per_ip: int = 20  # wrong passwords from one address before its checks are refused
    auth_window: int = 600  # seconds over which those failure counts drain
    auth_tracked: int = 20_000  # connections/addresses whose failures are remembered (oldest forgotten)
    # --- limits: output ---
    # Output: a reader that keeps reading is never cut off; one over sendq that
    # reads nothing for output_stall seconds is. All output queues together may
    # hold output_budget bytes: past it, messages wait (their senders' input is
    # paused), not the readers. Flood control also counts a message's bytes.
    output_stall: int = 10  # seconds a reader over sendq may read nothing before it is cut off
    output_budget: int = 64 << 20  # bytes of output all connections may hold before senders wait
    flood_burst_bytes: int = 81920  # bytes of messages that may arrive at once (a paste: 20 lines of 4 KiB)
    flood_rate_bytes: int = 4096  # bytes of messages per second, sustained; faster input is delayed
    # Big rooms: above crowd_size members, joins, parts and quits are announced
    # in one summary per room every crowd_interval seconds (IRC: the JOIN/PART/
    # QUIT lines, together), and a joiner sees how many are there, not who.
    crowd_size: int = 200  # members
    crowd_interval: int = 5  # seconds
    # --- limits: sanitize ---
    # --- limits: edge ---
    # Per address, connections still registering (and HTTP connections that
    # are not a registered WebSocket) have their own small cap; a newcomer over
    # it closes the address's oldest such connection, so idle sockets cannot
    # lock the address out. Registered users count against max_per_ip instead.
    max_unregistered_per_ip: int = 10
    ipv6_prefix: int = 64  # IPv6 clients are counted per network of this length (a /64 is one site)
    http_header_timeout: int = 10  # seconds for an HTTP request's headers to arrive: 408 and closed
    http_keepalive: int = 15  # seconds an idle HTTP keep-alive connection stays open
    # --- limits: storage ---
    # Rooms whose rules (modes, key, bans, topic) are kept, with members or not
    # (they last as long as the room's history); past it new rules are refused.
    max_room_rules: int = 10_000
    # --- limits: failures ---
    # The history store: a message is delivered only once stored. Messages
    # waiting for it past held_messages are refused ("not sent") rather than
    # queued; a write that keeps failing (a full disk) is given up after
    # store_timeout seconds and its senders are told.
    held_messages: int = 50_000  # messages waiting for the store, all connections together
    store_timeout: int = 5  # seconds a failing write is retried before its messages are refused
    # --- limits: ops ---
    # --- limits: tls ---
    # A TLS client must finish its handshake within this many seconds; it
    # counts against max_per_ip and max_connections from its first byte.
    tls_handshake_timeout: int = 10
    # --- limits: irc ---
    user_len: int = 10  # characters of a username, its "~" included (USERLEN)
    client_tags: int = 4094  # bytes of client-only (+) tags on one line; more: 417 (message-tags spec)
    whowas_max: int = 1000  # nicks WHOWAS remembers, server-wide (the oldest are forgotten)
    # --- limits: metrics ---
    metrics_rooms: int = 10  # rooms whose member counts /metrics shows (the largest)
    # --- limits: accounts ---
    # Logins (text /login, SASL, PASS account:password, NickServ IDENTIFY) share
    # the auth_* limits per connection and per address; besides, each account
    # counts its own failures from anywhere: past account_failures (draining as
    # auth_failures_per_ip do) its logins are refused until they drain.
    account_failures: int = 10
    password_min: int = 8  # characters in an account password, at least
    password_max: int = 256  # ... and at most (bounds the hashing work)
    argon2_time_cost: int = 2  # argon2id passes (OWASP: m=19 MiB, t=2, p=1)
    argon2_memory_kib: int = 19_456  # argon2id memory per hash, KiB
    scram_iterations: int = 4096  # PBKDF2 rounds of SCRAM-SHA-256 credentials (RFC 7677 minimum)
    # --- limits: ircv3b ---
    realname_len: int = 100  # characters of a real name (USER, SETNAME); longer: cut (USER) or FAIL (SETNAME) (NAMELEN)
    # --- limits: ircv3a ---
    # draft/multiline: a client batch becomes one message of at most this many
    # bytes (its line feeds counted) and lines; more: FAIL BATCH MULTILINE_MAX_*.
    multiline_max_bytes: int = 4096
    multiline_max_lines: int = 100
    read_markers_max: int = 1000  # draft/read-marker targets kept per account; more: FAIL MARKREAD INTERNAL_ERROR
    # --- limits: webauth ---
    # Registrations (every protocol and the web form) from one address: at most
    # max_accounts_per_address per account_window seconds (a leaky count).
    max_accounts_per_address: int = 3
    account_window: int = 86_400
    web_session_days: int = 30  # a browser's login (its session cookie) lasts this long
    web_sessions_max: int = 10  # live browser logins per account; a new one ends the oldest
    account_certs_max: int = 8  # client certificates (SASL EXTERNAL) per account
    # --- limits: playback ---
    playback_max: int = 100  # most messages a user may ask to be replayed on join (NickServ SET PLAYBACK)
    # --- limits: nicks ---
    # Seconds someone not logged in to account X may hold nick X before being
    # renamed to a guest nick (0: at once). Told on taking it (core/users.py).
    nick_grace: int = 60
    # --- limits: rooms ---
    room_op_accounts: int = 50  # accounts on one registered room's op list (ChanServ OP)
    rooms_per_account: int = 20  # rooms one account may found (ChanServ REGISTER)
    max_quiets: int = 100  # quiet masks (+q) per room (MAXLIST)
    # --- limits: readcap ---
    # Bytes of one connection's input parsed and run per loop iteration; more
    # waits (reading paused) for the next, so one big read (asyncio takes up to
    # 256 KiB: 5,000 short lines) cannot hold everyone else up while it is handled.
    input_per_tick: int = 2048

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _ZERO_ALLOWED and isinstance(value, int) and not isinstance(value, bool) and value == 0:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"limits.{f.name} must be a positive integer, got {value!r}")
        if self.user_len < 2:
            raise ConfigError("limits.user_len must allow at least '~x'")
        if self.room_len < 2:
            raise ConfigError("limits.room_len must allow at least '#x'")
        if self.irc_line < 512:
            raise ConfigError("limits.irc_line must be at least 512 (RFC 1459)")
        if self.auth_delay_max_ms < self.auth_delay_ms:
            raise ConfigError("limits.auth_delay_max_ms must be at least limits.auth_delay_ms")
        if self.ipv6_prefix > 128:
            raise ConfigError("limits.ipv6_prefix must be 1..128")
        if self.password_max < self.password_min:
            raise ConfigError("limits.password_max must be at least limits.password_min")
        if self.argon2_memory_kib < 8:
            raise ConfigError("limits.argon2_memory_kib must be at least 8 (argon2's minimum)")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    text_port: int = 2626
    db: str = "chinwag.db"
    log_level: str = "INFO"
    default_room: str = "#lobby"
    shutdown_grace: float = 5.0  # seconds to flush goodbyes before closing
    # IRC listener and identity (see docs in README: connecting IRC clients).
    irc_port: int = 6667
    server_name: str = "chinwag"  # the IRC server name: source of numerics
    network: str = "chinwag"  # NETWORK in ISUPPORT
    motd: str = ""  # message of the day, several lines allowed; empty: 422 ERR_NOMOTD
    # Server password, asked of every user (IRC PASS; the text protocol asks
    # after the name). Empty: none. Plain text or a hash, see core/auth.py.
    password: str = ""
    # Server operators for OPER: name -> password (plain or a hash, see core/auth.py).
    operators: Mapping[str, str] = field(default_factory=dict)
    # History: what a joiner sees, and how long messages are kept.
    history_on_join: int = 20  # messages shown when joining a room (0: none)
    history_max: int = 500  # most messages one /history or catch-up shows
    retain_messages: int = 100_000  # per room or conversation (0: no cap)
    retain_days: float = 90.0  # (0: keep forever)
    prune_interval: float = 600.0  # seconds between background prunes
    # The web client and IRC over WebSocket (/irc) on one HTTP port.
    web_port: int = 8080
    # Origins (scheme://host[:port]) whose pages may open /irc; "*" allows any.
    # Empty: the page's origin must be this server itself (Origin host = Host).
    web_origins: tuple[str, ...] = ()
    log_format: str = "text"  # "json": one JSON object per line, for log shippers
    # Addresses or networks ("10.0.0.0/8", "::1") not held to the per-address
    # connection caps (the total cap, max_connections, still applies).
    exempt: tuple[str, ...] = ()
    # Reverse proxies in front of the web port ("127.0.0.1", "10.0.0.0/8"): from
    # them, X-Forwarded-For / Forwarded name the client. Empty: ignored.
    trusted_proxies: tuple[str, ...] = ()
    # TLS (docs: README "TLS and certificates"). No certificate: no TLS listeners.
    tls_cert: str = ""  # PEM certificate (chain) file
    tls_key: str = ""  # PEM private key file (empty: in tls_cert)
    # CA file: the IRC TLS listener then asks for a client certificate (not
    # required) signed by it, e.g. users' self-signed certificates put together.
    tls_client_ca: str = ""
    irc_tls_port: int = 6697
    text_tls_port: int = 2627
    web_tls_port: int = 8443  # https and wss: the same web client, /healthz and /irc
    sts_duration: int = 0  # seconds; > 0 advertises IRCv3 STS (the IRC TLS port) to IRC clients
    # /metrics, /healthz and /readyz on an address of their own too ("host:port");
    # empty: only on the web port.
    metrics_address: str = ""
    # A logged-in user's host as others see it: "{account}" is replaced by the
    # account name, e.g. "account/{account}". Empty: everyone is shown with the
    # hidden host (the server's), logged in or not. IRC chghost tells the change.
    account_host: str = ""
    # IRC clients without draft/chathistory (irssi, WeeChat, HexChat) get the
    # last this many on join as a playback; logged-in users set their own
    # (NickServ SET PLAYBACK). 0: none.
    irc_history_on_join: int = 20
    # Several connections logged in to one account share one user: its nick,
    # rooms and away state (core/users.py). False: each connection is its own user.
    multiclient: bool = True
    # Accounts that are server operators once logged in (as after OPER): op in
    # every registered room (the default room too), its topic and moderation.
    server_operators: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if any(ch.isspace() or ch in "!@:," for ch in self.account_host):
            raise ConfigError(f"account_host must be one word without ! @ : or ,, got {self.account_host!r}")
        if not 0 <= self.text_port <= 65535:
            raise ConfigError(f"text_port must be 0..65535, got {self.text_port}")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"log_format must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}")
        if not self.default_room.startswith("#"):
            raise ConfigError("default_room must start with '#'")
        if self.shutdown_grace < 0:
            raise ConfigError("shutdown_grace must be >= 0")
        if not 0 <= self.irc_port <= 65535:
            raise ConfigError(f"irc_port must be 0..65535, got {self.irc_port}")
        for name in ("server_name", "network"):
            value = getattr(self, name)
            if not value or not all(c.isalnum() or c in ".-_" for c in value) or not value.isascii():
                raise ConfigError(f"{name} must be letters, digits, '.', '-' or '_', got {value!r}")
        _check_secrets(self.password, self.operators)
        for name in ("history_on_join", "irc_history_on_join", "history_max", "retain_messages", "retain_days"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0")
        if self.prune_interval <= 0:
            raise ConfigError("prune_interval must be > 0")
        for name in ("web_port", "irc_tls_port", "text_tls_port", "web_tls_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise ConfigError(f"{name} must be 0..65535, got {getattr(self, name)}")
        if self.sts_duration < 0:
            raise ConfigError("sts_duration must be >= 0")
        if (self.tls_key or self.tls_client_ca) and not self.tls_cert:
            raise ConfigError("tls_key and tls_client_ca need tls_cert")
        origins = self.web_origins
        if isinstance(origins, str) or not all(isinstance(o, str) for o in origins):
            raise ConfigError("web_origins must be a list of origins like \"https://chat.example.org\"")
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ConfigError(f"web_origins: {origin!r} is not http(s)://host[:port] or \"*\"")
        if self.metrics_address:
            metrics_host_port(self.metrics_address)  # raises ConfigError if malformed
        object.__setattr__(self, "web_origins", tuple(o.rstrip("/").lower() for o in origins))
        operators = self.server_operators
        if isinstance(operators, str) or not all(isinstance(o, str) and o.strip() for o in operators):
            raise ConfigError('server_operators must be a list of account names like ["alice"]')
        object.__setattr__(self, "server_operators", tuple(o.strip() for o in operators))
        for name in ("exempt", "trusted_proxies"):
            value = getattr(self, name)
            networks(value, name)  # raises ConfigError
            object.__setattr__(self, name, tuple(value))


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(values: object, name: str = "networks") -> tuple[Network, ...]:
    """Addresses or CIDR networks ("10.0.0.0/8", "::1") as networks."""
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise ConfigError(f'{name} must be a list of addresses or networks like ["10.0.0.0/8", "::1"]')
    out: list[Network] = []
    for value in values:
        try:
            if not isinstance(value, str):
                raise ValueError("not a string")
            out.append(ipaddress.ip_network(value.strip()))
        except ValueError as exc:
            raise ConfigError(f"{name}: {value!r} is not an address or network ({exc})") from None
    return tuple(out)


def metrics_host_port(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9108`` for IPv6) -> (host, port)."""
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"metrics_address must be host:port like \"127.0.0.1:9108\", got {address!r}")
    return host, int(port)


def _check_secrets(password: object, operators: object) -> None:
    from chinwag.core.auth import check_stored

    if not isinstance(password, str):
        raise ConfigError("password must be a string")
    if not isinstance(operators, Mapping):
        raise ConfigError("[operators] must be a table of name = password")
    try:
        check_stored(password)
        for name, secret in operators.items():
            if not isinstance(secret, str) or not secret:
                raise ConfigError(f"operators.{name} must be a non-empty string")
            check_stored(secret)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


ENV_PREFIX = "CHINWAG_"
_TOP_KEYS = {f.name for f in dataclasses.fields(Config)} - {"limits"}
_NOT_FROM_ENV = {"operators"}  # a table: only the config file can set it
_LIMIT_KEYS = {f.name for f in dataclasses.fields(Limits)}


def _coerce(name: str, raw: Any, like: Any) -> Any:
    """Convert env strings to the type of the default they replace."""
    if isinstance(raw, str) and isinstance(like, tuple):  # a list: comma-separated
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if isinstance(raw, str) and isinstance(like, bool):  # (bool("false") is True)
        word = raw.strip().lower()
        if word not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{name}: cannot read {raw!r} as true or false")
        return word in ("true", "1", "yes")
    if isinstance(raw, str) and not isinstance(like, str):
        try:
            return type(like)(raw)
        except ValueError:
            raise ConfigError(f"{name}: cannot read {raw!r} as {type(like).__name__}") from None
    return raw


_KINDS = {int: "a whole number", float: "a number", str: "a string", tuple: "a list", dict: "a table"}


def _check_type(key: str, value: Any, like: Any, path: str | Path) -> None:
    """A file value must have its default's type (an int will do for a float)."""
    if isinstance(like, Mapping):
        ok = isinstance(value, dict)
    elif isinstance(like, tuple):
        ok = isinstance(value, list)
    elif isinstance(like, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = type(value) is type(like)
    if not ok:
        kind = _KINDS.get(dict if isinstance(like, Mapping) else type(like), type(like).__name__)
        raise ConfigError(f"{key} in {path} must be {kind}, got {value!r}")


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Merge the sources in precedence order; unknown keys are errors, not silence.

    Env names: CHINWAG_HOST, CHINWAG_TEXT_PORT, ... and CHINWAG_LIMITS__MAX_LINE.
    ``overrides`` holds command-line flags; None values mean "not given".
    """
    top: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"cannot read config {path}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"cannot read config {path}: bad TOML: {exc}") from None
        for key, value in data.items():
            if key == "limits" and isinstance(value, dict):
                for lk, lv in value.items():
                    if lk not in _LIMIT_KEYS:
                        raise ConfigError(f"unknown key limits.{lk} in {path}")
                    limits[lk] = lv
            elif key in _TOP_KEYS:
                _check_type(key, value, getattr(Config(), key), path)
                top[key] = value
            else:
                raise ConfigError(f"unknown key {key!r} in {path}")
    defaults = Config()
    for name, raw in (os.environ if env is None else env).items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key.startswith("limits__"):
            lk = key[len("limits__") :]
            if lk in _LIMIT_KEYS:
                limits[lk] = _coerce(name, raw, getattr(defaults.limits, lk))
        elif key in _TOP_KEYS and key not in _NOT_FROM_ENV:
            top[key] = _coerce(name, raw, getattr(defaults, key))
    for key, value in (overrides or {}).items():
        if value is not None:
            top[key] = value
    try:
        return Config(**top, limits=Limits(**limits))
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
