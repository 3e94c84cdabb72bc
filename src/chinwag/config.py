"""One Config snapshot, built from defaults < TOML file < CHINWAG_* env < flags.

Every limit lives in :class:`Limits` (core/limits.py, re-exported here) so that
readers, the hub and IRC ISUPPORT all see the same numbers.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Re-exported: the limits live in core (core/limits.py), which never imports this module.
from chinwag.core.limits import ConfigError as ConfigError
from chinwag.core.limits import Limits as Limits

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
    # Addresses or networks whose new connections are never throttled
    # (limits.connect_burst, connect_per_minute): a bouncer or proxy on this
    # machine, the tests' and benchmarks' many clients. ``exempt`` ones neither.
    throttle_exempt: tuple[str, ...] = ("127.0.0.0/8", "::1")
    # From a trusted proxy, IRC and text connections (plain and TLS) begin with
    # a PROXY protocol header (v1 or v2) naming the client (HAProxy send-proxy).
    proxy_protocol: bool = False
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
    # rooms and away state (core/handlers/users.py). False: each connection is its own user.
    multiclient: bool = True
    # Accounts that are server operators once logged in (as after OPER): op in
    # every registered room (the default room too), its topic and moderation.
    server_operators: tuple[str, ...] = ()
    # PostgreSQL (postgresql://user[:password]@host[:port]/db) for history,
    # room rules and accounts instead of the SQLite file ``db``. Empty: SQLite.
    postgres: str = ""
    # A cluster (docs/cluster.md): Redis (redis[s]://[:password@]host[:port]/db)
    # carries messages and presence between the nodes; needs postgres. Empty:
    # one process on its own, as always.
    redis: str = ""
    node_name: str = ""  # this node in the cluster; "" = "<hostname>:<irc port>"
    cluster_name: str = "chinwag"  # nodes with the same name (and Redis) are one network: bus channel chinwag:<name>
    # Several nodes of a cluster on one machine share its ports (SO_REUSEPORT:
    # the kernel spreads new connections over them): one core each.
    reuse_port: bool = False
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
        if self.postgres and not self.postgres.startswith(("postgresql://", "postgres://")):
            raise ConfigError("postgres must be a URL like \"postgresql://chinwag@db.example.org:5432/chinwag\"")
        if self.redis and not _redis_url_ok(self.redis):
            raise ConfigError("redis must be a URL like \"redis://redis.example.org:6379/0\" (or rediss:// for TLS)")
        if self.redis and not self.postgres:
            raise ConfigError("redis is set but postgres is not: a cluster needs PostgreSQL (set postgres too)")
        if self.reuse_port and not self.redis:
            raise ConfigError("reuse_port is for nodes of a cluster sharing this machine's ports: set redis too")
        if any(ch.isspace() or not ch.isprintable() for ch in self.node_name) or len(self.node_name) > 100:
            raise ConfigError(f"node_name must be one word of at most 100 characters, got {self.node_name!r}")
        if not self.cluster_name or not all(c.isalnum() or c in ".-_" for c in self.cluster_name) \
                or not self.cluster_name.isascii():
            raise ConfigError(f"cluster_name must be letters, digits, '.', '-' or '_', got {self.cluster_name!r}")
        if self.metrics_address:
            metrics_host_port(self.metrics_address)  # raises ConfigError if malformed
        object.__setattr__(self, "web_origins", tuple(o.rstrip("/").lower() for o in origins))
        operators = self.server_operators
        if isinstance(operators, str) or not all(isinstance(o, str) and o.strip() for o in operators):
            raise ConfigError('server_operators must be a list of account names like ["alice"]')
        object.__setattr__(self, "server_operators", tuple(o.strip() for o in operators))
        for name in ("exempt", "trusted_proxies", "throttle_exempt"):
            value = getattr(self, name)
            networks(value, name)  # raises ConfigError
            object.__setattr__(self, name, tuple(value))
        if self.proxy_protocol and not self.trusted_proxies:
            raise ConfigError("proxy_protocol is set but trusted_proxies is empty: name the load balancers whose"
                              " PROXY headers to believe")


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


def _redis_url_ok(url: str) -> bool:
    """redis:// or rediss://, a host, a port that is a number, a db that is one."""
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018 (raises ValueError if not a port number)
    except ValueError:
        return False
    db = parts.path.strip("/")
    return parts.scheme in ("redis", "rediss") and bool(parts.hostname) and (db == "" or db.isdigit())


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
