"""Accounts (storage/accounts.py) in PostgreSQL: the AccountStore statements.

As SQLite (storage/accounts.py, sqlite_playback.py): ``accounts`` (with each
account's playback on join), and ``credentials`` (certificate fingerprints
and web session hashes, unique per kind, with an expiry; deleted with their
account).

Writes run in the store's writer task, each in its own transaction; reads on
any pool connection. The unique key makes a name taken on one node taken on
every node.
"""

from __future__ import annotations

from typing import Any

from chinwag.core.accounts import ScramCredentials, Secrets
from chinwag.storage.accounts import Account, account_key

_COLS = "name, password_hash, scram_salt, scram_iterations, scram_stored_key, scram_server_key, created, last_seen"


async def create(account: Account, conn: Any) -> bool:
    s = account.scram
    status: str = await conn.execute(
        f"INSERT INTO accounts (key, {_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (key) DO NOTHING",
        account.key, account.name, account.password_hash, s.salt, s.iterations, s.stored_key, s.server_key,
        account.created, account.last_seen,
    )
    return status == "INSERT 0 1"


async def get(name: str, conn: Any) -> Account | None:
    row = await conn.fetchrow(f"SELECT {_COLS} FROM accounts WHERE key = $1", account_key(name))
    if row is None:
        return None
    display, pw_hash, salt, iterations, stored, server, created, last_seen = row
    return Account(display, pw_hash, ScramCredentials(bytes(salt), iterations, bytes(stored), bytes(server)),
                   created, last_seen)


async def set_password(name: str, secrets: Secrets, conn: Any) -> bool:
    s = secrets.scram
    status: str = await conn.execute(
        "UPDATE accounts SET password_hash = $1, scram_salt = $2, scram_iterations = $3, scram_stored_key = $4,"
        " scram_server_key = $5 WHERE key = $6",
        secrets.password_hash, s.salt, s.iterations, s.stored_key, s.server_key, account_key(name),
    )
    return status == "UPDATE 1"


async def names(conn: Any) -> list[str]:
    return [r[0] for r in await conn.fetch("SELECT name FROM accounts")]


async def delete(name: str, conn: Any) -> bool:
    await conn.execute("DELETE FROM credentials WHERE account = $1", account_key(name))
    status: str = await conn.execute("DELETE FROM accounts WHERE key = $1", account_key(name))
    return status == "DELETE 1"


async def touch(name: str, ts: float, conn: Any) -> None:
    await conn.execute("UPDATE accounts SET last_seen = $1 WHERE key = $2", ts, account_key(name))


# --- credentials ------------------------------------------------------------------


async def add_credential(kind: str, value: str, name: str, expires: float, now: float, conn: Any) -> bool:
    key = account_key(name)
    await conn.execute("DELETE FROM credentials WHERE account = $1 AND expires > 0 AND expires <= $2", key, now)
    # FOR SHARE: the account cannot be deleted (on another node) before this commits.
    if await conn.fetchval("SELECT 1 FROM accounts WHERE key = $1 FOR SHARE", key) is None:
        return False
    status: str = await conn.execute(
        "INSERT INTO credentials (kind, value, account, expires) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (kind, value) DO NOTHING",
        kind, value, key, expires,
    )
    return status == "INSERT 0 1"


async def find_credential(conn: Any, kind: str, value: str, now: float) -> str | None:
    found: str | None = await conn.fetchval(
        "SELECT a.name FROM credentials c JOIN accounts a ON a.key = c.account"
        " WHERE c.kind = $1 AND c.value = $2 AND (c.expires = 0 OR c.expires > $3)",
        kind, value, now,
    )
    return found


async def delete_credential(kind: str, value: str, name: str | None, conn: Any) -> bool:
    if name is None:
        status: str = await conn.execute("DELETE FROM credentials WHERE kind = $1 AND value = $2", kind, value)
    else:
        status = await conn.execute("DELETE FROM credentials WHERE kind = $1 AND value = $2 AND account = $3",
                                    kind, value, account_key(name))
    return status == "DELETE 1"


async def list_credentials(conn: Any, kind: str, name: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT value FROM credentials WHERE account = $1 AND kind = $2"
        " ORDER BY CASE WHEN expires = 0 THEN 1 ELSE 0 END DESC, expires DESC, value",
        account_key(name), kind,
    )
    return [str(r[0]) for r in rows]


# --- playback on join (NickServ SET PLAYBACK) ---------------------------------------


async def get_playback(conn: Any, name: str) -> int | None:
    found = await conn.fetchval("SELECT playback FROM accounts WHERE key = $1", account_key(name))
    return None if found is None else int(found)


async def set_playback(name: str, count: int | None, conn: Any) -> bool:
    status: str = await conn.execute("UPDATE accounts SET playback = $1 WHERE key = $2", count, account_key(name))
    return status == "UPDATE 1"
