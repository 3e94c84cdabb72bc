"""The commonest input line without the general layers.

``PRIVMSG #room :text`` and ``NOTICE #room :text`` from a registered client,
with no tags and no source, are most of what a busy server reads. The general
path parses each into an IRC ``Message`` (a frozen dataclass and its checks),
looks the verb up, checks registration and parameters, asks whether the target
is NickServ or ChanServ, splits the targets and filters client tags, all to
make one ``Say``. :func:`say` makes the same ``Say`` from the raw line, or
returns None whenever anything about the line is not plain (tags, a source,
several targets, an empty text, extra middle parameters, CR or NUL inside, a
lower-case verb...): then the general path runs as before. The adapter only
asks it when no label or multiline batch can be involved (no tags: no label,
no batch reference) and the client is registered.

``tests/protocols/test_irc_fastpath.py`` checks that both paths give the same
commands and replies for the same lines, odd ones included.
"""

from __future__ import annotations

from chinwag.core.events import Say
from chinwag.core.quick import say as new_say


def say(line: bytes) -> Say | None:
    """The one ``Say`` the general path makes of ``line`` (a PRIVMSG or NOTICE
    to one room, no tags), or None: take the general path.

    (Every test here is an operator, a slice or a one-argument method: in
    CPython 3.11 ``bytes.__contains__`` first tries its argument as an integer
    and formats the TypeError, and ``find``/``startswith`` parse their
    arguments through a format string; each of those costs ~850-2,200
    instructions, more than the rest of this function.)"""
    try:
        text = line.decode()  # (no arguments to parse: ~300 instructions fewer than with them)
    except UnicodeDecodeError:
        text = line.decode("utf-8", "replace")  # (as parse_line decodes)
    verb, _, rest = text.partition(" ")
    if (verb != "PRIVMSG" and verb != "NOTICE") or not rest or rest[0] != "#":  # (an index: a slice is dearer)
        return None  # another verb (a lower-case one too), or not to a room
    if "\r" in text or "\0" in text:
        return None  # (the parser trims a trailing CR, refuses one inside: its business)
    target, colon, body = rest.partition(" :")
    if not colon:
        return None  # no trailing parameter
    if " " in target or "," in target:
        return None  # extra middle parameters, spaces, several targets
    if not body:
        return None  # 412 (PRIVMSG) or nothing (NOTICE): the general path says which
    if verb == "NOTICE":
        return new_say(target, body, "notice")
    if body[0] == "\x01" and (body[:8] == "\x01ACTION " or body == "\x01ACTION\x01"):
        action = body[8:].removesuffix("\x01")
        return new_say(target, action or " ", "action")
    return new_say(target, body)  # (core/quick.py: Say(target, body), cheaper)
