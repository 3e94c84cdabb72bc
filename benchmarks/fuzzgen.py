"""Hostile input lines, seeded and reproducible: mutations of real commands.

The commands come from the protocols' own tables (``TEXT_COMMANDS``, IRC
``VERBS``), so a command added there is fuzzed without touching this file.
Each line is built from the same ``random.Random(seed)``: the same seed gives
the same lines on every machine, and ``line(seed, i)`` rebuilds line ``i``
alone (to replay one that found a bug).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from chinwag.protocols.irc.adapter import VERBS
from chinwag.protocols.text import TEXT_COMMANDS

# Numbers that str.isdigit(), int() or float() read differently, and the
# usual suspects: empty, zero, negative, huge, not-a-number.
NUMBERS = (
    "0", "1", "-1", "00", "+5", "²", "٣", "١٢", "߂", "Ⅻ", "1e9", "1e999", "1.5", ".", "-0", "nan", "inf", "-inf",
    "9" * 30, "-" + "9" * 30, "0x10", "1_000", " 5", "5 ", "", "½", "𝟙", "३", "1,2",
)
SPECIALS = (
    "", " ", ":", "::", "*", "**", "#", "##", "@", "!", "+", "-", "+-", "-+", "&", "%", "~", ",", ",,", "#,#",
    "=", "\\", "\\s", "\x01", "\x01ACTION", "\x01VERSION\x01", "\x01PING 1\x01", "\x02\x03\x0f", "\x034,5x",
    "\x1b[2J", "\u202e", "\ufeff", "\u200b", "\ufffd", "é", "ß", "İ", "ﬀ", "日本語", "🎉", "a" * 600, "#" + "r" * 300,
    "$", "$*", "0", "-1", "²", "nick!user@host", "*!*@*", "msgid=", "timestamp=", "msgid=0000000000000000",
    "timestamp=2026-13-40T99:99:99.999Z", "timestamp=9999-12-31T23:59:59Z", "timestamp=0001-01-01T00:00:00+14:00",
    "timestamp=1e9", "timestamp=²", "[", "]", "{}", "|", "^", "`", "_", "\t", "NUL", "\x7f", "\x85", "\u2028",
)
WORDS = ("#r", "#lobby", "#R", "#", "bob", "fuzz0", "fuzz1", "*", "alice", "#new", "ChanServ", "$")
MODES = ("+l", "-l", "+k", "-k", "+b", "-b", "+o", "-o", "+v", "+i", "+m", "+n", "+t", "+s", "+", "-", "+:", "+lk",
         "+bbb", "+ov", "+x", "b", "+" + "l" * 20, "+-+-", "+l-l")
CAPS = ("LS", "LS 302", "REQ", "LIST", "END", "ACK", "NAK", "NEW", "DEL", "REQ :", "REQ :-", "REQ :echo-message")
HISTORY_VERBS = ("LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN", "TARGETS", "latest", "", "X")
TAGS = ("", "@", "@a", "@a=", "@+typing=active", "@label=x", "@label=", "@a=b;c=d", "@;", "@=x", "@" + "x" * 9000,
        "@batch=1", "@msgid=1", "@a=\\", "@+draft/reply=zz", "@time=2026", "@a=\\s\\:\\\\")


def _param(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(WORDS)
    if roll < 0.5:
        return rng.choice(NUMBERS)
    if roll < 0.75:
        return rng.choice(SPECIALS)
    if roll < 0.9:
        n = rng.choice((1, 2, 5, 30, 200))
        return "".join(chr(rng.choice((rng.randrange(0x20, 0x7F), rng.randrange(0xA0, 0x3000)))) for _ in range(n))
    return rng.choice(WORDS) + rng.choice(SPECIALS)


def _params(rng: random.Random, first: tuple[str, ...] = ()) -> list[str]:
    params = [rng.choice(first)] if first and rng.random() < 0.8 else []
    params += [_param(rng) for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4, 6, 15)))]
    return params


def irc_line(rng: random.Random) -> str:
    """One IRC line: a real verb (sometimes an unknown one), mangled parameters, maybe tags."""
    verb = rng.choice(sorted(VERBS)) if rng.random() < 0.95 else rng.choice(("FOO", "001", "1", "", "PRIVMSG2"))
    if rng.random() < 0.1:
        verb = verb.lower()
    if verb.upper() == "MODE":
        params = [rng.choice(WORDS), rng.choice(MODES)] + [_param(rng) for _ in range(rng.choice((0, 1, 2, 3)))]
    elif verb.upper() == "CAP":
        params = rng.choice(CAPS).split(" ") + _params(rng)[:1]
    elif verb.upper() == "CHATHISTORY":
        params = _params(rng, HISTORY_VERBS)
        params[1:1] = [rng.choice(WORDS)] if rng.random() < 0.7 else []
        if rng.random() < 0.5:
            params[2:2] = [rng.choice(("*", "msgid=00000000000000ff", "timestamp=2026-01-01T00:00:00.000Z"))]
    elif verb.upper() == "OPER" and rng.random() < 0.5:
        params = ["fuzz", "fuzz"]  # the fuzz server's operator: reach KILL, WALLOPS, ...
    elif verb.upper() in ("PRIVMSG", "NOTICE"):
        params = [rng.choice(WORDS + ("#r,bob", "bob,bob,bob,bob,bob", ""))]
        text = rng.choice(("\x01ACTION waves\x01", "\x01VERSION\x01", "\x01", "hi", _param(rng)))
        params.append(text)
    else:
        params = _params(rng, WORDS)
    line = verb
    for i, param in enumerate(params):
        last = i == len(params) - 1
        if last and (rng.random() < 0.5 or not param or " " in param or param.startswith(":")):
            line += " :" + param
        else:
            line += " " + (param.replace(" ", "") or "x")
    if rng.random() < 0.15:
        line = rng.choice(TAGS) + " " + line
    if rng.random() < 0.05:
        line = ":" + rng.choice(("fuzz", "", "a!b@c", "::")) + " " + line
    return _clean(line)


def text_line(rng: random.Random) -> str:
    """One text-protocol line: a /command from the table (or a chat line) with mangled arguments."""
    roll = rng.random()
    if roll < 0.1:
        return _clean(_param(rng))
    name = rng.choice(sorted(TEXT_COMMANDS)) if roll < 0.95 else rng.choice(("", "/", "nosuch", "HELP", "Join"))
    args = _params(rng, WORDS) if name != "history" else [rng.choice(NUMBERS)] + _params(rng)[:1]
    if name == "since":
        args = [rng.choice(NUMBERS) + rng.choice(("", "s", "m", "h", "d", "x", "²"))]
    if name == "msg" and rng.random() < 0.3:
        args = [rng.choice(WORDS), "/me", _param(rng)]
    return _clean("/" + name + (" " + " ".join(args) if args else ""))


def _clean(line: str) -> str:
    """No CR/LF inside a line (that would be two lines); NUL is kept, it is hostile input too."""
    return line.replace("\r", " ").replace("\n", " ")


def lines(protocol: str, seed: int, count: int) -> Iterator[str]:
    """``count`` lines for ``protocol`` ("text" or "irc"; WebSocket carries IRC)."""
    for i in range(count):
        yield line(protocol, seed, i)


def line(protocol: str, seed: int, index: int) -> str:
    """Line ``index`` of ``lines(protocol, seed, ...)``, on its own."""
    rng = random.Random(f"{protocol}:{seed}:{index}")
    return text_line(rng) if protocol == "text" else irc_line(rng)
