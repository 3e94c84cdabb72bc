from __future__ import annotations

import pytest

from chinwag.core.errors import ErroneousNick, RoomNameError
from chinwag.core.names import casefold, validate_nick, validate_room


def test_rfc1459_casefolding() -> None:
    assert casefold("ABC[]\\~") == "abc{}|^"


@pytest.mark.parametrize("nick", ["a", "alice", "Bob-2", "[x]", "_under", "x" * 32])
def test_valid_nicks(nick: str) -> None:
    assert validate_nick(nick, 32) == nick


@pytest.mark.parametrize(
    ("nick", "why"),
    [
        ("", "empty"),
        ("1abc", "must start"),
        ("-abc", "must start"),
        ("a b", "' '"),
        ("a,b", "','"),
        ("a\x1bb", "'\\x1b'"),
        ("x" * 33, "longer than 32"),
    ],
)
def test_invalid_nicks_say_why(nick: str, why: str) -> None:
    with pytest.raises(ErroneousNick) as exc:
        validate_nick(nick, 32)
    assert why in exc.value.reason


@pytest.mark.parametrize("room", ["#a", "#lobby", "#with-dash", "#" + "x" * 63])
def test_valid_rooms(room: str) -> None:
    assert validate_room(room, 64) == room


@pytest.mark.parametrize("room", ["", "#", "lobby", "#a b", "#a,b", "#a\x07", "#" + "x" * 64])
def test_invalid_rooms(room: str) -> None:
    with pytest.raises(RoomNameError):
        validate_room(room, 64)
