"""Accounts on IRC: SASL (IRCv3 3.2: PLAIN, SCRAM-SHA-256, and EXTERNAL on TLS
listeners: ``IrcInfo.sasl``), ``PASS account:password``,
a NickServ pseudo-user for clients without SASL, and how account events look.

Hooked into the other IRC modules with a few lines (verbs.py: AUTHENTICATE,
REGISTER, VERIFY and PRIVMSG to NickServ; adapter.py: PASS at registration;
registration.py: CAP LS 302 values and account-tag; render.py: the renderers,
account-tag and extended-join; lookups.py: WHOIS 330, WHOX ``a``); everything
else is here. Sans-I/O like the adapter: it turns lines into the account commands of
core/accounts.py, which the transport answers (transport/accounts.py), and
renders the events that come back.

AUTHENTICATE: the client's message arrives base64-encoded in chunks of at most
400 bytes, a chunk of exactly 400 meaning "more follows" (and ``+`` an empty
last chunk); the server's challenges go out the same way. Numerics: 900
RPL_LOGGEDIN, 901 RPL_LOGGEDOUT, 903 success, 904 failure, 905 message too
long, 906 aborted, 907 already authenticated, 908 the mechanisms.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from chinwag.core.accounts import (
    SASL_MECHANISMS,
    AccountCert,
    AccountChanged,
    AccountError,
    AccountExists,
    AccountLogin,
    AccountLogout,
    AccountNote,
    AccountPlayback,
    AccountRegister,
    AccountRegisterV3,
    AlreadyLoggedIn,
    SaslAbort,
    SaslChallenge,
    SaslResponse,
    WeakPassword,
)
from chinwag.core.events import Command, Failed, Joined
from chinwag.core.names import HIDDEN_HOST, casefold
from chinwag.protocols.base import RenderCache
from chinwag.protocols.irc.format import source
from chinwag.protocols.irc.message import Message as IrcMessage

if TYPE_CHECKING:
    from chinwag.protocols.irc.adapter import IrcProtocol

NICKSERV: Final = "NickServ"
NICKSERV_SOURCE: Final = "NickServ!NickServ@services"
CHUNK: Final = 400
MAX_SASL: Final = 8192  # bytes of base64 in one client message (then 905)

ACCOUNT_NOTIFY: Final = "account-notify"
EXTENDED_JOIN: Final = "extended-join"
_EXTENDED: Final = ("irc", "extended-join")  # render-cache key
SASL_CAP: Final = "sasl"
SASL_VALUE: Final = ",".join(SASL_MECHANISMS)


@dataclass(slots=True)
class Sasl:
    """One connection's SASL state: the mechanism chosen, the chunks so far."""

    mechanism: str | None = None
    chunks: list[str] = field(default_factory=list)
    step: int = 0
    active: bool = False  # an exchange is running: its success ends in 903


def _mask(nick: str, user: str = "") -> str:
    """``nick!~user@host``; ``*!*@host`` before NICK and USER (SASL first)."""
    return f"*!*@{HIDDEN_HOST}" if nick == "*" and not user else source(nick, user)


# --- input --------------------------------------------------------------------------


def authenticate(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    sasl = p.sasl or Sasl()
    arg = m.params[0]
    if SASL_CAP not in p.caps:
        p.numeric("904", "SASL authentication failed")
        return ()
    if arg == "*":
        p.sasl = None
        p.numeric("906", "SASL authentication aborted")
        return (SaslAbort(),)
    if sasl.mechanism is None:
        if p.account is not None:
            p.numeric("907", "You have already authenticated using SASL")
            return ()
        mechanism = arg.upper()
        if mechanism not in p.info.sasl.split(","):
            p.numeric("908", p.info.sasl, "are available SASL mechanisms")
            p.numeric("904", "SASL authentication failed")
            return ()
        p.sasl = Sasl(mechanism, active=True)
        p.reply(IrcMessage("AUTHENTICATE", ("+",)))
        return ()
    if len(arg) > CHUNK or sum(map(len, sasl.chunks)) + len(arg) > MAX_SASL:
        p.sasl = None
        p.numeric("905", "SASL message too long")
        return (SaslAbort(),)
    if arg != "+":
        sasl.chunks.append(arg)
    if len(arg) == CHUNK:
        return ()  # more follows
    data = "".join(sasl.chunks)
    sasl.chunks = []
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        p.sasl = None
        p.numeric("904", "SASL authentication failed")
        return (SaslAbort(),)
    step, sasl.step = sasl.step, sasl.step + 1
    return (SaslResponse(sasl.mechanism, raw, step),)


def register(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    """draft/account-registration: REGISTER <account|*> <email|*> <password>, for
    the nick in use only (no custom-account-name, no before-connect, no email)."""
    account = m.params[0]
    if p.nick is None:
        _fail(p, "REGISTER", "COMPLETE_CONNECTION_REQUIRED", account, "Finish connecting before registering")
        return ()
    if len(m.params) < 3:
        _fail(p, "REGISTER", "INVALID_PARAMS", account, "Usage: REGISTER <account> <email> <password>")
        return ()
    if account != "*" and casefold(account) != casefold(p.nick):
        _fail(p, "REGISTER", "BAD_ACCOUNT_NAME", account, "You can only register the nick you are using")
        return ()
    p.registering = True
    return (AccountRegisterV3(m.params[2], "" if m.params[1] == "*" else m.params[1]),)


def verify(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    _fail(p, "VERIFY", "INVALID_CODE", m.params[0], "No verification is pending")
    return ()


def _fail(p: IrcProtocol, command: str, code: str, context: str, text: str) -> None:
    p.reply(IrcMessage("FAIL", (command, code, context, text), p.info.server_name))


def pass_login(p: IrcProtocol) -> tuple[str, Iterable[Command]]:
    """At registration: the server password to send, and an account login if
    PASS was ``account:password`` on a server without a password of its own."""
    given = p.password
    if p.info.password_required or ":" not in given or p.account is not None:
        return given, ()
    name, _, password = given.partition(":")
    return "", (AccountLogin(name, password),)


def is_nickserv(target: str) -> bool:
    return casefold(target) == "nickserv"


NICKSERV_HELP: Final = (
    "NickServ commands (or use SASL):",
    "IDENTIFY [account] password  - log in",
    "REGISTER password [email]    - make your nick an account",
    "LOGOUT                        - log out",
    "CERT ADD [fingerprint]        - let a client certificate log in (SASL EXTERNAL);",
    "                                without one: this connection's certificate",
    "CERT DEL fingerprint | CERT LIST",
    "SET PLAYBACK n|off|default    - messages replayed when you join a room",
)


def nickserv(p: IrcProtocol, text: str) -> Iterable[Command]:
    verb, _, rest = text.strip().partition(" ")
    args = rest.split()
    verb = verb.upper()
    if verb in ("IDENTIFY", "LOGIN") and args:
        name, password = (args[0], " ".join(args[1:])) if len(args) > 1 else (p.nick or "", args[0])
        return (AccountLogin(name, password),)
    if verb == "REGISTER" and args:
        return (AccountRegister(args[0], args[1] if len(args) > 1 else ""),)
    if verb == "LOGOUT":
        return (AccountLogout(),)
    if verb == "CERT" and args and args[0].lower() in ("add", "del", "list"):
        return (AccountCert(args[0].lower(), args[1] if len(args) > 1 else ""),)
    if verb == "SET" and len(args) == 2 and args[0].upper() == "PLAYBACK":
        return set_playback(p, args[1])
    for line in NICKSERV_HELP:
        notice(p, line)
    return ()


def set_playback(p: IrcProtocol, word: str) -> Iterable[Command]:
    """NickServ SET PLAYBACK n|off|default (stored with the account, so logged in only)."""
    if p.account is None:
        notice(p, "You must be logged in to set PLAYBACK (it is kept with your account)")
        return ()
    most = p.limits.playback_max
    count: int | None
    if word.lower() in ("off", "none"):
        count = 0
    elif word.lower() == "default":
        count = None
    elif word.isascii() and word.isdigit() and int(word) <= most:
        count = int(word)
    else:
        notice(p, f"SET PLAYBACK takes a number from 0 to {most}, off or default")
        return ()
    return (AccountPlayback(count),)


# --- output ----------------------------------------------------------------------------


def notice(p: IrcProtocol, text: str) -> None:
    p.reply(IrcMessage("NOTICE", (p.nick or "*", text), NICKSERV_SOURCE))


def render_changed(p: IrcProtocol, e: AccountChanged, cache: RenderCache) -> bytes:
    me = p.nick or "*"
    if e.nick != me:
        if ACCOUNT_NOTIFY not in p.caps:
            return b""
        return IrcMessage("ACCOUNT", (e.account or "*",), _mask(e.nick, e.user)).to_bytes()
    p.account = e.account
    if e.account is None:
        p.playback = p.info.history_on_join  # the account's own setting goes with it
        p.numeric("901", _mask(me, p.username), "You are now logged out")
        if p.sasl is None:
            notice(p, "You are now logged out")
        return p.data_to_send()
    p.numeric("900", _mask(me, p.username), e.account, f"You are now logged in as {e.account}")
    if p.registering and e.created:
        p.registering = False
        p.reply(IrcMessage("REGISTER", ("SUCCESS", e.account, "Account created"), p.info.server_name))
    elif p.sasl is not None:
        p.sasl = None
        p.numeric("903", "SASL authentication successful")
    elif e.created:
        notice(p, f"Account {e.account} registered; you are now identified for {e.account}")
    else:
        notice(p, f"You are now identified for {e.account}")
    return p.data_to_send()


def extended_join(e: Joined, cache: RenderCache) -> bytes:
    """IRCv3 extended-join: ``JOIN #room account :realname`` (``*``: not logged in);
    render.render_joined sends it to clients that enabled the cap."""
    data = cache.get(_EXTENDED)
    if data is None:
        msg = IrcMessage("JOIN", (e.room, e.account or "*", e.realname or e.nick), _mask(e.nick, e.user))
        data = cache[_EXTENDED] = msg.to_bytes()
    return data


def render_note(p: IrcProtocol, e: AccountNote, cache: RenderCache) -> bytes:
    notice(p, e.text)
    return p.data_to_send()


def render_challenge(p: IrcProtocol, e: SaslChallenge, cache: RenderCache) -> bytes:
    data = base64.b64encode(e.data).decode()
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or ["+"]
    if len(chunks[-1]) == CHUNK:
        chunks.append("+")
    for chunk in chunks:
        p.reply(IrcMessage("AUTHENTICATE", (chunk,)))
    return p.data_to_send()


def render_failed(p: IrcProtocol, e: Failed) -> bytes | None:
    """Account failures: SASL numerics, or NickServ notices; None: not ours."""
    error = e.error
    if not isinstance(error, AccountError):
        return None
    if e.command == "REGISTER":
        p.registering = False
        code = {AccountExists: "ACCOUNT_EXISTS", WeakPassword: "WEAK_PASSWORD",
                AlreadyLoggedIn: "ALREADY_AUTHENTICATED"}.get(type(error), "TEMPORARILY_UNAVAILABLE")
        _fail(p, "REGISTER", code, p.nick or "*", error.reason)
        return p.data_to_send()
    if e.command == "sasl":
        p.sasl = None
        if isinstance(error, AlreadyLoggedIn):
            p.numeric("907", "You have already authenticated using SASL")
        else:
            p.numeric("904", "SASL authentication failed")
        return p.data_to_send()
    wait = f" (next try in {error.retry_after:g} s)" if error.retry_after and not error.final else ""
    notice(p, f"{error.reason[:1].upper()}{error.reason[1:]}{wait}")
    return p.data_to_send()
