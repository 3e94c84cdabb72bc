"""`chinwag connect --account NAME --password-file FILE`: SASL PLAIN against
chinwag's own IRC port; a wrong password is said, and the client goes on as a guest."""

from __future__ import annotations

from pathlib import Path

from chinwag.transport.server import Server
from tests.client.conftest import run_connect
from tests.conftest import Connect

PASSWORD = "correct-horse-battery"


async def test_connect_logs_in_with_sasl_plain(server: Server, connect: Connect, tmp_path: Path) -> None:
    owner = await connect("Вася")
    await owner.send(f"/register {PASSWORD}")
    await owner.expect("* account Вася registered")
    await owner.send("/logout")
    await owner.expect("* you are now logged out")
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    port = str(server.port("irc"))
    rc, out, err = await run_connect(f"127.0.0.1:{port}", "--nick", "vasya", "--account", "вася",
                                     "--password-file", str(secret), stdin="/who\nhello as вася\n".encode())
    assert rc == 0, err
    assert "logged in as Вася" in out
    assert (await owner.expect("hello as")).endswith("] vasya: hello as вася")
    assert PASSWORD not in out + err
    secret.write_text("wrong-password\n")
    rc, out, err = await run_connect(f"127.0.0.1:{port}", "--nick", "guesty", "--account", "Вася",
                                     "--password-file", str(secret), stdin=b"hello as a guest\n")
    assert rc == 0, err
    assert "SASL login failed: SASL authentication failed" in out + err
    assert "logged in as" not in out
    assert (await owner.expect("hello as a guest")).endswith("] guesty: hello as a guest")


async def test_account_without_a_password_file_in_a_script_is_refused(tmp_path: Path) -> None:
    rc, out, err = await run_connect("127.0.0.1:1", "--account", "alice", stdin=b"")
    assert rc == 2 and "--account needs --password-file when stdin is not a terminal" in err


def test_plain_and_external_messages_are_chunked_as_sasl_requires() -> None:
    from chinwag.client.sasl import Login  # (new here: the tests above fail on main by their own assertions)

    assert Login("PLAIN", "alice", "pw").chunks() == ["YWxpY2UAYWxpY2UAcHc="]
    assert Login("EXTERNAL").chunks() == ["+"]
    long = Login("PLAIN", "a", "x" * 296).chunks()  # 300 raw bytes: exactly 400 of base64, then "+"
    assert [len(c) for c in long] == [400, 1] and long[1] == "+"
