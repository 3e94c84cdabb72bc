from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
        ("a\x1bb", "no control or invisible formatting characters (found U+001B a control character)"),
        ("\u202ebob", "(found U+202E RIGHT-TO-LEFT OVERRIDE)"),
        ("bob\u2066", "(found U+2066 LEFT-TO-RIGHT ISOLATE)"),
        ("b\u200bob", "(found U+200B ZERO WIDTH SPACE)"),
        ("bob\x9b", "(found U+009B a control character)"),
        ("b\u2028", "(found U+2028 LINE SEPARATOR)"),
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


@pytest.mark.parametrize(
    ("room", "found"),
    [
        ("#\u202egnp", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("#\u009b2J", "U+009B a control character"),
        ("#a\x1b[2J", "U+001B a control character"),
        ("#\u200fx", "U+200F RIGHT-TO-LEFT MARK"),
        ("#x\u2069", "U+2069 POP DIRECTIONAL ISOLATE"),
        ("#x\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("#x\u2029y", "U+2029 PARAGRAPH SEPARATOR"),
        ("#x\x7f", "U+007F a control character"),
    ],
)
def test_rooms_with_controls_or_format_characters_are_refused_saying_which(room: str, found: str) -> None:
    with pytest.raises(RoomNameError) as exc:
        validate_room(room, 64)
    assert exc.value.reason == f"invalid room name: no control or invisible formatting characters (found {found})"


@pytest.mark.parametrize("room", ["#café", "#日本語", "#кафе", "#ümlaut-ß", "#emoji😀"])
def test_rooms_in_any_script_stay_valid(room: str) -> None:
    assert validate_room(room, 64) == room


@given(st.text(min_size=1, max_size=20))
def test_no_name_with_a_control_format_or_separator_character_is_accepted(rest: str) -> None:
    hidden = any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in rest)
    for validate, name in ((validate_room, "#" + rest), (validate_nick, "a" + rest)):
        try:
            validate(name, 64)
        except (RoomNameError, ErroneousNick) as exc:
            if hidden:
                assert "no control or invisible formatting characters (found U+" in exc.reason
        else:
            assert not hidden, repr(name)
