"""What others see of a user, changing while it is online: its real name
(IRCv3 ``setname``), its host (IRCv3 ``chghost``: a logged-in user's host is
``Config.account_host`` when that is set), and who was invited to a room
(IRCv3 ``invite-notify``).

Frozen, slotted dataclasses joined in :mod:`chinwag.core.events`' unions;
the handlers are in :mod:`chinwag.core.handlers.profile`. Nothing here is wire syntax.

A user's ``user`` string, as the hub keeps it (``Session.user``) and as events
carry it, is the username, or ``username@host`` once the host is not the
hidden one (``names.HIDDEN_HOST``); :func:`split_user` takes it apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chinwag.core.errors import ChatError
from chinwag.core.names import HIDDEN_HOST

# --- commands: client -> hub -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetName:
    """Change the real name (IRC SETNAME), at most ``limits.realname_len`` characters."""

    realname: str


UserInfoCommand = SetName

# --- events: hub -> clients --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RealnameChanged:
    """To the user (confirmation) and everyone sharing a room with it."""

    nick: str
    realname: str
    user: str = field(default="", compare=False)  # the actor's user[@host] (IRC prefix)


@dataclass(frozen=True, slots=True)
class HostChanged:
    """``nick``'s user[@host] went from ``old`` to ``new``: to the user itself and
    everyone sharing a room with it (IRC: CHGHOST, or QUIT for clients without
    chghost, followed by a HostRejoined per shared room)."""

    nick: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class HostRejoined:
    """After a HostChanged, to the other members of one of the user's rooms: for
    IRC clients without chghost, the JOIN (and MODE) that follow their QUIT."""

    room: str
    nick: str
    user: str  # the new user[@host]
    prefix: str = ""  # its status in the room: "@", "+", "@+" or ""
    account: str = ""
    realname: str = ""
    away: str = ""


@dataclass(frozen=True, slots=True)
class InviteNotice:
    """``nick`` invited ``target`` to ``room``: to the members who could have
    invited too (everyone in a room without +i, its operators in a +i room),
    besides the two concerned (IRC invite-notify)."""

    room: str
    nick: str
    target: str
    user: str = field(default="", compare=False)  # the inviter's user[@host]


UserInfoEvent = RealnameChanged | HostChanged | HostRejoined | InviteNotice

# --- errors --------------------------------------------------------------------------


class InvalidRealname(ChatError):
    """A real name that is empty or over ``limits.realname_len`` (IRC: FAIL SETNAME INVALID_REALNAME)."""


    def default_reason(self) -> str:
        return "Realname is not valid"


# --- helpers ---------------------------------------------------------------------------


def split_user(user: str) -> tuple[str, str]:
    """``"~bob@account/bob"`` -> ``("~bob", "account/bob")``; no host: the hidden one."""
    name, _, host = user.partition("@")
    return name, host or HIDDEN_HOST


def account_host(template: str, account: str | None) -> str:
    """The host a user logged in to ``account`` is shown with: ``template`` with
    ``{account}`` replaced (no str.format: the template is the operator's, the
    account name the user's). "" when there is no template or no account."""
    if not template or not account:
        return ""
    return template.replace("{account}", account)
