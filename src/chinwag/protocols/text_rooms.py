"""The text protocol's room commands: registering and moderating rooms.

``/register #room`` registers a room (``/register PASSWORD`` still registers
an account: text_accounts.py); ``/cs COMMAND ...`` (or ``/msg ChanServ ...``)
reaches the room service (protocols/roomservice.py). Moderation works in the
current room with the same core commands IRC uses: ``/kick`` (Kick), ``/ban``
``/unban`` (MODE +b/-b: a nick, a ``nick!user@host`` mask or ``~a:ACCOUNT``),
``/mute`` ``/unmute`` (the quiet list, MODE +q/-q), ``/op`` ``/deop`` (+o/-o),
``/topic`` (Topic). Refusals come back as the core's typed errors, shown
by TextProtocol as ``error: ...`` lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from chinwag.core.events import Command
from chinwag.core.types.moderation import Kick, Mode, ModeChange
from chinwag.core.types.registered import RoomHelp, RoomRegister
from chinwag.core.types.rooms import Topic
from chinwag.protocols import roomservice, text_accounts

if TYPE_CHECKING:
    from chinwag.protocols.text import TextProtocol

SERVICE_NAMES: Final = frozenset({"chanserv", "cs"})


def register(p: TextProtocol, arg: str) -> Command | None:
    """``/register #room``: a room; anything else: the account (a password)."""
    if arg.startswith("#"):
        return RoomRegister(arg.split()[0])
    return text_accounts.register(p, arg)


def service(p: TextProtocol, arg: str) -> Command | None:
    parsed = roomservice.parse(arg)
    if isinstance(parsed, str):
        p.say(f"* ChanServ: {parsed}")
        return None
    if isinstance(parsed, RoomHelp):
        for line in roomservice.HELP:
            p.say(f"* ChanServ: {line}")
        p.say("*   (here: /cs COMMAND ..., or /msg ChanServ COMMAND ...)")
        return None
    return parsed


def kick(p: TextProtocol, arg: str) -> Command | None:
    room = p.require_room()
    if room is None:
        return None
    nick, _, reason = arg.partition(" ")
    return Kick(room, nick, reason.strip())


def _mode(p: TextProtocol, arg: str, on: bool, letter: str) -> Command | None:
    room = p.require_room()
    target = arg.split()[0] if arg.split() else ""
    if room is None or not target:
        return None
    return Mode(room, (ModeChange(on, letter, target),))


def ban(p: TextProtocol, arg: str) -> Command | None:
    return _mode(p, arg, True, "b")


def unban(p: TextProtocol, arg: str) -> Command | None:
    return _mode(p, arg, False, "b")


def mute(p: TextProtocol, arg: str) -> Command | None:
    return _mode(p, arg, True, "q")


def unmute(p: TextProtocol, arg: str) -> Command | None:
    return _mode(p, arg, False, "q")


def op(p: TextProtocol, arg: str) -> Command | None:
    return _mode(p, arg, True, "o")


def deop(p: TextProtocol, arg: str) -> Command | None:
    return _mode(p, arg, False, "o")


def topic(p: TextProtocol, arg: str) -> Command | None:
    """``/topic`` shows it, ``/topic text`` sets it, ``/topic -`` clears it."""
    room = p.require_room()
    if room is None:
        return None
    if not arg:
        return Topic(room)
    return Topic(room, "" if arg == "-" else arg)

