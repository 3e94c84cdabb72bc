"""What of a room outlives its members: its access rules and its topic.

A room's modes (+imnt, +k, +l), bans and topic are its rules. They are kept
(``Hub.saved``, mirrored by the store behind ``storage.base.RoomStore``) for
as long as the room has members or stored history, so emptying a room does not
open its history to the next person who re-creates it: re-creating it restores
them. Who is in it, who holds +o/+v now and its invitations are not rules: they
belong to sessions and end with them.

A *registered* room (core/types/registered.py) also keeps its founder account and the
accounts on its op list, and its rules are kept for ever (until it is dropped),
history or not. Its quiet list (+q) is kept like its bans.

A :class:`RoomState` is a plain, frozen snapshot: the hub makes one whenever a
rule changes and gets them back at start; nothing here knows how they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass

Ban = tuple[str, str, float]
"""(casefolded mask, who set it, when)."""

DEFAULT_FLAGS = "nt"


@dataclass(frozen=True, slots=True)
class RoomState:
    name: str  # as displayed ("#Vault"); its casefold is the room's key
    created: float = 0.0
    flags: str = DEFAULT_FLAGS  # modes without a parameter, letters sorted: "int"
    key: str = ""  # +k ("" = none)
    limit: int = 0  # +l (0 = none)
    bans: tuple[Ban, ...] = ()
    topic: str = ""
    topic_by: str = ""
    topic_ts: float = 0.0
    registered: float = 0.0  # when it was registered (0: not registered)
    founder: str = ""  # the founder's account ("" in a registered room: the server)
    op_accounts: tuple[str, ...] = ()  # accounts given op on join, as written by the founder
    quiets: tuple[Ban, ...] = ()  # +q: may join, may not speak

    def is_default(self) -> bool:
        """Nothing a fresh room would not have: no need to keep it."""
        return (self.flags == DEFAULT_FLAGS and not self.key and not self.limit and not self.bans
                and not self.topic and not self.registered and not self.quiets)
