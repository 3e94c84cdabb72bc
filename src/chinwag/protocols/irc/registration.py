"""Registration: the state table (CAP negotiation holds it) and the CAP command."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Final

from chinwag.protocols.irc import caps as C
from chinwag.protocols.irc import numerics as N
from chinwag.protocols.irc.format import SHARED
from chinwag.protocols.irc.message import Message as IrcMessage

if TYPE_CHECKING:
    from chinwag.protocols.irc.adapter import IrcProtocol


class Reg(Enum):
    NEW = "new"  # collecting NICK/USER/PASS
    CAP = "cap"  # CAP negotiation holds registration until CAP END
    WAIT = "wait"  # Register sent; input waits for its answer
    DONE = "done"


#: (state, happening) -> next state. Happenings: cap (CAP LS/REQ), end (CAP END),
#: ready (NICK and USER known), ok (Registered), refused (Failed register).
REGISTRATION: Final[dict[tuple[Reg, str], Reg]] = {
    (Reg.NEW, "cap"): Reg.CAP,
    (Reg.CAP, "cap"): Reg.CAP,
    (Reg.CAP, "end"): Reg.NEW,
    (Reg.NEW, "end"): Reg.NEW,
    (Reg.NEW, "ready"): Reg.WAIT,
    (Reg.WAIT, "ok"): Reg.DONE,
    (Reg.WAIT, "refused"): Reg.NEW,
}


def cap_command(p: IrcProtocol, params: tuple[str, ...]) -> None:
    sub = params[0].upper()
    me = p.nick or "*"
    if sub == "LS":
        if p.reg is not Reg.DONE:
            p.reg = REGISTRATION.get((p.reg, "cap"), p.reg)
        p.reply(IrcMessage("CAP", (me, "LS", " ".join(C.SUPPORTED)), p.info.server_name))
    elif sub == "LIST":
        p.reply(IrcMessage("CAP", (me, "LIST", " ".join(sorted(p.caps))), p.info.server_name))
    elif sub == "REQ":
        if p.reg is not Reg.DONE:
            p.reg = REGISTRATION.get((p.reg, "cap"), p.reg)
        request = params[1] if len(params) > 1 else ""
        enabled = C.apply_request(p.caps, request)
        if enabled is None:
            p.reply(IrcMessage("CAP", (me, "NAK", request), p.info.server_name))
        else:
            p.reply(IrcMessage("CAP", (me, "ACK", request), p.info.server_name))
            p.caps = enabled
            p._variant = (SHARED, C.SERVER_TIME in enabled, C.MESSAGE_TAGS in enabled)
    elif sub == "END":
        if p.reg is not Reg.DONE:
            p.reg = REGISTRATION.get((p.reg, "end"), p.reg)
            p._queue.extend(p.maybe_register())
    else:
        p.numeric(N.ERR_INVALIDCAPCMD, params[0], "Invalid CAP command")

