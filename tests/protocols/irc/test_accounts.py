"""SASL framing and account lines without sockets (protocols/irc/accounts.py)."""

from __future__ import annotations

import base64

from chinwag.config import Config
from chinwag.core.accounts import AccountChanged, AccountLogin, SaslAbort, SaslChallenge, SaslResponse
from chinwag.core.events import Register
from chinwag.protocols.irc.adapter import IrcInfo, IrcProtocol


def sasl(mechanism: str = "PLAIN") -> IrcProtocol:
    p = IrcProtocol(IrcInfo.from_config(Config(), now=0.0))
    p.receive_data(f"CAP REQ :sasl\r\nAUTHENTICATE {mechanism}\r\n".encode())
    assert p.next_command() is None
    assert p.data_to_send() == b":chinwag CAP * ACK sasl\r\nAUTHENTICATE +\r\n"
    return p


def test_a_message_in_400_byte_chunks_is_joined_then_decoded() -> None:
    p = sasl()
    data = bytes(range(256)) * 2 + b"x" * 88  # 600 bytes: 800 base64 characters
    encoded = base64.b64encode(data).decode()
    assert len(encoded) == 800
    p.receive_data(f"AUTHENTICATE {encoded[:400]}\r\n".encode())
    assert p.next_command() is None  # more follows
    p.receive_data(f"AUTHENTICATE {encoded[400:]}\r\n".encode())
    assert p.next_command() is None  # exactly 400 again: more follows
    p.receive_data(b"AUTHENTICATE +\r\n")
    assert p.next_command() == SaslResponse("PLAIN", data, 0)


def test_a_short_message_and_bad_base64() -> None:
    p = sasl()
    p.receive_data(b"AUTHENTICATE " + base64.b64encode(b"\0al\0pw") + b"\r\n")
    assert p.next_command() == SaslResponse("PLAIN", b"\0al\0pw", 0)
    q = sasl()
    q.receive_data(b"AUTHENTICATE !!!!\r\n")
    assert q.next_command() == SaslAbort()
    assert q.data_to_send() == b":chinwag 904 * :SASL authentication failed\r\n"


def test_server_challenges_are_chunked_with_a_trailing_plus_when_exact() -> None:
    p = sasl("SCRAM-SHA-256")
    exact = p.render(SaslChallenge(b"a" * 300), {})  # 400 base64 characters
    assert exact.split(b"\r\n")[:-1] == [b"AUTHENTICATE " + base64.b64encode(b"a" * 300), b"AUTHENTICATE +"]
    longer = p.render(SaslChallenge(b"b" * 301), {})
    lines = longer.split(b"\r\n")[:-1]
    assert [len(line) for line in lines] == [len("AUTHENTICATE ") + 400, len("AUTHENTICATE ") + 4]


def test_success_is_900_then_903_and_a_second_attempt_is_907() -> None:
    p = sasl()
    assert p.render(AccountChanged("*", "alice"), {}) == (
        b":chinwag 900 * *!*@chinwag alice :You are now logged in as alice\r\n"
        b":chinwag 903 * :SASL authentication successful\r\n")
    p.receive_data(b"AUTHENTICATE PLAIN\r\n")
    assert p.next_command() is None
    assert p.data_to_send() == b":chinwag 907 * :You have already authenticated using SASL\r\n"


def test_pass_account_password_logs_in_after_registering_unless_the_server_has_a_password() -> None:
    p = IrcProtocol(IrcInfo.from_config(Config(), now=0.0))
    p.receive_data(b"PASS alice:secret-password\r\nNICK al\r\nUSER al 0 * :A\r\n")
    assert p.next_command() == Register("al", (), "", "A", "~al")
    assert p.next_command() == AccountLogin("alice", "secret-password")
    q = IrcProtocol(IrcInfo.from_config(Config(password="srv:pw"), now=0.0))
    q.receive_data(b"PASS srv:pw\r\nNICK al\r\nUSER al 0 * :A\r\n")
    assert q.next_command() == Register("al", (), "srv:pw", "A", "~al")
    assert q.next_command() is None
