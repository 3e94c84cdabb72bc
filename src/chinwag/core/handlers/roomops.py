"""Who is a room's operator by right, and masks that name accounts.

Shared by the handlers in core/handlers/ (checks: joins, bans, quiets; moderation:
OPER; rooms: JOIN; presence: logging in) and core/handlers/registered.py (the room
service); it imports none of them.

* In a registered room (core/types/registered.py) op is given on join only to those who
  hold it: the founder account, the accounts on the op list, and server
  operators (OPER, or an account in the config's ``server_operators``). In an
  unregistered room whoever creates it gets op, as before.
* Someone who logs in or OPERs while inside gets it then: a MODE +o from
  ChanServ that the whole room sees.
* Bans and quiets are ``nick!user@host`` globs, or the extban ``~a:account``
  (ISUPPORT ``EXTBAN=~,a``): whoever is logged in to that account, under any nick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from chinwag.core.events import Outbound
from chinwag.core.masks import compile_mask
from chinwag.core.names import casefold
from chinwag.core.types.moderation import ModeChange, ModeChanged, OperUp
from chinwag.core.types.registered import SERVICE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from chinwag.core.hub import Hub, Room, Session

ACCOUNT_EXTBAN: Final = "~a:"


def mask_key(mask: str) -> str:
    """How a ban or quiet mask is kept: casefolded, but ``~a:`` stays itself
    (rfc1459 casefolding would make the ``~`` a ``^``)."""
    if mask.startswith(ACCOUNT_EXTBAN):
        return ACCOUNT_EXTBAN + casefold(mask[3:])
    return casefold(mask)


def holds_op(room: Room, session: Session) -> bool:
    """``session`` is an operator of registered ``room`` by right."""
    if not room.registered:
        return False
    if session.oper is not None:
        return True
    account = session.account
    if account is None:
        return False
    key = casefold(account)
    return key in room.op_accounts or (bool(room.founder) and key == casefold(room.founder))


def op_on_join(room: Room, session: Session, created: bool) -> bool:
    """Does ``session`` get op as it joins ``room`` (``created``: it is the first one in)?"""
    return holds_op(room, session) if room.registered else created


def grant(hub: Hub, room: Room, session: Session) -> list[Outbound]:
    """Op for ``session`` in ``room`` if it holds it and lacks it, told to the room."""
    if session.sid in room.ops or session.sid not in room.members or not holds_op(room, session):
        return []
    room.ops.add(session.sid)
    # A big room's summary may still hold the JOIN: it goes out before the MODE.
    out = hub.flush_crowds([casefold(room.name)]) if room.crowd is not None else []
    change = ModeChanged(room.name, SERVICE, (ModeChange(True, "o", session.nick or ""),), SERVICE)
    return [*out, Outbound(list(room.members), change)]


def grant_all(hub: Hub, session: Session) -> list[Outbound]:
    out: list[Outbound] = []
    for key in session.rooms:
        out += grant(hub, hub.rooms[key], session)
    return out


def account_changed(hub: Hub, session: Session, old: str | None) -> list[Outbound]:
    """After ``session`` logged in (or out, ``old`` its account before): the
    server operator status ``server_operators`` gives, and the ops it now holds."""
    out: list[Outbound] = []
    operators = hub.server_operators
    account = session.account
    if old is not None and casefold(old) in operators and session.oper is not None \
            and casefold(session.oper) == casefold(old):
        session.oper = None  # what the account gave, logging out takes away
        hub.opers.discard(session.sid)
    if account is not None and casefold(account) in operators and session.oper is None and session.nick:
        session.oper = account
        hub.opers.add(session.sid)
        out.append(Outbound((session.sid,), OperUp(session.nick)))
    if account is not None or session.oper is not None:
        out += grant_all(hub, session)
    return out


def matches(hub: Hub, masks: Iterable[str], session: Session) -> bool:
    """Does any of ``masks`` (casefolded bans or quiets) name ``session``?"""
    full: str | None = None
    account = casefold(session.account) if session.account else None
    for mask in masks:
        if mask.startswith(ACCOUNT_EXTBAN):
            if account is not None and mask[3:] == account:
                return True
            continue
        if full is None:
            info = hub.info(session)
            full = casefold(f"{info.nick}!{info.user}@{info.host}")
        if compile_mask(mask).match_folded(full):
            return True
    return False
