"""The cluster's bus messages (transport/cluster/wire.py): every op, message and
snapshot comes back as it went; anything else decodes to None, never raises."""

from __future__ import annotations

import json

import pytest

from chinwag.core.events import Message
from chinwag.core.roomstate import RoomState
from chinwag.core.types import cluster
from chinwag.core.types.cluster import Presence, RemoteUser
from chinwag.core.types.moderation import ModeChange
from chinwag.transport.cluster import wire

ALICE = RemoteUser("alice", "~alice@account/alice", "Alice Ä", "alice", "lunch", "iw", True, 1_700_000_000.5)
STATE = RoomState("#Vault", 1.5, "int", "sesame", 10, (("troll!*@*", "alice", 2.0),), "a topic", "alice", 3.0,
                  4.0, "alice", ("bob", "Carol"), (("~a:dave", "bob", 5.0),))

OPS: list[cluster.PresenceOp] = [
    cluster.Arrive(ALICE),
    cluster.Arrive(RemoteUser("bob", "~bob", "", signon=1.0)),
    cluster.Join("alice", "#r", "@+"),
    cluster.Part("alice", "#r", "bye"),
    cluster.Quit("alice", "gone"),
    cluster.Nick("alice", "Alicia"),
    cluster.Topic("alice", "#r", "new topic", 1_700_000_001.25),
    cluster.Away("alice", ""),
    cluster.Kick("alice", "#r", "bob", "out"),
    cluster.Modes("ChanServ", "#r", (ModeChange(True, "o", "alice"), ModeChange(False, "k", "*"),
                                     ModeChange(True, "m")), "ChanServ"),
    cluster.Modes("alice", "alice", (ModeChange(True, "i"),)),
    cluster.Rules(STATE),
    cluster.Rules(RoomState("#empty")),
    cluster.Account("alice", "alice"),
    cluster.Account("alice", None),
    cluster.UserInfo("alice", "Alice A.", "~alice@host"),
    cluster.Invite("alice", "#r", "bob"),
]


@pytest.mark.parametrize("op", OPS, ids=lambda op: type(op).__name__)
def test_every_presence_op_comes_back_as_it_went(op: cluster.PresenceOp) -> None:
    data = wire.presence("node-a", "e1", 42, op)
    item = wire.decode(data)
    assert item == wire.Item("p", "node-a", "", "e1", 42, op=op)
    assert wire.decode(wire.encode(op, "node-a", epoch="e1", pseq=42, to="node-b")) == wire.Item(
        "p", "node-a", "node-b", "e1", 42, op=op)
    assert json.loads(data)["k"] == "p"  # one JSON object per bus message


def test_a_message_keeps_every_field_a_receiver_needs() -> None:
    msg = Message("00060a1b2c3d4e5f", 1_700_000_000.123456, "alice", "#r", "line one\nline two", "action",
                  (("+draft/reply", "0006"), ("+typing", "")), "~alice", accounts=("alice", "bob"),
                  account="alice", lines=(("line one", False), ("line two", True)))
    item = wire.decode(wire.message("node-a", "#r", 7, msg))
    assert item is not None and (item.kind, item.node, item.key, item.seq) == ("m", "node-a", "#r", 7)
    got = item.message
    assert got is not None
    fields = ("msgid", "ts", "nick", "target", "text", "kind", "tags", "user", "accounts", "account", "lines")
    assert {f: getattr(got, f) for f in fields} == {f: getattr(msg, f) for f in fields}
    plain = Message("00060a1b2c3d4e60", 2.0, "bob", "alice", "hi", "privmsg")
    item = wire.decode(wire.encode(plain, "n", key="alice\x00bob", seq=3))
    assert item is not None and item.message == plain and item.message.accounts is None and item.seq == 3


def test_snapshots_hello_want_and_bye() -> None:
    snap = [Presence(ALICE, (("#r", "@"), ("#s", ""))), Presence(RemoteUser("bob", "~bob", "bob"))]
    item = wire.decode(wire.snap("a", "e", 9, snap, to="b"))
    assert item == wire.Item("snap", "a", "b", "e", 9, presences=tuple(snap))
    assert wire.decode(wire.encode(snap, "a", epoch="e", pseq=9)) == wire.Item("snap", "a", "", "e", 9,
                                                                               presences=tuple(snap))
    assert wire.decode(wire.hello("a", "e", 0, [])) == wire.Item("hello", "a", "", "e", 0)
    assert wire.decode(wire.want("b", "a")) == wire.Item("want", "b", "a")
    assert wire.decode(wire.want("b")) == wire.Item("want", "b")
    assert wire.decode(wire.bye("a", "e", "stopping")) == wire.Item("bye", "a", epoch="e", reason="stopping")


GOOD = json.loads(wire.presence("a", "e", 1, cluster.Topic("alice", "#r", "t", 1.0)))

GARBAGE: list[bytes | str] = [
    b"",
    b"\xff\xfe not utf-8",
    b"not json",
    b"[]",
    b"null",
    b'"k"',
    b'{"k": "p"}',  # no node
    b'{"k": "zz", "n": "a"}',  # unknown kind
    b'{"k": "want", "n": ""}',  # empty node name
    b'{"k": "want", "n": "a", "to": 5}',
    json.dumps({**GOOD, "op": "teleport"}).encode(),  # unknown op
    json.dumps({**GOOD, "ts": "soon"}).encode(),
    json.dumps({**GOOD, "s": 1.5}).encode(),  # pseq not an integer
    json.dumps({**GOOD, "nick": None}).encode(),
    json.dumps({k: v for k, v in GOOD.items() if k != "room"}).encode(),
    b'{"k": "p", "n": "a", "e": "e", "s": 1, "op": "topic", "nick": "a", "room": "#r", "topic": "", "ts": NaN}',
    b'{"k": "p", "n": "a", "e": "e", "s": 1, "op": "topic", "nick": "a", "room": "#r", "topic": "", "ts": 1e999}',
    b'{"k": "p", "n": "a", "e": "e", "s": 1, "op": "arrive", "user": {"nick": "x"}}',
    b'{"k": "p", "n": "a", "e": "e", "s": 1, "op": "modes", "nick": "a", "room": "#r", "user": "",'
    b' "changes": [[1, "o", null]]}',
    b'{"k": "p", "n": "a", "e": "e", "s": 1, "op": "rules", "state": {"name": "#r"}}',
    b'{"k": "snap", "n": "a", "e": "e", "s": 1, "users": [{"user": 3, "rooms": []}]}',
    b'{"k": "snap", "n": "a", "e": "e", "s": 1, "users": {}}',
    b'{"k": "m", "n": "a", "key": "#r", "seq": 1, "msg": {"msgid": "1", "ts": 1, "nick": "a", "target": "#r",'
    b' "text": "x", "kind": "join", "user": "", "accounts": null, "account": "", "tags": [], "lines": []}}',
    b'{"k": "m", "n": "a", "key": "#r", "seq": 1, "msg": {"msgid": "1", "ts": 1, "nick": "a", "target": "#r",'
    b' "text": "x", "kind": "privmsg", "user": "", "accounts": ["a"], "account": "", "tags": [], "lines": []}}',
    b"[" * 100_000,  # deeper than the parser goes
]


@pytest.mark.parametrize("data", GARBAGE)
def test_garbage_decodes_to_none(data: bytes | str) -> None:
    assert wire.decode(data) is None
