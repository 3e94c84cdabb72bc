"""The AccountStore contract, for every backend: identity lives in storage."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.core.accounts import HashParams, ScramCredentials, Secrets, make_secrets, verify_password
from chinwag.storage import sqlite as sqlite_module
from chinwag.storage.accounts import Account
from chinwag.storage.base import Store
from chinwag.storage.memory import MemoryStore
from chinwag.storage.postgres import PostgresStore
from chinwag.storage.sqlite import SqliteStore

T0 = 1_700_000_000.0
FAST = HashParams(time_cost=1, memory_kib=1024, scram_iterations=16)
SCRAM = ScramCredentials(b"salt" * 4, 4096, b"s" * 32, b"k" * 32)


def alice(name: str = "Alice") -> Account:
    return Account(name, "$argon2id$fake", SCRAM, T0, T0)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s: Store
    if request.param == "postgres":
        s = PostgresStore(request.getfixturevalue("pg_url"))
    else:
        s = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "accounts.db")
    await s.start()
    yield s
    await s.close()


async def test_create_then_get_by_any_case(store: Store) -> None:
    assert await store.create_account(alice())
    got = await store.get_account("ALICE")
    assert got == alice()
    assert got is not None and got.name == "Alice" and got.scram == SCRAM
    assert await store.get_account("bob") is None


async def test_a_taken_name_is_refused_whatever_its_case(store: Store) -> None:
    assert await store.create_account(alice())
    assert not await store.create_account(alice("aLiCe"))
    got = await store.get_account("alice")
    assert got is not None and got.name == "Alice"


async def test_rfc1459_casefolding_makes_brackets_one_name(store: Store) -> None:
    assert await store.create_account(alice("x[y]"))
    assert not await store.create_account(alice("X{Y}"))
    assert (await store.get_account("x{y}")) is not None


async def test_set_password_replaces_both_forms_and_keeps_the_rest(store: Store) -> None:
    await store.create_account(alice())
    secrets = make_secrets("new password", FAST)
    assert await store.set_password("alice", secrets)
    got = await store.get_account("alice")
    assert got is not None
    assert verify_password(got.password_hash, "new password", FAST)
    assert not verify_password(got.password_hash, "old password", FAST)
    assert got.scram == secrets.scram and got.created == T0
    assert not await store.set_password("nobody", secrets)


async def test_touch_and_delete(store: Store) -> None:
    await store.create_account(alice())
    await store.touch_account("ALICE", T0 + 60)
    got = await store.get_account("alice")
    assert got is not None and got.last_seen == T0 + 60
    assert await store.delete_account("Alice")
    assert await store.get_account("alice") is None
    assert not await store.delete_account("alice")


async def test_account_names_and_playback_on_join(store: Store) -> None:
    assert await store.account_names() == []
    await store.create_account(alice())
    await store.create_account(alice("[bob]"))
    assert sorted(await store.account_names()) == ["Alice", "[bob]"]  # as registered
    assert await store.get_playback("alice") is None  # the server's default
    assert await store.set_playback("ALICE", 0)
    assert await store.get_playback("alice") == 0  # none, not the default
    assert await store.set_playback("alice", 25)
    assert await store.get_playback("Alice") == 25
    assert await store.set_playback("alice", None)
    assert await store.get_playback("alice") is None
    assert not await store.set_playback("nobody", 5)
    assert await store.get_playback("nobody") is None


async def test_the_password_itself_is_never_stored(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStore(path)
    await store.start()
    try:
        secrets = make_secrets("correct horse battery", FAST)
        await store.create_account(Account("carol", secrets.password_hash, secrets.scram, T0, T0))
    finally:
        await store.close()
    raw = path.read_bytes()
    assert b"correct horse" not in raw
    assert b"carol" in raw


async def test_accounts_survive_a_restart_and_an_old_database_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in sqlite_module._MIGRATIONS[:2]:
        conn.executescript(step)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    first = SqliteStore(path)
    await first.start()
    assert await first.create_account(alice())
    await first.close()
    again = SqliteStore(path)
    await again.start()
    try:
        assert await again.get_account("alice") == alice()
    finally:
        await again.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.SCHEMA_VERSION
    conn.close()


def test_secrets_never_show_in_repr() -> None:
    secrets = make_secrets("hunter2", FAST)
    assert "hunter2" not in repr(secrets) and "argon2" not in repr(secrets)
    assert "argon2" not in repr(Account("a", secrets.password_hash, secrets.scram))
    assert isinstance(secrets, Secrets)


async def test_private_messages_between_accounts_have_their_own_key_listed_only_for_them(store: Store) -> None:
    from chinwag.core.events import Message
    from chinwag.storage.base import account_private_key, private_key

    by_account = Message("0000000000000001", T0 + 1, "al", "bo", "signed", "privmsg", accounts=("Alice", "Bob"))
    by_nick = Message("0000000000000002", T0 + 2, "al", "bo", "anonymous", "privmsg")
    store.append(by_account)
    store.append(by_nick)
    await store.flush()
    assert [m.text for m in await store.latest(account_private_key("bob", "ALICE"), 10)] == ["signed"]
    assert [m.text for m in await store.latest(private_key("al", "bo"), 10)] == ["anonymous"]
    for_alice = await store.targets(T0, T0 + 10, 10, keys=(), nick="zed", account="alice")
    assert for_alice == [(account_private_key("alice", "bob"), T0 + 1)]
    # A nick called like the account sees nothing of it: nicks and accounts never share a key.
    assert await store.targets(T0, T0 + 10, 10, keys=(), nick="alice") == []
