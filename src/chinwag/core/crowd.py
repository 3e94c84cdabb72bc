"""Big rooms: joins, parts and quits told together, not one by one.

Announcing every join to every member costs one write per member per join:
10,000 people filling a room is 50 million deliveries. Above
``Limits.crowd_size`` members a room collects its joins, parts and quits in
:class:`Pending`; every ``crowd_interval`` seconds the transport asks the hub
for the summaries (:func:`flush`), one :class:`~chinwag.core.events.Crowd`
event per room for everyone, plus one per member who joined (or got the full
member list) meanwhile and so must only hear what came after that. The text
protocol shows counts; IRC gets the JOIN/PART/QUIT lines themselves, because
an IRC client's member list depends on them.

While a room has a summary pending, its membership changes all go into it (even
if the room shrank under the threshold meanwhile), so nobody sees them out of
order; an event that must not overtake them (a nick change, a kick) flushes the
room's summary first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chinwag.core.events import Crowd, Outbound

if TYPE_CHECKING:
    from chinwag.core.hub import Room


@dataclass(slots=True)
class Pending:
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, nick, reason)
    # Members who joined, or got the whole member list, since the last summary:
    # sid -> index of the first change they have not seen.
    starts: dict[int, int] = field(default_factory=dict)


def crowded(room: Room, crowd_size: int) -> bool:
    """Are this room's membership changes summarized rather than announced?"""
    return room.crowd is not None or len(room.members) > crowd_size


def note(room: Room, kind: str, nick: str, reason: str = "", sid: int | None = None) -> bool:
    """Add a change to the room's summary; ``sid``: the joiner, who has seen it
    all up to here. True when this opened a new summary."""
    pending = room.crowd
    opened = pending is None
    if pending is None:
        pending = room.crowd = Pending()
    pending.changes.append((kind, nick, reason))
    if sid is not None:
        pending.starts[sid] = len(pending.changes)
    return opened


def seen_all(room: Room, sid: int) -> None:
    """``sid`` got the full member list: the summary's changes so far are in it."""
    if room.crowd is not None:
        room.crowd.starts[sid] = len(room.crowd.changes)


def forget(room: Room, sid: int) -> None:
    """A member left: it is owed no summary of this room."""
    if room.crowd is not None:
        room.crowd.starts.pop(sid, None)


def flush(room: Room) -> list[Outbound]:
    """The room's summary, for its current members; the room starts a new one."""
    pending, room.crowd = room.crowd, None
    if pending is None or not pending.changes:
        return []
    changes = tuple(pending.changes)
    n = len(changes)
    # joined[i], left[i]: counts in changes[i:], so each suffix event costs O(1).
    joined = [0] * (n + 1)
    left = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        is_join = changes[i][0] == "join"
        joined[i] = joined[i + 1] + is_join
        left[i] = left[i + 1] + (not is_join)
    cache: dict[object, object] = {}
    starts = pending.starts
    members = room.members
    out = []
    everyone = [sid for sid in members if sid not in starts] if starts else list(members)
    if everyone:
        out.append(Outbound(everyone, Crowd(room.name, changes, 0, joined[0], left[0], cache)))
    for sid, start in starts.items():
        if start < n and sid in members:
            out.append(Outbound((sid,), Crowd(room.name, changes, start, joined[start], left[start], cache)))
    return out
