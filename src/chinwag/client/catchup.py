"""A room's catch-up after a (re)join: CHATHISTORY, paging, live lines held.

With ``draft/chathistory``, every (re)join of a room we have seen a message id
in asks ``CHATHISTORY AFTER #room msgid=<last>``, paging on while full batches
come back; the first join of a room asks for its latest messages
(``CHATHISTORY LATEST #room * 20``). Without it, whatever the server plays
back on join goes through the same de-duplication.

While a room's history is on its way (the answer is a batch), live messages to
that room are *held* and shown after it; one the history brought too is shown
once, in its place. So a room reads in order, and the next page asks AFTER the
history's last message, never a live one (which would leave a gap). A
``FAIL CHATHISTORY``, leaving the room, or :data:`HELD_MAX` held lines show
what was held at once; a lost connection drops it unshown, and the next
connection fetches it again (it never became the room's last msgid).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from chinwag.client.events import Said

if TYPE_CHECKING:
    from chinwag.client.protocol import ClientProtocol

HISTORY_BATCHES: Final = frozenset({"chathistory", "draft/chathistory"})
#: Messages per CHATHISTORY request when the server does not say (ISUPPORT CHATHISTORY).
HISTORY_PAGE: Final = 100
#: Live messages held per room while its history is on its way; beyond, shown at once.
HELD_MAX: Final = 1000


class CatchUp:
    """One connection's history requests and held lines; shows messages for ``p``."""

    def __init__(self, p: ClientProtocol) -> None:
        self.p = p
        self.counts: dict[str, int] = {}  # history batch ref -> messages in it
        self.held: dict[str, list[Said]] = {}  # room cf -> live messages waiting for its history

    def page(self) -> int:
        limit = self.p.isupport.get("CHATHISTORY", "")
        return min(HISTORY_PAGE, int(limit)) if limit.isascii() and limit.isdigit() and int(limit) > 0 else HISTORY_PAGE

    def fetch(self, room: str, joining: bool = False) -> None:
        """What we missed in ``room`` since the last message we saw there; on
        ``joining`` a room we have seen nothing of, its latest messages."""
        p = self.p
        if "draft/chathistory" not in p.caps:
            return
        key = p.fold(room)
        last = p.session.last_msgid.get(key)
        if last:
            p.send("CHATHISTORY", "AFTER", room, f"msgid={last}", str(self.page()))
        elif joining and p.session.join_history > 0:
            p.send("CHATHISTORY", "LATEST", room, "*", str(min(p.session.join_history, self.page())))
        else:
            self.release(key)
            return
        if "batch" in p.caps:  # the answer is a batch: its end releases what is held
            self.held.setdefault(key, [])

    def in_history(self, ref: str, room: str | None, msgid: str | None) -> None:
        """A message of history batch ``ref`` (``room``: its room, if it is one)."""
        self.counts[ref] = self.counts.get(ref, 0) + 1  # a full page pages on
        if msgid and room:  # the next page starts after it, shown before or not
            self.p.session.last_msgid[self.p.fold(room)] = msgid

    def ended(self, ref: str, kind: str, target: str) -> None:
        """Batch ``ref`` ended: a full page of history asks for the next, a short one releases."""
        count = self.counts.pop(ref, 0)
        if kind not in HISTORY_BATCHES or not target:
            return
        if count >= self.page():
            self.fetch(target)  # there may be more
        else:
            self.release(self.p.fold(target))

    def offer(self, said: Said) -> None:
        """Show ``said`` (not seen before), or hold it while its room catches up."""
        held = self.held.get(self.p.fold(said.target)) if not said.private else None
        if held is not None:
            if not said.history and len(held) < HELD_MAX:
                held.append(said)  # shown once the history before it has been
                return
            if said.msgid:  # the history has it too: shown from there, in its place
                held[:] = [h for h in held if h.msgid != said.msgid]
        self.show(said)

    def show(self, said: Said) -> None:
        session = self.p.session
        if said.msgid:
            session.seen.add(said.msgid)
            if not said.private:
                session.last_msgid[self.p.fold(said.target)] = said.msgid
        self.p._emit(said)

    def release(self, key: str) -> None:
        """The history of room ``key`` is all here (or will not come): show what was held."""
        for said in self.held.pop(key, []):
            if not said.msgid or said.msgid not in self.p.session.seen:
                self.show(said)

    def failed(self) -> None:
        """FAIL CHATHISTORY: no history is coming; show everything held."""
        for key in list(self.held):
            self.release(key)
