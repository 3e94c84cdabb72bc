"""The handler for talking: messages and notices to a room or a person, and
TAGMSG's tags, which reach the same people and are never stored (say, for both).

Same contract as every handler (the table is core/commands.py):
``handler(hub, session, command) -> list[Outbound]``, raising ChatError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.core.errors import CannotSendToRoom, ChatError, NoSuchNick, NoSuchRoom, NoText
from chinwag.core.events import Outbound, Say
from chinwag.core.handlers import roomops
from chinwag.core.handlers.checks import away_notice, is_banned
from chinwag.core.names import casefold, is_room
from chinwag.core.quick import message_to
from chinwag.core.types.chat import SendTags, TagsSent

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Session


def say(hub: Hub, session: Session, cmd: Say | SendTags) -> list[Outbound]:
    """A message, notice or action (Say), or TAGMSG's tags (SendTags: no text, no
    automatic reply, no away notice, never stored), from ``session`` to whoever a message
    to ``cmd.target`` reaches; the sender is among them. One function for both, the one
    home of who receives a message and who may speak in a room (404): this runs for
    every message, and each Python call costs it hundreds of instructions."""
    said = cmd if type(cmd) is Say else None
    name = cmd.target
    recipient = None
    try:
        if said is not None and not said.text:
            raise NoText()
        spoke = session.spoke_to  # (casefold is a pure function: its last room name's key, kept)
        if spoke is not None and spoke[0] == name:
            key: str | None = spoke[1]
        elif is_room(name):
            key = casefold(name)
            session.spoke_to = (name, key)
        else:
            key = None
        if key is not None:
            try:
                room = hub.rooms[key]
            except KeyError:
                raise NoSuchRoom(name) from None
            me = session.sid
            if me not in room.ops and me not in room.voiced and session.oper is None:  # may the sender speak?
                why = None
                if me not in room.members and "n" in room.flags:
                    why = "no external messages (+n)"
                elif "m" in room.flags:
                    why = "the room is moderated (+m)"
                elif room.bans and is_banned(hub, room, session):
                    why = "you are banned (+b)"
                elif room.quiets and roomops.matches(hub, room.quiets, session):
                    why = "you are muted in this room (+q)"
                if why is not None:
                    raise CannotSendToRoom(room.name, f"cannot send to room: {why}")
            target = room.name
            if me in room.members:
                to = room.audience
                if to is None:  # (the first message since a join or part: see Room.audience)
                    to = room.audience = tuple(room.members)
            else:  # -n: an outsider still gets the echo
                to = tuple({**room.members, me: None})
        else:
            sid = hub.nicks.get(casefold(name))
            if sid is None:
                raise NoSuchNick(name)
            recipient = hub.sessions[sid]
            target = recipient.nick or ""
            to = (sid, session.sid) if sid != session.sid else (sid,)
    except ChatError:
        if said is not None and said.kind == "notice":  # RFC 1459: a notice never gets an automatic reply
            return []
        raise
    ts = hub.clock()
    if said is None:
        return [Outbound(to, TagsSent(hub.ids.next(ts), ts, session.nick or "", target, cmd.tags, session.user))]
    session.last_active = ts
    accounts = None
    if recipient is not None and session.account is not None and recipient.account is not None:
        accounts = (session.account, recipient.account)
    # The sender is among the recipients: IRC echo-message and the text
    # protocol's private-message receipt both need it; a renderer may skip it.
    # (core/quick.py: the same Outbound and Message as their constructors make, cheaper)
    sent = message_to(to, hub.ids.next(ts), ts, session.nick or "", target, said.text, said.kind, said.tags,
                      session.user, accounts, session.account or "", said.lines)
    if recipient is not None and said.kind != "notice":
        extra = away_notice(hub, session, recipient)
        if extra:
            return [sent, *extra]
    return [sent]
