"""History, room rules and accounts in PostgreSQL (asyncpg, one pool).

Split as the SQLite backend is: ``store.py`` the store (its writer task, the
pool, the loop side), ``schema.py`` the numbered migrations, and one module of
statements per interface: ``history.py`` (HistoryStore), ``rooms.py``
(RoomStore), ``accounts.py`` (AccountStore). A new interface is a new module
and a new migration step, nothing else moves.
"""

from chinwag.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
