"""The text protocol's lines for shared users and protected nicks (core/handlers/users.py)."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from chinwag.core.events import Attached, Echo, HistoryRequest, NickProtected

if TYPE_CHECKING:
    from chinwag.protocols.text import TextProtocol


def render(p: TextProtocol, event: NickProtected | Echo | Attached) -> str | None:
    match event:
        case NickProtected(nick, grace) if grace > 0:
            return (f"* the name {nick} is registered: log in within {grace} seconds (/login {nick} PASSWORD)"
                    " or you will be renamed")
        case NickProtected(nick):
            return f"* the name {nick} is registered: log in to use it (/login {nick} PASSWORD); renaming you"
        case Echo(m):  # sent by this user from another connection
            if m.private:
                return f"[{clock_hhmm(m.ts)}] -> *{m.target}* {m.text}"
            where = "" if m.target == p.current else f"{m.target} "
            body = f"* {m.nick} {m.text}" if m.kind == "action" else f"{m.nick}: {m.text}"
            return f"[{clock_hhmm(m.ts)}] {where}{body}"
        case Attached(nick, rooms, connections):
            p.nick = nick
            p.rooms = [joined.room for joined, _, _ in rooms]
            p.current = p.rooms[0] if p.rooms else None
            where = (", ".join(f"{members.room} ({len(members.nicks) or members.count})" for _, _, members in rooms)
                     if rooms else "none")
            now = f"; current room is {p.current}" if p.current else ""
            if p.current and p.history_on_join:  # its recent history, by the account's /playback (as on /join)
                p._queries.append(HistoryRequest(p.current, "join", p.history_on_join))
            return f"* you are {nick} on {connections} connections; rooms: {where}{now}"
    return None


_second: tuple[int, str] = (-1, "")  # the last second asked for, and its HH:MM


def clock_hhmm(ts: float) -> str:
    """A line's time, local ``HH:MM`` (text.py uses it too: it imports this module).
    ``localtime`` takes the whole second below ``ts``, so the text is made once
    per second, not per message (tests/protocols/test_text_clock.py)."""
    global _second
    sec = math.floor(ts)
    second = _second
    if second[0] != sec:
        second = _second = (sec, time.strftime("%H:%M", time.localtime(sec)))
    return second[1]
