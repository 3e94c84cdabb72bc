"""Message redaction and read markers (IRCv3 ``draft/message-redaction`` and
``draft/read-marker``): their commands, events and errors.

Frozen, slotted dataclasses like those in :mod:`chinwag.core.events`, joined
to its unions there. Nothing here is wire syntax.

* ``Redact`` is a query: the transport looks the message up in the history
  store, then hands the hub a ``Redaction`` saying who wrote it; the hub
  decides (core/handlers/redaction.py) and answers ``Redacted`` to whoever a message to
  that target reaches. The transport removes the message from history first.
* ``MarkRead`` is a query too: read markers live in the store, per account.
  The transport answers ``ReadMarker`` to the asker, or to every connection
  logged in to the account when the marker moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chinwag.core.errors import ChatError

# --- queries: client -> transport ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Redact:
    """Remove the message ``msgid`` sent to ``target`` (a room or a nick)."""

    target: str
    msgid: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MarkRead:
    """Set (``ms``: milliseconds since the epoch) or ask (``ms`` None) the read
    marker of ``target`` for the account the connection is logged in to.
    ``join``: asked just before joining ``target`` (IRC sends it with the JOIN)."""

    target: str
    ms: int | None = None
    join: bool = False


# --- commands: transport -> hub ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Redaction:
    """A Redact with what the history store knows: the nick that sent the
    message (``author``), "" when no such message is stored for the target."""

    target: str
    msgid: str
    reason: str
    author: str


# --- events: hub/transport -> clients ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Redacted:
    """``nick`` removed the message ``redacted`` (sent by ``author``) from
    ``target``; ``msgid``/``ts`` are those of the redaction itself."""

    msgid: str
    ts: float
    nick: str
    target: str
    redacted: str
    author: str
    reason: str = ""
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class ReadMarker:
    """The read marker of ``target`` (ms since the epoch; None: none yet).
    ``join``: the answer to a MarkRead asked before a JOIN, for the adapter to
    send with that JOIN."""

    target: str
    ms: int | None
    join: bool = False


# --- errors ---------------------------------------------------------------------------


class StandardReplyError(ChatError):
    """A refusal answered on IRC as ``FAIL <command> <code> <context...> :<reason>``
    (IRCv3 standard replies); the text protocol shows ``error: <reason>``."""


    def __init__(self, command: str, code: str, context: tuple[str, ...], reason: str) -> None:
        super().__init__(context[0] if context else "", reason)
        self.command = command
        self.code = code
        self.context = context


def redact_error(code: str, target: str, msgid: str = "") -> StandardReplyError:
    """The message-redaction spec's FAIL REDACT codes, with its wording."""
    reasons = {
        "INVALID_TARGET": f"You cannot delete messages from {target}",
        "REDACT_FORBIDDEN": "You are not authorised to delete this message",
        "UNKNOWN_MSGID": "This message does not exist or is too old",
    }
    context = (target, msgid) if msgid else (target,)
    return StandardReplyError("REDACT", code, context, reasons[code])


V3Query = Redact | MarkRead
V3Event = Redacted | ReadMarker
