"""IRCv3 ``setname``, ``chghost`` and ``invite-notify`` (core/types/userinfo.py's events
as IRC lines), and SETNAME's verb. ``no-implicit-names`` is one test in
``render.render_members``.

* SETNAME :realname -> the hub checks it (``limits.realname_len``, advertised as
  NAMELEN); the user and its peers with ``setname`` get ``:mask SETNAME :name``,
  a refusal is ``FAIL SETNAME INVALID_REALNAME``. Without the cap the change
  still happens, silently (as the spec asks).
* A host change (a login or logout when ``Config.account_host`` is set): peers
  with ``chghost`` (and the user itself) get ``:old CHGHOST user host``; peers
  without it get ``QUIT :Changing hostname``, then per shared room the JOIN
  (extended-join if enabled), the MODE restoring its status and, with
  away-notify, its AWAY; the user itself without chghost gets ``396`` (its new host).
* An INVITE is shown to the members with ``invite-notify`` who could have sent it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from chinwag.core.events import Command, Failed
from chinwag.core.types.userinfo import HostChanged, HostRejoined, InviteNotice, RealnameChanged, SetName, split_user
from chinwag.protocols.base import RenderCache
from chinwag.protocols.irc import caps as C
from chinwag.protocols.irc.format import CTL, source
from chinwag.protocols.irc.message import Message as IrcMessage

if TYPE_CHECKING:
    from chinwag.protocols.irc.adapter import IrcProtocol


def setname(p: IrcProtocol, m: IrcMessage) -> Iterable[Command]:
    return (SetName(m.params[0]),)


def render_failed(p: IrcProtocol, e: Failed) -> bytes:
    """``FAIL SETNAME INVALID_REALNAME :Realname is not valid`` (the spec's words)."""
    return IrcMessage("FAIL", ("SETNAME", "INVALID_REALNAME", e.error.reason), p.info.server_name).to_bytes()


def render_realname(p: IrcProtocol, e: RealnameChanged, cache: RenderCache) -> bytes:
    if C.SETNAME not in p.caps:
        return b""
    data = cache.get(C.SETNAME)
    if data is None:
        data = cache[C.SETNAME] = IrcMessage("SETNAME", (e.realname.translate(CTL),), source(e.nick, e.user)).to_bytes()
    return data


def render_host_changed(p: IrcProtocol, e: HostChanged, cache: RenderCache) -> bytes:
    cap = C.CHGHOST in p.caps
    if e.nick == p.nick and not cap:  # RPL_VISIBLEHOST, as ergo and others tell it
        p.numeric("396", split_user(e.new)[1], "is now your displayed host")
        return p.data_to_send()
    key = ("CHGHOST", cap)
    data = cache.get(key)
    if data is None:
        old = source(e.nick, e.old)
        if cap:
            msg = IrcMessage("CHGHOST", split_user(e.new), old)
        else:
            msg = IrcMessage("QUIT", ("Changing hostname",), old)
        data = cache[key] = msg.to_bytes()
    return data


def render_host_rejoined(p: IrcProtocol, e: HostRejoined, cache: RenderCache) -> bytes:
    """The JOIN, MODE and AWAY that follow the fallback QUIT, for clients without chghost."""
    if C.CHGHOST in p.caps:
        return b""
    mask = source(e.nick, e.user)
    if C.EXTENDED_JOIN in p.caps:
        lines = [IrcMessage("JOIN", (e.room, e.account or "*", e.realname or e.nick), mask)]
    else:
        lines = [IrcMessage("JOIN", (e.room,), mask)]
    if e.prefix:
        letters = "+" + "".join("o" if ch == "@" else "v" for ch in e.prefix)
        lines.append(IrcMessage("MODE", (e.room, letters, *(e.nick for _ in e.prefix)), p.info.server_name))
    if e.away and C.AWAY_NOTIFY in p.caps:
        lines.append(IrcMessage("AWAY", (e.away.translate(CTL),), mask))
    return b"".join(line.to_bytes() for line in lines)


def render_invite_notice(p: IrcProtocol, e: InviteNotice, cache: RenderCache) -> bytes:
    if C.INVITE_NOTIFY not in p.caps:
        return b""
    data = cache.get(C.INVITE_NOTIFY)
    if data is None:
        msg = IrcMessage("INVITE", (e.target, e.room), source(e.nick, e.user))
        data = cache[C.INVITE_NOTIFY] = msg.to_bytes()
    return data


RENDERERS: Final[dict[type, Callable[[IrcProtocol, Any, RenderCache], bytes]]] = {
    RealnameChanged: render_realname,
    HostChanged: render_host_changed,
    HostRejoined: render_host_rejoined,
    InviteNotice: render_invite_notice,
}
