"""The one command table: command type -> handler and who may run it.

The handlers live in modules by subject: core/handlers/ (chat, rooms,
moderation, presence, lookup), plus core/handlers/registered.py (registered rooms),
core/handlers/profile.py (SETNAME), core/handlers/redaction.py (REDACT) and core/handlers/whowas.py.

Every command goes through ``Hub.handle``, which checks registration once; the
handlers only do their own work and raise ChatError for the adapter to map.
Argument parsing (arity) happens at each protocol's edge, where the wire syntax
lives; by the time a command reaches here its fields are typed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from chinwag.core.accounts import SetAccount
from chinwag.core.events import (
    ChangeNick,
    Join,
    ListRooms,
    Outbound,
    Part,
    Quit,
    Register,
    Say,
    Who,
)
from chinwag.core.handlers import chat, lookup, moderation, presence, profile, registered, rooms, whowas
from chinwag.core.handlers.redaction import redaction
from chinwag.core.types.chat import SendTags
from chinwag.core.types.ircv3 import Redaction
from chinwag.core.types.lookup import Lookup, Stats, Sync, Whois, WhoQuery, WhoWas
from chinwag.core.types.moderation import Kick, Kill, ListBans, Mode, Oper, Wallops
from chinwag.core.types.presence import SetAway
from chinwag.core.types.rooms import Invite, ListQuery, PartAll, Topic
from chinwag.core.types.userinfo import SetName

if TYPE_CHECKING:
    from chinwag.core.hub import Hub, Session

Handler = Callable[["Hub", "Session", Any], list[Outbound]]


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    handler: Handler
    needs_registration: bool = True
    # Runs only as a Checked command whose password the transport accepted
    # (when the command carries one: Auth.credential).
    needs_password: bool = False


COMMANDS: Final[dict[type, Spec]] = {
    Register: Spec("register", presence.register, needs_registration=False, needs_password=True),
    Join: Spec("join", rooms.join),
    Part: Spec("part", rooms.part),
    Say: Spec("say", chat.say),
    ChangeNick: Spec("nick", presence.change_nick),
    Who: Spec("who", rooms.who),
    ListRooms: Spec("rooms", rooms.list_rooms),
    Quit: Spec("quit", presence.quit_, needs_registration=False),
    Topic: Spec("topic", rooms.topic),
    Mode: Spec("mode", moderation.mode),
    ListBans: Spec("bans", moderation.list_bans),
    Kick: Spec("kick", moderation.kick),
    Invite: Spec("invite", rooms.invite),
    SetAway: Spec("away", presence.set_away),
    PartAll: Spec("partall", rooms.part_all),
    Oper: Spec("oper", moderation.oper, needs_password=True),
    Kill: Spec("kill", moderation.kill),
    Wallops: Spec("wallops", moderation.wallops),
    Whois: Spec("whois", lookup.whois),
    WhoQuery: Spec("whoquery", lookup.who_query),
    ListQuery: Spec("list", rooms.list_query),
    Lookup: Spec("lookup", lookup.lookup),
    Stats: Spec("stats", lookup.stats, needs_registration=False),
    WhoWas: Spec("whowas", whowas.whowas),
    SendTags: Spec("tagmsg", chat.say),  # (the same recipients and rules: one function)
    Sync: Spec("sync", lookup.sync, needs_registration=False),
    SetAccount: Spec("account", presence.set_account, needs_registration=False),
    SetName: Spec("setname", profile.set_name),
    Redaction: Spec("redact", redaction),
    **{kind: Spec(name, handler) for kind, (name, handler) in registered.HANDLERS.items()},
}
