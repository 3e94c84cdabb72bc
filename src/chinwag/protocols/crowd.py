"""How each protocol shows a big room's summary (core/crowd.py).

Text users get counts (``* 37 people joined #lobby, 12 left``). IRC clients
keep a member list that only JOIN, PART and QUIT lines update, so they get
those lines, all of a summary's together in one write; they are rendered once
per summary and each recipient gets the part it has not seen (a slice).
"""

from __future__ import annotations

from typing import Final, cast

from chinwag.core.events import Crowd
from chinwag.core.names import HIDDEN_HOST
from chinwag.protocols.irc.message import Message as IrcMessage

_CTL: Final = str.maketrans({"\r": " ", "\n": " ", "\0": " "})
_IRC: Final = "irc"  # the key of the IRC rendering in Crowd.cache


def text_line(e: Crowd) -> str:
    def people(n: int) -> str:
        return "1 person" if n == 1 else f"{n} people"

    if e.joined and e.left:
        return f"* {people(e.joined)} joined {e.room}, {e.left} left"
    return f"* {people(e.joined)} joined {e.room}" if e.joined else f"* {people(e.left)} left {e.room}"


def irc_lines(e: Crowd) -> bytes:
    rendered = cast("tuple[bytes, list[int]] | None", e.cache.get(_IRC))
    if rendered is None:
        lines: list[bytes] = []
        offsets, at = [0], 0
        for kind, nick, reason in e.changes:
            src = f"{nick}!{nick}@{HIDDEN_HOST}"
            if kind == "join":
                msg = IrcMessage("JOIN", (e.room,), src)
            elif kind == "part":
                msg = IrcMessage("PART", (e.room, reason.translate(_CTL)) if reason else (e.room,), src)
            else:
                msg = IrcMessage("QUIT", (reason.translate(_CTL),), src)
            data = msg.to_bytes()
            lines.append(data)
            at += len(data)
            offsets.append(at)
        rendered = e.cache[_IRC] = (b"".join(lines), offsets)
    blob, offsets = rendered
    return blob[offsets[e.start] :] if e.start else blob
