"""Input lines -> intents: the whole command table, without a server."""

from __future__ import annotations

import pytest

from chinwag.client import commands as cmd
from chinwag.client.commands import NO_ROOM, help_lines, parse_input


@pytest.mark.parametrize(
    ("line", "current", "intent"),
    [
        ("hello", "#lobby", cmd.Say("#lobby", "hello")),
        ("//etc/passwd", "#lobby", cmd.Say("#lobby", "/etc/passwd")),
        ("hello", None, cmd.Usage(NO_ROOM)),
        ("   ", "#lobby", None),
        ("/join #dev", "#lobby", cmd.JoinRoom("#dev")),
        ("/join dev", "#lobby", cmd.JoinRoom("#dev")),
        ("/join", "#lobby", cmd.Usage("usage: /join #room")),
        ("/part", "#lobby", cmd.PartRoom("#lobby")),
        ("/part #dev see you", "#lobby", cmd.PartRoom("#dev", "see you")),
        ("/part bye all", "#lobby", cmd.PartRoom("#lobby", "bye all")),
        ("/msg bob hi there", "#lobby", cmd.Say("bob", "hi there")),
        ("/msg bob", "#lobby", cmd.Usage("usage: /msg NICK text")),
        ("/me waves", "#lobby", cmd.Act("#lobby", "waves")),
        ("/me", "#lobby", cmd.Usage("usage: /me action")),
        ("/nick al", "#lobby", cmd.ChangeNick("al")),
        ("/who", "#lobby", cmd.WhoIs("#lobby")),
        ("/who #dev", "#lobby", cmd.WhoIs("#dev")),
        ("/who", None, cmd.Usage(NO_ROOM)),
        ("/rooms", None, cmd.ListRooms()),
        ("/topic", "#lobby", cmd.SetTopic("#lobby")),
        ("/topic ship it", "#lobby", cmd.SetTopic("#lobby", "ship it")),
        ("/topic #dev ship it", "#lobby", cmd.SetTopic("#dev", "ship it")),
        ("/quit", "#lobby", cmd.QuitChat()),
        ("/quit gone fishing", "#lobby", cmd.QuitChat("gone fishing")),
        ("/QUIT", "#lobby", cmd.QuitChat()),
        ("/help", None, cmd.Help()),
        ("/switch #dev", "#lobby", cmd.Switch("#dev")),
        ("/switch", "#lobby", cmd.Switch(step=1)),
        ("/quote MODE #x +t", "#lobby", cmd.Raw("MODE #x +t")),
        ("/frobnicate", "#lobby", cmd.Usage("unknown command /frobnicate: try /help")),
    ],
)
def test_parse_input(line: str, current: str | None, intent: cmd.Intent | None) -> None:
    assert parse_input(line, current) == intent


def test_help_lists_every_command() -> None:
    text = "\n".join(help_lines())
    for name in ("join", "part", "msg", "me", "nick", "who", "rooms", "topic", "quit", "help", "switch"):
        assert f"/{name}" in text
