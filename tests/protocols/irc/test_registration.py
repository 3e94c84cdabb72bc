"""The registration state table is strict: a missing row is an error, not a no-op."""

from __future__ import annotations

import pytest

from chinwag.config import Config
from chinwag.core.events import Registered
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol
from chinwag.protocols.irc.registration import REGISTRATION, IllegalTransition, Reg, advance

HAPPENINGS = ("cap", "end", "ready", "ok", "refused")


@pytest.mark.parametrize("state", list(Reg))
@pytest.mark.parametrize("happening", HAPPENINGS)
def test_every_pair_is_a_row_or_an_error(state: Reg, happening: str) -> None:
    if (state, happening) in REGISTRATION:
        assert advance(state, happening) is REGISTRATION[(state, happening)]
    else:
        with pytest.raises(IllegalTransition, match=f"'{happening}' in state '{state.value}'"):
            advance(state, happening)


def test_the_happy_path_with_cap_negotiation() -> None:
    state = Reg.NEW
    for happening, expected in [("cap", Reg.CAP), ("cap", Reg.CAP), ("end", Reg.NEW), ("ready", Reg.WAIT),
                                ("ok", Reg.DONE), ("cap", Reg.DONE)]:
        state = advance(state, happening)
        assert state is expected


def test_a_welcome_nobody_waited_for_is_an_error_not_a_silent_registration() -> None:
    p = IrcProtocol(IrcInfo.from_config(Config(), now=0.0))
    with pytest.raises(IllegalTransition):
        p.render(Registered("al"), {})
    assert p.reg is Reg.NEW
