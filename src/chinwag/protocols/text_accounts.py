"""The text protocol's account commands and lines (see protocols/text.py).

``/register PASSWORD`` registers the name in use, ``/login NAME PASSWORD``,
``/logout``, ``/password OLD NEW``, ``/cert add|del|list [FINGERPRINT]``
(client certificates for IRC SASL EXTERNAL). A password is never written back: the
commands keep it out of their ``repr`` (so out of logs), and no reply quotes
it. Telnet is plain text, so each command that carries a password first says
so (:data:`UNENCRYPTED_NOTE`) unless the connection is encrypted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from chinwag.core.accounts import (
    AccountCert,
    AccountChanged,
    AccountCommand,
    AccountError,
    AccountLogin,
    AccountLogout,
    AccountNote,
    AccountPassword,
    AccountPlayback,
    AccountRegister,
    PlaybackChanged,
)
from chinwag.core.types.lookup import MemberInfo

if TYPE_CHECKING:
    from chinwag.protocols.text import TextProtocol

UNENCRYPTED_NOTE: Final = "* note: this connection is not encrypted; use TLS (port 2627) if others can see your network"


def _note(p: TextProtocol) -> None:
    if not p.encrypted:
        p.say(UNENCRYPTED_NOTE)


def register(p: TextProtocol, arg: str) -> AccountCommand | None:
    _note(p)
    return AccountRegister(arg)


def login(p: TextProtocol, arg: str) -> AccountCommand | None:
    name, _, password = arg.partition(" ")
    _note(p)
    if not password.strip():
        p.usage("login")
        return None
    return AccountLogin(name, password.strip())


def logout(p: TextProtocol, arg: str) -> AccountCommand:
    return AccountLogout()


def password(p: TextProtocol, arg: str) -> AccountCommand | None:
    old, _, new = arg.partition(" ")
    _note(p)
    if not new.strip():
        p.usage("password")
        return None
    return AccountPassword(old, new.strip())


def cert(p: TextProtocol, arg: str) -> AccountCommand | None:
    action, _, fingerprint = arg.strip().partition(" ")
    if action.lower() not in ("add", "del", "list"):
        p.usage("cert")
        return None
    return AccountCert(action.lower(), fingerprint.strip())


def playback(p: TextProtocol, arg: str) -> AccountCommand | None:
    """/playback N|off|default: the history shown on join, kept with the account."""
    word = arg.strip().lower()
    if word in ("off", "none"):
        return AccountPlayback(0)
    if word == "default":
        return AccountPlayback(None)
    if word.isascii() and word.isdigit() and int(word) <= p.playback_max:
        return AccountPlayback(int(word))
    p.say(f"error: /playback takes a number from 0 to {p.playback_max}, off or default")
    return None


def playback_changed(p: TextProtocol, event: PlaybackChanged) -> str | None:
    p.history_on_join = p.history_default if event.count is None else event.count
    if not event.note:
        return None
    if event.count is None:
        return f"* history on join is now the server's default ({p.history_on_join} messages)"
    if event.count == 0:
        return "* history on join is now off"
    return f"* history on join is now {event.count} message" + ("" if event.count == 1 else "s")


def render(event: AccountChanged | AccountNote, me: str | None) -> str | None:
    match event:
        case AccountChanged(nick, account, created) if nick in (me, "*"):
            if account is None:
                return "* you are now logged out"
            if created:
                return f"* account {account} registered; you are now logged in as {account}"
            return f"* you are now logged in as {account}"
        case AccountNote(text):
            return f"* {text}"
    return None


def failed(error: AccountError) -> str:
    wait = f" (next try in {error.retry_after:g} s)" if error.retry_after and not error.final else ""
    return f"error: {error.reason}{wait}"


def member(info: MemberInfo) -> str:
    """A nick in /who: logged-in users are marked, with their account when it differs."""
    if not info.account:
        return info.nick
    if info.account.lower() == info.nick.lower():
        return f"{info.nick} (logged in)"
    return f"{info.nick} (logged in as {info.account})"
