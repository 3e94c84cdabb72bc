"""Handlers for who someone is: registering, changing nick, being away, logging
in or out of an account (the transport sends SetAccount once it has checked a
password), and quitting. Several connections of one user and nick protection
are core/handlers/users.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.core.accounts import AccountChanged, SetAccount
from chinwag.core.errors import AlreadyRegistered, NickInUse
from chinwag.core.events import ChangeNick, Join, Outbound, Quit, Register, Registered
from chinwag.core.handlers import profile, roomops, users
from chinwag.core.handlers.checks import nick
from chinwag.core.handlers.rooms import join
from chinwag.core.names import casefold, free_variant, validate_nick
from chinwag.core.types.presence import AwayChanged, SetAway

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Session


def register(hub: Hub, session: Session, cmd: Register) -> list[Outbound]:
    if session.nick is not None:
        raise AlreadyRegistered()
    if session.account is not None and hub.multiclient:
        holder = users.user_of_account(hub, session.account, session.sid)
        if holder is not None:  # (logged in before registering: SASL)
            return users.attach(hub, session, holder)
    reclaimed = users.reclaim(hub, session, cmd.nick)
    nick = _available_nick(hub, session, cmd.nick)
    hub.take_nick(session, nick)
    session.nick_mark = hub.mark()
    session.realname = cmd.realname
    session.user = cmd.user or "~" + nick
    session.user = profile.shown_user(hub, session)  # (logged in by SASL before: its account's host)
    hub.max_users = max(hub.max_users, len(hub.nicks))
    session.signon = session.last_active = hub.clock()
    out = [*reclaimed, Outbound((session.sid,), Registered(nick))]
    if session.account is not None:  # logged in before registering (SASL): a server operator's status
        out += roomops.account_changed(hub, session, None)
    out += users.guard(hub, session)
    for room in cmd.autojoin:
        out += join(hub, session, Join(room))
    return out


def _available_nick(hub: Hub, session: Session, wanted: str) -> str:
    """``wanted``, prepared (names.validate_nick), if ``session`` may take it:
    not reserved, not held by someone else, not a look-alike of a name in use."""
    nick = validate_nick(wanted, hub.limits.nick_len)
    hub.reserved.check(nick)
    holder = hub.nicks.get(casefold(nick))
    registering = session.nick is None
    if holder is not None and holder != session.sid:
        suggestion = free_variant(nick, hub.nicks, hub.limits.nick_len, hub.skeletons) if registering else ""
        raise NickInUse(nick, suggestion=suggestion)
    twin = hub.lookalike_of(nick, session.sid)
    if twin is not None:
        suggestion = free_variant(nick, hub.nicks, hub.limits.nick_len, hub.skeletons) if registering else ""
        raise NickInUse(nick, f"name taken: ‘{nick}’ looks like ‘{twin}’, who is online", suggestion)
    return nick


def change_nick(hub: Hub, session: Session, cmd: ChangeNick) -> list[Outbound]:
    old = session.nick or ""
    if validate_nick(cmd.nick, hub.limits.nick_len) == old:
        return []
    reclaimed = users.reclaim(hub, session, cmd.nick)
    new = _available_nick(hub, session, cmd.nick)
    return [*reclaimed, *users.rename(hub, session, new), *users.guard(hub, session)]


def set_away(hub: Hub, session: Session, cmd: SetAway) -> list[Outbound]:
    session.away = cmd.message[: hub.limits.away_len]
    return [Outbound([session.sid, *hub.peers(session)], AwayChanged(nick(session), session.away, session.user))]


def set_account(hub: Hub, session: Session, cmd: SetAccount) -> list[Outbound]:
    """Only the transport sends this, after checking a password (core/accounts.py).
    The session hears it; so do those sharing a room with it (IRC account-notify)."""
    if session.account == cmd.account:
        return []
    if cmd.account is not None and cmd.created:
        hub.registered.add(casefold(cmd.account))
    holder = users.user_of_account(hub, cmd.account, session.sid) if cmd.account is not None else None
    if hub.multiclient and holder is not None and session.nick is not None:
        # The account's user is online: this connection becomes it (core/handlers/users.py).
        out = [Outbound((session.sid,), AccountChanged(session.nick, cmd.account, cmd.created, session.user))]
        return out + users.attach(hub, session, holder)
    old, session.account = session.account, cmd.account
    users.index_account(hub, session, old)
    if session.nick is None:  # (SASL before registration; register() gives it the account's host and attaches it)
        return [Outbound((session.sid,), AccountChanged("*", cmd.account, cmd.created))]
    out = [Outbound((session.sid,), AccountChanged(session.nick, cmd.account, cmd.created, session.user))]
    peers = hub.peers(session)
    if peers:
        out.append(Outbound(peers, AccountChanged(session.nick, cmd.account, user=session.user)))
    out += profile.host_change(hub, session)
    out += roomops.account_changed(hub, session, old)
    if cmd.account is not None and casefold(session.nick) != casefold(cmd.account):
        # Someone not logged in holds the account's nick: renamed now, and it is ours.
        reclaimed = users.reclaim(hub, session, cmd.account)
        if reclaimed:
            return out + reclaimed + change_nick(hub, session, ChangeNick(cmd.account))
    return out + users.guard(hub, session)


def quit_(hub: Hub, session: Session, cmd: Quit) -> list[Outbound]:
    return hub.disconnect(session.sid, cmd.reason, spread=False)  # (Hub.handle quits a connection itself)
