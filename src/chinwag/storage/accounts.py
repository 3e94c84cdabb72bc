"""The account store contract, and the SQLite statements behind it.

An account is keyed by its casefolded name (``names.casefold``, as nicks are),
so ``Alice`` and ``alice`` are one account; ``name`` keeps the spelling it was
registered with. The password is kept only as an argon2id hash and as
SCRAM-SHA-256 credentials (core/accounts.py), never itself.

Both the memory store and SQLite implement :class:`AccountStore` (SQLite: the
``accounts`` table, schema version 3, written by the store's writer thread and
read by its reader threads, never on the event loop); PostgreSQL implements the
same methods in storage/postgres/accounts.py.

Besides its password, an account holds *credentials*: values that log in to it
without one, each of a ``kind`` (:data:`CERT`: a client certificate's SHA-256
fingerprint, for SASL EXTERNAL; :data:`SESSION`: the SHA-256 of a web session
token, never the token itself), unique per kind, with an expiry (0: never).
Four methods cover both (SQLite: the ``credentials`` table, schema step 5);
deleting an account deletes its credentials.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from chinwag.core.accounts import ScramCredentials, Secrets
from chinwag.core.names import casefold


@dataclass(frozen=True, slots=True)
class Account:
    name: str  # as registered (display)
    password_hash: str = field(repr=False)
    scram: ScramCredentials = field(repr=False)
    created: float = 0.0
    last_seen: float = 0.0

    @property
    def key(self) -> str:
        return casefold(self.name)

    def with_secrets(self, secrets: Secrets) -> Account:
        return replace(self, password_hash=secrets.password_hash, scram=secrets.scram)


def account_key(name: str) -> str:
    return casefold(name)


CERT: Final = "cert"  # a client certificate's SHA-256 fingerprint (lowercase hex)
SESSION: Final = "session"  # SHA-256 (hex) of a web session token


class AccountStore(Protocol):
    """Accounts, by casefolded name. Writes are durable when their await returns."""

    async def create_account(self, account: Account) -> bool:
        """Store a new account; False (and nothing stored) if the name is taken."""
        ...

    async def get_account(self, name: str) -> Account | None:
        """The account called ``name`` (any case), or None."""
        ...

    async def set_password(self, name: str, secrets: Secrets) -> bool:
        """Replace an account's hash and SCRAM credentials; False if there is no such account."""
        ...

    async def account_names(self) -> list[str]:
        """Every account's name (the hub protects them as nicks: core/handlers/users.py)."""
        ...

    async def delete_account(self, name: str) -> bool:
        """Forget an account; False if there was none."""
        ...

    async def touch_account(self, name: str, ts: float) -> None:
        """Note that the account logged in (or was seen) at ``ts``."""
        ...

    async def add_credential(self, kind: str, value: str, name: str, expires: float, now: float) -> bool:
        """Let ``value`` of ``kind`` log in to account ``name`` until ``expires``
        (0: forever); False if there is no such account or the value already
        belongs to an account. Also drops the account's credentials expired at ``now``."""
        ...

    async def find_credential(self, kind: str, value: str, now: float) -> str | None:
        """The account (display name) ``value`` logs in to, unless expired at ``now``; or None."""
        ...

    async def delete_credential(self, kind: str, value: str, name: str | None = None) -> bool:
        """Forget ``value`` (only if it is account ``name``'s, when given); False if it was not there."""
        ...

    async def list_credentials(self, kind: str, name: str) -> list[str]:
        """Account ``name``'s values of ``kind``, the longest-lived (latest expiry) first."""
        ...

    async def get_playback(self, name: str) -> int | None:
        """How many messages the account wants replayed on join (None: the
        server's default, also for an unknown account)."""
        ...

    async def set_playback(self, name: str, count: int | None) -> bool:
        """Store the account's playback on join (None: back to the server's
        default); False if there is no such account."""
        ...


# --- SQLite (used by storage/sqlite.py's threads) ---------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    scram_salt BLOB NOT NULL,
    scram_iterations INTEGER NOT NULL,
    scram_stored_key BLOB NOT NULL,
    scram_server_key BLOB NOT NULL,
    created REAL NOT NULL,
    last_seen REAL NOT NULL
) WITHOUT ROWID;
"""

# Schema step 5: what logs in to an account without its password.
CREDENTIALS_SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    account TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS credentials_account ON credentials (account, kind);
"""

_COLS = "name, password_hash, scram_salt, scram_iterations, scram_stored_key, scram_server_key, created, last_seen"


def create(account: Account, conn: sqlite3.Connection) -> bool:
    s = account.scram
    cursor = conn.execute(
        f"INSERT OR IGNORE INTO accounts (key, {_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (account.key, account.name, account.password_hash, s.salt, s.iterations, s.stored_key, s.server_key,
         account.created, account.last_seen),
    )
    return cursor.rowcount == 1


def get(name: str, conn: sqlite3.Connection) -> Account | None:
    row = conn.execute(f"SELECT {_COLS} FROM accounts WHERE key = ?", (account_key(name),)).fetchone()
    if row is None:
        return None
    display, pw_hash, salt, iterations, stored, server, created, last_seen = row
    return Account(display, pw_hash, ScramCredentials(bytes(salt), iterations, bytes(stored), bytes(server)),
                   created, last_seen)


def set_password(name: str, secrets: Secrets, conn: sqlite3.Connection) -> bool:
    s = secrets.scram
    cursor = conn.execute(
        "UPDATE accounts SET password_hash = ?, scram_salt = ?, scram_iterations = ?, scram_stored_key = ?,"
        " scram_server_key = ? WHERE key = ?",
        (secrets.password_hash, s.salt, s.iterations, s.stored_key, s.server_key, account_key(name)),
    )
    return cursor.rowcount == 1


def names(conn: sqlite3.Connection) -> list[str]:
    return [name for (name,) in conn.execute("SELECT name FROM accounts")]


def delete(name: str, conn: sqlite3.Connection) -> bool:
    conn.execute("DELETE FROM credentials WHERE account = ?", (account_key(name),))
    return conn.execute("DELETE FROM accounts WHERE key = ?", (account_key(name),)).rowcount == 1


def touch(name: str, ts: float, conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE accounts SET last_seen = ? WHERE key = ?", (ts, account_key(name)))


def add_credential(kind: str, value: str, name: str, expires: float, now: float, conn: sqlite3.Connection) -> bool:
    key = account_key(name)
    conn.execute("DELETE FROM credentials WHERE account = ? AND expires > 0 AND expires <= ?", (key, now))
    if conn.execute("SELECT 1 FROM accounts WHERE key = ?", (key,)).fetchone() is None:
        return False
    cursor = conn.execute("INSERT OR IGNORE INTO credentials (kind, value, account, expires) VALUES (?, ?, ?, ?)",
                          (kind, value, key, expires))
    return cursor.rowcount == 1


def find_credential(kind: str, value: str, now: float, conn: sqlite3.Connection) -> str | None:
    row = conn.execute(
        "SELECT a.name FROM credentials c JOIN accounts a ON a.key = c.account"
        " WHERE c.kind = ? AND c.value = ? AND (c.expires = 0 OR c.expires > ?)",
        (kind, value, now),
    ).fetchone()
    return None if row is None else str(row[0])


def delete_credential(kind: str, value: str, name: str | None, conn: sqlite3.Connection) -> bool:
    if name is None:
        cursor = conn.execute("DELETE FROM credentials WHERE kind = ? AND value = ?", (kind, value))
    else:
        cursor = conn.execute("DELETE FROM credentials WHERE kind = ? AND value = ? AND account = ?",
                              (kind, value, account_key(name)))
    return cursor.rowcount == 1


def list_credentials(kind: str, name: str, conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT value FROM credentials WHERE account = ? AND kind = ?"
        " ORDER BY CASE WHEN expires = 0 THEN 1 ELSE 0 END DESC, expires DESC, value",
        (account_key(name), kind),
    ).fetchall()
    return [str(row[0]) for row in rows]
