from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from precis_i18n import get_profile

from chinwag.core.confusables import PROTOTYPES, skeleton
from chinwag.core.errors import ErroneousNick, RoomNameError
from chinwag.core.names import Reserved, _fold, casefold, validate_nick, validate_room


def test_rfc1459_casefolding_is_kept_for_ascii() -> None:
    assert casefold("ABC[]\\~") == "abc{}|^"


NFD_NGUYEN = unicodedata.normalize("NFD", "Nguyễn")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Вася", "вася"),
        ("ВАСЯ", "вася"),
        ("Nguyễn", NFD_NGUYEN),
        ("NGUYỄN", "nguyễn"),
        ("Zoë", "ZOË"),
        ("Zoë", unicodedata.normalize("NFD", "zoë")),
        ("ＡＬＩＣＥ", "alice"),  # fullwidth forms are width-mapped (RFC 8265 3.3.2)
        ("#Кафе", "#кафе"),
        ("#ｃａｆé", "#CAFÉ"),
        ("[Вася]", "{вася}"),  # RFC 1459's []\~ = {}|^ on top of PRECIS
        ("Σίσυφος", "ΣΊΣΥΦΟΣ"),
    ],
)
def test_names_that_are_one_name_fold_to_one_key(a: str, b: str) -> None:
    assert casefold(a) == casefold(b)


@pytest.mark.parametrize(("a", "b"), [("Вася", "Ваня"), ("Zoë", "Zoe"), ("Nguyễn", "Nguyen"), ("ß", "ss")])
def test_different_names_stay_different(a: str, b: str) -> None:
    assert casefold(a) != casefold(b)


def test_titlecase_digraph_is_refused_as_a_compatibility_form_but_its_letters_are_a_name() -> None:
    with pytest.raises(ErroneousNick) as exc:
        validate_nick("ǅ", 32)  # U+01C5, titlecase: NFKC makes it two letters
    assert exc.value.reason == "invalid name: ‘ǅ’ is a compatibility form, not allowed in a name; write ‘Dž’ instead"
    assert validate_nick("Džemal", 32) == "Džemal"
    assert casefold("Džemal") == casefold("DŽEMAL") == "džemal"


@pytest.mark.parametrize(
    ("nick", "shown"),
    [
        ("a", "a"), ("alice", "alice"), ("Bob-2", "Bob-2"), ("[x]", "[x]"), ("_under", "_under"), ("x" * 32, "x" * 32),
        ("Вася", "Вася"), ("Nguyễn", "Nguyễn"), (NFD_NGUYEN, "Nguyễn"), ("Zoë", "Zoë"), ("Σίσυφος", "Σίσυφος"),
        ("ＡＬＩＣＥ", "ALICE"), ("日本語", "日本語"), ("محمد", "محمد"), ("Вася2000", "Вася2000"), ("Вася_", "Вася_"),
        ("ß", "ß"),
    ],
)
def test_valid_nicks_are_prepared_for_display(nick: str, shown: str) -> None:
    assert validate_nick(nick, 32) == shown


@given(st.text(min_size=1, max_size=12))
def test_casefold_is_precis_username_case_mapped_plus_rfc1459(name: str) -> None:
    precis = get_profile("UsernameCaseMapped")
    try:
        expected = precis.enforce(name)
    except UnicodeEncodeError:
        assert casefold(casefold(name)) == casefold(name)  # still a key: stable
        return
    assert casefold(name) == expected.translate(str.maketrans("[]\\~", "{}|^"))


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=20))
def test_the_ascii_fast_path_equals_the_unicode_path(name: str) -> None:
    assert casefold(name) == _fold(name)


@pytest.mark.parametrize(
    ("nick", "why"),
    [
        ("", "empty"),
        ("1abc", "invalid name: must not start with a digit or ‘-’"),
        ("-abc", "invalid name: must not start with a digit or ‘-’"),
        ("a b", "invalid name: ‘ ’ is not allowed in a name (a space)"),
        ("a,b", "invalid name: ‘,’ is not allowed in a name (it separates names)"),
        ("a@b", "invalid name: ‘@’ is not allowed in a name (it separates nick!user@host)"),
        ("@bob", "invalid name: ‘@’ is not allowed in a name (it separates nick!user@host)"),
        ("bo*", "invalid name: ‘*’ is not allowed in a name (it is a wildcard in masks)"),
        ("#bob", "invalid name: ‘#’ is not allowed in a name (it starts room names)"),
        ("a.b", "invalid name: ‘.’ is not allowed in a name (it marks server names)"),
        ("Вася Пупкин", "invalid name: ‘ ’ is not allowed in a name (a space)"),
        ("Вася\u00a0", "invalid name: ‘\u00a0’ (U+00A0 NO-BREAK SPACE) is not allowed in a name"),
        ("Вася\u3000", "invalid name: ‘ ’ is not allowed in a name (a space)"),  # width-mapped first
        ("Вася😀", "invalid name: ‘😀’ is not allowed in a name (letters and digits of any script"),
        ("٣abc", "invalid name: must not start with a digit or ‘-’"),
        ("\u0301a", "invalid name: must not start with a combining mark (U+0301)"),
        ("ǅemal", "invalid name: ‘ǅ’ is a compatibility form, not allowed in a name; write ‘Dž’ instead"),
        ("pаypal", "invalid name: mixes Latin and Cyrillic letters, which can pass for each other; use one alphabet"),
        ("аlice", "invalid name: mixes Latin and Cyrillic letters"),
        ("αlice", "invalid name: mixes Latin and Greek letters"),
        ("abcשלום", "right-to-left letters mixed with others in an order that can display misleadingly"),
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


def test_the_tr39_table_is_loaded() -> None:
    assert len(PROTOTYPES) > 6000
    assert PROTOTYPES["\u0430"] == "a"  # CYRILLIC SMALL LETTER A


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("alice", "аӀісе"),  # all Cyrillic: а Ӏ і с е
        ("paypal", "pаypal"),
        ("Alice", "alice"),
        ("ace", "асе"),
        ("ALICE", "ＡＬＩＣＥ"),
        ("bob", "ЬоЬ"),
        ("Il1", "lll"),
    ],
)
def test_lookalikes_share_a_skeleton(a: str, b: str) -> None:
    assert skeleton(a) == skeleton(b)


@pytest.mark.parametrize(("a", "b"), [("alice", "bob"), ("mary", "rnary"), ("Вася", "Ваня"), ("Zoë", "Zoe")])
def test_different_looking_names_have_different_skeletons(a: str, b: str) -> None:
    assert skeleton(a) != skeleton(b)


@pytest.mark.parametrize("nick", ["NickServ", "nickserv", "ChanServ", "Global", "GLOBAL", "chinwag", "ChinWag",
                                  "FooServ", "NіckServ", "Globa1", "ＮｉｃｋＳｅｒｖ"])
def test_service_names_and_their_lookalikes_are_reserved(nick: str) -> None:
    with pytest.raises(ErroneousNick) as exc:
        Reserved(("chinwag",)).check(nick)
    assert exc.value.reason == f"invalid name: ‘{nick}’ is reserved for the server's services"


@pytest.mark.parametrize("nick", ["alice", "Вася", "server", "chinwag2", "Servant"])
def test_other_names_are_not_reserved(nick: str) -> None:
    Reserved(("chinwag",)).check(nick)
