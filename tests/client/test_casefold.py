"""The terminal client folds names as the server does (CASEMAPPING=rfc8265)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.client.protocol import casefold
from chinwag.client.render import nick_colour
from chinwag.core import names
from chinwag.core.errors import ErroneousNick


@pytest.mark.parametrize("name", ["Вася", "ВАСЯ", unicodedata.normalize("NFD", "Nguyễn"), "Zoë", "ＡＬＩＣＥ[x]",
                                  "Bob[M]", "#Кафе", "Σίσυφος"])
def test_the_client_folds_like_the_server(name: str) -> None:
    assert casefold(name) == names.casefold(name)
    assert casefold(name, "rfc1459") == name.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~",
                                                                     "abcdefghijklmnopqrstuvwxyz{}|^"))


@given(st.text(max_size=12))
def test_the_client_folds_every_valid_nick_like_the_server(name: str) -> None:
    try:
        nick = names.validate_nick(name, 32)
    except ErroneousNick:
        return
    assert casefold(nick) == names.casefold(nick)


def test_one_name_one_colour_in_any_case() -> None:
    assert nick_colour("Вася") == nick_colour("ВАСЯ")
