"""The IRC client protocol as a Sans-I/O adapter: bytes in, hub commands out;
hub events in, IRC lines out. Same interface as TextProtocol, plus ``tick(now)``
for PING and the registration deadline (the transport calls it; no clock here).

Three tables drive it, each in a module of its own:

* ``registration.REGISTRATION``: the registration state machine (CAP negotiation holds it).
* ``verbs.VERBS``: IRC verb -> (minimum parameters, builder, needs registration); one
  ``_run`` checks 451 / 461 / 421 for every verb.
* ``render.RENDERERS``: one function per event type.

Domain errors come back as ``Failed`` events and become numerics in one place,
:func:`chinwag.protocols.irc.numerics.error_params`.

Fan-out: lines every recipient sees alike (PRIVMSG, JOIN, QUIT, ...) are
formatted once per event and *variant* -- the set of enabled caps that change
the bytes (server-time, message-tags) -- and shared through the render cache.

Labeled responses (``labels``): a labeled line's hub commands are bracketed with
``Sync`` barriers, so the events that answer it are recognised even when the
server delivers them later (messages wait for the history store).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any, Final

from chinwag.core.accounts import PlaybackChanged
from chinwag.core.errors import ChatError, NotRegistered
from chinwag.core.events import ChatHistory, Command, Event, History, Message, Query, Quit, Register
from chinwag.core.types.ircv3 import StandardReplyError, V3Query
from chinwag.core.types.lookup import Sync
from chinwag.protocols.base import RenderCache
from chinwag.protocols.irc import accounts as irc_accounts
from chinwag.protocols.irc import caps as C
from chinwag.protocols.irc import fastpath, playback
from chinwag.protocols.irc import numerics as N
from chinwag.protocols.irc.format import SHARED, IrcInfo, tokens
from chinwag.protocols.irc.ircv3 import OpenBatch, close_label, fail_line, in_open_batch, labeled_open
from chinwag.protocols.irc.labels import finish_label
from chinwag.protocols.irc.message import EmptyMessage, InputTooLong, InvalidMessage, IrcLineReader, parse_line
from chinwag.protocols.irc.message import Message as IrcMessage
from chinwag.protocols.irc.registration import Reg, advance
from chinwag.protocols.irc.render import RENDERERS, render_message
from chinwag.protocols.irc.verbs import VERBS

__all__ = ["IrcInfo", "IrcProtocol", "Reg"]

log = logging.getLogger("chinwag.irc")

_RENDERERS: dict[type, Callable[[IrcProtocol, Any, RenderCache], bytes]] = {
    **RENDERERS, History: playback.render_history, PlaybackChanged: playback.render_changed}


# (Reg.DONE costs ~900 instructions more than a global in 3.11: EnumType.__getattr__ after a failed lookup)
DONE: Final = Reg.DONE
WAIT: Final = Reg.WAIT
NO_CAPS: frozenset[str] = frozenset()
PLAIN_VARIANT: tuple[str, bool, bool, bool] = (SHARED, False, False, False)  # no cap that changes a message's bytes


class IrcProtocol:
    """One IRC connection's protocol state; no I/O, no clock (see ``tick``)."""

    __slots__ = (
        "info", "limits", "reader", "closing", "reg", "nick", "wanted_nick", "user_given", "username", "realname",
        "password", "caps", "lookups", "whox", "_lines", "_queue", "unsent", "_variant", "_burst", "_capture",
        "_labels", "_activity", "_started", "_seen", "ping_sent", "sasl", "account", "registering", "playback",
        "multiline", "marks", "silent_own",
    )

    def __init__(self, info: IrcInfo) -> None:
        self.info = info
        self.limits = info.limits
        # Lines read, each parsed when its turn comes (a PRIVMSG/NOTICE to a room
        # maybe never: fastpath.py); the reader appends to this list itself.
        self._lines: list[bytes | InputTooLong] = []
        self.reader = IrcLineReader(max_body=info.limits.irc_line, max_tags=info.limits.irc_tags, out=self._lines)
        self.closing = False
        self.reg = Reg.NEW
        self.nick: str | None = None
        self.wanted_nick: str | None = None
        self.user_given = False
        self.username = ""  # "~" + USER's, or "" (the hub uses "~" + nick)
        self.realname = ""
        self.password = ""
        self.caps = NO_CAPS  # (shared: each frozenset() is a new 216-byte object)
        self.silent_own = True  # no echo-message: its own messages render to nothing (set with caps)
        self.sasl: irc_accounts.Sasl | None = None  # SASL and accounts: protocols/irc/accounts.py
        self.account: str | None = None
        self.registering = False  # a draft/account-registration REGISTER is in flight
        self.multiline: OpenBatch | None = None  # a client's draft/multiline batch (protocols/irc/ircv3.py)
        self.marks: dict[str, str] | None = None  # room -> its read marker, to send with our JOIN (draft/read-marker)
        self.playback = info.history_on_join  # messages replayed on join without draft/chathistory (playback.py)
        # Lists, not deques: an empty deque costs ~600 bytes, and with 10,000
        # idle connections that is most of their memory; these stay short.
        # (None until first used: 10,000 idle connections need none of these)
        self.lookups: list[str] | None = None  # ISON / USERHOST, answered in order
        self.whox: list[tuple[str, str] | None] | None = None  # per WHO in order: WHOX (fields, token), None for plain
        self._queue: list[Command | Query | V3Query] = []
        self.unsent: list[bytes] = []
        self._variant: tuple[str, bool, bool, bool] = PLAIN_VARIANT  # (shared: a tuple each is 72 bytes)
        self._burst = False  # the first ServerStats after 001 completes the welcome
        # labeled-response
        self._capture: list[bytes] | None = None
        self._labels: dict[str, tuple[str, list[bytes]]] | None = None  # sync token -> (label, local lines)
        # liveness, in the transport's clock (tick)
        self._activity = True
        self._started: float | None = None
        self._seen = 0.0
        self.ping_sent: float | None = None

    # --- input -------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        return len(self._lines) + len(self._queue)  # (a join's playback query waits in _queue)

    def receive_data(self, data: bytes) -> int:
        self._activity = True
        self.reader.feed(data)  # (into self._lines)
        return len(self._lines) + len(self._queue)  # (backlog; tests/protocols/test_backlog.py holds the two together)

    def next_command(self) -> Command | Query | V3Query | None:
        lines = self._lines
        while not self.closing:
            if self._queue:
                command = self._queue.pop(0)
                if isinstance(command, Quit):
                    self.closing = True
                return command
            if self.reg is WAIT or not lines:
                return None
            line = lines.pop(0)
            if type(line) is not bytes:
                self.error(N.InputTooLong())
                continue
            if self.reg is DONE and self.multiline is None:
                say = fastpath.say(line)  # (max_targets is at least 1)
                if say is not None:
                    return say
            try:
                msg = parse_line(line)
            except (EmptyMessage, InvalidMessage):
                continue  # a blank line, no command, a NUL...: ignored, as servers do
            self._handle_line(msg)
        return None

    def _handle_line(self, msg: IrcMessage) -> None:
        if self.multiline is not None and in_open_batch(self, msg):
            return
        label = msg.tags.get("label") if C.LABELED_RESPONSE in self.caps else None
        if msg.command == "BATCH" and msg.params:  # draft/multiline: one label for the batch
            if label is not None and labeled_open(self, msg, label, lambda: self._run(msg)):
                return
            label = close_label(self, msg, label)
        if label is None:
            self._queue.extend(self._run(msg))
            return
        self._capture = []
        try:
            commands = list(self._run(msg))
        finally:
            local, self._capture = self._capture, None
        if not commands:
            self.finish_label(label, local)
            return
        if len(commands) == 1 and isinstance(commands[0], ChatHistory):
            # Answered by one ChatHistoryReply that carries the label back: no
            # barriers, whose capture would also catch live traffic released
            # when the query ends.
            self._queue.append(dataclasses.replace(commands[0], token=label))
            return
        token = f"L{next(tokens)}"
        if self._labels is None:
            self._labels = {}
        self._labels[token] = (label, local)
        self._queue.extend([Sync(token + "+", opens=True), *commands, Sync(token + "-")])

    def _run(self, msg: IrcMessage) -> Iterable[Command | Query | V3Query]:
        verb = VERBS.get(msg.command)
        try:
            if verb is None:
                raise N.UnknownCommand(msg.command)
            if verb.registered and self.reg is not Reg.DONE:
                raise NotRegistered()
            if len(msg.params) < verb.min_params:
                raise N.NeedMoreParams(msg.command)
            return verb.build(self, msg)
        except ChatError as exc:
            if msg.command != "NOTICE":
                self.error(exc)
            return ()

    def joined(self, room: str) -> None:
        """This connection has joined ``room`` (its own JOIN is being rendered)."""
        playback.after_join(self, room)

    def maybe_register(self) -> Iterable[Command]:
        if self.reg is Reg.NEW and self.wanted_nick and self.user_given:
            self.reg = advance(self.reg, "ready")
            password, login = irc_accounts.pass_login(self)
            return (Register(self.wanted_nick, (), password, self.realname, self.username), *login)
        return ()

    # --- liveness ------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Called by the transport every so often with a monotonic clock."""
        if self.closing:
            return
        if self._started is None:
            self._started = self._seen = now
        if self._activity:
            self._activity = False
            self._seen = now
            self.ping_sent = None  # any traffic shows the client is alive
        limits = self.limits
        if self.reg is not Reg.DONE:
            if now - self._started >= limits.register_timeout:
                self.abort("Registration timed out")
            return
        if self.ping_sent is None:
            if now - self._seen >= limits.ping_interval:
                self.ping_sent = now
                self._send(IrcMessage("PING", (self.info.server_name,)).to_bytes())
        elif now - self.ping_sent >= limits.ping_timeout:
            self.abort(f"Ping timeout: {int(now - self._seen)} seconds")

    def abort(self, reason: str) -> None:
        self.send_error(f"Closing Link: {self.nick or '*'} ({reason})")
        self._lines.clear()
        self._queue.clear()
        self._queue.append(Quit(reason))

    # --- output helpers ---------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if self._capture is not None:
            self._capture.append(data)
        else:
            self.unsent.append(data)

    def reply(self, msg: IrcMessage) -> None:
        self._send(msg.to_bytes())

    def numeric(self, code: str, *params: str) -> None:
        """``code`` to this client; every parameter but the last (the text) may
        echo what it typed, so is made safe to carry (N.safe_param)."""
        middle = tuple(map(N.safe_param, params[:-1]))
        self.reply(IrcMessage(code, (self.nick or "*", *middle, *params[-1:]), self.info.server_name))

    def error(self, error: ChatError) -> None:
        if isinstance(error, StandardReplyError):  # FAIL <command> <code> ... (IRCv3 standard replies)
            self._send(fail_line(self, error))
            return
        code, params = N.error_params(error, self.nick or "*")
        self.reply(IrcMessage(code, params, self.info.server_name))

    def fail(self, code: str, *context: str, reason: str) -> None:
        """An IRCv3 standard reply: FAIL CHATHISTORY <code> <context...> :<reason>."""
        context = tuple(map(N.safe_param, context))
        self.reply(IrcMessage("FAIL", ("CHATHISTORY", code, *context, reason), self.info.server_name))

    def send_error(self, text: str) -> None:
        self.reply(IrcMessage("ERROR", (text,)))

    def send_isupport(self) -> None:
        for group in self.info.isupport:
            self.numeric(N.RPL_ISUPPORT, *group, "are supported by this server")

    def send_motd(self) -> None:
        motd = self.info.motd
        if not motd:
            self.numeric(N.ERR_NOMOTD, "MOTD File is missing")
            return
        self.numeric(N.RPL_MOTDSTART, f"- {self.info.server_name} Message of the day - ")
        for line in motd:
            self.numeric(N.RPL_MOTD, f"- {line}")
        self.numeric(N.RPL_ENDOFMOTD, "End of /MOTD command.")

    def data_to_send(self) -> bytes:
        if not self.unsent:  # (asked after every command)
            return b""
        out, self.unsent = b"".join(self.unsent), []
        return out

    def finish_label(self, label: str, lines: list[bytes]) -> None:
        """Send the answer to a labeled command: ACK, one tagged line, or a batch."""
        self.unsent.extend(finish_label(self.info.server_name, label, lines))

    # --- rendering ----------------------------------------------------------------------

    def variant(self, message: Message, senders: frozenset[str]) -> object | None:
        """The fan-out batch's key (see Adapter.variant): the caps that change
        a message's bytes; a sender (echo-message) or a label's capture: its own."""
        if self._capture is not None or self.nick in senders:
            return None
        return self._variant

    def render(self, event: Event, cache: RenderCache) -> bytes:
        try:
            if type(event) is Message:
                if self._capture is None and event.nick != self.nick:
                    hit = cache.get(self._variant)  # the fan-out hot path
                    if hit is not None:
                        return hit
                data = render_message(self, event, cache)
                if self._capture is None:
                    return data
            else:
                renderer = _RENDERERS.get(type(event))
                data = renderer(self, event, cache) if renderer else b""
        except (ValueError, UnicodeError):
            log.exception("cannot render %r for IRC", type(event).__name__)
            return b""
        if self._capture is not None and data:
            self._capture.append(data)
            return b""
        return data
