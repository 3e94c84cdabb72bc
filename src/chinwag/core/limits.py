"""Every limit, validated once: the hub, the protocols (IRC ISUPPORT) and the
transport all read the same numbers. chinwag/config.py loads them (defaults <
TOML file < CHINWAG_* env) and re-exports :class:`Limits` and :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


class ConfigError(ValueError):
    """The configuration is invalid; the message says which key and why."""


# Limits for which 0 means something (nick_grace: rename at once); the rest must be > 0.
_ZERO_ALLOWED = frozenset({"nick_grace", "connect_per_minute"})
# Limits in seconds that may be fractions (floats); every other limit is an integer.
_SECONDS = frozenset({"cluster_heartbeat", "cluster_lease", "cluster_gap_wait", "cluster_poll", "cluster_tail_poll",
                      "cluster_mark_every", "merge_wait", "checkpoint_every"})


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
    # New connections per address (plain, TLS before its handshake, HTTP): a
    # burst, then connect_per_minute (0: not throttled). Loopback and the
    # throttle_exempt networks are not throttled; over it, the connection is
    # refused at once (a TLS one is reset before any handshake work).
    connect_burst: int = 200  # (a class behind one NAT address: its users connect at once; raise with max_per_ip)
    connect_per_minute: int = 120
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
    # With proxy_protocol, a trusted proxy must send a connection's PROXY
    # header within this many seconds.
    proxy_header_timeout: int = 5
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
    # renamed to a guest nick (0: at once). Told on taking it (core/handlers/users.py).
    nick_grace: int = 60
    # --- limits: rooms ---
    room_op_accounts: int = 50  # accounts on one registered room's op list (ChanServ OP)
    rooms_per_account: int = 20  # rooms one account may found (ChanServ REGISTER)
    max_quiets: int = 100  # quiet masks (+q) per room (MAXLIST)
    # --- limits: postgres ---
    # Connections one server keeps to PostgreSQL (config postgres): one writes,
    # the others serve history reads and pruning.
    postgres_pool: int = 8
    # --- limits: readcap ---
    # Bytes of one connection's input parsed and run per loop iteration; more
    # waits (reading paused) for the next, so one big read (asyncio takes up to
    # 256 KiB: 5,000 short lines) cannot hold everyone else up while it is handled.
    input_per_tick: int = 2048
    # --- limits: polish ---
    # MARKREAD values an IRC connection keeps for JOINs it has asked them for
    # (draft/read-marker), at least max_rooms (an attach brings one per room);
    # past that the kept ones are dropped (those of JOINs that were refused).
    join_markers_kept: int = 64
    # Times an attaching connection's rooms are read for their read markers: the
    # user may join one during the lookups; a room joined later still gets "*".
    attach_marker_rounds: int = 3
    # --- limits: cluster ---
    # Nodes of one cluster (config redis + postgres; docs/cluster.md). Seconds,
    # fractions allowed. A node renews its lease every cluster_heartbeat; one
    # not renewed for cluster_lease is dead (its users quit everywhere).
    cluster_heartbeat: float = 2.0
    cluster_lease: float = 8.0  # > 2 * cluster_heartbeat: one late heartbeat is not a death
    cluster_gap_wait: float = 0.05  # a gap in a conversation's seq waits this long for the bus, then PostgreSQL
    cluster_poll: float = 0.5  # with the bus (Redis) down: how often moved conversations are read from PostgreSQL
    cluster_bus_queue: int = 10_000  # ops waiting to be published on the bus; more: dropped, counted (receivers refill)
    cluster_tail_poll: float = 2.0  # with the bus up: how often moved conversations are read (a lost last message)
    cluster_refill_batch: int = 500  # messages per read of a gap from PostgreSQL
    # --- limits: marks ---
    # seconds between two writes of a node's delivery marks (how far each room reached its users) to
    # PostgreSQL: after a kill -9, the text catch-up repeats at most about this much (docs/cluster.md)
    cluster_mark_every: float = 0.25
    # --- limits: speed3 ---
    # Under load (messages waiting for a store commit in flight), a tick's output
    # waits for that commit, once, at most this many seconds, so that what it
    # releases goes out in the same write() per connection (transport/outbox.py merge).
    merge_wait: float = 0.002
    # --- limits: p99 ---
    # ... and only when at least this many messages wait for the store: a light
    # load (a message at a time) gains no shared write from waiting, only latency.
    merge_min_waiting: int = 8
    # SQLite history: seconds between two checkpoints of the WAL into the database
    # file, on a thread of their own (storage/sqlite_checkpoint.py) rather than in a
    # commit that the messages behind it wait for; longer: fewer fsyncs, a bigger WAL.
    checkpoint_every: float = 2.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _SECONDS:  # fractions allowed: any positive number, kept as a float
                if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < float("inf"):
                    raise ConfigError(f"limits.{f.name} must be a positive number, got {value!r}")
                object.__setattr__(self, f.name, float(value))
                continue
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
        if self.cluster_lease <= 2 * self.cluster_heartbeat:
            raise ConfigError("limits.cluster_lease must be more than twice limits.cluster_heartbeat")
