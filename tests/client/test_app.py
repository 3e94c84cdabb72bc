"""Chat (current room, kept lines) and the connect arguments, without a network."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import pytest

from chinwag.client.app import KEPT, Chat
from chinwag.client.events import Joined, Parted, ServerError
from chinwag.client.main import parse_server, parse_servers, tls_context
from chinwag.client.render import Line

T = datetime(2024, 5, 1, tzinfo=UTC)


def chat() -> tuple[Chat, list[str]]:
    c = Chat()
    shown: list[str] = []

    def emit(line: Line) -> None:
        shown.append(line.plain)

    c.emit = emit
    return c, shown


def test_lines_are_kept_while_not_connected() -> None:
    c, shown = chat()
    c.current = "#lobby"
    assert c.submit("hello") is False
    assert KEPT in shown[-1]
    assert c.submit("/help") is True  # local commands need no server
    assert any("/join #room" in line for line in shown)


def test_first_join_becomes_current_and_part_moves_on() -> None:
    c, _ = chat()
    c.on_event(Joined(T, "#lobby", "me", own=True))
    assert c.current == "#lobby"
    c.on_event(Joined(T, "#dev", "me", own=True))  # a rejoin does not steal focus
    assert c.current == "#lobby"
    c.on_event(Parted(T, "#lobby", "me", own=True))
    assert c.current is None  # no connection: no rooms left to fall back on


def test_a_failed_join_switches_back() -> None:
    c, _ = chat()
    c.current = "#lobby"
    c.submit("/join #secret")
    assert c.current == "#secret"
    c.on_event(ServerError(T, "#secret Cannot join channel (+i)", "473"))
    assert c.current is None  # not connected here, so no joined room to go back to


def test_quit_is_local_until_the_front_end_acts() -> None:
    c, _ = chat()
    assert c.submit("/quit gone") is True
    assert c.quitting and c.quit_reason == "gone"


@pytest.mark.parametrize(
    ("text", "tls", "address"),
    [
        ("127.0.0.1", False, ("127.0.0.1", 6667)),
        ("irc.example.org", True, ("irc.example.org", 6697)),
        ("localhost:7000", False, ("localhost", 7000)),
        ("[::1]:7000", False, ("::1", 7000)),
        ("[::1]", False, ("::1", 6667)),
        ("::1", False, ("::1", 6667)),
        (":7000", False, ("127.0.0.1", 7000)),
    ],
)
def test_parse_server(text: str, tls: bool, address: tuple[str, int]) -> None:
    assert parse_server(text, tls) == address


@pytest.mark.parametrize(
    ("texts", "servers"),
    [
        ([], [("127.0.0.1", 6667)]),
        (["a:7000", "b"], [("a", 7000), ("b", 6667)]),
        (["a:7000,b, [::1]:7001"], [("a", 7000), ("b", 6667), ("::1", 7001)]),
        (["a,", "c:1"], [("a", 6667), ("c", 1)]),
    ],
)
def test_parse_servers(texts: list[str], servers: list[tuple[str, int]]) -> None:
    assert parse_servers(texts) == servers


def test_bad_port() -> None:
    with pytest.raises(ValueError):
        parse_server("host:http")


def test_tls_contexts() -> None:
    assert tls_context(False).verify_mode == ssl.CERT_REQUIRED
    insecure = tls_context(True)
    assert insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname
