"""The cluster's tables in PostgreSQL: node rows, nick claims, reads by seq.

``PgCluster`` (``PostgresStore.cluster``) implements storage/cluster.py's
ClusterStore on the store's pool, beside the writer (never on its
connection, never behind its queue: a heartbeat does not wait for a batch of
messages). Every time is PostgreSQL's ``clock_timestamp()`` (epoch seconds):
the nodes' clocks may disagree, the database's is the one clock.

Slots are handed out under a transaction-scoped advisory lock, so two nodes
joining at once never get the same slot, and a heartbeat takes the same lock,
so a node whose lease ended cannot renew it after its slot went to another.
A nick claim is one upsert whose conflict arm takes the row over only from
the same (node, sid) or from a node that is dead or gone; the row lock it
takes makes two claims of one nick take turns, so exactly one wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chinwag.core.events import Message
from chinwag.core.names import casefold
from chinwag.storage.base import EVENT_PREFIX
from chinwag.storage.cluster import SLOTS, ClusterFull, Left, Marks
from chinwag.storage.postgres.history import COLS, _text, message

if TYPE_CHECKING:
    from chinwag.storage.postgres.store import PostgresStore

# pg_advisory_xact_lock key of slot changes: b"chinwag\1" (migrations use b"chinwag\0").
CLUSTER_LOCK = 0x6368696E77616701

# How far behind db now recent() tells the caller to start next time: a
# message batch's statement marks its conversations (``touched``) before it
# commits, so a poll meanwhile does not see it yet; the next poll must.
RECENT_OVERLAP = 2.0

NOW = "extract(epoch from clock_timestamp())::float8"

_JOIN = f"""
INSERT INTO cluster_nodes (name, slot, started, lease_until) VALUES ($1, $2, {NOW}, {NOW} + $3)
ON CONFLICT (name) DO UPDATE SET slot = excluded.slot, started = excluded.started,
    lease_until = excluded.lease_until
"""
# Renew only a row whose slot no other live node holds (it was given away
# while this node's lease had ended: this node must join again).
_HEARTBEAT = f"""
UPDATE cluster_nodes AS n SET lease_until = {NOW} + $2
WHERE n.name = $1 AND NOT EXISTS (
    SELECT 1 FROM cluster_nodes o WHERE o.name <> n.name AND o.slot = n.slot AND o.lease_until > {NOW})
"""
_CLAIM = f"""
INSERT INTO cluster_nicks AS c (key, nick, node, sid) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO UPDATE SET nick = excluded.nick, node = excluded.node, sid = excluded.sid
WHERE (c.node = excluded.node AND c.sid = excluded.sid)
   OR NOT EXISTS (SELECT 1 FROM cluster_nodes n WHERE n.name = c.node AND n.lease_until > {NOW})
RETURNING node
"""


class PgCluster:
    """A :class:`~chinwag.storage.cluster.ClusterStore` on a PostgresStore's pool."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    # --- node rows -----------------------------------------------------------

    async def join(self, node: str, lease: float) -> int:
        async def step(conn: Any) -> int:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", CLUSTER_LOCK)
            rows = await conn.fetch(f"SELECT name, slot FROM cluster_nodes WHERE name <> $1 AND lease_until > {NOW}",
                                    node)
            held = {slot for _, slot in rows}
            free = [slot for slot in range(SLOTS) if slot not in held]
            if not free:
                names = ", ".join(sorted(name for name, _ in rows))
                raise ClusterFull(f"cannot join the cluster as {node}: all {SLOTS} msgid slots are held by live"
                                  f" nodes ({names}); a slot frees when its node stops or its lease ends")
            await conn.execute(_JOIN, node, free[0], lease)
            return free[0]

        return await self.store._transaction(step)

    async def heartbeat(self, node: str, lease: float) -> bool:
        async def step(conn: Any) -> bool:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", CLUSTER_LOCK)
            status: str = await conn.execute(_HEARTBEAT, node, lease)
            return status == "UPDATE 1"

        return await self.store._transaction(step)

    async def expired(self) -> list[str]:
        async def read(conn: Any) -> list[str]:
            rows = await conn.fetch(f"SELECT name FROM cluster_nodes WHERE lease_until <= {NOW} ORDER BY name")
            return [r[0] for r in rows]

        return await self.store._read(read)

    async def ended(self) -> dict[str, float]:
        async def read(conn: Any) -> dict[str, float]:
            rows = await conn.fetch(f"SELECT name, lease_until FROM cluster_nodes WHERE lease_until <= {NOW}")
            return {r[0]: float(r[1]) for r in rows}

        return await self.store._read(read)

    async def heads(self) -> dict[str, int]:
        async def read(conn: Any) -> dict[str, int]:
            rows = await conn.fetch(f"SELECT key, seq FROM conversations WHERE left(key, 1) <> '{EVENT_PREFIX}'")
            return {r[0]: int(r[1]) for r in rows}

        return await self.store._read(read)

    async def nodes(self) -> list[str]:
        async def read(conn: Any) -> list[str]:
            rows = await conn.fetch(f"SELECT name FROM cluster_nodes WHERE lease_until > {NOW} ORDER BY name")
            return [r[0] for r in rows]

        return await self.store._read(read)

    async def forget_node(self, node: str) -> None:
        async def step(conn: Any) -> None:
            await conn.execute("DELETE FROM cluster_nicks WHERE node = $1", node)
            await conn.execute("DELETE FROM cluster_nodes WHERE name = $1", node)

        await self.store._transaction(step)

    # --- nick claims -------------------------------------------------------------

    async def claim_nick(self, key: str, nick: str, node: str, sid: int) -> str | None:
        async def step(conn: Any) -> str | None:
            if await conn.fetchval(_CLAIM, key, nick, node, sid) is not None:
                return None
            # Held by a live node: the conflict arm locked the row, so it is still theirs.
            holder: str | None = await conn.fetchval("SELECT node FROM cluster_nicks WHERE key = $1", key)
            return holder if holder is not None else node  # (cannot be None: the row is locked)

        return await self.store._transaction(step)

    async def release_nick(self, key: str, node: str, sid: int) -> None:
        async def step(conn: Any) -> None:
            await conn.execute("DELETE FROM cluster_nicks WHERE key = $1 AND node = $2 AND sid = $3", key, node, sid)

        await self.store._transaction(step)

    async def nicks_of(self, node: str) -> list[str]:
        async def read(conn: Any) -> list[str]:
            return [r[0] for r in await conn.fetch("SELECT nick FROM cluster_nicks WHERE node = $1 ORDER BY key", node)]

        return await self.store._read(read)

    # --- reads by seq ------------------------------------------------------------

    async def messages_by_seq(self, key: str, after: int, upto: int, limit: int) -> list[tuple[int, Message]]:
        if limit <= 0 or upto <= after:
            return []

        async def read(conn: Any) -> list[tuple[int, Message]]:
            rows = await conn.fetch(
                f"SELECT seq, {COLS} FROM messages WHERE key = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
                key, after, upto, limit)
            return [(r[0], message(r[1:])) for r in rows]

        return await self.store._read(read)

    async def recent(self, since: float) -> tuple[float, list[tuple[str, int]]]:
        async def read(conn: Any) -> tuple[float, list[tuple[str, int]]]:
            now: float = await conn.fetchval(f"SELECT {NOW}")
            rows = await conn.fetch(
                "SELECT key, seq FROM conversations WHERE touched >= $1 AND left(key, 1) <> $2 ORDER BY touched, key",
                since, EVENT_PREFIX)
            return now - RECENT_OVERLAP, [(k, s) for k, s in rows]

        return await self.store._read(read)

    async def seqs(self, keys: Sequence[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}

        async def read(conn: Any) -> dict[str, int]:
            rows = await conn.fetch("SELECT key, seq FROM conversations WHERE key = ANY($1::text[])", wanted)
            return {k: s for k, s in rows}

        return await self.store._read(read)

    # --- delivery marks ----------------------------------------------------------

    async def write_marks(self, node: str, marks: Sequence[tuple[str, str, int]], released: Sequence[str]) -> None:
        if not marks and not released:
            return
        nicks = [n for n, _, _ in marks]
        keys = [k for _, k, _ in marks]
        seqs = [s for _, _, s in marks]

        async def step(conn: Any) -> None:
            await conn.execute(_MARKS, node, nicks, keys, seqs, list(released))

        await self.store._transaction(step)

    async def marks(self, nodes: Sequence[str]) -> dict[str, Marks]:
        wanted = list(dict.fromkeys(nodes))
        if not wanted:
            return {}

        async def read(conn: Any) -> dict[str, Marks]:
            rows = await conn.fetch("SELECT node, nick, key, seq FROM cluster_marks WHERE node = ANY($1::text[])",
                                    wanted)
            found: dict[str, Marks] = {}
            for node, nick, key, seq in rows:
                found.setdefault(node, {}).setdefault(nick, {})[key] = int(seq)
            return found

        return await self.store._read(read)

    async def forget_marks(self, node: str) -> None:
        async def step(conn: Any) -> None:
            await conn.execute("DELETE FROM cluster_marks WHERE node = $1", node)

        await self.store._transaction(step)

    async def record_departures(self, left: Sequence[Left]) -> None:
        if not left:
            return
        args = [(casefold(u.nick), [_text(r) for r in u.rooms], u.last_msgid, u.ts, list(u.marks),
                 list(u.marks.values())) for u in left]

        async def step(conn: Any) -> None:
            await conn.executemany(_DEPART, args)

        await self.store._transaction(step)

    async def departure_marks(self, nick: str) -> dict[str, int]:
        async def read(conn: Any) -> dict[str, int]:
            row = await conn.fetchrow("SELECT mark_keys, mark_seqs FROM departures WHERE nick = $1", casefold(nick))
            return {} if row is None else {k: int(s) for k, s in zip(row[0], row[1], strict=True)}

        return await self.store._read(read)


# Nicks are never both written and released in one call, so the DELETE and the
# INSERT of one statement never meet on a row.
_MARKS = """
WITH gone AS (DELETE FROM cluster_marks WHERE node = $1 AND nick = ANY($5::text[]))
INSERT INTO cluster_marks (node, nick, key, seq)
SELECT $1, m.nick, m.key, m.seq FROM unnest($2::text[], $3::text[], $4::bigint[]) AS m(nick, key, seq)
ON CONFLICT (node, nick, key) DO UPDATE SET seq = excluded.seq
"""
_DEPART = """
INSERT INTO departures (nick, rooms, last_msgid, ts, mark_keys, mark_seqs) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (nick) DO UPDATE SET rooms = excluded.rooms, last_msgid = excluded.last_msgid, ts = excluded.ts,
    mark_keys = excluded.mark_keys, mark_seqs = excluded.mark_seqs
"""


if TYPE_CHECKING:
    from chinwag.storage.cluster import ClusterStore

    def _implements(c: PgCluster) -> ClusterStore:  # mypy: PgCluster is a ClusterStore
        return c
