"""Rooms, members and sessions: the state every protocol shares.

``Hub.handle(sid, command)`` returns the events to deliver and to whom; it never
formats bytes and never touches I/O, so the same hub serves telnet, IRC and
WebSocket users, and tests drive it with plain objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from math import floor
from typing import cast

from chinwag.core import crowd
from chinwag.core.auth import Auth
from chinwag.core.commands import COMMANDS
from chinwag.core.confusables import skeleton
from chinwag.core.errors import ChatError, NotRegistered, PasswordMismatch
from chinwag.core.events import Checked, Command, Failed, Left, Outbound, Quit
from chinwag.core.handlers import users
from chinwag.core.handlers.whowas import WhowasMemory, remember
from chinwag.core.limits import Limits
from chinwag.core.names import HIDDEN_HOST, Reserved, casefold
from chinwag.core.roomstate import RoomState
from chinwag.core.types.lookup import MemberInfo


class MessageIds:
    """Sortable, unique, opaque ids: microseconds since the epoch plus a counter.

    Fixed-width lowercase hex, so string order is time order; monotonic even if
    the wall clock steps back. With a ``slot`` (0..SLOTS-1: a cluster node's
    row in cluster_nodes, unique among live nodes) every id is congruent to the
    slot modulo SLOTS, so the ids of two nodes never collide; 16 ids per
    microsecond per node instead of 256.
    """

    SLOTS = 16

    __slots__ = ("_last", "slot")

    def __init__(self, slot: int | None = None) -> None:
        self._last = 0
        self.slot: int | None = None
        self.use_slot(slot)

    def use_slot(self, slot: int | None) -> None:
        """From now on, ids of ``slot`` (None: any id, as a lone server);
        still above every id handed out or observed so far. (A cluster node
        gets its slot when it joins, after the store's last msgid was observed.)"""
        if slot is not None and not 0 <= slot < self.SLOTS:
            raise ValueError(f"msgid slot {slot} is not in 0..{self.SLOTS - 1}")
        self.slot = slot

    def observe(self, msgid: str) -> None:
        """Never hand out an id at or below one already stored (a restart
        with the clock set back must not reorder history)."""
        self._last = max(self._last, int(msgid, 16))

    @property
    def last(self) -> int:
        """The last id handed out or observed (every later one is above it)."""
        return self._last

    def mark(self, ts: float) -> str:
        """Where "now" (``ts``) falls among ids, handing out none: above every id
        handed out or observed so far and every id made for a time before ``ts``,
        and at or below the next one handed out from ``ts`` on. A history query
        answers what lies below it; what comes later reaches its asker live."""
        n = max(floor(ts * 1e6) << 8, self._last + 1)
        return f"{n:016x}"

    def next(self, ts: float) -> str:
        # (floor of a float product: int() and an int constant cost ~600 instructions more;
        # the same n for every ts >= 0, and for ts < 0 both are <= _last)
        n = floor(ts * 1e6) << 8
        if n <= self._last:  # (max(), written out: once per message)
            n = self._last + 1
        if self.slot is not None:
            n += (self.slot - n) % self.SLOTS  # the next id of this node's residue
        self._last = n
        try:
            # (the same as f"{n:016x}" below 2**64, in C without a format spec: a third of its cost)
            return n.to_bytes(8).hex()
        except OverflowError:  # (an id observed from beyond the year 4000: longer, still ordered)
            return f"{n:016x}"


NO_MODES: frozenset[str] = frozenset()  # shared: since Python 3.10 each frozenset() is a new 216-byte object


class Session:
    """A user: what others see (nick, rooms, away, account). Usually one
    connection's, with the connection's sid; connections that share a user
    are linked to it (core/handlers/users.py)."""

    __slots__ = ("sid", "nick", "user", "rooms", "realname", "away", "oper", "modes", "signon", "last_active",
                 "invites", "nick_mark", "account", "spoke_to")

    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.nick: str | None = None
        # The username, fixed at registration (WHO, WHOIS, USERHOST), with "@host"
        # after it while the host is not the hidden one (core/types/userinfo.py).
        self.user = ""
        self.rooms: dict[str, None] = {}  # casefolded room names, join order
        self.realname = ""
        self.away = ""  # away message; "" when present
        self.oper: str | None = None  # operator name after a successful OPER
        self.modes = NO_MODES  # user modes: "i" invisible, "w" wallops (a new frozenset per change)
        self.signon = 0.0
        self.last_active = 0.0  # when the user last spoke (WHOIS idle)
        self.invites: set[str] | None = None  # rooms (casefolded) holding an invite for it
        # Hub.mark() when it took its current nick: it may read private history
        # only from there (without accounts, an earlier holder of the nick may
        # have been someone else; see transport/history.py).
        self.nick_mark = ""
        # The account it is logged in to (display name), set only by SetAccount
        # after the transport checked a password (core/accounts.py).
        self.account: str | None = None
        # The room name it last sent to, as typed, and its key (casefold): its
        # next message to the same name needs no casefold (core/handlers/chat.py).
        self.spoke_to: tuple[str, str] | None = None


class Room:
    __slots__ = ("name", "members", "created", "topic", "topic_by", "topic_ts", "flags", "key", "limit",
                 "bans", "invited", "ops", "voiced", "crowd", "registered", "founder", "op_accounts", "quiets",
                 "audience")

    def __init__(self, name: str, created: float = 0.0) -> None:
        self.name = name
        self.members: dict[int, None] = {}  # session ids, join order
        # tuple(members), made by the first message after a join or part and shared
        # by every message until the next (Outbound.to): no copy of the member
        # list per message, and the fan-out batches them by identity (Batch.takes)
        self.audience: tuple[int, ...] | None = None
        self.created = created
        self.topic = ""
        self.topic_by = ""
        self.topic_ts = 0.0
        self.flags: set[str] = {"n", "t"}  # modes without a parameter: i m n t
        self.key = ""  # +k
        self.limit = 0  # +l; 0: none
        self.bans: dict[str, tuple[str, float]] = {}  # casefolded mask -> (set by, when)
        self.invited: set[int] = set()  # sessions invited since (for +i)
        self.ops: set[int] = set()
        self.voiced: set[int] = set()
        self.crowd: crowd.Pending | None = None  # membership changes not yet told (a big room)
        # Registered rooms (core/types/registered.py): when (0: not registered), the founder
        # account ("": the server), the op list (casefolded account -> as written).
        self.registered = 0.0
        self.founder = ""
        self.op_accounts: dict[str, str] = {}
        self.quiets: dict[str, tuple[str, float]] = {}  # +q, like bans: mask -> (set by, when)

    def state(self) -> RoomState:
        """Its rules, as kept beyond its members (core/roomstate.py)."""
        bans = tuple((mask, by, ts) for mask, (by, ts) in self.bans.items())
        quiets = tuple((mask, by, ts) for mask, (by, ts) in self.quiets.items())
        return RoomState(self.name, self.created, "".join(sorted(self.flags)), self.key, self.limit, bans,
                         self.topic, self.topic_by, self.topic_ts, self.registered, self.founder,
                         tuple(self.op_accounts.values()), quiets)

    def restore(self, state: RoomState) -> None:
        self.name, self.created = state.name, state.created
        self.flags = set(state.flags)
        self.key, self.limit = state.key, state.limit
        self.bans = {mask: (by, ts) for mask, by, ts in state.bans}
        self.topic, self.topic_by, self.topic_ts = state.topic, state.topic_by, state.topic_ts
        self.registered, self.founder = state.registered, state.founder
        self.op_accounts = {casefold(a): a for a in state.op_accounts}
        self.quiets = {mask: (by, ts) for mask, by, ts in state.quiets}


class Hub:
    def __init__(
        self,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
        auth: Auth | None = None,
        server_name: str = "chinwag",
        account_host: str = "",
        multiclient: bool = True,
        server_operators: Iterable[str] = (),
    ) -> None:
        self.limits = limits or Limits()
        self.account_host = account_host  # Config.account_host: the host of logged-in users (core/handlers/profile.py)
        self.multiclient = multiclient
        # Names nobody may take: the services' and the server's own (names.Reserved).
        self.reserved = Reserved((server_name,))
        self.clock = clock
        # Accounts that are server operators once logged in (config server_operators; core/types/registered.py).
        self.server_operators = frozenset(casefold(a) for a in server_operators)
        self.auth = auth or Auth()
        self.ids = MessageIds()
        self.sessions: dict[int, Session] = {}
        self.nicks: dict[str, int] = {}  # casefolded nick -> sid
        # TR39 skeleton of each nick -> sid (core/confusables.py): a name that
        # looks like one online is refused in O(1) (see lookalike_of).
        self.skeletons: dict[str, int] = {}
        self.rooms: dict[str, Room] = {}  # casefolded name -> Room
        self.opers: set[int] = set()  # sessions with operator rights (LUSERS counts)
        self.invisible: set[int] = set()  # sessions with user mode +i
        self.whowas = WhowasMemory(self.limits.whowas_max)  # nicks given up (WHOWAS)
        self.max_users = 0  # most registered users at once since the start (LUSERS 265/266)
        # Rules of rooms, with members or not, that differ from a fresh room's:
        # the store's copy, loaded at start (load_rooms). A room re-created
        # while its rules are here gets them back, and joining it obeys them.
        self.saved: dict[str, RoomState] = {}
        # Keys whose entry in ``saved`` changed (or went) since the server last
        # took them (take_changed) to write to the store.
        self.changed: dict[str, None] = {}
        self.revived = 0  # rooms re-created from ``saved`` so far (see forget_rules)
        self.crowded: dict[str, None] = {}  # keys of rooms with a summary pending (core/crowd.py)
        # Several connections, one user; nick protection (core/handlers/users.py).
        self.links: dict[int, int] = {}  # an attached connection's sid -> its user's sid
        self.devices: dict[int, list[int]] = {}  # user sid -> its live connections, when more than one
        self.accounts: dict[str, int] = {}  # casefolded account -> sid of a user logged in to it
        self.registered: set[str] = set()  # casefolded names of all accounts (load_accounts)
        self.guards: dict[int, float] = {}  # user sid -> when it is renamed (holds a nick not its account's)
        self.guests = 0  # guest nicks handed out (Guest1, Guest2...)
        # Cluster mode (core/handlers/remote.py): users of other nodes are ghosts, sessions with
        # negative sids (-1, -2...) that no connection has.
        self.remote: dict[int, str] = {}  # ghost sid -> its node
        self.next_ghost = -1
        self.nodes = 1  # nodes of the network (a cluster's node sets it; LUSERS)
        # What a local change did that no event shows, until remote.ops_for takes it (None, {}:
        # not in cluster mode; ops_for's first call starts them): local users gone (their quits),
        # keys of rooms whose rules changed.
        self.departed: list[Left] | None = None
        self.moved: dict[str, None] = {}

    # --- lifecycle -------------------------------------------------------

    def connect(self, sid: int) -> None:
        self.sessions[sid] = Session(sid)

    def add_ghost(self, node: str) -> Session:
        """A session for a user of another node (core/handlers/ghosts.py), with the next negative sid."""
        sid = self.next_ghost
        self.next_ghost -= 1
        session = self.sessions[sid] = Session(sid)
        self.remote[sid] = node
        return session

    def disconnect(self, sid: int, reason: str = "", whole: bool = False, spread: bool = True) -> list[Outbound]:
        """Forget a connection; if it was its user's last (or ``whole``: every
        connection of that user goes), the user goes, and everyone who shared
        a room with it hears once. ``spread=False``: addressed to users, for a
        handler (Hub.handle spreads what a handler returns, once)."""
        user = users.detach(self, sid, whole)
        if user is None:
            return []  # the user stays, on its other connections
        sid = user
        session = self.sessions.pop(sid, None)
        self.opers.discard(sid)
        self.invisible.discard(sid)
        for key in (session.invites or ()) if session else ():
            room = self.rooms.get(key)
            if room is not None:
                room.invited.discard(sid)
        if session is not None:
            users.forget(self, session)
        if session is None or session.nick is None:
            return []
        # Members of big rooms hear it in the room's summary: a mass disconnect
        # must not cost O(members) per departure.
        seen: dict[int, None] = {}
        size = self.limits.crowd_size
        for key in session.rooms:
            room = self.rooms[key]
            if crowd.crowded(room, size):
                self.note(room, "quit", session.nick, reason)
            else:
                seen.update(room.members)
        seen.pop(sid, None)
        remember(self, session)
        for key in session.rooms:
            self._remove_member(key, sid)
        self.release_nick(session)
        left = Left(session.nick, reason, session.user)
        if self.departed is not None and sid > 0:
            self.departed.append(left)
        out = [Outbound(list(seen), left)] if seen else []
        return users.spread(self, out) if spread and self.devices and out else out

    def load_accounts(self, names: Iterable[str]) -> None:
        """The names of the registered accounts (nick protection: core/handlers/users.py)."""
        self.registered.update(casefold(name) for name in names)

    # --- big rooms: summaries (core/crowd.py) ------------------------------

    def note(self, room: Room, kind: str, nick: str, reason: str = "", sid: int | None = None) -> None:
        if crowd.note(room, kind, nick, reason, sid):
            self.crowded[casefold(room.name)] = None

    def flush_crowds(self, keys: Iterable[str] | None = None, spread: bool = True) -> list[Outbound]:
        """The pending summaries (of ``keys``' rooms only, if given);
        ``spread`` as for disconnect."""
        out: list[Outbound] = []
        for key in list(self.crowded if keys is None else keys):
            if key in self.crowded:
                del self.crowded[key]
                room = self.rooms.get(key)
                if room is not None:
                    out += crowd.flush(room)
        return users.spread(self, out) if spread and self.devices and out else out

    # --- dispatch --------------------------------------------------------

    def handle(self, sid: int, command: Command) -> list[Outbound]:
        verdict: Checked | None = None
        cls = type(command)  # (once: the narrowing below is cast, not asked again)
        if cls is Checked:
            verdict = cast(Checked, command)
            command = verdict.command
            cls = type(command)
        spec = COMMANDS[cls]
        # (an attached connection speaks for its user; the dict is usually empty: no call then)
        user = self.links.get(sid, sid) if self.links else sid
        try:  # (a subscript, not .get(): one C call fewer for every command)
            session = self.sessions[user]
        except KeyError:  # killed, its connection not yet closed
            return []
        if cls is Quit:  # this connection goes (its user, if it was the last)
            return self.disconnect(sid, cast(Quit, command).reason)
        try:
            if spec.needs_registration and session.nick is None:
                raise NotRegistered()
            if spec.needs_password:
                self._password_passes(command, verdict)
            out = spec.handler(self, session, command)
        except ChatError as exc:
            return [Outbound((sid,), Failed(exc, spec.name))]
        return users.spread(self, out, sid, user) if self.devices else out

    def _password_passes(self, command: Command, verdict: Checked | None) -> None:
        """A command that carries a password runs on the transport's verdict;
        the hub never hashes one (it would stall everyone), so an unchecked
        one is refused."""
        if verdict is None:
            if self.auth.credential(command) is not None:
                raise PasswordMismatch()
        elif not verdict.ok:
            raise PasswordMismatch(retry_after=verdict.retry_after, final=verdict.final)

    # --- who holds which name ----------------------------------------------

    def lookalike_of(self, nick: str, sid: int) -> str | None:
        """The name of someone else whom ``nick`` would pass for (same TR39
        skeleton), or None. Only names in use count: a look-alike of someone
        offline may be taken. When accounts exist, the skeletons of registered
        names belong here too (a second index, filled from the account store)."""
        holder = self.skeletons.get(skeleton(nick))
        if holder is None or holder == sid:
            return None
        return self.sessions[holder].nick

    def take_nick(self, session: Session, nick: str) -> None:
        """``session`` now holds ``nick`` (checked by the caller), in both indexes."""
        if session.nick is not None:
            self.release_nick(session)
        self.nicks[casefold(nick)] = session.sid
        self.skeletons[skeleton(nick)] = session.sid
        session.nick = nick

    def release_nick(self, session: Session) -> None:
        if session.nick is None:
            return
        del self.nicks[casefold(session.nick)]
        shape = skeleton(session.nick)
        if self.skeletons.get(shape) == session.sid:
            del self.skeletons[shape]

    # --- queries used by handlers and adapters ---------------------------

    def session_of(self, sid: int) -> Session | None:
        """The user connection ``sid`` is (core/handlers/users.py)."""
        return self.sessions.get(self.links.get(sid, sid))

    def nick_of(self, sid: int) -> str | None:
        session = self.session_of(sid)
        return session.nick if session else None

    def peers(self, session: Session) -> list[int]:
        """Every other session sharing at least one room, each exactly once."""
        seen: dict[int, None] = {}
        for key in session.rooms:
            seen.update(self.rooms[key].members)
        seen.pop(session.sid, None)
        return list(seen)

    def mark(self) -> str:
        """An id no message will get, ordered after every message so far: a
        returning name catches up on what came after its departure mark."""
        return self.ids.next(self.clock())

    def rooms_of(self, sid: int) -> tuple[str, ...]:
        session = self.session_of(sid)
        return tuple(self.rooms[k].name for k in session.rooms) if session else ()

    def info(self, session: Session, room: Room | None = None) -> MemberInfo:
        """What others see of ``session`` (and its status in ``room``). Hosts are
        hidden: everyone is nick!user@HIDDEN_HOST, whatever the protocol."""
        nick = session.nick or "*"
        prefix = ""
        if room is not None:
            sid = session.sid
            prefix = ("@" if sid in room.ops else "") + ("+" if sid in room.voiced else "")
        user, _, host = session.user.partition("@")
        return MemberInfo(nick, user or nick, host or HIDDEN_HOST, session.realname or nick, prefix, session.away,
                          session.oper is not None, session.account or "")

    # --- rules that outlive a room's members (core/roomstate.py) -------------

    def load_rooms(self, states: Iterable[RoomState]) -> None:
        for state in states:
            if not state.is_default():
                self.saved[casefold(state.name)] = state

    def rules_changed(self, room: Room) -> None:
        """Keep ``room``'s rules (or stop keeping them if back to a fresh room's)."""
        key = casefold(room.name)
        state = room.state()
        if state.is_default():
            if self.saved.pop(key, None) is None:
                return
        else:
            self.saved[key] = state
        self.rules_moved(key)

    def rules_moved(self, key: str) -> None:
        """The rules of room ``key`` changed here: to store, and (cluster mode) to tell."""
        self.changed[key] = None
        if self.departed is not None:
            self.moved[key] = None

    def forget_rules(self, key: str) -> None:
        """Drop the rules of room ``key`` (the server's prune: no members, no
        history), unless it is registered: those are kept until it is dropped."""
        state = self.saved.get(key)
        if key not in self.rooms and state is not None and not state.registered:
            del self.saved[key]
            self.changed[key] = None

    def take_changed(self) -> list[tuple[str, RoomState | None]]:
        """(key, rules to store, or None: delete them) for each room changed
        since the last call, in the order they changed."""
        if not self.changed:
            return []
        changed, self.changed = self.changed, {}
        return [(key, self.saved.get(key)) for key in changed]

    def new_room(self, name: str, key: str) -> Room:
        """A room about to be created by its first joiner, with its saved rules
        if it has any; it exists once _add_member adds that joiner."""
        room = Room(name, self.clock())
        saved = self.saved.get(key)
        if saved is not None:
            room.restore(saved)
        return room

    def _remove_member(self, key: str, sid: int) -> None:
        room = self.rooms[key]
        del room.members[sid]
        room.audience = None
        if room.crowd is not None:
            crowd.forget(room, sid)
        room.ops.discard(sid)
        room.voiced.discard(sid)
        if not room.members:
            del self.rooms[key]

    def _add_member(self, room: Room, key: str, session: Session) -> None:
        if key not in self.rooms:
            self.rooms[key] = room
            if key in self.saved:
                self.revived += 1
        room.members[session.sid] = None
        room.audience = None
        session.rooms[key] = None
