"""Handlers for what others see of a user (core/types/userinfo.py): SETNAME, the host
that follows a login (``Config.account_host``), and invite notices.

Same contract as :mod:`chinwag.core.commands`: ``handler(hub, session, command)
-> list[Outbound]``, raising ChatError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.core.events import Outbound
from chinwag.core.types.userinfo import (
    HostChanged,
    HostRejoined,
    InvalidRealname,
    InviteNotice,
    RealnameChanged,
    SetName,
    account_host,
)

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Room, Session


def set_name(hub: Hub, session: Session, cmd: SetName) -> list[Outbound]:
    """A new real name, told to the user and everyone sharing a room with it."""
    realname = cmd.realname
    if not realname.strip() or len(realname) > hub.limits.realname_len:
        raise InvalidRealname()
    session.realname = realname
    event = RealnameChanged(session.nick or "", realname, session.user)
    return [Outbound([session.sid, *hub.peers(session)], event)]


def shown_user(hub: Hub, session: Session) -> str:
    """``session``'s user[@host] as it should be now: its username, with
    ``account_host`` as host while it is logged in (if the server sets one)."""
    name = session.user.partition("@")[0]
    host = account_host(hub.account_host, session.account)
    return f"{name}@{host}" if host else name


def host_change(hub: Hub, session: Session) -> list[Outbound]:
    """After a login or logout: if the shown user@host changes, the user and its
    peers hear it (HostChanged), then each shared room's other members get
    HostRejoined (IRC clients without chghost see QUIT then JOIN and MODE)."""
    new = shown_user(hub, session)
    old = session.user
    if new == old or session.nick is None:  # (before registration, register() sets it)
        return []
    session.user = new
    out = [Outbound([session.sid, *hub.peers(session)], HostChanged(session.nick, old, new))]
    for key in session.rooms:
        room = hub.rooms[key]
        others = [sid for sid in room.members if sid != session.sid]
        if others:
            info = hub.info(session, room)
            out.append(Outbound(others, HostRejoined(room.name, info.nick, new, info.prefix, info.account,
                                                     info.realname, info.away)))
    return out


def invite_notice(hub: Hub, room: Room, session: Session, target: Session) -> list[Outbound]:
    """Who else hears of an invitation: the members who could have sent it."""
    allowed = room.ops if "i" in room.flags else room.members
    to = [sid for sid in room.members if sid in allowed and sid != session.sid and sid != target.sid]
    if not to:
        return []
    return [Outbound(to, InviteNotice(room.name, session.nick or "", target.nick or "", session.user))]
