"""What outlives one connection, and the name and text helpers the client shares.

:class:`Session` (rooms, the nick asked for, the message ids seen, the last one
per room) is kept by :class:`~chinwag.client.connection.Connection` across TCP
connections and servers; each connection's
:class:`~chinwag.client.protocol.ClientProtocol` reads and updates it.
"""

from __future__ import annotations

import unicodedata
from collections import deque
from collections.abc import Iterable
from typing import Final

from chinwag.client import sasl

#: Messages shown on the first join of a room (CHATHISTORY LATEST), at most a page.
JOIN_HISTORY: Final = 20
#: How many message ids to remember for de-duplication.
SEEN_IDS: Final = 20_000

_RFC1459: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")
_ASCII: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def casefold(name: str, mapping: str = "rfc8265") -> str:
    """IRC casefolding: ``ascii``; ``rfc1459`` where ``[]\\~`` fold to ``{}|^``;
    ``rfc8265`` (chinwag's, PRECIS): as rfc1459 for ASCII, and for other names
    fullwidth forms mapped, lowercased and NFC-normalised, ``[]\\~`` kept as rfc1459's."""
    if mapping == "ascii":
        return name.translate(_ASCII)
    if mapping != "rfc8265" or name.isascii():
        return name.translate(_RFC1459)
    narrow = "".join(_narrow(c) for c in name)
    return unicodedata.normalize("NFC", narrow.lower()).translate(_RFC1459)


def _narrow(c: str) -> str:
    if unicodedata.decomposition(c).startswith(("<wide>", "<narrow>")):
        plain = unicodedata.normalize("NFKC", c)
        if len(plain) == 1:
            return plain
    return c


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` UTF-8 bytes, at spaces when possible."""
    out: list[str] = []
    while len(text.encode("utf-8")) > limit:
        cut = len(text.encode("utf-8")[:limit].decode("utf-8", "ignore"))
        space = text.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space
        out.append(text[:cut])
        text = text[cut:].lstrip(" ")
    if text or not out:
        out.append(text)
    return out


class SeenIds:
    """A bounded set of message ids: the last ``size`` ids added."""

    def __init__(self, size: int = SEEN_IDS) -> None:
        self._order: deque[str] = deque()
        self._ids: set[str] = set()
        self._size = size

    def __contains__(self, msgid: object) -> bool:
        return msgid in self._ids

    def add(self, msgid: str) -> None:
        if msgid in self._ids:
            return
        self._ids.add(msgid)
        self._order.append(msgid)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())


class Session:
    """What survives a reconnect: who we want to be, where, and what we have seen."""

    def __init__(self, nick: str, rooms: Iterable[str] = (), join_history: int = JOIN_HISTORY) -> None:
        self.nick = nick  # the nick we ask for (the one we really got may have a suffix)
        self.join_history = join_history  # latest messages shown on a room's first join (0: none)
        self.rooms: dict[str, str] = {}  # casefolded -> name, in join order
        for room in rooms:
            self.rooms.setdefault(casefold(room), room)
        self.last_msgid: dict[str, str] = {}  # casefolded room -> last msgid seen there
        self.seen = SeenIds()
        self.login: sasl.Login | None = None  # log in with SASL on every (re)connection (client/sasl.py)
