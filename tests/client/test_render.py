"""Rendering: stable colours, own lines and mentions, timestamps, no escapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chinwag.client.events import Info, Joined, Names, NickChanged, Pong, Quit, RoomInfo, Said, ServerError, Topic
from chinwag.client.render import PALETTE, Renderer, nick_colour, to_ansi, to_plain

T = datetime(2024, 5, 1, 9, 5, tzinfo=UTC)


def luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize(
    ("nick", "colour"),
    [("alice", "#c25e00"), ("bob", "#d13b3b"), ("carol", "#7d7f2a"), ("dave", "#4f8a10"), ("ALICE[]", "#008a5e")],
)
def test_nick_colours_are_fixed_forever(nick: str, colour: str) -> None:
    # Exact values: a change here changes every user's colours; do it on purpose only.
    assert nick_colour(nick) == colour


def test_nick_colour_ignores_irc_case() -> None:
    assert nick_colour("Alice") == nick_colour("alice")
    assert nick_colour("a[b]") == nick_colour("A{B}")


def test_palette_reads_on_dark_and_light_backgrounds() -> None:
    for colour in PALETTE:
        lum = luminance(colour)
        on_black = (lum + 0.05) / 0.05
        on_white = 1.05 / (lum + 0.05)
        assert min(on_black, on_white) >= 3.9, colour


def test_message_line() -> None:
    r = Renderer(tz=UTC)
    r.current = "#lobby"
    line = r.render(Said(T, "bob", "#lobby", "hello"))
    assert line is not None
    assert line.plain == "[09:05] bob: hello"
    assert line.fragments[1] == ("fg:#d13b3b", "bob")
    assert not line.bell


def test_timestamp_is_local_time() -> None:
    r = Renderer(tz=timezone(timedelta(hours=2)))
    r.current = "#lobby"
    line = r.render(Said(T, "bob", "#lobby", "hi"))
    assert line is not None and line.plain.startswith("[11:05] ")


def test_other_rooms_are_labelled() -> None:
    r = Renderer(tz=UTC)
    r.current = "#lobby"
    line = r.render(Said(T, "bob", "#dev", "deploy done"))
    assert line is not None and line.plain == "[09:05] #dev bob: deploy done"


def test_own_lines_and_mentions_stand_out() -> None:
    r = Renderer(tz=UTC)
    r.current = "#lobby"
    own = r.render(Said(T, "alice", "#lobby", "hi", own=True))
    mention = r.render(Said(T, "bob", "#lobby", "alice: hi", mention=True))
    plain = r.render(Said(T, "bob", "#lobby", "hi"))
    assert own is not None and mention is not None and plain is not None
    assert own.fragments[1] == ("fg:#c25e00 bold underline", "alice")
    assert mention.fragments[1] == ("fg:#d13b3b reverse bold", "bob")
    assert mention.fragments[-1] == ("bold", "alice: hi")
    assert mention.bell and not own.bell and not plain.bell
    replayed = r.render(Said(T, "bob", "#lobby", "alice: hi", mention=True, history=True))
    assert replayed is not None and not replayed.bell  # no bell storm on catch-up


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (Said(T, "bob", "#lobby", "waves", kind="action"), "[09:05] * bob waves"),
        (Said(T, "bob", "#lobby", "note", kind="notice"), "[09:05] -bob- note"),
        (Said(T, "bob", "alice", "psst", private=True, peer="bob"), "[09:05] *bob* psst"),
        (Said(T, "alice", "bob", "psst", own=True, private=True, peer="bob"), "[09:05] -> *bob* psst"),
        (Joined(T, "#lobby", "bob"), "[09:05] * bob joined #lobby"),
        (Joined(T, "#lobby", "alice", own=True), "[09:05] * now talking in #lobby"),
        (Quit(T, "bob", "bye"), "[09:05] * bob has quit (bye)"),
        (NickChanged(T, "bob", "rob"), "[09:05] * bob is now known as rob"),
        (Topic(T, "#lobby", "hi all"), "[09:05] * topic of #lobby: hi all"),
        (Topic(T, "#lobby", "new", "bob"), "[09:05] * bob set the topic of #lobby: new"),
        (Topic(T, "#lobby", ""), "[09:05] * #lobby has no topic"),
        (Names(T, "#lobby", ("alice", "bob")), "[09:05] * in #lobby: alice, bob"),
        (RoomInfo(T, "#dev", 3, "dev talk"), "[09:05] *   #dev (3) dev talk"),
        (Info(T, "MOTD line"), "[09:05] * MOTD line"),
        (ServerError(T, "No such nick", "401"), "[09:05] ! No such nick"),
    ],
)
def test_event_lines(event: object, text: str) -> None:
    r = Renderer(tz=UTC)
    r.current = "#lobby"
    line = r.render(event)  # type: ignore[arg-type]
    assert line is not None and line.plain == text


def test_pong_is_silent() -> None:
    assert Renderer().render(Pong(T, "x")) is None


def test_escape_sequences_from_others_are_stripped() -> None:
    r = Renderer(tz=UTC)
    r.current = "#lobby"
    line = r.render(Said(T, "bob\x1b[2J", "#lobby", "\x1b]0;pwned\x07hi\x1b[31m \x03" + "4red"))
    assert line is not None
    assert "\x1b" not in line.plain and line.plain == "[09:05] bob: hi red"


def test_ansi_and_plain_output() -> None:
    fragments = [("fg:#d13b3b bold", "bob"), ("", ": hi")]
    assert to_plain(fragments) == "bob: hi"
    assert to_ansi(fragments) == "\x1b[38;2;209;59;59;1mbob\x1b[0m: hi"
