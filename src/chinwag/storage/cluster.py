"""What a cluster node asks of the shared database (docs/cluster.md).

Only PostgreSQL implements it (storage/postgres/cluster.py, ``PostgresStore.cluster``):
a cluster needs one database every node writes to. Every time here is the
database's clock, never a node's, so nodes with skewed clocks agree on who
is alive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

from chinwag.core.events import Message
from chinwag.storage.base import StorageError

SLOTS = 16  # msgid slots (core/hub.MessageIds): at most this many live nodes


class ClusterFull(StorageError):
    """Every msgid slot is held by a node whose lease is live."""


Marks = dict[str, dict[str, int]]
"""Delivery marks of one node: nick ('' for the node's own) -> room key -> seq."""


class Left(NamedTuple):
    """A dead node's user, where it left off (ClusterStore.record_departures)."""

    nick: str
    rooms: tuple[str, ...]  # as displayed
    last_msgid: str  # the fallback reference id (rooms without a mark)
    ts: float
    marks: Mapping[str, int]  # room key -> the seq its user had received (by delivery marks)


class ClusterStore(Protocol):
    """Node rows (slot, lease), nick claims, and reads by seq."""

    async def join(self, node: str, lease: float) -> int:
        """Upsert ``node``'s row with a lease of ``lease`` seconds and give it the
        smallest slot 0..15 no other live node holds; the slot. ClusterFull if
        none is free."""
        ...

    async def heartbeat(self, node: str, lease: float) -> bool:
        """Extend ``node``'s lease to db now + ``lease``. False if its row is gone
        (others declared it dead) or its slot was given to another node while
        its lease had ended: the caller joins again (a new slot) and claims its
        nicks again."""
        ...

    async def expired(self) -> list[str]:
        """The nodes whose lease has ended (dead), by name."""
        ...

    async def ended(self) -> dict[str, float]:
        """The nodes whose lease has ended, each with when it ended (db clock:
        its last heartbeat was ``cluster_lease`` before)."""
        ...

    async def heads(self) -> dict[str, int]:
        """The current seq of every conversation (room events' keys left out):
        a starting node's lower bound of what is committed."""
        ...

    async def nodes(self) -> list[str]:
        """The nodes whose lease is live, by name."""
        ...

    async def forget_node(self, node: str) -> None:
        """Delete ``node``'s row and its nick claims; nothing if there are none."""
        ...

    async def claim_nick(self, key: str, nick: str, node: str, sid: int) -> str | None:
        """Claim the casefolded nick ``key`` for (``node``, ``sid``): None if it is
        now theirs (it was free, theirs already, or held by a node that is dead
        or gone), else the name of the live node holding it. Of two nodes
        racing for one nick exactly one gets None."""
        ...

    async def release_nick(self, key: str, node: str, sid: int) -> None:
        """Drop the claim on ``key`` if (``node``, ``sid``) holds it."""
        ...

    async def nicks_of(self, node: str) -> list[str]:
        """The nicks (as claimed, not casefolded) ``node`` holds, by key."""
        ...

    async def messages_by_seq(self, key: str, after: int, upto: int, limit: int) -> list[tuple[int, Message]]:
        """(seq, message) of conversation ``key`` with ``after < seq <= upto``,
        by seq, ``limit`` at most."""
        ...

    async def recent(self, since: float) -> tuple[float, list[tuple[str, int]]]:
        """(key, seq) of the conversations whose seq moved at db time >= ``since``
        (room events' keys left out), and the db time to pass next time. That
        time is a little behind db now (RECENT_OVERLAP): a conversation may be
        listed twice, never missed because its commit came after the read."""
        ...

    async def seqs(self, keys: Sequence[str]) -> dict[str, int]:
        """The current seq of each of ``keys`` that has one (stored at least once)."""
        ...

    # --- delivery marks (transport/cluster/marks.py) ---------------------------

    async def write_marks(self, node: str, marks: Sequence[tuple[str, str, int]], released: Sequence[str]) -> None:
        """One statement: upsert ``node``'s (nick, room key, seq) marks (nick ''
        for the node's own) and delete every mark of the nicks in
        ``released`` (no nick is in both)."""
        ...

    async def marks(self, nodes: Sequence[str]) -> dict[str, Marks]:
        """The delivery marks of each of ``nodes`` that has any."""
        ...

    async def forget_marks(self, node: str) -> None:
        """Delete ``node``'s delivery marks; nothing if there are none."""
        ...

    async def record_departures(self, left: Sequence[Left]) -> None:
        """Record where each user of a dead node left off (as
        HistoryStore.record_departure, with per-room seq marks), in one
        transaction."""
        ...

    async def departure_marks(self, nick: str) -> dict[str, int]:
        """The per-room seq marks of ``nick``'s departure (room key -> seq):
        empty if it has none (an exact departure, or none at all)."""
        ...
