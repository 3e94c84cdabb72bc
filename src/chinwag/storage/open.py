"""Choosing a backend from the ``db`` setting. Kept apart from storage/base.py (the
contract), which the backends import: base.py importing them back was a cycle.
"""

from __future__ import annotations

from chinwag.storage.base import Store

MEMORY = ":memory:"


def open_store(db: str, write_timeout: float = 5.0) -> Store:
    """``:memory:`` keeps history in the process (tests, throwaway servers);
    anything else is a SQLite file path. Nothing is opened until start().
    ``write_timeout``: seconds a failing write is retried before on_fail."""
    if db == MEMORY:
        from chinwag.storage.memory import MemoryStore

        return MemoryStore()
    from chinwag.storage.sqlite import SqliteStore

    return SqliteStore(db, write_timeout)
