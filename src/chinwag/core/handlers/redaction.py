"""Who may redact a message, and who hears of it (IRCv3 draft/message-redaction).

The transport found the message in the history store (``Redaction.author``:
who sent it, "" if nothing by that msgid is stored for the target); the hub
decides here:

* a room: only its members may redact there (anyone else gets INVALID_TARGET,
  found or not, so msgids of rooms one is not in cannot be probed); the
  author may redact its own message, the room's operators any message;
* a private conversation: only the author.

"The author" is whoever holds the nick that sent it *and* has held it since
before it was sent (``Session.nick_mark``), so taking a nick someone left
gives no power over what they wrote. The answer goes to whoever a message to
that target reaches now (the sender included), as a ``Redacted`` event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.core.events import Outbound
from chinwag.core.names import casefold, is_room
from chinwag.core.types.ircv3 import Redacted, Redaction, redact_error

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Session


def redaction(hub: Hub, session: Session, cmd: Redaction) -> list[Outbound]:
    nick = session.nick or ""
    own = bool(cmd.author) and casefold(cmd.author) == casefold(nick) and cmd.msgid > session.nick_mark
    if is_room(cmd.target):
        room = hub.rooms.get(casefold(cmd.target))
        if room is None or session.sid not in room.members:
            raise redact_error("INVALID_TARGET", cmd.target)
        if not cmd.author:
            raise redact_error("UNKNOWN_MSGID", room.name, cmd.msgid)
        if not own and session.sid not in room.ops:
            raise redact_error("REDACT_FORBIDDEN", room.name, cmd.msgid)
        target, to = room.name, list(room.members)
    else:
        if not cmd.author:
            raise redact_error("UNKNOWN_MSGID", cmd.target, cmd.msgid)
        if not own:
            raise redact_error("REDACT_FORBIDDEN", cmd.target, cmd.msgid)
        sid = hub.nicks.get(casefold(cmd.target))
        other = hub.sessions[sid] if sid is not None else None
        target = other.nick or cmd.target if other is not None else cmd.target
        to = [session.sid] if sid is None or sid == session.sid else [session.sid, sid]
    ts = hub.clock()
    event = Redacted(hub.ids.next(ts), ts, nick, target, cmd.msgid, cmd.author, cmd.reason, session.user)
    return [Outbound(to, event)]
