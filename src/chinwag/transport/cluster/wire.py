"""What nodes say to each other on the bus: one JSON object per message.

Every object has ``k`` (kind) and ``n`` (the node that says it); ``to`` names
the one node it is for (absent: every node). Kinds:

* ``m``: a stored message, with its conversation ``key`` and ``seq`` and every
  ``Message`` field a receiver needs (client tags, multiline lines, accounts);
* ``p``: a presence op (core/types/cluster.py), numbered per node run:
  ``e`` the run's random epoch, ``s`` the op's number (pseq);
* ``snap``: a node's snapshot (its local users), with its epoch and pseq, so
  that the ops after it follow on; ``hello``: the same, sent on start and
  after the bus comes back (receivers answer with theirs);
* ``want``: a snapshot request; ``bye``: the node is leaving.

:func:`decode` checks every field's type: a malformed or unknown payload is
None (the caller logs it), never an exception.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final, cast

from chinwag.core.events import Message, MessageKind
from chinwag.core.roomstate import RoomState
from chinwag.core.types import cluster
from chinwag.core.types.cluster import Presence, PresenceOp, RemoteUser
from chinwag.core.types.moderation import ModeChange

KINDS: Final = ("m", "p", "snap", "want", "hello", "bye")
MESSAGE_KINDS: Final = ("privmsg", "action", "notice")


@dataclass(frozen=True, slots=True)
class Item:
    """One decoded bus message; the fields its kind does not use keep their defaults."""

    kind: str
    node: str
    to: str = ""  # "" : every node
    epoch: str = ""
    pseq: int = 0
    op: PresenceOp | None = None  # "p"
    presences: tuple[Presence, ...] = ()  # "snap", "hello"
    message: Message | None = None  # "m"
    key: str = ""  # "m": the conversation
    seq: int = 0  # "m": its place in the conversation (PostgreSQL)
    reason: str = ""  # "bye"


class Malformed(Exception):
    pass


# --- encoding ------------------------------------------------------------------------------


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _head(kind: str, node: str, to: str = "", epoch: str = "", pseq: int = 0) -> dict[str, Any]:
    obj: dict[str, Any] = {"k": kind, "n": node}
    if to:
        obj["to"] = to
    if kind in ("p", "snap", "hello"):
        obj["e"], obj["s"] = epoch, pseq
    return obj


def _user(u: RemoteUser) -> dict[str, Any]:
    return {"nick": u.nick, "user": u.user, "realname": u.realname, "account": u.account, "away": u.away,
            "modes": u.modes, "oper": u.oper, "signon": u.signon}


def _changes(changes: tuple[ModeChange, ...]) -> list[list[Any]]:
    return [[c.on, c.mode, c.arg] for c in changes]


def _state(s: RoomState) -> dict[str, Any]:
    return {"name": s.name, "created": s.created, "flags": s.flags, "key": s.key, "limit": s.limit,
            "bans": [list(b) for b in s.bans], "topic": s.topic, "topic_by": s.topic_by, "topic_ts": s.topic_ts,
            "registered": s.registered, "founder": s.founder, "op_accounts": list(s.op_accounts),
            "quiets": [list(q) for q in s.quiets]}


def _op(op: PresenceOp) -> dict[str, Any]:
    if type(op) is cluster.Arrive:
        return {"op": "arrive", "user": _user(op.user)}
    if type(op) is cluster.Modes:
        return {"op": "modes", "nick": op.nick, "room": op.room, "changes": _changes(op.changes), "user": op.user}
    if type(op) is cluster.Rules:
        return {"op": "rules", "state": _state(op.state)}
    name = _OP_NAMES[type(op)]
    return {"op": name, **{field: getattr(op, field) for field in _FIELDS[name]}}


def _presences(presences: tuple[Presence, ...] | list[Presence]) -> list[dict[str, Any]]:
    return [{"user": _user(p.user), "rooms": [list(r) for r in p.rooms]} for p in presences]


def _message(msg: Message) -> dict[str, Any]:
    return {"msgid": msg.msgid, "ts": msg.ts, "nick": msg.nick, "target": msg.target, "text": msg.text,
            "kind": msg.kind, "user": msg.user, "accounts": list(msg.accounts) if msg.accounts else None,
            "account": msg.account, "tags": [list(t) for t in msg.tags],
            "lines": [list(line) for line in msg.lines]}


def own_messages(node: str) -> bytes:
    """How every message ``node`` publishes begins (:func:`message`): a node
    drops its own, echoed back by the bus, without decoding them."""
    return _dumps(_head("m", node))[:-1] + b","


def presence(node: str, epoch: str, pseq: int, op: PresenceOp, to: str = "") -> bytes:
    return _dumps({**_head("p", node, to, epoch, pseq), **_op(op)})


def message(node: str, key: str, seq: int, msg: Message, to: str = "") -> bytes:
    return _dumps({**_head("m", node, to), "key": key, "seq": seq, "msg": _message(msg)})


def snap(node: str, epoch: str, pseq: int, presences: list[Presence] | tuple[Presence, ...], to: str = "") -> bytes:
    return _dumps({**_head("snap", node, to, epoch, pseq), "users": _presences(presences)})


def hello(node: str, epoch: str, pseq: int, presences: list[Presence] | tuple[Presence, ...]) -> bytes:
    return _dumps({**_head("hello", node, "", epoch, pseq), "users": _presences(presences)})


def want(node: str, to: str = "") -> bytes:
    """Ask ``to`` ("" : every node) for its snapshot."""
    return _dumps(_head("want", node, to))


def bye(node: str, epoch: str = "", reason: str = "") -> bytes:
    obj = _head("bye", node)
    if epoch:
        obj["e"] = epoch
    if reason:
        obj["reason"] = reason
    return _dumps(obj)


def encode(body: PresenceOp | Message | list[Presence] | tuple[Presence, ...], node: str, *, epoch: str = "",
           pseq: int = 0, to: str = "", key: str = "", seq: int = 0) -> bytes:
    """A presence op, a message (with ``key`` and ``seq``) or a snapshot, as one bus message."""
    if isinstance(body, Message):
        return message(node, key, seq, body, to)
    if isinstance(body, list | tuple):
        return snap(node, epoch, pseq, body, to)
    return presence(node, epoch, pseq, body, to)


# --- decoding ------------------------------------------------------------------------------


def _s(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if type(value) is not str:
        raise Malformed(name)
    return value


def _i(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if type(value) is not int:
        raise Malformed(name)
    return value


def _f(obj: dict[str, Any], name: str) -> float:
    value: Any = obj.get(name)
    if type(value) not in (int, float) or not math.isfinite(value):
        raise Malformed(name)
    return float(value)


def _b(obj: dict[str, Any], name: str) -> bool:
    value = obj.get(name)
    if type(value) is not bool:
        raise Malformed(name)
    return value


def _d(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise Malformed("object")
    return value


def _l(value: Any) -> list[Any]:
    if type(value) is not list:
        raise Malformed("list")
    return value


def _strs(value: Any, n: int) -> tuple[str, ...]:
    items = _l(value)
    if len(items) != n or any(type(x) is not str for x in items):
        raise Malformed("strings")
    return tuple(items)


def _pair(value: Any) -> tuple[str, str]:
    first, second = _strs(value, 2)
    return first, second


def _read_user(value: Any) -> RemoteUser:
    obj = _d(value)
    return RemoteUser(_s(obj, "nick"), _s(obj, "user"), _s(obj, "realname"), _s(obj, "account"), _s(obj, "away"),
                      _s(obj, "modes"), _b(obj, "oper"), _f(obj, "signon"))


def _read_changes(value: Any) -> tuple[ModeChange, ...]:
    changes = []
    for item in _l(value):
        change = _l(item)
        if len(change) != 3 or type(change[0]) is not bool or type(change[1]) is not str \
                or not (change[2] is None or type(change[2]) is str):
            raise Malformed("changes")
        changes.append(ModeChange(change[0], change[1], change[2]))
    return tuple(changes)


def _read_bans(value: Any) -> tuple[tuple[str, str, float], ...]:
    bans = []
    for item in _l(value):
        ban = _l(item)
        if len(ban) != 3 or type(ban[0]) is not str or type(ban[1]) is not str:
            raise Malformed("bans")
        bans.append((ban[0], ban[1], _f({"ts": ban[2]}, "ts")))
    return tuple(bans)


def _read_state(value: Any) -> RoomState:
    obj = _d(value)
    ops = _l(obj.get("op_accounts"))
    return RoomState(_s(obj, "name"), _f(obj, "created"), _s(obj, "flags"), _s(obj, "key"), _i(obj, "limit"),
                     _read_bans(obj.get("bans")), _s(obj, "topic"), _s(obj, "topic_by"), _f(obj, "topic_ts"),
                     _f(obj, "registered"), _s(obj, "founder"), _strs(ops, len(ops)),
                     _read_bans(obj.get("quiets")))


# op name -> its class and its plain fields (str, or "f:" float, or "a:" str-or-None)
_PLAIN: Final[dict[str, tuple[type, tuple[str, ...]]]] = {
    "join": (cluster.Join, ("nick", "room", "status")),
    "part": (cluster.Part, ("nick", "room", "reason")),
    "quit": (cluster.Quit, ("nick", "reason")),
    "nick": (cluster.Nick, ("old", "new")),
    "topic": (cluster.Topic, ("nick", "room", "topic", "f:ts")),
    "away": (cluster.Away, ("nick", "away")),
    "kick": (cluster.Kick, ("nick", "room", "target", "reason")),
    "account": (cluster.Account, ("nick", "a:account")),
    "userinfo": (cluster.UserInfo, ("nick", "realname", "user")),
    "invite": (cluster.Invite, ("nick", "room", "target")),
}
_OP_NAMES: Final[dict[type, str]] = {cls: name for name, (cls, _) in _PLAIN.items()}
_FIELDS: Final[dict[str, tuple[str, ...]]] = {name: tuple(f.partition(":")[2] or f for f in fields)
                                               for name, (_, fields) in _PLAIN.items()}


def _read_op(obj: dict[str, Any]) -> PresenceOp:
    name = _s(obj, "op")
    if name == "arrive":
        return cluster.Arrive(_read_user(obj.get("user")))
    if name == "modes":
        return cluster.Modes(_s(obj, "nick"), _s(obj, "room"), _read_changes(obj.get("changes")), _s(obj, "user"))
    if name == "rules":
        return cluster.Rules(_read_state(obj.get("state")))
    spec = _PLAIN.get(name)
    if spec is None:
        raise Malformed(name)
    cls, fields = spec
    args: list[Any] = []
    for field in fields:
        how, _, key = field.rpartition(":")
        if how == "f":
            args.append(_f(obj, key))
        elif how == "a":
            value = obj.get(key)
            if not (value is None or type(value) is str):
                raise Malformed(key)
            args.append(value)
        else:
            args.append(_s(obj, key))
    op: PresenceOp = cls(*args)
    return op


def _read_presences(value: Any) -> tuple[Presence, ...]:
    result = []
    for item in _l(value):
        obj = _d(item)
        rooms = tuple(_pair(r) for r in _l(obj.get("rooms")))
        result.append(Presence(_read_user(obj.get("user")), rooms))
    return tuple(result)


def _read_message(value: Any) -> Message:
    obj = _d(value)
    kind = _s(obj, "kind")
    if kind not in MESSAGE_KINDS:
        raise Malformed("kind")
    accounts = obj.get("accounts")
    pair = None if accounts is None else _pair(accounts)
    tags = tuple(_pair(t) for t in _l(obj.get("tags")))
    lines = []
    for item in _l(obj.get("lines")):
        line = _l(item)
        if len(line) != 2 or type(line[0]) is not str or type(line[1]) is not bool:
            raise Malformed("lines")
        lines.append((line[0], line[1]))
    return Message(_s(obj, "msgid"), _f(obj, "ts"), _s(obj, "nick"), _s(obj, "target"), _s(obj, "text"),
                   cast(MessageKind, kind), tags, _s(obj, "user"), accounts=pair,
                   account=_s(obj, "account"), lines=tuple(lines))


def decode(data: bytes | str) -> Item | None:
    """One bus message, or None if it is not one this version understands."""
    try:
        obj = _d(json.loads(data, parse_constant=_no_constant))
        kind, node = _s(obj, "k"), _s(obj, "n")
        to = obj.get("to", "")
        if kind not in KINDS or not node or type(to) is not str:
            return None
        if kind == "m":
            return Item(kind, node, to, key=_s(obj, "key"), seq=_i(obj, "seq"), message=_read_message(obj.get("msg")))
        if kind == "want":
            return Item(kind, node, to)
        if kind == "bye":
            epoch = obj.get("e", "")
            reason = obj.get("reason", "")
            if type(epoch) is not str or type(reason) is not str:
                return None
            return Item(kind, node, to, epoch=epoch, reason=reason)
        epoch, pseq = _s(obj, "e"), _i(obj, "s")
        if kind == "p":
            return Item(kind, node, to, epoch, pseq, op=_read_op(obj))
        return Item(kind, node, to, epoch, pseq, presences=_read_presences(obj.get("users")))
    except (Malformed, ValueError, TypeError, RecursionError):
        return None


def _no_constant(name: str) -> Any:
    raise Malformed(name)  # NaN, Infinity: not JSON
