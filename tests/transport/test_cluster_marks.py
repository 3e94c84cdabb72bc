"""A node's delivery marks round by round (transport/cluster/marks.py), with
its database a stand-in and its connections stand-ins whose output is
"taken by the kernel" or not: who is held back at which mark, when a held user
is released, and that nothing held is lost when a write fails. The processes,
sockets and PostgreSQL are in tests/cluster/test_marks.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chinwag.core.events import ChangeNick, Join, Register
from chinwag.core.hub import Hub
from chinwag.core.limits import Limits
from chinwag.transport.cluster.marks import DeliveryMarks
from chinwag.transport.cluster.sequencer import Sequencer


class Db:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], int] = {}  # (nick, key) -> seq, as cluster_marks holds them for this node
        self.fail = False

    async def write_marks(self, node: str, marks: list[tuple[str, str, int]], released: list[str]) -> None:
        if self.fail:
            raise OSError("database down")
        assert not {n for n, _, _ in marks} & set(released)  # (one statement: never both)
        self.rows = {k: v for k, v in self.rows.items() if k[0] not in released}
        self.rows.update({(n, k): s for n, k, s in marks})


class Conn:
    """A connection whose transport holds ``buffered`` bytes the kernel has not taken."""

    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.out: list[bytes] = []
        self.gated: list[object] | None = None
        self.closed = False
        self.buffered = 0
        self.transport = SimpleNamespace(get_write_buffer_size=lambda: self.buffered)


def setup(idle: int = 0) -> tuple[DeliveryMarks, Hub, Db, dict[int, Conn]]:
    """kim in #a, sam in #a and #b; ``idle`` more connections in no room (with
    many, a round looks at the rooms' members instead of every connection)."""
    hub = Hub(Limits(), clock=lambda: 1_700_000_000.0)
    db = Db()
    conns: dict[int, Conn] = {}
    node: Any = SimpleNamespace(hub=hub, db=db, name="n1", limits=Limits(),
                                server=SimpleNamespace(connections=conns))
    node.sequencer = Sequencer.__new__(Sequencer)
    node.sequencer.convs, node.sequencer.moved_keys, node.sequencer.heads = {}, {}, {}
    for sid, nick in ((1, "kim"), (2, "sam")):
        hub.connect(sid)
        hub.handle(sid, Register(nick, ("#a",)))
        conns[sid] = Conn(sid)
    hub.handle(2, Join("#b"))
    for sid in range(100, 100 + idle):
        conns[sid] = Conn(sid)
        conns[sid].buffered = 1  # (behind, but in no room that moves)
    for key in ("#a", "#b"):
        node.sequencer.watch(key)  # followed from seq 1 (heads 0)
    return DeliveryMarks(node), hub, db, conns


def deliver(marks: DeliveryMarks, key: str, upto: int) -> None:
    """The sequencer handed ``key``'s messages up to ``upto`` to fan-out."""
    sequencer = marks.node.sequencer
    sequencer.convs[key].next = upto + 1
    sequencer.moved_keys[key] = None


@pytest.mark.parametrize("idle", [0, 20])
async def test_the_nodes_mark_moves_with_delivery_and_a_slow_reader_keeps_its_own_until_it_caught_up(
        idle: int) -> None:
    marks, hub, db, conns = setup(idle)
    await marks.round()
    assert db.rows == {("", "#a"): 0, ("", "#b"): 0}  # followed from the start: nothing delivered yet
    deliver(marks, "#a", 5)
    deliver(marks, "#b", 3)
    await marks.round()
    assert db.rows == {("", "#a"): 5, ("", "#b"): 3}

    conns[2].buffered = 1  # sam's transport still holds some of the next messages
    deliver(marks, "#a", 9)
    await marks.round()
    # the node's mark moves on; sam's own marks stay where the node's were, in each of its rooms
    assert db.rows == {("", "#a"): 9, ("", "#b"): 3, ("sam", "#a"): 5, ("sam", "#b"): 3}
    deliver(marks, "#b", 4)
    await marks.round()
    assert db.rows[("", "#b")] == 4 and db.rows[("sam", "#b")] == 3  # still behind: still its own

    conns[2].buffered = 0
    conns[2].out = [b"x"]  # (its output queue: not handed to the kernel either)
    await marks.round()
    assert ("sam", "#a") in db.rows
    conns[2].out = []
    conns[2].gated = []  # (a query holds its messages back)
    await marks.round()
    assert ("sam", "#a") in db.rows
    conns[2].gated = None
    await marks.round()  # nothing moved, but sam caught up: released, the node's marks are its marks
    assert db.rows == {("", "#a"): 9, ("", "#b"): 4}
    assert marks.held == {}


@pytest.mark.parametrize("idle", [0, 20])
async def test_a_held_user_joining_a_room_or_renamed_keeps_marks_no_newer_than_it_took(idle: int) -> None:
    marks, hub, db, conns = setup(idle)
    hub.connect(3)
    hub.handle(3, Register("tess", ("#c",)))
    conns[3] = Conn(3)
    marks.node.sequencer.watch("#c")
    deliver(marks, "#c", 7)
    await marks.round()
    deliver(marks, "#a", 2)
    conns[2].buffered = 1
    await marks.round()
    assert db.rows[("sam", "#a")] == 0
    hub.handle(2, Join("#c"))  # joins #c while behind
    deliver(marks, "#c", 8)
    await marks.round()
    assert db.rows[("sam", "#c")] == 7 and db.rows[("", "#c")] == 8  # the node's mark from before this round
    hub.handle(2, ChangeNick("samuel"))
    await marks.round()
    assert {k for k in db.rows if k[0] != ""} == {("samuel", "#a"), ("samuel", "#b"), ("samuel", "#c")}


async def test_a_failed_write_changes_nothing_and_is_tried_again() -> None:
    marks, hub, db, conns = setup()
    await marks.round()
    db.fail = True
    conns[2].buffered = 1
    deliver(marks, "#a", 4)
    with pytest.raises(OSError):
        await marks.round()
    assert marks.held == {} and marks.written == {"#a": 0, "#b": 0}
    db.fail = False
    await marks.round()  # (#a is taken again though nothing moved since)
    assert db.rows == {("", "#a"): 4, ("", "#b"): 0, ("sam", "#a"): 0, ("sam", "#b"): 0}


async def test_after_its_rows_were_forgotten_a_node_writes_every_mark_again() -> None:
    marks, hub, db, conns = setup()
    deliver(marks, "#a", 6)
    await marks.round()
    db.rows.clear()  # declared dead meanwhile: its rows were used and forgotten; it joined again
    marks.reset()
    conns[2].buffered = 1
    await marks.round()  # nothing moved, yet every room is written; sam, behind, from where the node started
    assert db.rows == {("", "#a"): 6, ("", "#b"): 0, ("sam", "#a"): 0, ("sam", "#b"): 0}
