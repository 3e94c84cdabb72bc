"""Rendering the answers to lookups: WHOIS, WHOWAS, WHO and WHOX, LIST, ISON
and USERHOST (``render.RENDERERS`` holds them with the others)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from chinwag.core.types.lookup import LookupReply, MemberInfo, WhoisReply, WhoReply, WhoWasReply
from chinwag.core.types.rooms import ListReply
from chinwag.protocols.base import RenderCache
from chinwag.protocols.irc import caps as C
from chinwag.protocols.irc import numerics as N
from chinwag.protocols.irc.format import CTL

if TYPE_CHECKING:
    from chinwag.protocols.irc.adapter import IrcProtocol


def render_whois(p: IrcProtocol, e: WhoisReply, cache: RenderCache) -> bytes:
    i = e.info
    p.numeric(N.RPL_WHOISUSER, i.nick, i.user, i.host, "*", i.realname)
    rooms = list(e.rooms)
    while rooms:  # several 319 lines if the list is long
        chunk: list[str] = []
        while rooms and len(" ".join([*chunk, rooms[0]])) < 400:
            chunk.append(rooms.pop(0))
        if not chunk:
            chunk.append(rooms.pop(0))
        p.numeric(N.RPL_WHOISCHANNELS, i.nick, " ".join(chunk))
    p.numeric(N.RPL_WHOISSERVER, i.nick, p.info.server_name, p.info.description)
    if i.oper:
        p.numeric(N.RPL_WHOISOPERATOR, i.nick, "is an IRC operator")
    if i.account:
        p.numeric(N.RPL_WHOISACCOUNT, i.nick, i.account, "is logged in as")
    if i.away:  # inside the reply, so 318 is the last line (RFC 2812 3.6.2)
        p.numeric(N.RPL_AWAY, i.nick, i.away.translate(CTL))
    p.numeric(N.RPL_WHOISIDLE, i.nick, str(e.idle), str(int(e.signon)), "seconds idle, signon time")
    p.numeric(N.RPL_ENDOFWHOIS, i.nick, "End of /WHOIS list")
    return p.data_to_send()


def render_whowas(p: IrcProtocol, e: WhoWasReply, cache: RenderCache) -> bytes:
    """314 and 312 (with when the nick was given up, as ngircd) per entry, or
    406; then 369 for that nick (as ergo and ngircd, one per nick asked)."""
    if not e.entries:
        p.numeric(N.ERR_WASNOSUCHNICK, e.nick, "There was no such nickname")
    for i, when in e.entries:
        p.numeric(N.RPL_WHOWASUSER, i.nick, i.user, i.host, "*", i.realname.translate(CTL))
        p.numeric(N.RPL_WHOISSERVER, i.nick, p.info.server_name, time.strftime("%a %b %d %H:%M:%S %Y UTC",
                                                                                 time.gmtime(when)))
    p.numeric(N.RPL_ENDOFWHOWAS, e.nick, "End of WHOWAS")
    return p.data_to_send()


def render_who(p: IrcProtocol, e: WhoReply, cache: RenderCache) -> bytes:
    multi = C.MULTI_PREFIX in p.caps
    whox = p.whox.pop(0) if p.whox else None
    for room, i in e.entries:
        flags = ("G" if i.away else "H") + ("*" if i.oper else "") + (i.prefix if multi else i.prefix[:1])
        if whox is not None:
            p.numeric(N.RPL_WHOSPCRPL, *_whox_values(p, whox, room, i, flags))
            continue
        # <channel> <user> <host> <server> <nick> <H|G>[*][@|+] :<hopcount> <realname>
        p.numeric(N.RPL_WHOREPLY, room, i.user, i.host, p.info.server_name, i.nick, flags, f"0 {i.realname}")
    if e.truncated:  # as charybdis/solanum: the first who_max lines, then say so
        p.numeric(N.ERR_TOOMANYMATCHES, "WHO", "output too large, truncated")
    p.numeric(N.RPL_ENDOFWHO, e.mask, "End of /WHO list")
    return p.data_to_send()


def _whox_values(p: IrcProtocol, whox: tuple[str, str], room: str, i: MemberInfo, flags: str) -> list[str]:
    """A 354's parameters: t c u i h s n f d l a o r, those asked, in that order.
    Hosts are hidden, so the IP is 255.255.255.255 (as for a cloaked user); ``a``
    is the account, 0 when not logged in; no op levels, so ``o`` is n/a."""
    fields, token = whox
    values = {
        "t": token or "0", "c": room, "u": i.user, "i": "255.255.255.255", "h": i.host,
        "s": p.info.server_name, "n": i.nick, "f": flags, "d": "0", "l": "0", "a": i.account or "0", "o": "n/a",
        "r": i.realname,
    }
    return [values[f] for f in fields]


def render_list(p: IrcProtocol, e: ListReply, cache: RenderCache) -> bytes:
    p.numeric(N.RPL_LISTSTART, "Channel", "Users  Name")
    for name, count, topic in e.rooms:
        p.numeric(N.RPL_LIST, name, str(count), topic.translate(CTL))
    p.numeric(N.RPL_LISTEND, "End of /LIST")
    return p.data_to_send()


def render_lookup(p: IrcProtocol, e: LookupReply, cache: RenderCache) -> bytes:
    kind = p.lookups.pop(0) if p.lookups else "ISON"
    if kind == "ISON":
        p.numeric(N.RPL_ISON, " ".join(i.nick for i in e.found))
    else:
        items = [f"{i.nick}{'*' if i.oper else ''}={'-' if i.away else '+'}{i.user}@{i.host}" for i in e.found]
        p.numeric(N.RPL_USERHOST, " ".join(items))
    return p.data_to_send()
