"""Client events -> styled lines; pure (no terminal), so colours are testable.

A line is a list of ``(style, text)`` fragments, the format prompt_toolkit
prints, and :func:`to_plain` / :func:`to_ansi` flatten it for pipes. Styles use
only ``bold``, ``underline``, ``reverse`` and ``fg:#rrggbb``.

Nick colours: SHA-256 of the casefolded nick (chinwag's rfc8265 fold) picks one of
:data:`PALETTE`, so a nick has the same colour for everyone, every run, on any
server (Python's ``hash()`` is salted per process; a digest is not). The
palette has only mid-luminance colours: each has a contrast ratio of at least
3.9:1 against both black and white, so it reads on dark and light terminals.
Own lines underline the nick; a line that mentions us shows the nick in
reverse video and the text in bold, and rings the bell.

Everything that came from another user goes through
:func:`~chinwag.protocols.sanitize.strip_controls` first: a nick or a message
must never drive our terminal.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Final

from chinwag.client.events import (
    ClientEvent,
    Info,
    Joined,
    Kicked,
    Names,
    NickChanged,
    NickInUse,
    Parted,
    Pong,
    Quit,
    Registered,
    RoomInfo,
    Said,
    ServerError,
    Status,
    Topic,
)
from chinwag.client.protocol import casefold
from chinwag.protocols.sanitize import strip_controls

Fragments = list[tuple[str, str]]

#: Mid-luminance colours readable on black and on white (see the module docstring).
PALETTE: Final = (
    "#d13b3b",  # red
    "#c25e00",  # orange
    "#9a7d00",  # ochre
    "#4f8a10",  # green
    "#008a5e",  # sea green
    "#00849a",  # teal
    "#2f72d6",  # blue
    "#6a5fd8",  # indigo
    "#9350c9",  # violet
    "#c0399a",  # magenta
    "#d0436a",  # rose
    "#7d7f2a",  # olive
)
GREY: Final = "fg:#808080"  # timestamps and server chatter: also mid-luminance
ERROR: Final = "fg:#d13b3b bold"
BELL: Final = "\a"


def nick_colour(nick: str) -> str:
    """The palette colour of ``nick``: stable across runs, machines and case."""
    digest = hashlib.sha256(casefold(nick).encode("utf-8")).digest()
    return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]


@dataclass(frozen=True, slots=True)
class Line:
    fragments: Fragments = field(default_factory=list)
    bell: bool = False

    @property
    def plain(self) -> str:
        return to_plain(self.fragments)


def to_plain(fragments: Fragments) -> str:
    return "".join(text for _, text in fragments)


_SGR: Final = {"bold": "1", "italic": "3", "underline": "4", "reverse": "7"}


def to_ansi(fragments: Fragments) -> str:
    """24-bit ANSI for a forced-colour pipe (``--color always``)."""
    out: list[str] = []
    for style, text in fragments:
        codes: list[str] = []
        for word in style.split():
            if word.startswith("fg:#") and len(word) == 10:
                r, g, b = (int(word[i : i + 2], 16) for i in (4, 6, 8))
                codes.append(f"38;2;{r};{g};{b}")
            elif word in _SGR:
                codes.append(_SGR[word])
        out.append(f"\x1b[{';'.join(codes)}m{text}\x1b[0m" if codes else text)
    return "".join(out)


class Renderer:
    """Formats events for one user. ``current`` is the room the prompt is on:
    lines from other rooms are labelled with their room."""

    def __init__(self, tz: tzinfo | None = None) -> None:
        self.tz = tz  # None: the local time zone
        self.current: str | None = None

    def stamp(self, when: datetime) -> tuple[str, str]:
        return (GREY, when.astimezone(self.tz).strftime("[%H:%M] "))

    def nick(self, nick: str, extra: str = "") -> tuple[str, str]:
        style = f"fg:{nick_colour(nick)} {extra}".strip()
        return (style, strip_controls(nick))

    def _here(self, room: str) -> bool:
        return self.current is not None and casefold(room) == casefold(self.current)

    def _where(self, room: str) -> Fragments:
        return [] if self._here(room) else [("bold", strip_controls(room)), ("", " ")]

    def render(self, event: ClientEvent) -> Line | None:
        """The line to show for ``event``, or None when there is nothing to show."""
        match event:
            case Said():
                return self._said(event)
            case Joined(when, room, nick, own):
                if own and (self.current is None or self._here(room)):  # the prompt shows it now
                    return self._note(when, [("", "now talking in "), ("bold", strip_controls(room))])
                if own:  # joined alongside: the prompt stays where it is
                    return self._note(when, [("", "you joined "), ("bold", strip_controls(room))])
                return self._note(when, [self.nick(nick), ("", " joined "), ("bold", strip_controls(room))])
            case Parted(when, room, nick, reason, own):
                who = [("", "you")] if own else [self.nick(nick)]
                return self._note(when, [*who, ("", " left "), ("bold", strip_controls(room)), *_why(reason)])
            case Kicked(when, room, nick, by, reason, own):
                who = [("", "you were")] if own else [self.nick(nick), ("", " was")]
                return self._note(when, [*who, ("", " kicked from "), ("bold", strip_controls(room)),
                                         ("", " by "), self.nick(by), *_why(reason)])
            case Quit(when, nick, reason, _rooms):
                return self._note(when, [self.nick(nick), ("", " has quit"), *_why(reason)])
            case NickChanged(when, old, new, own):
                if own:
                    return self._note(when, [("", "you are now known as "), self.nick(new, "bold")])
                return self._note(when, [self.nick(old), ("", " is now known as "), self.nick(new)])
            case Topic(when, room, text, by):
                if by:
                    return self._note(when, [self.nick(by), ("", " set the topic of "), ("bold", strip_controls(room)),
                                             ("", ": " + strip_controls(text))])
                if not text:
                    return self._note(when, [("bold", strip_controls(room)), ("", " has no topic")])
                return self._note(when, [("", "topic of "), ("bold", strip_controls(room)),
                                         ("", ": " + strip_controls(text))])
            case Names(when, room, nicks):
                parts: Fragments = [("", "in "), ("bold", strip_controls(room)), ("", ": ")]
                for i, nick in enumerate(nicks):
                    parts += [("", ", ")] if i else []
                    parts.append(self.nick(nick))
                return self._note(when, parts)
            case RoomInfo(when, room, users, topic):
                tail = f" ({users}) {strip_controls(topic)}".rstrip()
                return self._note(when, [("", "  "), ("bold", strip_controls(room)), ("", tail)])
            case Registered(when, nick, _server):
                return self._note(when, [("", "connected as "), self.nick(nick, "bold")])
            case NickInUse(when, nick, trying):
                return self._note(when, [("", f"the nick {strip_controls(nick)} is taken, trying "),
                                         self.nick(trying, "bold")])
            case Info(when, text):
                return Line([self.stamp(when), (GREY, "* " + strip_controls(text))])
            case ServerError(when, text, _code):
                return Line([self.stamp(when), (ERROR, "! " + strip_controls(text))])
            case Status(when, text):
                return Line([self.stamp(when), ("bold", "-- " + text)])
            case Pong():
                return None
        return None

    def _note(self, when: datetime, parts: Fragments) -> Line:
        return Line([self.stamp(when), ("", "* "), *parts])

    def _said(self, ev: Said) -> Line:
        text = strip_controls(ev.text)
        nick_style = "bold underline" if ev.own else "reverse bold" if ev.mention else ""
        text_style = "bold" if ev.mention else ""
        parts: Fragments = [self.stamp(ev.time)]
        if ev.private:
            if ev.own:
                parts += [("", "-> *"), self.nick(ev.peer), ("", "* ")]
            else:
                parts += [("", "*"), self.nick(ev.nick, nick_style), ("", "* ")]
            if ev.kind == "action":
                parts += [self.nick(ev.nick, nick_style), ("", " ")]
        else:
            parts += self._where(ev.target)
            if ev.kind == "action":
                parts += [("", "* "), self.nick(ev.nick, nick_style), ("", " ")]
            elif ev.kind == "notice":
                parts += [("", "-"), self.nick(ev.nick, nick_style), ("", "- ")]
            else:
                parts += [self.nick(ev.nick, nick_style), ("", ": ")]
        parts.append((text_style, text))
        return Line(parts, bell=ev.mention and not ev.history)


def _why(reason: str) -> Fragments:
    return [("", f" ({strip_controls(reason)})")] if reason else []
