"""The plain-text line protocol for telnet and netcat users.

The first line is the name; afterwards a plain line goes to the current room and
``/command args`` lines are looked up in one table, ``TEXT_COMMANDS``. Output
lines end in CRLF; input may end in LF or CRLF.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from chinwag.config import Limits
from chinwag.core.accounts import AccountChanged, AccountError, AccountNote, PlaybackChanged
from chinwag.core.errors import NameError_, NickInUse, NotSent, PasswordMismatch
from chinwag.core.events import (
    Attached,
    ChangeNick,
    Command,
    Crowd,
    Echo,
    Event,
    Failed,
    History,
    HistoryRequest,
    Join,
    Joined,
    Left,
    ListRooms,
    Members,
    Message,
    NickChanged,
    NickProtected,
    Part,
    Parted,
    Query,
    Quit,
    Recall,
    Register,
    Registered,
    RoomList,
    Say,
    ServerShutdown,
    Who,
)
from chinwag.core.names import casefold
from chinwag.core.numbers import decimal
from chinwag.core.quick import say as new_say
from chinwag.core.types.ircv3 import Redacted
from chinwag.core.types.moderation import Kicked, Killed, ModeChanged, WallopsSent, mode_string
from chinwag.core.types.presence import IsAway
from chinwag.core.types.registered import RoomDetails, RoomNote
from chinwag.core.types.rooms import Invited, TopicChanged, TopicInfo
from chinwag.protocols import crowd, roomservice, text_accounts, text_devices, text_rooms
from chinwag.protocols.base import LineReader, LineTooLong, RenderCache, decode_line
from chinwag.protocols.sanitize import strip_controls
from chinwag.protocols.telnet import TelnetFilter
from chinwag.protocols.text_devices import clock_hhmm

GREETING: Final = "Welcome to chinwag! What is your name?"
NAME_PROMPT: Final = "What is your name?"
PASSWORD_PROMPT: Final = "This server has a password. Password?"
QUIT_REASON: Final = "quit"
HISTORY_PAGE: Final = 50  # /history without N (the server still caps it at history_max)
MAX_WINDOW: Final = 3650 * 86400  # /since: anything longer is a typo, not a window


def stamp_with_date(ts: float, today: str) -> str:
    """History lines from before today carry their date."""
    day = time.strftime("%Y-%m-%d", time.localtime(ts))
    return clock_hhmm(ts) if day == today else f"{day} {clock_hhmm(ts)}"


_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_window(arg: str) -> float | None:
    """'10m', '1h', '2d', '90s' or bare minutes -> seconds; None if unreadable."""
    arg = arg.strip().lower()
    unit = _UNITS.get(arg[-1:]) if arg else None
    number = arg[:-1] if unit else arg
    try:
        value = float(number) * (unit or 60)
    except ValueError:
        return None
    return value if 0 < value < MAX_WINDOW else None


@dataclass(frozen=True, slots=True)
class TextCommand:
    usage: str
    help: str
    build: Callable[[TextProtocol, str], Command | Query | None]
    needs_arg: bool = False


def _split1(arg: str) -> tuple[str, str]:
    head, _, rest = arg.partition(" ")
    return head, rest.strip()


def _say(p: TextProtocol, arg: str, kind: str) -> Command | None:
    room = p.require_room()
    if room is None:
        return None
    return Say(room, arg, "action" if kind == "action" else "privmsg")


def _msg(p: TextProtocol, arg: str) -> Command | None:
    nick, text = _split1(arg)
    if not text:
        p.usage("msg")
        return None
    if casefold(nick) in text_rooms.SERVICE_NAMES:
        return text_rooms.service(p, text)
    if text.startswith("/me "):
        return Say(nick, text[4:], "action")
    return Say(nick, text)


def _join(p: TextProtocol, arg: str) -> Command | None:
    room, _ = _split1(arg)
    room = room if room.startswith("#") else "#" + room
    for joined in p.rooms:  # already there: it just becomes current
        if casefold(joined) == casefold(room):
            p.current = joined
            return Join(room)
    p.want_history = casefold(room)
    return Join(room)


def _history(p: TextProtocol, arg: str) -> Query | None:
    room = p.require_room()
    if room is None:
        return None
    count = decimal(arg.split()[0]) if arg.split() else HISTORY_PAGE
    if not count:
        p.usage("history")
        return None
    return HistoryRequest(room, "latest", count)


def _since(p: TextProtocol, arg: str) -> Query | None:
    seconds = parse_window(arg)
    if seconds is None:
        p.usage("since")
        return None
    room = p.require_room()
    return HistoryRequest(room, "since", 0, seconds) if room else None


def _part(p: TextProtocol, arg: str) -> Command | None:
    room, reason = _split1(arg)
    if not room:
        current = p.require_room()
        return Part(current) if current else None
    return Part(room if room.startswith("#") else "#" + room, reason)


def _who(p: TextProtocol, arg: str) -> Command | None:
    room, _ = _split1(arg)
    if room:
        return Who(room if room.startswith("#") else "#" + room)
    current = p.require_room()
    return Who(current) if current else None


def _quit(p: TextProtocol, arg: str) -> Command:
    p.say("* goodbye")
    return Quit(arg or QUIT_REASON)


def _help(p: TextProtocol, arg: str) -> None:
    p.say("* commands:")
    for spec in TEXT_COMMANDS.values():
        p.say(f"*   {spec.usage:<22} {spec.help}")
    p.say("*   (a line starting with // sends a literal /)")


TEXT_COMMANDS: Final[dict[str, TextCommand]] = {
    "help": TextCommand("/help", "this list", _help),
    "who": TextCommand("/who [#room]", "who is in the room", _who),
    "msg": TextCommand("/msg NICK text", "a private message", _msg, needs_arg=True),
    "me": TextCommand("/me action", "say what you do", lambda p, a: _say(p, a, "action"), True),
    "nick": TextCommand("/nick NEW", "change your name", lambda p, a: ChangeNick(_split1(a)[0]), True),
    "join": TextCommand("/join #room", "join a room and make it current", _join, needs_arg=True),
    "part": TextCommand("/part [#room] [reason]", "leave a room (default: current)", _part),
    "rooms": TextCommand("/rooms", "rooms and how many are in each", lambda p, a: ListRooms()),
    "history": TextCommand("/history [N]", f"the last N messages of the room ({HISTORY_PAGE})", _history),
    "since": TextCommand("/since 10m|1h|2d", "what was said in that window", _since, needs_arg=True),
    "register": TextCommand("/register PASSWORD|#room", "make your name an account; or register a room you run",
                            text_rooms.register, True),
    "login": TextCommand("/login NAME PASSWORD", "log in to your account", text_accounts.login, True),
    "logout": TextCommand("/logout", "log out of your account", text_accounts.logout),
    "password": TextCommand("/password OLD NEW", "change your account's password", text_accounts.password, True),
    "cert": TextCommand("/cert add|del|list [FINGERPRINT]", "client certificates that log in (SASL EXTERNAL)",
                        text_accounts.cert, True),
    "playback": TextCommand("/playback N|off|default", "history shown when you join a room (logged in)",
                            text_accounts.playback, True),
    # Rooms (text_rooms.py): these act on the current room; you must be its operator.
    "topic": TextCommand("/topic [text|-]", "show, set or (-) clear the room's topic", text_rooms.topic),
    "kick": TextCommand("/kick NICK [reason]", "put someone out of the room", text_rooms.kick, True),
    "ban": TextCommand("/ban NICK|MASK", "keep someone out (MASK: nick!user@host or ~a:ACCOUNT)", text_rooms.ban, True),
    "unban": TextCommand("/unban NICK|MASK", "lift a ban", text_rooms.unban, True),
    "mute": TextCommand("/mute NICK|MASK", "stop someone speaking in the room (+q)", text_rooms.mute, True),
    "unmute": TextCommand("/unmute NICK|MASK", "let them speak again", text_rooms.unmute, True),
    "op": TextCommand("/op NICK", "make someone a room operator", text_rooms.op, True),
    "deop": TextCommand("/deop NICK", "take operator status away", text_rooms.deop, True),
    "cs": TextCommand("/cs COMMAND ...", "the room service: /register #room, /cs help, /cs info #room",
                      text_rooms.service, True),
    "quit": TextCommand("/quit [reason]", "leave chinwag", _quit),
}


def _window(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


class TextProtocol:
    """One telnet/netcat connection's protocol state; no I/O."""

    # Slots, and no queue until input waits: 10,000 idle users each carried a
    # __dict__ and two empty deques (~1.7 KiB) before (benchmarks.connections --tracemalloc).
    __slots__ = (
        "password_required", "encrypted", "_name", "_password", "_trying", "telnet", "reader", "max_line",
        "max_unterminated", "default_room", "nick", "rooms", "current", "closing", "history_on_join",
        "history_default", "playback_max", "register_timeout", "_born", "want_history", "_queries", "_pending",
        "_awaiting_reply", "unsent",
    )
    #: a room message this connection sent renders to nothing for it (the
    #: sender's terminal shows what was typed): fan-out does not ask (_render_message)
    silent_own: bool = True

    def __init__(
        self, limits: Limits, default_room: str = "#lobby", history_on_join: int = 20, password_required: bool = False
    ) -> None:
        self.password_required = password_required
        self.encrypted = False  # (a TLS listener will set it: no "not encrypted" note)
        self._name: str | None = None  # the name, while its password is asked for
        self._password: str | None = None  # kept for another try at the name
        self._trying = ""  # the name whose password is being checked
        self.telnet = TelnetFilter()
        self.reader = LineReader(limits.max_line)
        self.max_line = limits.max_line
        self.max_unterminated = limits.max_unterminated
        self.default_room = default_room
        self.nick: str | None = None
        self.rooms: list[str] = []  # joined rooms, join order; the last is newest
        self.current: str | None = None
        self.closing = False
        self.history_on_join = history_on_join
        self.history_default = history_on_join  # (history_on_join is the account's own while logged in)
        self.playback_max = limits.playback_max
        self.register_timeout: float = float(limits.register_timeout)
        self._born: float | None = None
        # The room a /join is waiting for (joins are answered one at a time):
        # its Joined asks for its history.
        self.want_history: str | None = None
        self._queries: list[Query | Quit] = []  # short: a Recall, a join's history, a Quit
        # Lines received, not handled yet: the reader's own list (no copy), None when idle.
        self._pending: list[bytes | LineTooLong] | None = None
        # A Register, Join or Part is in flight: its answer decides how the next
        # line is read (is it a name? which room is current?), so hold them.
        self._awaiting_reply = False
        self.unsent: list[bytes] = [(GREETING + "\r\n").encode()]

    # --- input -----------------------------------------------------------

    @property
    def backlog(self) -> int:
        return (len(self._pending) if self._pending else 0) + len(self._queries)

    def abort(self, reason: str) -> None:
        self.say(f"* disconnected: {reason}")
        if self._pending:
            self._pending.clear()  # (next_command may be looping over it)
        self._pending = None
        self._queries.clear()
        self._awaiting_reply = False
        self._queries.append(Quit(reason))

    def tick(self, now: float) -> None:
        """The transport's clock: a connection that never names itself is closed."""
        if self._born is None:
            self._born = now
        elif self.nick is None and not self.closing and now - self._born >= self.register_timeout:
            self.register_timeout = float("inf")  # once
            self.abort(f"no name given within {int(now - self._born)} seconds")

    def receive_data(self, data: bytes) -> int:
        reader = self.reader
        lines = reader.feed(self.telnet.feed(data))
        pending = self._pending
        if lines:
            if pending is None:
                self._pending = pending = lines
            else:
                pending.extend(lines)
        if reader.discarded > self.max_unterminated and not self.closing:
            # Not a person typing: a stream with no line ends at all.
            self.abort(f"line too long (no newline in {reader.discarded} bytes)")
            pending = self._pending
        # (backlog; tests/protocols/test_backlog.py holds the two together)
        return (len(pending) if pending else 0) + len(self._queries)

    def next_command(self) -> Command | Query | None:
        if self._queries:
            query = self._queries.pop(0)
            if isinstance(query, Quit):
                self.closing = True
            return query
        pending = self._pending
        while pending and not self._awaiting_reply and not self.closing:
            item = pending.pop(0)
            if not pending and self._pending is pending:
                self._pending = None  # idle again: no list kept
            if type(item) is not bytes:  # LINE_TOO_LONG
                self.say(f"error: line too long (max {self.max_line} bytes); discarded")
                continue
            # Controls and escape sequences never enter the hub or the history.
            line = strip_controls(decode_line(item)).strip()
            if not line:
                if self.nick is None and self._name is None and not self.closing:
                    self.say(f"invalid name: empty. {NAME_PROMPT}")
                continue
            command = self._command_for(line)
            if command is not None:
                if type(command) is Say:  # the commonest: none of the checks below is about it
                    return command
                if isinstance(command, Register | Join | Part):
                    self._awaiting_reply = True
                elif isinstance(command, Quit):
                    self.closing = True
                return command
        return None

    def _command_for(self, line: str) -> Command | Query | None:
        if self._name is not None:  # this line is the password, whatever it looks like
            return self._register(line)
        # (line[0], not startswith: its arguments go through a format string; line is not empty)
        if line[0] != "/":
            pass  # the commonest: a plain line
        elif line[:2] == "//":
            line = line[1:]
        else:
            name, _, arg = line[1:].partition(" ")
            arg = arg.strip()
            spec = TEXT_COMMANDS.get(name.lower())
            if spec is None:
                self.say(f"unknown command: /{name} (try /help)")
                return None
            if self.nick is None and name.lower() not in ("quit", "help"):
                self.say(f"choose a name first. {NAME_PROMPT}")
                return None
            if spec.needs_arg and not arg:
                self.say(f"usage: {spec.usage}")
                return None
            return spec.build(self, arg)
        if self.nick is None:
            return self._register(line)
        room = self.current if self.current is not None else self.require_room()  # (the call says why not)
        return new_say(room, line) if room else None  # (core/quick.py: Say(room, line), cheaper)

    def _register(self, line: str) -> Command | None:
        """The name; then, when the server has a password, the password."""
        if not self.password_required or self._password is not None:
            return Register(line, password=self._password or "")
        if self._name is None:
            self._name = line
            self.say(PASSWORD_PROMPT)
            return None
        name, self._name, self._password = self._name, None, line
        self._trying = name
        return Register(name, password=line)

    def require_room(self) -> str | None:
        if self.current is None:
            self.say("* you are not in a room; /join #room first")
        return self.current

    def usage(self, name: str) -> None:
        self.say(f"usage: {TEXT_COMMANDS[name].usage}")

    def say(self, line: str) -> None:
        self.unsent.append(self._line(line))

    def data_to_send(self) -> bytes:
        if not self.unsent:  # (asked after every command)
            return b""
        out, self.unsent = b"".join(self.unsent), []
        return out

    # --- output ----------------------------------------------------------

    def render(self, event: Event, cache: RenderCache) -> bytes:
        if type(event) is Message:
            # The fan-out hot path: after the first recipient it is a cache hit.
            if event.nick != self.nick:
                data = cache.get(_HERE if event.private or event.target == self.current else _AWAY)
                if data is not None:
                    return data
            return self._render_message(event, cache)
        if type(event) is History:
            return self._render_history(event)
        if type(event) is Crowd:  # the same line for every text member of a big room
            data = cache.get(TextProtocol)
            if data is None:
                data = cache[TextProtocol] = self._line(crowd.text_line(event))
            return data
        if type(event) is RoomDetails:
            return b"".join(self._line(f"* ChanServ: {line}") for line in roomservice.details(event))
        line = self._render_other(event)
        return self._line(line) if line is not None else b""

    def variant(self, message: Message, senders: frozenset[str]) -> object | None:
        """The fan-out batch's key (see Adapter.variant): the line differs by
        whether the room is this reader's current one; a sender gets its own."""
        if self.nick in senders:
            return None
        return _HERE if message.private or message.target == self.current else _AWAY

    def _render_message(self, m: Message, cache: RenderCache) -> bytes:
        if m.nick == self.nick:
            if not m.private:  # (silent_own says so to fan-out)
                return b""  # the sender's terminal already shows what was typed
            return self._lines(f"[{clock_hhmm(m.ts)}] -> *{m.target}* ", m.text)
        key = _HERE if m.private or m.target == self.current else _AWAY
        data = cache.get(key)
        if data is None:
            stamp = clock_hhmm(m.ts)
            text = m.text
            where = "" if key is _HERE else f"{m.target} "
            if m.private:
                head = f"* {m.nick} " if m.kind == "action" else f"*{m.nick}* "
            elif m.kind == "action":
                head = f"{where}* {m.nick} "
            elif m.kind == "notice":
                head = f"{where}-{m.nick}- "
            else:
                head = f"{where}{m.nick}: "
            data = cache[key] = self._lines(f"[{stamp}] {head}", text)
        return data

    def _render_history(self, h: History) -> bytes:
        if not h.messages and h.mode == "join":
            return b""
        if not h.messages and h.mode == "away":
            return self._line("--- nothing new while you were away ---")
        if h.mode == "away":
            title = "while you were away"
        elif h.mode == "since":
            title = f"history of {h.room} for the last {_window(h.seconds)}"
        else:
            title = f"history of {h.room}"
        if not h.messages:
            return self._line(f"--- no {title} ---")
        today = time.strftime("%Y-%m-%d")
        lines = [f"--- {title} ---"]
        if h.more:
            shown = len(h.messages)
            lines.append(f"(only the first {shown} shown)" if h.mode == "since" else "(older messages not shown)")
        for m in h.messages:
            where = "" if h.room is not None or m.target == self.current else f"{m.target} "
            if m.kind == "action":
                head = f"{where}* {m.nick} "
            elif m.kind == "notice":
                head = f"{where}-{m.nick}- "
            else:
                head = f"{where}{m.nick}: "
            stamp = stamp_with_date(m.ts, today)
            # A multi-line message (IRCv3 draft/multiline): each line its own, blank ones left out.
            lines.extend(f"[{stamp}] {head}{line}" for line in m.text.split("\n") if line)
        lines.append("--- end of history ---")
        return b"".join(self._line(line) for line in lines)

    @classmethod
    def _lines(cls, head: str, text: str) -> bytes:
        """``head`` + text as one line, or for a multi-line message (IRCv3
        draft/multiline) one line per line of it, blank ones left out."""
        if "\n" not in text:
            return cls._line(head + text)
        return b"".join(cls._line(head + line) for line in text.split("\n") if line)

    @staticmethod
    def _line(line: str) -> bytes:
        """One output line. Every line goes through here: the text level of
        sanitizing (the transport made events terminal-safe; a terminal shows
        IRC formatting codes as garbage, so they go too)."""
        return (strip_controls(line) + "\r\n").encode()

    def _render_other(self, event: Event) -> str | None:
        me = self.nick
        match event:
            case Registered(nick):
                self.nick = nick
                self._awaiting_reply = False
                self._queries.append(Recall((self.default_room,)))
                return f"Welcome to chinwag, {nick}! Type /help for commands."
            case Joined(room, nick):
                if nick != me:
                    return f"* {nick} has joined {room}"
                self._awaiting_reply = False
                if room not in self.rooms:
                    self.rooms.append(room)
                self.current = room
                key = casefold(room)
                if key == self.want_history:
                    self.want_history = None
                    if self.history_on_join:
                        self._queries.append(HistoryRequest(room, "join", self.history_on_join))
                return None  # the Members event that follows says it
            case Members(room, nicks, info, count):
                self._awaiting_reply = False  # (a /join of a room we are in: Members only)
                if count and not nicks:  # a big room: how many, not who
                    return f"* in {room}: {count} people (/who {room} lists them)"
                shown = [text_accounts.member(i) for i in info] if len(info) == len(nicks) else list(nicks)
                return f"* in {room}: {', '.join(shown)} ({len(nicks)})"
            case Parted(room, nick, reason):
                if nick != me:
                    return f"* {nick} has left {room}" + (f" ({reason})" if reason else "")
                self._awaiting_reply = False
                self.rooms = [r for r in self.rooms if casefold(r) != casefold(room)]
                if self.current == room:
                    self.current = self.rooms[-1] if self.rooms else None
                now = f"; current room is now {self.current}" if self.current else ""
                return f"* you left {room}{now}"
            case NickChanged(old, new):
                if old == me:
                    self.nick = new
                    return f"* you are now known as {new}"
                return f"* {old} is now known as {new}"
            case Left(nick, reason):
                return f"* {nick} has left ({strip_controls(reason) or 'quit'})"
            case RoomList(rooms):
                if not rooms:
                    return "* no rooms"
                return "* rooms: " + ", ".join(f"{name} ({n})" for name, n in rooms)
            case Failed(error) if isinstance(error, NotSent):
                return f"* not sent: {error.reason}"
            case Failed(error) if isinstance(error, PasswordMismatch) and self.nick is None:
                self._awaiting_reply = False
                if error.final:  # the transport closes the connection and says why
                    return "* wrong password."
                self._name, self._password = self._trying, None  # ask again, for the same name
                wait = f" (next try in {error.retry_after:g} s)" if error.retry_after else ""
                return f"* wrong password{wait}. Password?"
            case Failed(error) if isinstance(error, AccountError):
                return text_accounts.failed(error)
            case AccountChanged() | AccountNote():
                if isinstance(event, AccountChanged) and event.account is None and event.nick in (me, "*"):
                    self.history_on_join = self.history_default
                return text_accounts.render(event, me)
            case PlaybackChanged():
                return text_accounts.playback_changed(self, event)
            case NickProtected() | Echo() | Attached():
                return text_devices.render(self, event)
            case RoomNote(text):
                return f"* ChanServ: {text}"
            case Failed(error):
                self._awaiting_reply = False
                self.want_history = None
                if isinstance(error, NickInUse) and error.suggestion and self.nick is None:
                    return f"{error.reason}; try {error.suggestion}. {NAME_PROMPT}"
                if isinstance(error, NameError_) and self.nick is None:
                    return f"{error.reason}. {NAME_PROMPT}"
                return f"error: {error}"
            case ServerShutdown(reason):
                return f"* {reason}"
            case TopicChanged(room, nick, text):
                if not text:
                    return f"* {nick} cleared the topic of {room}"
                return f"* {nick} set the topic of {room} to: {text}"
            case TopicInfo(room, text, setter):
                return f"* topic of {room}: {text} (set by {setter})" if text else f"* {room} has no topic"
            case Kicked(room, nick, target, reason):
                why = f" ({reason})" if reason else ""
                if target != me:
                    return f"* {target} was kicked from {room} by {nick}{why}"
                self.rooms = [r for r in self.rooms if casefold(r) != casefold(room)]
                if self.current == room:
                    self.current = self.rooms[-1] if self.rooms else None
                return f"* you were kicked from {room} by {nick}{why}"
            case Invited(room, nick, target):
                if target == me:
                    return f"* {nick} invites you to {room} (/join {room})"
                return f"* you invited {target} to {room}"
            case ModeChanged(target, nick, changes) if target.startswith("#"):
                letters, args = mode_string(changes)
                return f"* {nick} sets mode {' '.join((letters, *args))} on {target}"
            case IsAway(nick, message):
                return f"* {nick} is away: {message}"
            case Killed(nick, reason):
                self.closing = True
                return f"* you were disconnected by {nick} ({reason})"
            case WallopsSent(nick, text):
                return f"* wallops from {nick}: {text}"
            case Redacted(nick=nick, target=target, author=author, reason=reason):
                # IRCv3 message redaction: the message is gone from history; say who removed one.
                where = "" if target == self.current or not target.startswith("#") else f" in {target}"
                whose = "" if author == nick else f" from {author}"
                why = f" ({reason})" if reason else ""
                return f"* {nick} removed a message{whose}{where}{why}"
        return None


# Render-cache keys for a message: in the reader's current room (or private),
# or in another room (labelled). Constants: no tuple built per recipient.
_HERE: Final = (TextProtocol, True)
_AWAY: Final = (TextProtocol, False)
