"""The HistoryStore methods of message redaction, event playback and the
sender's account, on every backend (memory, SQLite, PostgreSQL): the same
suite, so the backends cannot drift apart (the rest is in test_store.py)."""

from __future__ import annotations

import dataclasses

from chinwag.core.events import Message
from chinwag.storage.base import event_key, private_key, room_key
from tests.storage.test_store import KEY, ROOM, T0, History, h, ids

__all__ = ["h"]  # the fixture, parametrised over the three backends


async def test_the_senders_account_comes_back_with_every_read(h: History) -> None:
    plain = h.say()
    h.now += 1
    signed = dataclasses.replace(Message(h.ids.next(h.now), h.now, "alice", ROOM, "hi", "privmsg"), account="Alice")
    h.store.append(signed)
    await h.store.flush()
    assert [(m.msgid, m.account) for m in await h.store.latest(KEY, 10)] == [(plain.msgid, ""), (signed.msgid, "Alice")]
    for read in (await h.store.after(KEY, plain.msgid, 5), await h.store.after_many([KEY], plain.msgid, 5),
                 await h.store.before(KEY, "~", 1), await h.store.since(KEY, signed.ts, 5)):
        assert [(m.msgid, m.account) for m in read] == [(signed.msgid, "Alice")]
    found = await h.store.find([KEY], signed.msgid)
    assert found is not None and found[1].account == "Alice"


async def test_find_looks_in_the_keys_given_first_holder_first(h: History) -> None:
    in_room = h.say()
    private = h.say("bob")
    await h.store.flush()
    pkey = private_key("alice", "bob")
    assert await h.store.find([pkey, KEY], in_room.msgid) == (KEY, in_room)
    assert await h.store.find([KEY, pkey], private.msgid) == (pkey, private)
    assert await h.store.find([KEY], private.msgid) is None  # not under the keys given
    assert await h.store.find([], in_room.msgid) is None
    assert await h.store.find([KEY], "no-such-id") is None


async def test_redact_deletes_one_message_and_the_conversation_follows(h: History) -> None:
    first, second, third = h.many(3)
    other = h.say("#other")
    await h.settled()
    assert await h.store.redact(KEY, second.msgid)
    assert not await h.store.redact(KEY, second.msgid)  # already gone
    assert not await h.store.redact(KEY, other.msgid)  # not under this key
    assert not await h.store.redact(room_key("#nowhere"), first.msgid)
    assert ids(await h.store.latest(KEY, 10)) == [first.msgid, third.msgid]
    assert await h.store.find([KEY], second.msgid) is None
    # The latest message (targets) is the one before a redacted newest one.
    assert await h.store.redact(KEY, third.msgid)
    assert await h.store.targets(T0, T0 + 100, 10) == [(KEY, first.ts), (room_key("#other"), other.ts)]
    assert await h.store.redact(KEY, first.msgid)
    assert await h.store.has_history([KEY, room_key("#other")]) == {room_key("#other")}
    assert await h.store.targets(T0, T0 + 100, 10) == [(room_key("#other"), other.ts)]
    assert await h.store.last_msgid() == other.msgid
    # An emptied conversation takes new messages as before.
    again = h.say()
    await h.store.flush()
    assert ids(await h.store.latest(KEY, 10)) == [again.msgid]
    assert await h.store.targets(T0, T0 + 100, 10) == [(room_key("#other"), other.ts), (KEY, again.ts)]


async def test_events_are_stored_under_their_rooms_event_key_in_order_with_messages(h: History) -> None:
    said = h.say()
    h.now += 1
    joined = Message(h.ids.next(h.now), h.now, "bob", ROOM, "", "join")
    h.now += 1
    topic = Message(h.ids.next(h.now), h.now, "bob", "#Room", "plans", "topic")
    await h.store.append_events([joined, topic])
    later = h.say()
    await h.store.append_events([])
    await h.settled()  # events are not counted by on_commit: only the two messages
    assert ids(await h.store.latest(KEY, 10)) == [said.msgid, later.msgid]
    events = await h.store.latest(event_key(ROOM), 10)
    assert events == [joined, topic]
    assert [(m.kind, m.text) for m in events] == [("join", ""), ("topic", "plans")]
    assert ids(await h.store.after(event_key(ROOM), joined.msgid, 10)) == [topic.msgid]
    await h.store.append_events([topic])  # a repeat is ignored
    assert await h.store.latest(event_key(ROOM), 10) == [joined, topic]
