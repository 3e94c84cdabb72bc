"""Registered rooms on IRC: a ChanServ pseudo-user and our own ``REGISTER #room``.

``PRIVMSG ChanServ :REGISTER #room`` (what ``/msg ChanServ`` and ``/cs`` send),
the ``CS`` / ``CHANSERV`` verbs some clients send instead, and ``REGISTER
#room`` (told apart from draft/account-registration's ``REGISTER <account>``
by the ``#``) all become the commands of core/types/registered.py (parsed by
protocols/roomservice.py). Every answer, success or failure, is a NOTICE from
ChanServ, as NickServ's are (protocols/irc/accounts.py).

Hooked into the other IRC modules with a few lines: verbs.py (PRIVMSG to
ChanServ, CS, CHANSERV, REGISTER), render.py (RoomNote, RoomDetails, and the
failures of ``chanserv ...`` commands).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from chinwag.core.events import Command, Failed
from chinwag.core.names import casefold
from chinwag.core.types.registered import RoomDetails, RoomHelp, RoomNote, RoomRegister
from chinwag.protocols import roomservice
from chinwag.protocols.base import RenderCache
from chinwag.protocols.irc import accounts as irc_accounts
from chinwag.protocols.irc import numerics as N
from chinwag.protocols.irc.message import Message as IrcMessage

if TYPE_CHECKING:
    from chinwag.protocols.irc.adapter import IrcProtocol

CHANSERV_SOURCE: Final = "ChanServ!ChanServ@services"


def is_chanserv(target: str) -> bool:
    return casefold(target) == "chanserv"


def notice(p: IrcProtocol, text: str) -> None:
    p.reply(IrcMessage("NOTICE", (p.nick or "*", text), CHANSERV_SOURCE))


def chanserv(p: IrcProtocol, text: str) -> Iterable[Command]:
    parsed = roomservice.parse(text)
    if isinstance(parsed, str):
        notice(p, parsed[:1].upper() + parsed[1:])
        return ()
    if isinstance(parsed, RoomHelp):
        for line in roomservice.HELP:
            notice(p, line)
        return ()
    return (parsed,)


def cs_verb(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    """``CS REGISTER #room`` / ``CHANSERV REGISTER #room``: the words are the service's line."""
    return chanserv(p, " ".join(m.params))


def register_verb(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    """REGISTER: a room (``REGISTER #room``) or, as before, an account."""
    if N.safe_param(m.params[0]) != m.params[0]:  # (empty, or a space in it: not a name to echo back)
        p.reply(IrcMessage("FAIL", ("REGISTER", "INVALID_PARAMS", "*",
                                    "Usage: REGISTER <account> <email> <password>, or REGISTER #room"),
                           p.info.server_name))
        return ()
    if not m.params[0].startswith("#"):
        return irc_accounts.register(p, m)
    if p.nick is None:
        p.reply(IrcMessage("FAIL", ("REGISTER", "COMPLETE_CONNECTION_REQUIRED", m.params[0],
                                    "Finish connecting before registering"), p.info.server_name))
        return ()
    return (RoomRegister(m.params[0]),)


# --- output ------------------------------------------------------------------------------


def render_note(p: IrcProtocol, e: RoomNote, cache: RenderCache) -> bytes:
    notice(p, e.text)
    return p.data_to_send()


def render_details(p: IrcProtocol, e: RoomDetails, cache: RenderCache) -> bytes:
    for line in roomservice.details(e):
        notice(p, line)
    return p.data_to_send()


def render_failed(p: IrcProtocol, e: Failed) -> bytes | None:
    """A room service command's failure: a NOTICE from ChanServ; None: not ours."""
    if not e.command.startswith("chanserv"):
        return None
    reason = str(e.error)
    notice(p, reason[:1].upper() + reason[1:])
    return p.data_to_send()
