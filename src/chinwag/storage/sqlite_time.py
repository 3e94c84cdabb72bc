"""Schema step 9 (SQLite): no (key, ts) index; times are found through msgids.

Every msgid is the hub's (core/hub.py ``MessageIds``, the same format since
the first version): the microseconds of the message's ``ts`` and a counter, in
fixed-width hex, never below the first id of its own ``ts`` (the generator
only goes up, also when the clock steps back). So every message at or after a
time has an id at or above :func:`msgid_floor` of that time, and every message
whose id is below it is older. ``since()`` and pruning by age walk the primary
key ``(key, msgid)`` from (or up to) that id and check ``ts`` on each row they
visit, instead of a second index every insert paid for (``messages_key_ts``:
a second b-tree insert a message, ~2,900 instructions of the writer's ~16,000:
docs/performance.md, issue 15 round 7).

What differs from the index, and only after the clock stepped back: ``since``
keeps the oldest messages by msgid (the order every other read uses), not by
``ts``, when ``limit`` cuts; and pruning by age deletes a message once its id's
time is older than the cutoff (its ``ts`` is then older too), so one written
while the clock was behind is kept until then: never deleted early, at most
as much later as the clock was behind.
"""

from __future__ import annotations

from chinwag.core.hub import MessageIds

SCHEMA = "DROP INDEX IF EXISTS messages_key_ts;"


def msgid_floor(ts: float) -> str:
    """The smallest msgid the hub gives a message made at ``ts`` (or later):
    a fresh generator's first id for it (core/hub.py, the one home of the format)."""
    return MessageIds().next(ts)


# since(): the messages at or after ?3, oldest first, walking the primary key from ?2 = msgid_floor(?3).
SINCE = ("SELECT msgid, ts, nick, target, text, kind, account FROM messages"
         " WHERE key = ?1 AND msgid >= ?2 AND ts >= ?3 ORDER BY msgid LIMIT ?4")
# Pruning by age: up to ?4 messages of ?1 older than ?2 (ids below ?5 = msgid_floor(?2)), none newer than ?3.
PRUNE_BY_AGE = ("DELETE FROM messages WHERE key = ?1 AND msgid IN"
                " (SELECT msgid FROM messages WHERE key = ?1 AND msgid < ?5 AND msgid <= ?3 AND ts < ?2 LIMIT ?4)")
