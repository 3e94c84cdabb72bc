"""Users and connections: one account, several devices; a registered nick is its account's.

Words. A *connection* is one client socket; the hub knows it by its sid. A
*user* is what others see: a nick, rooms, an away message, an account, kept in
one ``Session``. Usually each connection is its own user and the two sids are
the same. With ``multiclient`` on, a connection that logs in to an account
whose user is already online *attaches* to that user instead:

* ``hub.links`` maps the attached connection's sid to the user's sid (the sid
  of the user's first connection, which stays the user's id even after that
  connection goes);
* ``hub.devices`` lists, for each user with more than one connection, the sids
  of its live connections.

Everything else (``hub.nicks``, room members, ops, invites) knows the user's
sid only, so the nick is held once, by the user: a nick change from any
connection is one change, seen by everyone else once. The hub hands commands
from an attached connection to its user's Session, and ``spread`` turns the
events it makes for that user into events for its connections: what changes
the user (JOIN, PART, NICK, AWAY, messages to it...) goes to all of them, a
reply (WHOIS, an error, a list) only to the connection that asked, and a
message one of them sent reaches the others as ``Echo``. A connection that
goes only detaches; the user quits when its last connection goes.

Nick protection. ``hub.registered`` holds every account name (casefolded:
loaded from the store at start, plus each registration). Whoever takes one of
them without being logged in to it is told (``NickProtected``) and gets a
deadline in ``hub.guards``; logging in to it in time ends the guard, otherwise
``expire`` (called by the transport's timer when ``next_deadline`` is due)
renames it to a free ``GuestN`` nick. A user logging in to account X while
someone else (not logged in to X) holds nick X takes it back at once:
``reclaim`` renames the holder first. All of it is pure: the deadline is a
time of ``hub.clock``, and the transport owns the timer.
"""

from __future__ import annotations

from collections.abc import Iterable, KeysView
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Final

from chinwag.core.accounts import AccountChanged
from chinwag.core.confusables import skeleton
from chinwag.core.errors import ChatError
from chinwag.core.events import (
    Attached,
    Crowd,
    Echo,
    Joined,
    Left,
    Members,
    Message,
    NickChanged,
    NickProtected,
    Outbound,
    Parted,
    Registered,
)
from chinwag.core.handlers.checks import members
from chinwag.core.handlers.whowas import remember
from chinwag.core.names import casefold, validate_nick
from chinwag.core.types.chat import TagsSent
from chinwag.core.types.moderation import Kicked, Killed, ModeChanged, WallopsSent
from chinwag.core.types.presence import AwayChanged
from chinwag.core.types.rooms import TopicChanged, TopicInfo

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Session

# Events about the user itself: every connection of it sees them, even when one
# of them caused it. Any other event for the user caused by one of its
# connections (an answer, an error) goes to that connection only.
EVERYWHERE: Final = frozenset({
    Joined, Parted, NickChanged, Left, Message, TagsSent, AccountChanged, Kicked, TopicChanged, ModeChanged,
    AwayChanged, Killed, NickProtected, Crowd, WallopsSent,
})
# ... and what follows a JOIN of the user (a client wants the names and topic).
WITH_JOIN: Final = frozenset({Members, TopicInfo})


# --- which connections -------------------------------------------------------------


def user_of(hub: Hub, sid: int) -> int:
    """The sid of the user connection ``sid`` is (its own, unless attached)."""
    return hub.links.get(sid, sid)


def connections_of(hub: Hub, user: int) -> list[int]:
    return list(hub.devices.get(user) or (user,))


def is_last(hub: Hub, sid: int) -> bool:
    """Is connection ``sid`` its user's only one (so its going is the user's)?"""
    conns = hub.devices.get(user_of(hub, sid))
    return conns is None or conns == [sid]


def spread(hub: Hub, out: Iterable[Outbound], conn: int | None = None, user: int | None = None) -> list[Outbound]:
    """``out`` with each user that has several connections replaced by them.
    ``conn``, ``user``: the connection whose command made ``out``, and its user
    (None: nobody's; every connection of each user gets everything)."""
    devices = hub.devices
    result: list[Outbound] = []
    joined = False
    for o in out:
        event = o.event
        kind = type(event)
        to = o.to
        if isinstance(to, KeysView | AbstractSet) and len(devices) < len(to):  # (a room's members: O(1) lookups)
            hit = any(u in to for u in devices)
        else:
            hit = any(s in devices for s in to)
        if not hit:  # nobody with several connections
            result.append(o)
            continue
        everywhere = kind in EVERYWHERE or (joined and kind in WITH_JOIN)
        new: list[int] = []
        echo: list[int] = []
        for s in to:
            conns = devices.get(s)
            if conns is None:
                new.append(s)
            elif s != user or conn is None:
                if conn is not None and conn in conns:  # (it just attached: its old name's QUIT is not for it)
                    new.extend(c for c in conns if c != conn)
                else:
                    new.extend(conns)
            elif kind is Message:  # the sender's, as usual; its other connections get an echo
                new.append(conn)
                echo.extend(c for c in conns if c != conn)
            elif everywhere:
                new.extend(conns)
                joined = joined or kind is Joined
            else:
                new.append(conn)
        result.append(Outbound(new, event))
        if echo and isinstance(event, Message):
            result.append(Outbound(echo, Echo(event)))
    return result


# --- several connections, one user ---------------------------------------------------


def attach(hub: Hub, session: Session, user_sid: int) -> list[Outbound]:
    """Connection ``session`` (logged in to the account of user ``user_sid``)
    becomes that user: a name of its own is given up (those who shared a room
    with it see it quit), and it gets the user's nick and rooms."""
    sid = session.sid
    user = hub.sessions[user_sid]
    nick = user.nick or ""
    out: list[Outbound] = []
    old = session.nick
    if old is not None:
        for key in session.rooms:
            out.append(Outbound((sid,), Parted(hub.rooms[key].name, old, "", session.user)))
        out += hub.disconnect(sid, f"logged in as {nick} on another connection", spread=False)
        out.append(Outbound((sid,), NickChanged(old, nick, user.user)))
    else:
        hub.disconnect(sid, spread=False)  # (a session not yet registered: nobody to tell)
        out.append(Outbound((sid,), Registered(nick)))
    conns = hub.devices.setdefault(user_sid, [user_sid])
    conns.append(sid)
    hub.links[sid] = user_sid
    rooms = []
    for key in user.rooms:
        room = hub.rooms[key]
        joined = Joined(room.name, nick, user.away, user.user, account=user.account or "",
                        realname=user.realname or nick)
        topic = TopicInfo(room.name, room.topic, room.topic_by, room.topic_ts) if room.topic else None
        rooms.append((joined, topic, members(hub, room)))
    out.append(Outbound((sid,), Attached(nick, tuple(rooms), len(conns))))
    return out


def user_of_account(hub: Hub, account: str, sid: int) -> int | None:
    """The sid of the registered user (other than ``sid``) logged in to ``account``, if any."""
    holder = hub.accounts.get(casefold(account))
    if holder is None or holder == sid or holder < 0 or hub.sessions[holder].nick is None:
        return None  # (one still registering, logged in with SASL: nothing to join yet; never a ghost)
    return holder


def detach(hub: Hub, sid: int, whole: bool) -> int | None:
    """Connection ``sid`` goes: the sid of its user if that user goes with it
    (its last connection, or ``whole``), else None."""
    user = hub.links.pop(sid, sid)
    conns = hub.devices.get(user)
    if conns is None:
        return user
    if whole:
        for c in conns:
            hub.links.pop(c, None)
        del hub.devices[user]
        return user
    if sid in conns:
        conns.remove(sid)
    if not conns:
        del hub.devices[user]
        return user
    if conns == [user]:  # back to one connection, the user's own
        del hub.devices[user]
    return None


def index_account(hub: Hub, session: Session, old: str | None) -> None:
    """Keep ``hub.accounts`` (account -> a user logged in to it) up to date."""
    if old is not None and hub.accounts.get(casefold(old)) == session.sid:
        del hub.accounts[casefold(old)]
    if session.account is not None:
        hub.accounts.setdefault(casefold(session.account), session.sid)


def forget(hub: Hub, session: Session) -> None:
    """A user is gone."""
    hub.guards.pop(session.sid, None)
    account = session.account
    if account is not None and hub.accounts.get(casefold(account)) == session.sid:
        del hub.accounts[casefold(account)]


# --- nick protection -----------------------------------------------------------------


def protected(hub: Hub, session: Session, nick: str) -> bool:
    """Is ``nick`` an account's name that ``session`` is not logged in to?"""
    key = casefold(nick)
    return key in hub.registered and (session.account is None or casefold(session.account) != key)


def guard(hub: Hub, session: Session) -> list[Outbound]:
    """After ``session`` took a nick, logged in or logged out: start its grace
    period (and tell it), keep it, or end it. A guard already running keeps its
    deadline: hopping between registered nicks does not extend it."""
    nick = session.nick
    if nick is None or not protected(hub, session, nick):
        hub.guards.pop(session.sid, None)
        return []
    if session.sid in hub.guards:
        return []
    grace = hub.limits.nick_grace
    out = [Outbound((session.sid,), NickProtected(nick, grace))]
    if grace <= 0:
        return out + rename(hub, session)
    hub.guards[session.sid] = hub.clock() + grace
    return out


def guest_nick(hub: Hub) -> str:
    """A free, valid nick nobody registered: Guest1, Guest2... A node of a
    cluster hands out only the numbers of its msgid slot (those equal to the
    slot + 1 modulo the slots: Guest1, Guest17... on slot 0; Guest2, Guest18...
    on slot 1), so two nodes never pick the same name at the same moment."""
    slot, step = hub.ids.slot, hub.ids.SLOTS
    while True:
        hub.guests += 1
        if slot is not None:
            hub.guests += (slot + 1 - hub.guests) % step
        nick = f"Guest{hub.guests}"
        if len(nick) > hub.limits.nick_len:
            nick = f"G{hub.guests}"
        key = casefold(nick)
        if key not in hub.nicks and key not in hub.registered and skeleton(nick) not in hub.skeletons:
            return nick


def rename(hub: Hub, session: Session, new: str | None = None) -> list[Outbound]:
    """``session`` is now known as ``new`` (a guest nick if None): one NICK to
    it and to everyone sharing a room with it. (A guard running goes on: the
    caller decides, with ``guard``, whether the new nick still needs one.)"""
    old = session.nick or ""
    if new is None:
        hub.guards.pop(session.sid, None)
        new = guest_nick(hub)
    remember(hub, session)
    hub.take_nick(session, new)
    session.nick_mark = hub.mark()
    # A summary still to come may hold the old nick's JOIN: it goes out first.
    out = hub.flush_crowds([k for k in session.rooms if k in hub.crowded], spread=False) if hub.crowded else []
    return [*out, Outbound([session.sid, *hub.peers(session)], NickChanged(old, new, session.user))]


def lost_claim(hub: Hub, sid: int, key: str) -> list[Outbound]:
    """A cluster's shared nick table gave the casefolded nick ``key`` to a user
    of another node, after this node's server renamed user ``sid`` to it (nick
    protection, a guest name a user elsewhere chose at the same moment): the
    table is the authority, so ``sid`` becomes a guest (nothing if it has
    moved on from ``key`` meanwhile)."""
    session = hub.sessions.get(sid)
    if session is None or hub.nicks.get(key) != sid:
        return []
    out = rename(hub, session)
    return spread(hub, out) if hub.devices else out


def reclaim(hub: Hub, session: Session, wanted: str) -> list[Outbound]:
    """If ``session`` is logged in to account ``wanted`` and someone else not
    logged in to it holds that nick, rename the holder now (so that
    ``session`` can take it)."""
    if session.account is None:
        return []
    try:
        nick = validate_nick(wanted, hub.limits.nick_len)
    except ChatError:
        return []
    key = casefold(nick)
    if key != casefold(session.account):
        return []
    holder = hub.nicks.get(key)
    if holder is None or holder == session.sid or holder < 0:
        return []  # (a ghost: its node renames it if need be, never this one)
    other = hub.sessions[holder]
    if not protected(hub, other, nick):
        return []  # (logged in to it: another user of the account, multiclient off)
    return rename(hub, other)


def next_deadline(hub: Hub) -> float | None:
    return min(hub.guards.values(), default=None)


def expire(hub: Hub) -> list[Outbound]:
    """Rename everyone whose grace period is over (the transport's timer)."""
    now = hub.clock()
    out: list[Outbound] = []
    for sid in [s for s, due in hub.guards.items() if due <= now]:
        session = hub.sessions.get(sid)
        if session is None or session.nick is None:
            hub.guards.pop(sid, None)
            continue
        out += rename(hub, session)
    return spread(hub, out) if hub.devices else out

