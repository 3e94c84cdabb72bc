"""Credentials of accounts (certificate fingerprints, web sessions), for every
backend, and the schema step that adds them to an existing database."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.storage import sqlite as sqlite_module
from chinwag.storage.accounts import Account
from chinwag.storage.base import Store
from chinwag.storage.sqlite import SqliteStore
from tests.storage.test_accounts import SCRAM, T0, alice
from tests.storage.test_rooms import new_store

CERT, SESSION = "cert", "session"  # the kinds of storage/accounts.py
FP = "ab" * 32
FP2 = "cd" * 32


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s = new_store(request.param, tmp_path / "credentials.db", request)
    await s.start()
    await s.create_account(alice())
    await s.create_account(Account("bob", "$argon2id$fake", SCRAM, T0, T0))
    yield s
    await s.close()


async def test_a_certificate_logs_in_to_one_account_only(store: Store) -> None:
    assert await store.add_credential(CERT, FP, "ALICE", 0, T0)
    assert await store.find_credential(CERT, FP, T0 + 10**9) == "Alice"
    assert not await store.add_credential(CERT, FP, "bob", 0, T0)  # already Alice's
    assert not await store.add_credential(CERT, FP2, "nobody", 0, T0)  # no such account
    assert await store.find_credential(SESSION, FP, T0) is None  # kinds are apart
    assert await store.add_credential(CERT, FP2, "alice", 0, T0)
    assert sorted(await store.list_credentials(CERT, "alice")) == [FP, FP2]
    assert await store.list_credentials(CERT, "bob") == []
    assert not await store.delete_credential(CERT, FP, "bob")  # not bob's to delete
    assert await store.delete_credential(CERT, FP, "Alice")
    assert await store.find_credential(CERT, FP, T0) is None
    assert await store.list_credentials(CERT, "alice") == [FP2]


async def test_a_session_expires_and_goes_with_its_account(store: Store) -> None:
    assert await store.add_credential(SESSION, "h1", "alice", T0 + 100, T0)
    assert await store.add_credential(SESSION, "h2", "alice", T0 + 200, T0)
    assert await store.list_credentials(SESSION, "alice") == ["h2", "h1"]  # longest-lived first
    assert await store.find_credential(SESSION, "h1", T0 + 99) == "Alice"
    assert await store.find_credential(SESSION, "h1", T0 + 100) is None  # expired
    assert await store.add_credential(SESSION, "h3", "alice", T0 + 300, T0 + 150)  # drops the expired h1
    assert await store.list_credentials(SESSION, "alice") == ["h3", "h2"]
    assert await store.delete_credential(SESSION, "h3")
    assert not await store.delete_credential(SESSION, "h3")
    assert await store.add_credential(CERT, FP, "alice", 0, T0)
    assert await store.delete_account("alice")
    assert await store.find_credential(SESSION, "h2", T0) is None
    assert await store.find_credential(CERT, FP, T0) is None
    await store.create_account(alice())  # a new Alice does not inherit them
    assert await store.list_credentials(CERT, "alice") == []


async def test_a_version_4_database_gains_the_credentials_table(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in sqlite_module._MIGRATIONS[:4]:
        if isinstance(step, str):
            conn.executescript(step)
    conn.execute("PRAGMA user_version = 4")
    conn.close()
    first = SqliteStore(path)
    await first.start()
    assert await first.create_account(alice())
    assert await first.add_credential(CERT, FP, "alice", 0, T0)
    await first.close()
    again = SqliteStore(path)
    await again.start()
    try:
        assert await again.find_credential(CERT, FP, T0) == "Alice"
    finally:
        await again.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.SCHEMA_VERSION
    conn.close()
