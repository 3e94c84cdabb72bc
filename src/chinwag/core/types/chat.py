"""Chat types beyond a plain message: IRCv3 client-only tags and TAGMSG.

Part of the ``Command`` and ``Event`` unions of :mod:`chinwag.core.events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: IRCv3 client-only tags (keys start with "+"), as (key, value) pairs: relayed as
#: they came to the clients that want them, never stored, never shown as text.
ClientTags = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SendTags:
    """IRCv3 TAGMSG: client-only tags (typing, reactions) and no text, to a room or a nick."""

    target: str
    tags: ClientTags


@dataclass(frozen=True, slots=True)
class TagsSent:
    """A TAGMSG relayed: like a Message, minus the text, never stored."""

    msgid: str
    ts: float
    nick: str
    target: str
    tags: ClientTags
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)
