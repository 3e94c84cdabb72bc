"""Credentials: what the transport checks off the loop, and what it remembers."""

from __future__ import annotations

from chinwag.core.auth import Auth, hash_password, verify
from chinwag.core.events import Register, Say
from chinwag.core.types.moderation import Oper


def test_which_commands_carry_a_password() -> None:
    assert Auth().credential(Register("alice", password="x")) is None  # no server password
    assert Auth("letmein").credential(Say("#a", "letmein")) is None
    server = Auth("letmein").credential(Register("alice", password="guess"))
    assert server is not None and server.kind == "server password" and server.given == "guess"
    oper = Auth(operators={"root": "hunter2"}).credential(Oper("root", "hunter2"))
    assert oper is not None and oper.kind == "operator password" and oper.name == "root"
    assert "hunter2" not in repr(oper) and "guess" not in repr(server)  # never in a log line


def test_verify_and_remember() -> None:
    auth = Auth(hash_password("letmein", iterations=1000), {"root": hash_password("hunter2", iterations=1000)})
    right = auth.credential(Register("a", password="letmein"))
    wrong = auth.credential(Register("a", password="letmeout"))
    oper = auth.credential(Oper("root", "hunter2"))
    assert right and wrong and oper
    assert verify(right) and not verify(wrong) and verify(oper)
    assert not auth.accepted_before(right)
    auth.remember(right)
    assert auth.accepted_before(right) and not auth.accepted_before(wrong) and not auth.accepted_before(oper)


def test_an_unknown_operator_is_refused_like_a_wrong_password() -> None:
    auth = Auth(operators={"root": "hunter2"})
    unknown = auth.credential(Oper("nobody", "hunter2"))
    assert unknown is not None and not unknown.known
    assert not verify(unknown)  # (hashed against a dummy: as slow as a real check)
    auth.remember(unknown)
    assert not auth.accepted_before(unknown)
