"""The IRC client core, Sans-I/O: bytes in, :mod:`events <chinwag.client.events>` out.

One :class:`ClientProtocol` per TCP connection; a :class:`Session` outlives it,
so after a reconnect the next protocol knows which rooms to rejoin and which
message ids were already shown. Registration::

    CAP LS 302 / NICK / USER  ->  CAP REQ (what we want and the server offers)
    CAP ACK|NAK               ->  CAP END  ->  001: JOIN every room of the session

Nick taken during registration (433): retry with a suffix (``alice_``,
``alice_2``...), and ask for the nick again when its holder quits or renames.
After a (re)join, :mod:`~chinwag.client.catchup` fetches what was missed
(``CHATHISTORY AFTER`` the last msgid seen, or the latest messages on a first
join) and holds live lines to the room meanwhile. Every PRIVMSG/NOTICE with a
``msgid`` already seen is dropped, so replays from history (or a server's join
playback) show each message exactly once. The :class:`Session` and the name
helpers live in :mod:`~chinwag.client.session`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from chinwag.client import commands as cmd
from chinwag.client import sasl
from chinwag.client.catchup import HISTORY_BATCHES, CatchUp
from chinwag.client.events import (
    ClientEvent,
    Info,
    Joined,
    Kicked,
    MessageKind,
    Names,
    NickChanged,
    NickInUse,
    Parted,
    Pong,
    Quit,
    Registered,
    RoomInfo,
    Said,
    ServerError,
    Topic,
)
from chinwag.client.session import JOIN_HISTORY, SeenIds, Session, casefold, split_text
from chinwag.protocols.irc.message import (
    InputTooLong,
    InvalidMessage,
    IrcLineReader,
    Message,
    parse_source,
)

__all__ = ["JOIN_FAILED", "JOIN_HISTORY", "WANTED_CAPS", "ClientProtocol", "SeenIds", "Session", "casefold",
           "split_text"]

#: Capabilities we use, requested when the server offers them.
WANTED_CAPS: Final = ("server-time", "message-tags", "echo-message", "batch", "draft/chathistory")
VERSION: Final = "chinwag connect"

# Numerics the core handles itself or that are noise in a chat window.
_QUIET: Final = frozenset(
    {"002", "003", "004", "005", "250", "251", "252", "253", "254", "255", "265", "266", "315", "321", "329",
     "333", "353", "366", "375", "376", "396"}
)
# Join failures: the room is not ours to rejoin.
JOIN_FAILED: Final = frozenset({"403", "405", "471", "473", "474", "475", "476", "477", "479"})

def _now() -> datetime:
    return datetime.now(UTC)


def server_time(msg: Message, clock: Callable[[], datetime]) -> datetime:
    """The ``server-time`` tag as an aware datetime, else the clock."""
    stamp = msg.tags.get("time")
    if stamp:
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            return clock()
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return clock()


Handler = Callable[["ClientProtocol", Message], None]


class ClientProtocol:
    """One connection's IRC client state machine. No sockets, no asyncio.

    Feed :meth:`receive_data`; collect :meth:`events_received` and
    :meth:`data_to_send`. User intents go in through :meth:`perform`.
    """

    def __init__(
        self,
        session: Session,
        *,
        user: str = "chinwag",
        realname: str = "chinwag connect",
        password: str = "",
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.session = session
        self.nick = session.nick
        self.user = user
        self.realname = realname
        self.password = password
        self.clock = clock
        self.registered = False
        self.server = ""  # its name, from 001
        self.quitting = False  # we said QUIT: the server's ERROR is a goodbye
        self.fatal = ""  # set when retrying cannot help (e.g. an invalid nick)
        self.closed_by_server = ""  # the text of the server's ERROR: it is closing this link
        self.caps: set[str] = set()
        self.offered: dict[str, str] = {}
        self.isupport: dict[str, str] = {}
        self.members: dict[str, dict[str, str]] = {}  # room cf -> nick cf -> nick
        self._names: dict[str, list[str]] = {}
        self._batches: dict[str, tuple[str, str]] = {}  # ref -> (type, target)
        self.catchup = CatchUp(self)  # CHATHISTORY after a (re)join, live lines held meanwhile
        self._cap_done = False
        self._sasl_started = False
        self._nick_tries = 0
        self._reader = IrcLineReader()
        self._out: list[bytes] = []
        self._events: list[ClientEvent] = []

    # ------------------------------------------------------------------ I/O API

    def start(self) -> None:
        """Queue the registration burst."""
        self.send("CAP", "LS", "302")
        if self.password:
            self.send("PASS", self.password)
        self.send("NICK", self.nick)
        self.send("USER", self.user, "0", "*", self.realname)

    def receive_data(self, data: bytes) -> None:
        self._reader.feed(data)
        for item in self._reader.messages():
            if isinstance(item, InputTooLong | InvalidMessage):
                continue  # a broken line from the server: nothing we can show
            handler = _HANDLERS.get(item.command)
            if handler is not None:
                handler(self, item)
            elif item.command.isdigit():
                self._numeric(item)

    def events_received(self) -> list[ClientEvent]:
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> bytes:
        data = b"".join(self._out)
        self._out.clear()
        return data

    def send(self, command: str, *params: str) -> None:
        self._out.append(Message(command, params).to_bytes())

    # --------------------------------------------------------------- helpers

    def fold(self, name: str) -> str:
        return casefold(name, self.isupport.get("CASEMAPPING", "rfc1459"))

    def is_me(self, nick: str) -> bool:
        return self.fold(nick) == self.fold(self.nick)

    def is_room(self, target: str) -> bool:
        return target[:1] in self.isupport.get("CHANTYPES", "#&")

    @property
    def rooms(self) -> list[str]:
        """Rooms we are in (or will rejoin), in join order."""
        return list(self.session.rooms.values())

    def nicks(self, room: str) -> list[str]:
        return sorted(self.members.get(self.fold(room), {}).values(), key=self.fold)

    def _emit(self, event: ClientEvent) -> None:
        self._events.append(event)

    def _text_budget(self, target: str) -> int:
        # Relayed as ":nick!user@host PRIVMSG target :text\r\n" in 512 bytes;
        # assume the longest usual user (10) and host (63) the server may add.
        prefix = len(f":{self.nick}!{'u' * 10}@{'h' * 63} PRIVMSG {target} :".encode())
        return max(64, 510 - prefix)

    # --------------------------------------------------------------- intents

    def perform(self, intent: cmd.Intent) -> None:
        """Send what ``intent`` means in IRC. Local intents (help, switch) are ignored."""
        match intent:
            case cmd.Say(target, text):
                self.say(target, text)
            case cmd.Act(target, text):
                self.say(target, text, kind="action")
            case cmd.JoinRoom(room):
                self.send("JOIN", room)
            case cmd.PartRoom(room, reason):
                self.send("PART", room, reason) if reason else self.send("PART", room)
            case cmd.ChangeNick(nick):
                self.session.nick = nick
                self.send("NICK", nick)
            case cmd.WhoIs(room):
                self.send("NAMES", room)
            case cmd.ListRooms():
                self.send("LIST")
            case cmd.SetTopic(room, text):
                self.send("TOPIC", room) if text is None else self.send("TOPIC", room, text)
            case cmd.QuitChat(reason):
                self.quitting = True
                self.send("QUIT", reason or "leaving")
            case cmd.Raw(line):
                try:
                    self._out.append(Message.parse(line).to_bytes())
                except (InvalidMessage, ValueError) as exc:
                    self._emit(ServerError(self.clock(), f"not sent: {exc}"))
            case _:
                pass

    def say(self, target: str, text: str, kind: MessageKind = "privmsg") -> None:
        """PRIVMSG (or CTCP ACTION), split to fit a line; echoed locally unless
        the server echoes (echo-message)."""
        budget = self._text_budget(target) - (9 if kind == "action" else 0)
        for piece in split_text(text, budget):
            wire = f"\x01ACTION {piece}\x01" if kind == "action" else piece
            self.send("NOTICE" if kind == "notice" else "PRIVMSG", target, wire)
            if "echo-message" not in self.caps:
                private = not self.is_room(target)
                self._emit(Said(self.clock(), self.nick, target, piece, kind, own=True,
                                private=private, peer=target if private else ""))

    def ping(self, token: str) -> None:
        self.send("PING", token)

    # -------------------------------------------------------- registration

    def _cap(self, msg: Message) -> None:
        if len(msg.params) < 2:
            return
        sub = msg.params[1].upper()
        args = msg.params[2:]
        if sub in ("LS", "NEW"):
            more = len(args) > 1 and args[0] == "*"
            for item in (args[-1] if args else "").split():
                name, _, value = item.partition("=")
                self.offered[name] = value
            if more or self._cap_done and sub == "LS":
                return
            wanted: list[str] = [c for c in WANTED_CAPS if c in self.offered and c not in self.caps]
            if self.session.login is not None and not self._cap_done:
                if "sasl" in self.offered:
                    wanted.append("sasl")
                else:
                    self._emit(ServerError(self.clock(), "the server offers no SASL: not logged in"))
            if wanted:
                self.send("CAP", "REQ", " ".join(wanted))
            elif not self._cap_done:
                self._cap_end()
        elif sub == "ACK":
            for name in (args[-1] if args else "").split():
                if name.startswith("-"):
                    self.caps.discard(name[1:])
                else:
                    self.caps.add(name)
            login = self.session.login
            if login is not None and "sasl" in self.caps and not self._cap_done and not self._sasl_started:
                self._sasl_started = True
                self.send("AUTHENTICATE", login.mechanism)
            elif not self._cap_done and not self._sasl_started:
                self._cap_end()
        elif sub == "NAK":
            if not self._cap_done:
                self._cap_end()
        elif sub == "DEL":
            for name in (args[-1] if args else "").split():
                self.caps.discard(name)
                self.offered.pop(name, None)

    def _authenticate(self, msg: Message) -> None:
        login = self.session.login
        if login is not None and self._sasl_started and msg.params[:1] == ("+",):
            for chunk in login.chunks():
                self.send("AUTHENTICATE", chunk)

    def _cap_end(self) -> None:
        self._cap_done = True
        self.send("CAP", "END")

    def _welcome(self, msg: Message) -> None:
        self.registered = True
        self.server = msg.source or ""
        self._cap_done = True
        if msg.params:
            self.nick = msg.params[0]
        self._emit(Registered(server_time(msg, self.clock), self.nick, msg.source or ""))
        if len(msg.params) > 1:
            self._emit(Info(server_time(msg, self.clock), msg.params[-1]))
        for room in self.rooms:
            self.send("JOIN", room)

    def _isupport(self, msg: Message) -> None:
        for token in msg.params[1:-1]:
            key, _, value = token.partition("=")
            if key.startswith("-"):
                self.isupport.pop(key[1:], None)
            else:
                self.isupport[key] = value

    def _nick_taken(self, msg: Message) -> None:
        if self.registered:
            self._error(msg)
            return
        self._nick_tries += 1
        base = self.session.nick
        tried = self.nick
        self.nick = f"{base}_" if self._nick_tries == 1 else f"{base}_{self._nick_tries}"
        self._emit(NickInUse(server_time(msg, self.clock), tried, self.nick))
        self.send("NICK", self.nick)

    def _bad_nick(self, msg: Message) -> None:
        self._error(msg)
        if not self.registered:
            self.fatal = f"the server refused the nick {self.nick!r}"
            self.send("QUIT", "invalid nick")

    # ------------------------------------------------------------ keepalive

    def _ping(self, msg: Message) -> None:
        self.send("PONG", *msg.params)

    def _pong(self, msg: Message) -> None:
        self._emit(Pong(server_time(msg, self.clock), msg.params[-1] if msg.params else ""))

    # ------------------------------------------------------------ messages

    def _message(self, msg: Message) -> None:
        if len(msg.params) < 2 or msg.source is None:
            return
        nick, user, _host = parse_source(msg.source)
        target, text = msg.params[0], msg.params[1]
        when = server_time(msg, self.clock)
        kind: MessageKind = "notice" if msg.command == "NOTICE" else "privmsg"
        if text.startswith("\x01"):
            ctcp, _, arg = text.strip("\x01").partition(" ")
            ctcp = ctcp.upper()
            if ctcp == "ACTION":
                kind, text = "action", arg
            else:
                if ctcp == "VERSION" and kind == "privmsg" and not self.is_me(nick):
                    self.send("NOTICE", nick, f"\x01VERSION {VERSION}\x01")
                return
        if user is None and not self.is_room(target) and self._from_server(nick):
            self._emit(Info(when, text))  # a server notice ("*** Looking up your hostname")
            return
        msgid = msg.tags.get("msgid")
        ref = msg.tags.get("batch", "")
        batch = self._batches.get(ref)
        history = batch is not None and batch[0] in HISTORY_BATCHES
        room = self.is_room(target)
        if history:
            self.catchup.in_history(ref, target if room else None, msgid)
        if msgid and msgid in self.session.seen:
            return
        own = self.is_me(nick)
        peer = "" if room else (target if own else nick)
        mention = not own and self._mentions(text)
        self.catchup.offer(Said(when, nick, target, text, kind, own=own, private=not room, peer=peer,
                                mention=mention, msgid=msgid, history=history))

    def _from_server(self, source: str) -> bool:
        return not self.registered or "." in source or source == self.server

    def _mentions(self, text: str) -> bool:
        me = re.escape(self.fold(self.nick))
        return re.search(rf"(?<![\w\-\[\]\\`^{{}}|]){me}(?![\w\-\[\]\\`^{{}}|])", self.fold(text)) is not None

    def _batch(self, msg: Message) -> None:
        if not msg.params:
            return
        ref = msg.params[0]
        if ref.startswith("+") and len(msg.params) > 1:
            target = msg.params[2] if len(msg.params) > 2 else ""
            self._batches[ref[1:]] = (msg.params[1], target)
        elif ref.startswith("-"):
            kind, target = self._batches.pop(ref[1:], ("", ""))
            self.catchup.ended(ref[1:], kind, target)

    # --------------------------------------------------------- membership

    def _join(self, msg: Message) -> None:
        if not msg.params or msg.source is None:
            return
        nick = parse_source(msg.source)[0]
        room = msg.params[0]
        key = self.fold(room)
        when = server_time(msg, self.clock)
        if self.is_me(nick):
            self.session.rooms[key] = room
            self.members[key] = {}
            self._emit(Joined(when, room, nick, own=True))
            self.catchup.fetch(room, joining=True)
        else:
            self.members.setdefault(key, {})[self.fold(nick)] = nick
            self._emit(Joined(when, room, nick))

    def _left(self, room: str, nick: str) -> bool:
        """Forget ``nick`` in ``room``; True when that was us."""
        key = self.fold(room)
        if self.is_me(nick):
            self.catchup.release(key)
            self.session.rooms.pop(key, None)
            self.members.pop(key, None)
            return True
        self.members.get(key, {}).pop(self.fold(nick), None)
        return False

    def _part(self, msg: Message) -> None:
        if not msg.params or msg.source is None:
            return
        nick = parse_source(msg.source)[0]
        room = msg.params[0]
        reason = msg.params[1] if len(msg.params) > 1 else ""
        own = self._left(room, nick)
        self._emit(Parted(server_time(msg, self.clock), room, nick, reason, own))

    def _kick(self, msg: Message) -> None:
        if len(msg.params) < 2 or msg.source is None:
            return
        room, nick = msg.params[0], msg.params[1]
        reason = msg.params[2] if len(msg.params) > 2 else ""
        own = self._left(room, nick)
        by = parse_source(msg.source)[0]
        self._emit(Kicked(server_time(msg, self.clock), room, nick, by, reason, own))

    def _quit(self, msg: Message) -> None:
        if msg.source is None:
            return
        nick = parse_source(msg.source)[0]
        folded = self.fold(nick)
        rooms = tuple(
            self.session.rooms.get(key, key) for key, members in self.members.items()
            if members.pop(folded, None) is not None
        )
        reason = msg.params[0] if msg.params else ""
        self._emit(Quit(server_time(msg, self.clock), nick, reason, rooms))
        self._reclaim(nick)

    def _reclaim(self, freed: str) -> None:
        """``freed`` is no longer in use: if it is the nick we asked for and did not
        get (registering took ``alice_`` while ``alice``, our own connection to a
        node that died, was still there), ask for it again."""
        wanted = self.session.nick
        if self.registered and self.fold(freed) == self.fold(wanted) and not self.is_me(wanted):
            self.send("NICK", wanted)

    def _nick(self, msg: Message) -> None:
        if not msg.params or msg.source is None:
            return
        old, new = parse_source(msg.source)[0], msg.params[0]
        own = self.is_me(old)
        for members in self.members.values():
            if members.pop(self.fold(old), None) is not None:
                members[self.fold(new)] = new
        if own:
            self.nick = new
            self.session.nick = new
        self._emit(NickChanged(server_time(msg, self.clock), old, new, own))
        if not own:
            self._reclaim(old)

    def _topic(self, msg: Message) -> None:
        if len(msg.params) < 2 or msg.source is None:
            return
        by = parse_source(msg.source)[0]
        self._emit(Topic(server_time(msg, self.clock), msg.params[0], msg.params[1], by))

    # ------------------------------------------------------------ numerics

    def _numeric(self, msg: Message) -> None:
        code = msg.command
        when = server_time(msg, self.clock)
        p = msg.params
        if code in sasl.OK or code in sasl.FAILED:
            if code in sasl.FAILED:
                self._emit(ServerError(when, f"SASL login failed: {p[-1] if p else code}", code))
            if not self._cap_done:
                self._cap_end()
        elif code == "900" and len(p) >= 3:
            self._emit(Info(when, f"logged in as {p[2]}"))
        elif code == "332" and len(p) >= 3:
            self._emit(Topic(when, p[1], p[2]))
        elif code == "331" and len(p) >= 2:
            self._emit(Topic(when, p[1], ""))
        elif code == "353" and len(p) >= 4:
            prefixes = self._prefix_chars()
            names = [n.lstrip(prefixes).split("!", 1)[0] for n in p[3].split()]
            self._names.setdefault(self.fold(p[2]), []).extend(n for n in names if n)
        elif code == "366" and len(p) >= 2:
            room = p[1]
            key = self.fold(room)
            nicks = self._names.pop(key, [])
            if key in self.members:
                self.members[key] = {self.fold(n): n for n in nicks}
            self._emit(Names(when, room, tuple(nicks)))
        elif code == "322" and len(p) >= 3:
            users = int(p[2]) if p[2].isascii() and p[2].isdigit() else 0
            self._emit(RoomInfo(when, p[1], users, p[3] if len(p) > 3 else ""))
        elif code == "323":
            self._emit(Info(when, "end of room list"))
        elif code == "352" and len(p) >= 8:
            self._emit(Info(when, f"{p[1]} {p[5]} ({p[2]}@{p[3]}) {p[6]} {p[7].partition(' ')[2]}"))
        elif code in JOIN_FAILED and len(p) >= 2:
            self.session.rooms.pop(self.fold(p[1]), None)
            self._error(msg)
        elif code[0] in "45" and code != "422":  # 422: no MOTD, not a failure
            self._error(msg)
        elif code not in _QUIET and len(p) > 1:
            self._emit(Info(when, " ".join(p[1:])))

    def _prefix_chars(self) -> str:
        prefix = self.isupport.get("PREFIX", "(qaohv)~&@%+")
        return prefix.partition(")")[2] or "~&@%+"

    def _error(self, msg: Message) -> None:
        text = " ".join(msg.params[1:]) if len(msg.params) > 1 else " ".join(msg.params)
        self._emit(ServerError(server_time(msg, self.clock), text, msg.command))

    def _fail(self, msg: Message) -> None:
        text = msg.params[-1] if msg.params else ""
        command = msg.params[0] if msg.params else ""
        if command.upper() == "CHATHISTORY":  # no history is coming: show what waited for it
            self.catchup.failed()
        self._emit(ServerError(server_time(msg, self.clock), f"{command}: {text}", msg.command))

    def _server_error(self, msg: Message) -> None:
        text = msg.params[-1] if msg.params else ""
        self.closed_by_server = text or "ERROR"
        when = server_time(msg, self.clock)
        self._emit(Info(when, text) if self.quitting else ServerError(when, text, "ERROR"))


_HANDLERS: Final[dict[str, Handler]] = {
    "CAP": ClientProtocol._cap,
    "AUTHENTICATE": ClientProtocol._authenticate,
    "001": ClientProtocol._welcome,
    "005": ClientProtocol._isupport,
    "433": ClientProtocol._nick_taken,
    "432": ClientProtocol._bad_nick,
    "PING": ClientProtocol._ping,
    "PONG": ClientProtocol._pong,
    "PRIVMSG": ClientProtocol._message,
    "NOTICE": ClientProtocol._message,
    "BATCH": ClientProtocol._batch,
    "JOIN": ClientProtocol._join,
    "PART": ClientProtocol._part,
    "KICK": ClientProtocol._kick,
    "QUIT": ClientProtocol._quit,
    "NICK": ClientProtocol._nick,
    "TOPIC": ClientProtocol._topic,
    "FAIL": ClientProtocol._fail,
    "ERROR": ClientProtocol._server_error,
}
