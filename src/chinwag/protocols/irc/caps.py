"""IRCv3 capabilities chinwag offers, and CAP REQ's all-or-nothing rule.

``draft/chathistory`` is offered because CHATHISTORY is served from the history
store; ``draft/event-playback`` adds a room's joins, parts, quits, kicks, nick and
topic changes to its answers (transport/eventlog.py).

``sts`` (IRCv3 Strict Transport Security) is listed, never requested: a policy
the client keeps. Plain connections are told the TLS port (``sts=port=6697``),
TLS ones how long to keep using TLS (``sts=duration=N``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from chinwag.config import Limits

AWAY_NOTIFY: Final = "away-notify"
BATCH: Final = "batch"
CHATHISTORY: Final = "draft/chathistory"
ECHO_MESSAGE: Final = "echo-message"
EVENT_PLAYBACK: Final = "draft/event-playback"
LABELED_RESPONSE: Final = "labeled-response"
MESSAGE_TAGS: Final = "message-tags"
MULTI_PREFIX: Final = "multi-prefix"
SERVER_TIME: Final = "server-time"
STANDARD_REPLIES: Final = "standard-replies"
USERHOST_IN_NAMES: Final = "userhost-in-names"
ACCOUNT_NOTIFY: Final = "account-notify"
ACCOUNT_TAG: Final = "account-tag"
ACCOUNT_REGISTRATION: Final = "draft/account-registration"
EXTENDED_JOIN: Final = "extended-join"
SASL: Final = "sasl"
# ircv3b: protocols/irc/userinfo.py
SETNAME: Final = "setname"
CHGHOST: Final = "chghost"
INVITE_NOTIFY: Final = "invite-notify"
NO_IMPLICIT_NAMES: Final = "no-implicit-names"
DRAFT_NO_IMPLICIT_NAMES: Final = "draft/no-implicit-names"
MESSAGE_REDACTION: Final = "draft/message-redaction"
MULTILINE: Final = "draft/multiline"
READ_MARKER: Final = "draft/read-marker"
# CAP LS 302 shows values (sasl=PLAIN,SCRAM-SHA-256); older clients get bare names.
# A value with {fields} is filled from config.Limits (the real limits).
VALUES: Final = {
    SASL: "PLAIN,SCRAM-SHA-256",
    MULTILINE: "max-bytes={multiline_max_bytes},max-lines={multiline_max_lines}",
}

SUPPORTED: Final = (
    ACCOUNT_NOTIFY,
    ACCOUNT_REGISTRATION,
    ACCOUNT_TAG,
    AWAY_NOTIFY,
    BATCH,
    CHATHISTORY,
    ECHO_MESSAGE,
    EVENT_PLAYBACK,
    EXTENDED_JOIN,
    LABELED_RESPONSE,
    MESSAGE_REDACTION,
    MESSAGE_TAGS,
    MULTILINE,
    MULTI_PREFIX,
    READ_MARKER,
    SASL,
    SERVER_TIME,
    STANDARD_REPLIES,
    USERHOST_IN_NAMES,
    # ircv3b
    SETNAME,
    CHGHOST,
    INVITE_NOTIFY,
    NO_IMPLICIT_NAMES,
    DRAFT_NO_IMPLICIT_NAMES,
)


STS: Final = "sts"


def sts_value(secure: bool, tls_port: int, duration: int) -> str:
    """The ``sts`` capability's value for a listener; '' when STS is off."""
    if duration <= 0:
        return ""
    return f"duration={duration}" if secure else f"port={tls_port}"


def ls_line(sts: str = "", values: bool = False, limits: Limits | None = None, sasl: str = "") -> str:
    """The capabilities CAP LS lists (``sts`` only when it has a value), with
    values (``sasl=PLAIN,SCRAM-SHA-256``, ``draft/multiline=max-bytes=...``)
    for CAP LS 302 clients; ``sasl``: this listener's mechanisms instead of VALUES'."""
    given = {**VALUES, SASL: sasl} if sasl else VALUES

    def value(cap: str) -> str:
        text = given[cap]
        if "{" in text:
            if limits is None:
                return cap
            text = text.format_map({f: getattr(limits, f) for f in ("multiline_max_bytes", "multiline_max_lines")})
        return f"{cap}={text}"

    offered = " ".join(value(cap) if values and cap in given else cap for cap in SUPPORTED)
    return f"{offered} {STS}={sts}" if sts else offered


def apply_request(enabled: frozenset[str], request: str, offered: tuple[str, ...] = SUPPORTED) -> frozenset[str] | None:
    """The caps enabled after ``CAP REQ :request``, or None to NAK it.

    Per the spec the request is atomic: one unknown name rejects all of it.
    A leading ``-`` disables a capability.
    """
    result = set(enabled)
    names = request.split()
    if not names:
        return None
    for name in names:
        off = name.startswith("-")
        cap = name[1:] if off else name
        if cap not in offered:
            return None
        if off:
            result.discard(cap)
        else:
            result.add(cap)
    return frozenset(result)
