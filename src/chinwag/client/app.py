"""What both front ends share: the current room, input lines, rendered output.

:class:`Chat` sits between a :class:`~chinwag.client.connection.Connection`
and a front end (the prompt_toolkit UI or the stdin script mode). The front
end gives it input lines (:meth:`Chat.submit`) and receives rendered
:class:`~chinwag.client.render.Line` objects through ``emit``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from chinwag.client import commands as cmd
from chinwag.client.connection import Connection
from chinwag.client.events import ClientEvent, Info, Joined, Kicked, Parted, ServerError, Status
from chinwag.client.protocol import JOIN_FAILED, casefold
from chinwag.client.render import Line, Renderer

KEPT = "not connected: your line is kept; press Enter to send it once reconnected"


class Chat:
    def __init__(self, renderer: Renderer | None = None) -> None:
        self.renderer = renderer or Renderer()
        self.conn: Connection | None = None
        self.emit: Callable[[Line], None] = lambda line: None
        self.on_change: Callable[[], None] = lambda: None  # the prompt may need redrawing
        self.quitting = False
        self.quit_reason = ""
        self._switch_to: str | None = None  # a room /join asked for, made current once joined

    def attach(self, conn: Connection) -> None:
        self.conn = conn

    @property
    def current(self) -> str | None:
        return self.renderer.current

    @current.setter
    def current(self, room: str | None) -> None:
        self.renderer.current = room
        self.on_change()

    @property
    def rooms(self) -> list[str]:
        return list(self.conn.session.rooms.values()) if self.conn else []

    @property
    def nick(self) -> str:
        if self.conn is None:
            return ""
        return self.conn.protocol.nick if self.conn.protocol else self.conn.session.nick

    def nicks(self) -> list[str]:
        """Nicks of the current room, for completion."""
        proto = self.conn.protocol if self.conn else None
        if proto is None or self.current is None:
            return []
        return proto.nicks(self.current)

    # --------------------------------------------------------------- output

    def show(self, event: ClientEvent) -> None:
        line = self.renderer.render(event)
        if line is not None:
            self.emit(line)

    def note(self, text: str) -> None:
        self.show(Info(datetime.now(UTC), text))

    def on_event(self, event: ClientEvent) -> None:
        # The current room: the first one joined (the first --room); rooms joined
        # alongside it (more --room, rejoins after a reconnect) leave the prompt
        # where it is, and the renderer says "you joined", not "now talking in".
        # /join makes its room current.
        match event:
            case Joined(room=room, own=True):
                if self.current is None or casefold(room) == self._switch_to:
                    self._switch_to = None
                    self.current = room
            case ServerError(code=code) if code in JOIN_FAILED and self._switch_to is not None:
                self._switch_to = None  # the /join failed: back to a room we are in
                rest = self.rooms
                self.current = rest[-1] if rest else None
            case Parted(room=room, own=True) | Kicked(room=room, own=True):
                if self.current is not None and casefold(room) == casefold(self.current):
                    rest = self.rooms
                    self.current = rest[-1] if rest else None
        self.show(event)

    # ---------------------------------------------------------------- input

    def submit(self, line: str) -> bool:
        """Act on one input line. False: it was not sent (not connected), keep it."""
        intent = cmd.parse_input(line, self.current)
        match intent:
            case None:
                return True
            case cmd.Help():
                for text in cmd.help_lines():
                    self.note(text)
                return True
            case cmd.Usage(text):
                self.note(text)
                return True
            case cmd.Switch(room, step):
                self.switch(room, step)
                return True
            case cmd.JoinRoom(room) if self._joined(room):
                self.switch(room)
                return True
            case cmd.JoinRoom(room):
                # Current at once: the next line goes there (the server sees
                # JOIN first); the server's spelling replaces it on Joined.
                self._switch_to = casefold(room)
                self.current = room
            case cmd.QuitChat(reason):
                self.quitting = True
                self.quit_reason = reason or "leaving"
                return True
        if self.conn is None or not self.conn.perform(intent):
            self.show(Status(datetime.now(UTC), KEPT))
            return False
        return True

    def _joined(self, room: str) -> str | None:
        for name in self.rooms:
            if casefold(name) == casefold(room):
                return name
        return None

    def switch(self, room: str = "", step: int = 0) -> None:
        """Make ``room`` current, or move ``step`` rooms along the joined list."""
        rooms = self.rooms
        if room:
            name = self._joined(room)
            if name is None:
                self.note(f"not in {room}: /join {room} first")
                return
            self.current = name
        elif rooms:
            keys = [casefold(r) for r in rooms]
            here = keys.index(casefold(self.current)) if self.current and casefold(self.current) in keys else -1
            self.current = rooms[(here + step) % len(rooms)]
        else:
            self.note("no rooms joined: /join #room")
            return
        self.note(f"current room: {self.current}")
