"""History on join for IRC clients that do not fetch it themselves.

A client without ``draft/chathistory`` (irssi, WeeChat, HexChat out of the box)
is played the room's last ``playback`` messages right after its JOIN, through
the same query the text protocol's join history uses (``HistoryRequest(room,
"join", n)``, answered by the transport from the store, with live traffic held
until it is out). A client with ``draft/chathistory`` asks for what it wants.

How a replayed line is marked, so that neither a person nor a bot takes it for
something said now (ZNC's and ergo's way: PRIVMSG from the original sender):

* with ``batch``: inside a ``chathistory`` BATCH (and the ``time`` tag if
  ``server-time`` is on), no other marker;
* otherwise between two server NOTICEs to the room, ``*** Replaying the last N
  messages of #room`` and ``*** End of replay``; and without ``server-time``
  each replayed text starts with its time, ``[HH:MM]`` (with the date before
  it when not today, server local time, as the text protocol shows them), so a
  replayed ``!command`` does not start with ``!``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from chinwag.core.accounts import PlaybackChanged
from chinwag.core.events import History, HistoryRequest
from chinwag.protocols.base import RenderCache
from chinwag.protocols.irc import accounts as irc_accounts
from chinwag.protocols.irc import caps as C
from chinwag.protocols.irc.format import tokens
from chinwag.protocols.irc.ircv3 import nested_multiline
from chinwag.protocols.irc.labels import in_batch
from chinwag.protocols.irc.message import Message as IrcMessage
from chinwag.protocols.irc.render import format_message
from chinwag.protocols.text import stamp_with_date

if TYPE_CHECKING:
    from chinwag.protocols.irc.adapter import IrcProtocol


def wants_playback(p: IrcProtocol) -> int:
    """How many messages to replay to ``p`` on a join (0: none)."""
    return 0 if C.CHATHISTORY in p.caps else p.playback


def after_join(p: IrcProtocol, room: str) -> None:
    """``p`` has joined ``room``: ask for its playback before the next command."""
    n = wants_playback(p)
    if n > 0:
        p._queue.insert(0, HistoryRequest(room, "join", n))


def render_history(p: IrcProtocol, h: History, cache: RenderCache) -> bytes:
    """A join's playback (the only History an IRC connection asks for)."""
    if h.room is None or not h.messages:
        return b""
    server = p.info.server_name
    room = h.room
    with_time = C.SERVER_TIME in p.caps
    ref = f"p{next(tokens)}" if C.BATCH in p.caps else ""
    lines: list[bytes] = []
    if ref:
        lines.append(IrcMessage("BATCH", ("+" + ref, "chathistory", room), server).to_bytes())
    else:
        n = len(h.messages)
        what = "message" if n == 1 else f"{n} messages"
        lines.append(IrcMessage("NOTICE", (room, f"*** Replaying the last {what} of {room}"), server).to_bytes())
    today = time.strftime("%Y-%m-%d")
    for m in h.messages:
        if not with_time:
            m = dataclasses.replace(m, text=f"[{stamp_with_date(m.ts, today)}] {m.text}")
        nested = nested_multiline(p, m, ref)
        if nested is not None:
            lines.append(nested)
            continue
        data = format_message(p, m)
        if ref:  # every line of it (a long message is several)
            data = b"\r\n".join(in_batch(line, ref) for line in data.split(b"\r\n") if line) + b"\r\n"
        lines.append(data)
    if ref:
        lines.append(IrcMessage("BATCH", ("-" + ref,), server).to_bytes())
    else:
        lines.append(IrcMessage("NOTICE", (room, "*** End of replay"), server).to_bytes())
    return b"".join(lines)


def render_changed(p: IrcProtocol, e: PlaybackChanged, cache: RenderCache) -> bytes:
    """The account's own playback on join: from now on (and told, if it just set it)."""
    p.playback = p.info.history_on_join if e.count is None else e.count
    if not e.note:
        return b""
    if e.count is None:
        what = f"the server's default ({p.playback} messages)"
    else:
        what = "off" if e.count == 0 else f"{e.count} message" + ("" if e.count == 1 else "s")
    extra = " (your client asks for history itself: draft/chathistory)" if C.CHATHISTORY in p.caps else ""
    irc_accounts.notice(p, f"PLAYBACK is now {what}: replayed when you join a room{extra}")
    return p.data_to_send()
