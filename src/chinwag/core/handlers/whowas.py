"""WHOWAS: who held a nick before. A bounded memory (``limits.whowas_max``
entries, server-wide, the oldest forgotten first) filled when a user leaves or
changes nick, and the handler that reads it."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from chinwag.core.events import Outbound
from chinwag.core.names import casefold
from chinwag.core.types.lookup import MemberInfo, WhoWas, WhoWasReply

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Session


class WhowasMemory:
    """The last ``size`` nicks given up, newest last. A lookup walks at most
    ``size`` entries (a plain scan: no index to keep in step with evictions)."""

    __slots__ = ("entries",)

    def __init__(self, size: int) -> None:
        self.entries: deque[tuple[str, MemberInfo, float]] = deque(maxlen=size)

    def remember(self, info: MemberInfo, when: float) -> None:
        self.entries.append((casefold(info.nick), info, when))

    def find(self, nick: str, count: int) -> tuple[tuple[MemberInfo, float], ...]:
        """The newest ``count`` entries for ``nick`` (all of them if ``count`` <= 0), newest first."""
        key = casefold(nick)
        found: list[tuple[MemberInfo, float]] = []
        for folded, info, when in reversed(self.entries):
            if folded == key:
                found.append((info, when))
                if len(found) == count:
                    break
        return tuple(found)


def remember(hub: Hub, session: Session) -> None:
    """Keep what WHOWAS shows of ``session`` under its current nick (before it goes)."""
    if session.nick is not None:
        info = hub.info(session)
        hub.whowas.remember(MemberInfo(info.nick, info.user, info.host, info.realname), hub.clock())


def whowas(hub: Hub, session: Session, cmd: WhoWas) -> list[Outbound]:
    return [Outbound((session.sid,), WhoWasReply(nick, hub.whowas.find(nick, cmd.count))) for nick in cmd.nicks]
