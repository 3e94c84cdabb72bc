"""Room events kept in history for IRCv3 ``draft/event-playback``.

After the hub has handled a command, the joins, parts, quits, kicks, nick and
topic changes among its events are handed to the store as records of their own
(``Message`` with an ``EventKind``, under ``storage.base.event_key(room)``, apart
from the room's messages: reads for everyone else are unchanged). CHATHISTORY
merges them in for clients that enabled ``draft/event-playback``.

Bounded so crowds do not multiply them: joins, parts, quits and nick changes
are kept only for rooms below ``crowd_size`` members (a big room tells them as
summaries, core/crowd.py, and nobody replays a crowd); kicks, topic and room
mode changes, operator actions, always. A quit or nick change is one record per
room the user was in (read before the command: ``rooms_before``). A KILL is
kept as its victim's quit, as the rooms saw it (``QUIT :Killed (oper (reason))``).
Retention is the messages' (``retain_messages`` per room's events,
``retain_days``). Not kept: user modes, and anything in a big room but kicks,
topics and modes.

A record's fields: ``nick`` the actor (the kicker, the old nick), ``target``
the room, ``text`` the event's parameter (part or quit reason, the new nick,
the topic, "kicked-nick reason", or the modes as MODE has them: "+o-v bob carol").
"""

from __future__ import annotations

from collections.abc import Sequence

from chinwag.core.events import (
    ChangeNick,
    Command,
    EventKind,
    Joined,
    Left,
    Message,
    NickChanged,
    Outbound,
    Parted,
    Quit,
)
from chinwag.core.hub import Hub
from chinwag.core.names import casefold, is_room
from chinwag.core.types.moderation import Kicked, Kill, ModeChanged, mode_string
from chinwag.core.types.rooms import TopicChanged

_EVENTS = (Joined, Parted, Left, NickChanged, Kicked, TopicChanged, ModeChanged)
_ALWAYS = ("kick", "topic", "mode")  # operator actions: kept in big rooms too

#: Commands whose records need the rooms someone was in before the hub handled them.
BEFORE = (Quit, ChangeNick, Kill)


def rooms_before(hub: Hub, sid: int, command: Command) -> tuple[str, ...]:
    """The rooms a quit or nick change that ``command`` (one of ``BEFORE``) may
    make is recorded in: the acting user's, or a KILL's victim's."""
    if isinstance(command, Kill):
        victim = hub.nicks.get(casefold(command.nick))
        return hub.rooms_of(victim) if victim is not None else ()
    return hub.rooms_of(sid)


def records(hub: Hub, outbound: Sequence[Outbound], rooms: Sequence[str]) -> list[Message]:
    """The room events in ``outbound`` as records to store; ``rooms``: those
    ``rooms_before`` found (for a quit or nick change)."""
    found: list[tuple[str, EventKind, str, str]] = []
    for out in outbound:
        e = out.event
        if type(e) not in _EVENTS:
            continue
        if isinstance(e, Joined):
            found.append((e.room, "join", e.nick, ""))
        elif isinstance(e, Parted):
            found.append((e.room, "part", e.nick, e.reason))
        elif isinstance(e, Kicked):
            found.append((e.room, "kick", e.nick, f"{e.target} {e.reason}"))
        elif isinstance(e, TopicChanged):
            found.append((e.room, "topic", e.nick, e.text))
        elif isinstance(e, ModeChanged):
            if is_room(e.target):
                letters, args = mode_string(e.changes)
                found.append((e.target, "mode", e.nick, " ".join((letters, *args))))
        elif isinstance(e, Left):
            found += [(room, "quit", e.nick, e.reason) for room in rooms]
        elif isinstance(e, NickChanged):
            found += [(room, "nick", e.old, e.new) for room in rooms]
    if not found:
        return []
    size = hub.limits.crowd_size
    ts = hub.clock()
    made: list[Message] = []
    seen: set[tuple[str, EventKind, str, str]] = set()
    for room, kind, nick, text in found:
        key = (casefold(room), kind, nick, text)
        if key in seen:  # (one event, several Outbounds: the actor's and the others')
            continue
        seen.add(key)
        if kind not in _ALWAYS:
            present = hub.rooms.get(casefold(room))
            if present is not None and len(present.members) >= size:
                continue
        made.append(Message(hub.ids.next(ts), ts, nick, room, text, kind))
    return made
