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
#: Strict: a pair that is not here is an :class:`IllegalTransition` (a bug in
#: this package, since input waits while the state is WAIT), never a no-op.
REGISTRATION: Final[dict[tuple[Reg, str], Reg]] = {
    (Reg.NEW, "cap"): Reg.CAP,
    (Reg.NEW, "end"): Reg.NEW,  # CAP END without CAP LS: nothing was held
    (Reg.NEW, "ready"): Reg.WAIT,
    (Reg.CAP, "cap"): Reg.CAP,
    (Reg.CAP, "end"): Reg.NEW,
    (Reg.WAIT, "ok"): Reg.DONE,
    (Reg.WAIT, "refused"): Reg.NEW,
    (Reg.DONE, "cap"): Reg.DONE,  # CAP REQ after registration changes caps only
    (Reg.DONE, "end"): Reg.DONE,
}


class IllegalTransition(RuntimeError):
    """A happening the registration table has no row for: a local bug, not the peer's."""


def advance(state: Reg, happening: str) -> Reg:
    """The next registration state; :class:`IllegalTransition` if the table has none."""
    try:
        return REGISTRATION[(state, happening)]
    except KeyError:
        raise IllegalTransition(f"registration: {happening!r} in state {state.value!r}") from None


def cap_command(p: IrcProtocol, params: tuple[str, ...]) -> None:
    sub = params[0].upper()
    me = p.nick or "*"
    if sub == "LS":
        p.reg = advance(p.reg, "cap")
        values = len(params) > 1 and params[1].isdigit() and int(params[1]) >= 302
        p.reply(IrcMessage("CAP", (me, "LS", C.ls_line(p.info.sts, values, p.limits, p.info.sasl)), p.info.server_name))
    elif sub == "LIST":
        p.reply(IrcMessage("CAP", (me, "LIST", " ".join(sorted(p.caps))), p.info.server_name))
    elif sub == "REQ":
        p.reg = advance(p.reg, "cap")
        request = params[1] if len(params) > 1 else ""
        enabled = C.apply_request(p.caps, request)
        if enabled is None:
            p.reply(IrcMessage("CAP", (me, "NAK", request), p.info.server_name))
        else:
            p.reply(IrcMessage("CAP", (me, "ACK", request), p.info.server_name))
            p.caps = enabled
            p.silent_own = C.ECHO_MESSAGE not in enabled
            p._variant = (SHARED, C.SERVER_TIME in enabled, C.MESSAGE_TAGS in enabled, C.ACCOUNT_TAG in enabled)
    elif sub == "END":
        p.reg = advance(p.reg, "end")
        p._queue.extend(p.maybe_register())
    else:
        p.numeric(N.ERR_INVALIDCAPCMD, params[0], "Invalid CAP command")

