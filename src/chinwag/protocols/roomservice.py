"""The room service's command line, shared by IRC (``PRIVMSG ChanServ :...``,
``CS``/``CHANSERV``) and the text protocol (``/cs ...``, ``/msg ChanServ ...``).

``parse("OP #dev alice")`` -> a core/types/registered.py command, :class:`RoomHelp` for
HELP (or anything unknown), or a usage string when arguments are missing.
Sans-I/O; each protocol shows the answers its own way.
"""

from __future__ import annotations

import time
from typing import Final

from chinwag.core.types.registered import (
    RoomAccess,
    RoomCommand,
    RoomDetails,
    RoomDrop,
    RoomHelp,
    RoomInfo,
    RoomRegister,
)

HELP: Final = (
    "ChanServ commands (you must be logged in to an account):",
    "REGISTER #room        - register a room you are an operator of; you become its founder",
    "INFO #room            - who founded the room, when, and its op list",
    "OP #room ACCOUNT      - (founder) give an account op on join; a nick online works too",
    "DEOP #room ACCOUNT    - (founder) take an account off the op list",
    "DROP #room            - (founder) unregister the room",
    "HELP                  - this list",
)

_USAGE: Final = {
    "REGISTER": "REGISTER #room",
    "INFO": "INFO #room",
    "DROP": "DROP #room",
    "OP": "OP #room ACCOUNT",
    "DEOP": "DEOP #room ACCOUNT",
}


def parse(text: str) -> RoomCommand | RoomHelp | str:
    verb, _, rest = text.strip().partition(" ")
    verb = verb.upper()
    args = rest.split()
    usage = _USAGE.get(verb)
    if usage is None:
        return RoomHelp()
    need = 2 if verb in ("OP", "DEOP") else 1
    if len(args) < need or not args[0].startswith("#"):
        return f"usage: {usage}"
    room = args[0]
    if verb == "REGISTER":
        return RoomRegister(room)
    if verb == "INFO":
        return RoomInfo(room)
    if verb == "DROP":
        return RoomDrop(room)
    return RoomAccess(room, args[1], verb == "OP")


def details(e: RoomDetails) -> list[str]:
    """INFO's answer as lines (the same for every protocol)."""
    if not e.registered:
        return [f"{e.room} is not registered"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(e.registered))
    founder = e.founder or "the server (server operators hold op)"
    return [
        f"Information on {e.room}:",
        f"Founder    : {founder}",
        f"Registered : {when}",
        f"Op list    : {', '.join(e.ops) if e.ops else '(empty)'}",
    ]
