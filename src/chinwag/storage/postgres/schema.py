"""The PostgreSQL schema: numbered steps, run on start.

``schema_version`` holds one row per step applied. ``migrate`` runs every
missing step in one transaction holding a transaction-scoped advisory lock,
so nodes starting at once take turns: the first applies the steps, the others
find them applied. A later schema is a new step at the end, never an edit.

Keys and msgids are ``COLLATE "C"``: they compare byte by byte, as in SQLite
and in Python, whatever the database's locale.
"""

from __future__ import annotations

from typing import Any

from chinwag.storage.base import StorageError

# pg_advisory_xact_lock key of the migrations: any fixed number (b"chinwag\0").
MIGRATION_LOCK = 0x6368696E77616700

HISTORY = """
-- One row per message. seq is the order of truth within a conversation: 1, 2,
-- 3, ... with no gap, assigned in the insert transaction from conversations.seq.
CREATE TABLE messages (
    key text COLLATE "C" NOT NULL,
    msgid text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    ts double precision NOT NULL,
    nick text NOT NULL,
    target text NOT NULL,
    text text NOT NULL,
    kind text NOT NULL,
    PRIMARY KEY (key, msgid),
    UNIQUE (key, seq)
);
CREATE INDEX messages_key_ts ON messages (key, ts);
-- One row per conversation, updated in every insert transaction: the last seq
-- given out (its row lock serializes writers of one conversation, on any node),
-- the latest message for targets() and a count for pruning. Kept when pruning
-- empties it (count 0), so seq never goes back.
CREATE TABLE conversations (
    key text COLLATE "C" PRIMARY KEY,
    seq bigint NOT NULL,
    count bigint NOT NULL,
    last_msgid text COLLATE "C" NOT NULL,
    last_ts double precision NOT NULL
);
CREATE INDEX conversations_last_ts ON conversations (last_ts);
CREATE TABLE departures (
    nick text COLLATE "C" PRIMARY KEY,
    rooms text[] NOT NULL,
    last_msgid text COLLATE "C" NOT NULL,
    ts double precision NOT NULL
);
"""

ROOMS = """
CREATE TABLE rooms (
    key text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    created double precision NOT NULL,
    flags text NOT NULL,
    password text NOT NULL,
    user_limit integer NOT NULL,
    topic text NOT NULL,
    topic_by text NOT NULL,
    topic_ts double precision NOT NULL
);
CREATE TABLE room_bans (
    key text COLLATE "C" NOT NULL,
    pos integer NOT NULL,
    mask text NOT NULL,
    set_by text NOT NULL,
    ts double precision NOT NULL,
    PRIMARY KEY (key, pos)
);
"""

ACCOUNTS = """
CREATE TABLE accounts (
    key text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    password_hash text NOT NULL,
    scram_salt bytea NOT NULL,
    scram_iterations integer NOT NULL,
    scram_stored_key bytea NOT NULL,
    scram_server_key bytea NOT NULL,
    created double precision NOT NULL,
    last_seen double precision NOT NULL
);
"""

# Registered rooms (core/types/registered.py) and quiets, as SQLite's step 8
# (sqlite_rooms.REGISTERED): a room's founder and registration time, its
# masks' kind ("b" ban, "q" quiet), its op list (accounts) in order.
REGISTERED = """
ALTER TABLE rooms ADD COLUMN registered double precision NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN founder text NOT NULL DEFAULT '';
ALTER TABLE room_bans ADD COLUMN kind text NOT NULL DEFAULT 'b';
CREATE TABLE room_ops (
    key text COLLATE "C" NOT NULL,
    pos integer NOT NULL,
    account text NOT NULL,
    PRIMARY KEY (key, pos)
);
"""

# What logs in to an account without its password (storage/accounts.py:
# certificate fingerprints, web session token hashes), as SQLite's step 6.
CREDENTIALS = """
CREATE TABLE credentials (
    kind text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    account text COLLATE "C" NOT NULL,
    expires double precision NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX credentials_account ON credentials (account, kind);
"""

# The sender's account of each message ('' if none); each account's playback
# on join (NULL: the server's default), as SQLite's step 7 (sqlite_playback.py).
PLAYBACK = """
ALTER TABLE messages ADD COLUMN account text NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN playback integer;
"""

# Read markers per account and target (IRCv3 draft/read-marker), as SQLite's step 5.
READ_MARKERS = """
CREATE TABLE read_markers (
    account text COLLATE "C" NOT NULL,
    target text COLLATE "C" NOT NULL,
    ms bigint NOT NULL,
    PRIMARY KEY (account, target)
);
"""

# The cluster (docs/cluster.md, storage/postgres/cluster.py): when each
# conversation's seq last moved, by PostgreSQL's clock (cluster.recent); the
# live nodes, each with its msgid slot and lease; who holds each nick.
CLUSTER = """
ALTER TABLE conversations ADD COLUMN touched double precision NOT NULL DEFAULT 0;
CREATE INDEX conversations_touched ON conversations (touched);
CREATE TABLE cluster_nodes (
    name text COLLATE "C" PRIMARY KEY,
    slot integer NOT NULL,
    started double precision NOT NULL,
    lease_until double precision NOT NULL
);
CREATE TABLE cluster_nicks (
    key text COLLATE "C" PRIMARY KEY,
    nick text NOT NULL,
    node text COLLATE "C" NOT NULL,
    sid bigint NOT NULL
);
CREATE INDEX cluster_nicks_node ON cluster_nicks (node);
"""

# Delivery marks (transport/cluster/marks.py): per node and room, the highest
# seq the node has written to its users' sockets (nick ''), and the older marks
# of its users who had not taken everything then (their nick); a dead node's
# users' departures carry them, per room (mark_keys[i] -> mark_seqs[i]).
MARKS = """
CREATE TABLE cluster_marks (
    node text COLLATE "C" NOT NULL,
    nick text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (node, nick, key)
);
ALTER TABLE departures ADD COLUMN mark_keys text[] NOT NULL DEFAULT '{}';
ALTER TABLE departures ADD COLUMN mark_seqs bigint[] NOT NULL DEFAULT '{}';
"""

# Step N takes the database from version N-1 to N.
MIGRATIONS: tuple[str, ...] = (HISTORY, ROOMS, ACCOUNTS, REGISTERED, CREDENTIALS, PLAYBACK, READ_MARKERS, CLUSTER,
                               MARKS)
SCHEMA_VERSION = len(MIGRATIONS)


async def migrate(conn: Any, where: str) -> int:
    """Apply the missing steps; the version the database had before. ``conn``
    is an asyncpg connection; ``where`` names the database in errors."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"
        )
        version = int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))
        if version > SCHEMA_VERSION:
            raise StorageError(f"PostgreSQL database {where} has schema version {version};"
                               f" this chinwag knows up to {SCHEMA_VERSION}")
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            await conn.execute(step)
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
        return version
