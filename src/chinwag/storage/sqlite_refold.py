"""Schema version 3: every stored key re-folded with today's ``names.casefold``.

Before version 3, names were folded the RFC 1459 way, which touches ASCII only:
``#Кафе`` and ``#кафе`` had two keys, and so two histories. Since then
``casefold`` is PRECIS (lowercasing in every script, NFC, width mapping) plus
RFC 1459's ``[]\\~`` = ``{}|^``. For ASCII names that is the same fold as
before, so ASCII keys (all nicks were ASCII then) are already right; this step
rewrites only the keys that change, in the same transaction as the version bump:

- ``messages.key`` and ``conversations``: conversations whose keys now
  coincide are merged (msgids are unique, so no message collides);
- ``rooms``/``room_bans``: a room's rules move to its new key, and ban masks
  are re-folded; when two rooms now share a key, the one whose rules changed
  last (its newest topic) is kept, and the other's dropped with a warning;
- ``departures``: the newest departure of names that now coincide is kept.
"""

from __future__ import annotations

import logging
import sqlite3

from chinwag.core.names import casefold
from chinwag.storage.base import PRIVATE_PREFIX, private_key, private_parties

log = logging.getLogger("chinwag.storage")


def refold_key(key: str) -> str:
    """A key as ``base.room_key``/``base.private_key`` make it today."""
    parties = private_parties(key) if key.startswith(PRIVATE_PREFIX) else None
    if parties is not None:
        return private_key(*parties)
    return casefold(key)


def migrate(conn: sqlite3.Connection) -> None:
    """Run inside the migration's transaction (sqlite._open_writer)."""
    _conversations(conn)
    _rooms(conn)
    _departures(conn)


def _changed(keys: list[str]) -> list[tuple[str, str]]:
    return [(old, new) for old in keys if not old.isascii() and (new := refold_key(old)) != old]


def _conversations(conn: sqlite3.Connection) -> None:
    keys = [k for (k,) in conn.execute("SELECT key FROM conversations")]
    for old, new in _changed(keys):
        conn.execute("UPDATE messages SET key = ? WHERE key = ?", (new, old))
        last_msgid, last_ts, count = conn.execute(
            "SELECT last_msgid, last_ts, count FROM conversations WHERE key = ?", (old,)).fetchone()
        conn.execute("DELETE FROM conversations WHERE key = ?", (old,))
        conn.execute(
            "INSERT INTO conversations (key, last_msgid, last_ts, count) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET last_msgid = max(last_msgid, excluded.last_msgid), "
            "last_ts = max(last_ts, excluded.last_ts), count = count + excluded.count",
            (new, last_msgid, last_ts, count),
        )


def _rooms(conn: sqlite3.Connection) -> None:
    keys = [k for (k,) in conn.execute("SELECT key FROM rooms")]
    for old, new in _changed(keys):
        here = conn.execute("SELECT name, topic_ts, created FROM rooms WHERE key = ?", (new,)).fetchone()
        mine = conn.execute("SELECT name, topic_ts, created FROM rooms WHERE key = ?", (old,)).fetchone()
        if here is not None:
            keep_mine = (mine[1], mine[2]) > (here[1], here[2])
            kept, dropped = (mine[0], here[0]) if keep_mine else (here[0], mine[0])
            log.warning("rooms %s and %s are one room now: keeping the rules of %s", kept, dropped, kept)
            loser = new if keep_mine else old
            conn.execute("DELETE FROM rooms WHERE key = ?", (loser,))
            conn.execute("DELETE FROM room_bans WHERE key = ?", (loser,))
            if not keep_mine:
                continue
        conn.execute("UPDATE rooms SET key = ? WHERE key = ?", (new, old))
        conn.execute("UPDATE room_bans SET key = ? WHERE key = ?", (new, old))
    bans = [(key, pos, mask) for key, pos, mask in conn.execute("SELECT key, pos, mask FROM room_bans")]
    for key, pos, mask in bans:
        if not mask.isascii() and casefold(mask) != mask:
            conn.execute("UPDATE room_bans SET mask = ? WHERE key = ? AND pos = ?", (casefold(mask), key, pos))


def _departures(conn: sqlite3.Connection) -> None:
    keys = [k for (k,) in conn.execute("SELECT nick FROM departures")]
    for old, new in _changed(keys):
        ts_old = conn.execute("SELECT ts FROM departures WHERE nick = ?", (old,)).fetchone()[0]
        row = conn.execute("SELECT ts FROM departures WHERE nick = ?", (new,)).fetchone()
        if row is not None and row[0] >= ts_old:
            conn.execute("DELETE FROM departures WHERE nick = ?", (old,))
        else:
            conn.execute("DELETE FROM departures WHERE nick = ?", (new,))
            conn.execute("UPDATE departures SET nick = ? WHERE nick = ?", (new, old))
