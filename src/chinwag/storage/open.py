"""Choosing a backend from the ``postgres`` and ``db`` settings. Kept apart from storage/base.py (the
contract), which the backends import: base.py importing them back was a cycle.
"""

from __future__ import annotations

from chinwag.storage.base import Store

MEMORY = ":memory:"


def open_store(db: str, write_timeout: float = 5.0, postgres: str = "", pool: int = 8,
               checkpoint_every: float = 2.0) -> Store:
    """``postgres`` (a postgresql:// URL) if given: history, rooms and accounts
    in that PostgreSQL database, and ``db`` is not used. Otherwise ``:memory:``
    keeps history in the process (tests, throwaway servers); anything else is a
    SQLite file path. Nothing is opened until start().
    ``write_timeout``: seconds a failing write is retried before on_fail;
    ``pool``: PostgreSQL connections at most; ``checkpoint_every``: seconds between SQLite's
    WAL checkpoints (on their own thread)."""
    if postgres:
        from chinwag.storage.postgres import PostgresStore

        return PostgresStore(postgres, write_timeout, pool_max=pool)
    if db == MEMORY:
        from chinwag.storage.memory import MemoryStore

        return MemoryStore()
    from chinwag.storage.sqlite import SqliteStore

    return SqliteStore(db, write_timeout, checkpoint_every)
