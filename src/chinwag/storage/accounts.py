"""The account store contract, and the SQLite statements behind it.

An account is keyed by its casefolded name (``names.casefold``, as nicks are),
so ``Alice`` and ``alice`` are one account; ``name`` keeps the spelling it was
registered with. The password is kept only as an argon2id hash and as
SCRAM-SHA-256 credentials (core/accounts.py), never itself.

Both the memory store and SQLite implement :class:`AccountStore` (SQLite: the
``accounts`` table, schema version 3, written by the store's writer thread and
read by its reader threads, never on the event loop); PostgreSQL implements the
same methods in storage/postgres/accounts.py.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from typing import Protocol

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

    async def delete_account(self, name: str) -> bool:
        """Forget an account; False if there was none."""
        ...

    async def touch_account(self, name: str, ts: float) -> None:
        """Note that the account logged in (or was seen) at ``ts``."""
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


def delete(name: str, conn: sqlite3.Connection) -> bool:
    return conn.execute("DELETE FROM accounts WHERE key = ?", (account_key(name),)).rowcount == 1


def touch(name: str, ts: float, conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE accounts SET last_seen = ? WHERE key = ?", (ts, account_key(name)))
