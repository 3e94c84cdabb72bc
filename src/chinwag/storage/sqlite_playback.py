"""Schema step 5 (SQLite): what history on join and its replay need.

* ``messages.account``: the sender's account when it was logged in ('' if not),
  so a replayed message carries the IRCv3 ``account`` tag as it did live;
* ``accounts.playback``: how many messages a logged-in user wants replayed when
  joining a room from an IRC client without draft/chathistory (NickServ SET
  PLAYBACK); NULL: the server's ``irc_history_on_join``, 0: none.

Both are new columns with defaults: older rows read as "no account" and "the
server's default", nothing is rewritten.
"""

from __future__ import annotations

import sqlite3

from chinwag.storage.accounts import account_key

SCHEMA = """
ALTER TABLE messages ADD COLUMN account TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN playback INTEGER;
"""


def get_playback(name: str, conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT playback FROM accounts WHERE key = ?", (account_key(name),)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def set_playback(name: str, count: int | None, conn: sqlite3.Connection) -> bool:
    cursor = conn.execute("UPDATE accounts SET playback = ? WHERE key = ?", (count, account_key(name)))
    return cursor.rowcount == 1
