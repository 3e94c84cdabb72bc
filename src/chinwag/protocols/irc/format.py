"""Facts and helpers every IRC module shares: the server's IrcInfo, the mode
letters, and the small formatting functions (prefixes, times, UTF-8 cuts)."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from chinwag import __version__
from chinwag.config import Config, Limits
from chinwag.core.names import HIDDEN_HOST
from chinwag.protocols.irc import numerics as N

USER_MODES: Final = "iow"
ROOM_MODES: Final = "biklmnopqstv"
ROOM_MODES_WITH_ARG: Final = "bklovq"
CTL: Final = str.maketrans({"\r": " ", "\n": " ", "\0": " "})
#: the render-cache key of a line every IRC recipient sees alike
SHARED: Final = "irc"


@dataclass(frozen=True, slots=True)
class IrcInfo:
    """Per-server facts every IRC connection shares (built once in Server.start)."""

    server_name: str
    network: str
    limits: Limits
    motd: tuple[str, ...]
    created: str
    isupport: tuple[tuple[str, ...], ...]  # 005 token groups, at most 13 per line
    version: str = f"chinwag-{__version__}"
    description: str = "chinwag chat server"  # the server's info (312 in WHOIS, VERSION)
    sts: str = ""  # this listener's IRCv3 STS value (caps.sts_value); '' = none
    password_required: bool = False  # a server password: PASS is that, not account:password
    sasl: str = "PLAIN,SCRAM-SHA-256"  # the SASL mechanisms offered (TLS listeners add EXTERNAL)
    history_on_join: int = 0  # messages replayed on join to clients without draft/chathistory

    @classmethod
    def from_config(cls, config: Config, now: float | None = None) -> IrcInfo:
        tokens = N.isupport_tokens(config.limits, config.network, config.history_max)
        groups = tuple(tuple(tokens[i : i + 13]) for i in range(0, len(tokens), 13))
        created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
        motd = tuple(config.motd.splitlines()) if config.motd.strip() else ()
        return cls(config.server_name, config.network, config.limits, motd, created, groups,
                   password_required=bool(config.password), history_on_join=config.irc_history_on_join)

def source(nick: str, user: str = "") -> str:
    """``nick!user@host``: the username as the hub keeps it ("~" + USER's, with
    "@host" when the host is not the hidden one: core/types/userinfo.py), or "~" + nick
    when the event has none (history, a text user of old)."""
    if "@" in user:
        return f"{nick}!{user}"
    return f"{nick}!{user or '~' + nick}@{HIDDEN_HOST}"


_second: tuple[int, str] = (0, "1970-01-01T00:00:00")  # the last second formatted, and its text


def iso_time(ts: float) -> str:
    """``ts`` as server-time wants it (``2026-12-01T05:30:15.123Z``), as
    ``datetime.fromtimestamp(ts, UTC)`` gives it (microseconds rounded half
    to even, then cut to milliseconds); the second's text is made once per
    second, not per message (tests/protocols/irc/test_format_line.py)."""
    global _second
    frac, whole = math.modf(ts)
    us = round(frac * 1e6)
    sec = int(whole)
    if us >= 1_000_000:
        sec += 1
        us -= 1_000_000
    elif us < 0:
        sec -= 1
        us += 1_000_000
    second = _second
    if second[0] != sec:
        second = _second = (sec, datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{second[1]}.{us // 1000:03d}Z"


def split_utf8(text: str, budget: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``budget`` UTF-8 bytes, on character boundaries."""
    return [piece.decode() for piece in cut_utf8(text.encode(), budget)]


def cut_utf8(data: bytes, budget: int) -> list[bytes]:
    """``split_utf8`` on the encoded text: pieces of at most ``budget`` bytes
    (at least 4: a character), never inside a character."""
    if len(data) <= budget:
        return [data]
    budget = max(budget, 4)
    out = []
    while data:
        cut = min(budget, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        out.append(data[:cut])
        data = data[cut:]
    return out


tokens = itertools.count(1)

