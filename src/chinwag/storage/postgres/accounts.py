"""Accounts (storage/accounts.py) in PostgreSQL: the AccountStore statements.

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


async def delete(name: str, conn: Any) -> bool:
    status: str = await conn.execute("DELETE FROM accounts WHERE key = $1", account_key(name))
    return status == "DELETE 1"


async def touch(name: str, ts: float, conn: Any) -> None:
    await conn.execute("UPDATE accounts SET last_seen = $1 WHERE key = $2", ts, account_key(name))
