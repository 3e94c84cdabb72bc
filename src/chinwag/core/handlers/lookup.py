"""Handlers for looking people and the server up: WHOIS, WHO, ISON/USERHOST
(lookup), LUSERS (stats) and the labeled-response marker (sync). WHOWAS is
core/handlers/whowas.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.core.errors import MaskTooLong
from chinwag.core.events import Outbound
from chinwag.core.handlers.checks import find_user, hidden_from
from chinwag.core.masks import compile_mask
from chinwag.core.names import casefold, is_room
from chinwag.core.types.lookup import (
    Lookup,
    LookupReply,
    MemberInfo,
    ServerStats,
    Stats,
    Sync,
    Synced,
    Whois,
    WhoisReply,
    WhoQuery,
    WhoReply,
)

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Session


def whois(hub: Hub, session: Session, cmd: Whois) -> list[Outbound]:
    target = find_user(hub, cmd.nick)
    rooms = []
    for key in target.rooms:
        room = hub.rooms[key]
        if hidden_from(room, session):
            continue
        rooms.append(hub.info(target, room).prefix[:1] + room.name)
    idle = max(0, int(hub.clock() - (target.last_active or target.signon)))
    reply = WhoisReply(hub.info(target), tuple(rooms), idle, target.signon)  # info.away: 301 inside it
    return [Outbound((session.sid,), reply)]


def _visible(hub: Hub, session: Session, other: Session) -> bool:
    """Invisible (+i) users are only found by people sharing a room with them."""
    if "i" not in other.modes or other.sid == session.sid:
        return True
    return any(key in session.rooms for key in other.rooms)


def who_query(hub: Hub, session: Session, cmd: WhoQuery) -> list[Outbound]:
    entries: list[tuple[str, MemberInfo]] = []
    if is_room(cmd.mask):
        room = hub.rooms.get(casefold(cmd.mask))
        if room is not None and not hidden_from(room, session):
            member = session.sid in room.members
            for sid in room.members:
                other = hub.sessions[sid]
                if member or _visible(hub, session, other):
                    entries.append((room.name, hub.info(other, room)))
    else:
        return _who_mask(hub, session, cmd.mask)
    return [Outbound((session.sid,), WhoReply(cmd.mask, tuple(entries)))]


def _who_mask(hub: Hub, session: Session, mask: str) -> list[Outbound]:
    """WHO of a nick or a nick glob: at most ``who_max`` entries, then
    ``truncated`` (IRC: 416 "output too large"); a mask over ``mask_len``
    characters is refused before any name is looked at."""
    limit = hub.limits.mask_len
    if len(mask) > limit:
        raise MaskTooLong(mask[:limit], f"mask too long (max {limit} characters)")
    exact = hub.nicks.get(casefold(mask))
    if exact is not None:
        candidates = iter((hub.sessions[exact],))
    else:
        match = compile_mask(mask).match_folded  # Hub.nicks keys are casefolded already
        candidates = (hub.sessions[sid] for key, sid in hub.nicks.items() if match(key))
    entries: list[tuple[str, MemberInfo]] = []
    most = hub.limits.who_max
    truncated = False
    for other in candidates:
        if _visible(hub, session, other):
            if len(entries) == most:
                truncated = True
                break
            entries.append(("*", hub.info(other)))
    return [Outbound((session.sid,), WhoReply(mask, tuple(entries), truncated))]


def lookup(hub: Hub, session: Session, cmd: Lookup) -> list[Outbound]:
    found = []
    for wanted in cmd.nicks:
        sid = hub.nicks.get(casefold(wanted))
        if sid is not None:
            found.append(hub.info(hub.sessions[sid]))
    return [Outbound((session.sid,), LookupReply(tuple(found)))]


def stats(hub: Hub, session: Session, cmd: Stats) -> list[Outbound]:
    # O(1): every registration asks (LUSERS in the welcome burst).
    users = len(hub.nicks)
    unregistered = len(hub.sessions) - users
    reply = ServerStats(users, len(hub.invisible), len(hub.opers), len(hub.rooms), unregistered, hub.max_users,
                        len(hub.remote), hub.nodes)
    return [Outbound((session.sid,), reply)]


def sync(hub: Hub, session: Session, cmd: Sync) -> list[Outbound]:
    return [Outbound((session.sid,), Synced(cmd.token))]
