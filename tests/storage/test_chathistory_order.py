"""CHATHISTORY selections (storage/chathistory.py) keep the store's order.

In a cluster a conversation's order is its seq (the order every node
delivered it in), which msgids need not follow. ``SeqReads`` is a store whose
order is its list's order and which places a reference as PostgreSQL does
(storage/postgres/history.py): a message at itself, any other id after the
last message whose msgid is at or below it. The selections must neither
re-sort a conversation by msgid nor cut it by msgid comparisons.
"""

from __future__ import annotations

from chinwag.core.events import ChatHistory, Message, MsgRef
from chinwag.storage.chathistory import Floored, after_ref, before_ref, merge, select, select_with_events

T0 = 1_700_000_000.0


class SeqReads:
    """The Reads of a store holding ``convs`` (key -> messages in seq order)."""

    def __init__(self, convs: dict[str, list[Message]]) -> None:
        self.convs = convs

    def _lo(self, key: str, ref: str) -> int:
        msgs = self.convs.get(key, [])
        for i, m in enumerate(msgs):
            if m.msgid == ref:
                return i + 1
        return max((i + 1 for i, m in enumerate(msgs) if m.msgid <= ref), default=0)

    def _hi(self, key: str, ref: str) -> int:
        lo = self._lo(key, ref)
        msgs = self.convs.get(key, [])
        return lo if lo and msgs[lo - 1].msgid == ref else lo + 1

    async def latest(self, key: str, limit: int) -> list[Message]:
        return self.convs.get(key, [])[-limit:] if limit > 0 else []

    async def before(self, key: str, msgid: str, limit: int) -> list[Message]:
        end = self._hi(key, msgid) - 1
        return self.convs.get(key, [])[max(0, end - limit) : end] if limit > 0 else []

    async def after(self, key: str, msgid: str, limit: int) -> list[Message]:
        start = self._lo(key, msgid)
        return self.convs.get(key, [])[start : start + limit] if limit > 0 else []

    async def between(self, key: str, start_msgid: str, end_msgid: str, limit: int) -> list[Message]:
        raise NotImplementedError  # (not used here)

    async def around(self, key: str, msgid: str, limit: int) -> list[Message]:
        raise NotImplementedError

    async def since(self, key: str, ts: float, limit: int) -> list[Message]:
        msgs = self.convs.get(key, [])
        chosen = sorted((m for m in msgs if m.ts >= ts), key=lambda m: m.ts)[:limit]
        return [m for m in msgs if m in chosen]


def msg(msgid: str, text: str, kind: str = "privmsg") -> Message:
    return Message(msgid, T0 + int(msgid, 16), "alice", "#room", text, kind)


# seq order: b made after a, but committed before it; d before c likewise.
A, B, C, D, E = (msg(f"{i:016x}", t) for i, t in zip((10, 20, 30, 40, 50), "abcde", strict=True))
ROOM = [B, A, D, C, E]


def texts(found: list[Message]) -> str:
    return "".join(m.text for m in found)


def q(verb: str, start: MsgRef, limit: int = 50, end: MsgRef | None = None) -> ChatHistory:
    return ChatHistory(verb, "#room", start, end, limit)  # type: ignore[arg-type]


def test_a_reference_is_placed_in_a_list_as_the_store_places_it() -> None:
    assert texts(after_ref(ROOM, A.msgid)) == "dce"
    assert texts(before_ref(ROOM, A.msgid)) == "b"
    assert texts(after_ref(ROOM, B.msgid)) == "adce"
    assert texts(before_ref(ROOM, D.msgid)) == "ba"
    mark = f"{25:016x}"  # no message: placed after a, the last (by seq) of those at or below it
    assert texts(after_ref(ROOM, mark)) == "dce"
    assert texts(before_ref(ROOM, mark)) == "ba"
    assert texts(merge([ROOM, [msg(f"{15:016x}", "x"), msg(f"{45:016x}", "y")]])) == "xbadcye"


async def test_latest_after_a_message_is_what_came_after_it_in_the_stores_order() -> None:
    store = SeqReads({"#room": ROOM})
    assert texts(await select(store, "#room", q("latest", MsgRef(A.msgid)), 50)) == "dce"
    assert texts(await select(store, "#room", q("latest", MsgRef(A.msgid)), 2)) == "ce"
    assert texts(await select(store, "#room", q("latest", MsgRef(B.msgid)), 50)) == "adce"
    assert texts(await select(store, "#room", q("latest", MsgRef()), 50)) == "badce"


async def test_between_a_time_and_a_msgid_cuts_at_the_message_not_by_msgid() -> None:
    store = SeqReads({"#room": ROOM})
    # From before everything (a time) to d: b and a came before d.
    found = await select(store, "#room", q("between", MsgRef(ms=0), end=MsgRef(D.msgid)), 50)
    assert texts(found) == "ba"


async def test_events_merge_with_messages_without_reordering_either() -> None:
    events = [msg(f"{35:016x}", "J", "join"), msg(f"{25:016x}", "K", "join")]  # its own seq order too
    store = SeqReads({"#room": ROOM, "!#room": events})
    found = await select_with_events(store, "#room", "!#room", q("latest", MsgRef()), 50)
    assert texts(found) == "baJKdce"
    found = await select_with_events(store, "#room", "!#room", q("latest", MsgRef()), 5)
    assert texts(found) == "JKdce"


async def test_a_floored_reader_sees_what_came_after_its_floor_in_the_stores_order() -> None:
    floor = f"{25:016x}"  # the nick began between b and c (by time), after a and b by seq
    store = Floored(SeqReads({"@alice,bob": ROOM}), floor)
    assert texts(await store.latest("@alice,bob", 50)) == "dce"
    assert texts(await store.after("@alice,bob", B.msgid, 50)) == "dce"  # b is below the floor
    assert texts(await store.after("@alice,bob", D.msgid, 50)) == "ce"
    assert texts(await store.since("@alice,bob", T0, 50)) == "dce"
    # c (made after the floor) committed before a (made before it): the floor
    # is placed after a, so c is hidden with it, and AFTER c must not show a.
    store = Floored(SeqReads({"@alice,bob": [C, A, D]}), floor)
    assert texts(await store.latest("@alice,bob", 50)) == "d"
    assert texts(await store.after("@alice,bob", C.msgid, 50)) == "d"
    assert texts(await store.since("@alice,bob", T0, 50)) == "d"
