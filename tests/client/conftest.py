"""Fixtures for the terminal client: headless UIs, a real ngircd, free ports.

Nothing here sleeps: waits are on transcript lines, events or process output,
each with a timeout. Every server listens on 127.0.0.1, on a port the OS picked.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput, Output

from chinwag.client.app import Chat
from chinwag.client.connection import Backoff, Connection
from chinwag.client.protocol import Session
from chinwag.client.render import Renderer
from chinwag.client.ui import TerminalUI

TIMEOUT = 10.0  # only reached when something is wrong
FAST = Backoff(initial=0.05, factor=2.0, maximum=0.5, jitter=0.0)
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def program(name: str) -> str:
    """Path of a test dependency, installed on the spot if missing (never skipped).

    ``make test`` runs scripts/test-deps.sh first; this covers a bare ``pytest``.
    """
    found = _which(name)
    if found is None:
        subprocess.run(["sh", str(ROOT / "scripts" / "test-deps.sh")], check=True)
        found = _which(name)
    assert found, f"{name} is missing and scripts/test-deps.sh could not install it"
    return found


class Headless:
    """A full ``chinwag connect`` UI on a pipe: type into it, read its transcript."""

    def __init__(self, ui: TerminalUI, pipe: PipeInput, task: asyncio.Task[int]) -> None:
        self.ui = ui
        self.pipe = pipe
        self.task = task

    @property
    def chat(self) -> Chat:
        return self.ui.chat

    @property
    def text(self) -> str:
        """What is typed on the input line right now."""
        return self.ui.session.default_buffer.text

    def type(self, keys: str) -> None:
        self.pipe.send_text(keys)

    async def expect(self, fragment: str, start: int = 0) -> str:
        try:
            return await self.ui.wait_for_line(fragment, TIMEOUT, start)
        except TimeoutError:
            raise AssertionError(f"{fragment!r} not shown; transcript:\n" + "\n".join(self.ui.transcript)) from None

    async def typed(self, text: str) -> None:
        """Wait until the input line reads ``text``."""
        try:
            await self.ui.wait_until(lambda: self.text == text, TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"input line is {self.text!r}, not {text!r}") from None

    def mark(self) -> int:
        return len(self.ui.transcript)

    async def quit(self) -> int:
        if not self.task.done():
            self.type("/quit bye\r")
        return await asyncio.wait_for(self.task, TIMEOUT)


MakeHeadless = Callable[..., Awaitable[Headless]]


@pytest.fixture
async def headless() -> AsyncIterator[MakeHeadless]:
    made: list[Headless] = []
    with contextlib.ExitStack() as stack:

        async def make(port: int | Sequence[int], nick: str, rooms: Iterable[str] = ("#lobby",), *,
                       output: Output | None = None, colour: bool = True, backoff: Backoff = FAST) -> Headless:
            """``port``: the server's IRC port, or several (the client tries them in turn)."""
            pipe = stack.enter_context(create_pipe_input())
            chat = Chat(Renderer(tz=UTC))
            rooms = tuple(rooms)
            ports = [port] if isinstance(port, int) else list(port)
            servers = [("127.0.0.1", p) for p in ports]
            conn = Connection(servers, Session(nick, rooms), chat.on_event, backoff=backoff)
            chat.attach(conn)
            ui = TerminalUI(chat, conn, colour=colour, input=pipe, output=output or DummyOutput())
            h = Headless(ui, pipe, asyncio.create_task(ui.run()))
            made.append(h)
            if rooms:
                await h.expect(f"now talking in {rooms[0]}")
                await h.expect(f"in {rooms[0]}: ")  # NAMES: completion knows who is there
            return h

        yield make
        for h in made:
            if not h.task.done():
                h.task.cancel()  # run() still says QUIT on its way out
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(h.task, TIMEOUT)


@pytest.fixture
async def ngircd(tmp_path: Path) -> AsyncIterator[int]:
    """A real ngircd on 127.0.0.1 and a free port; yields the port."""
    port = free_port()
    conf = tmp_path / "ngircd.conf"
    conf.write_text(
        "[Global]\n"
        "  Name = irc.test.local\n"
        "  Info = chinwag client tests\n"
        "  AdminInfo1 = tests\n  AdminInfo2 = here\n  AdminEMail = root@localhost\n"
        "  Listen = 127.0.0.1\n"
        f"  Ports = {port}\n"
        "  MotdPhrase = ngircd for chinwag tests\n"
        f"  PidFile = {tmp_path}/ngircd.pid\n"
        "[Limits]\n  MaxNickLength = 30\n  MaxConnectionsIP = 0\n"
        "[Options]\n  DNS = no\n  Ident = no\n  PAM = no\n"
    )
    proc = await asyncio.create_subprocess_exec(
        program("ngircd"), "-n", "-f", str(conf),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    log: list[bytes] = []

    async def ready() -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            log.append(line)
            if b"ready" in line:
                return
        raise AssertionError(b"ngircd exited:\n" + b"".join(log))

    await asyncio.wait_for(ready(), TIMEOUT)
    drain = asyncio.create_task(proc.stdout.read())  # keep its pipe from filling up
    yield port
    proc.terminate()
    await asyncio.wait_for(proc.wait(), TIMEOUT)
    await drain


async def run_connect(*args: str, stdin: bytes, timeout: float = TIMEOUT) -> tuple[int, str, str]:
    """``chinwag connect ARGS`` as a subprocess with piped stdin; (rc, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chinwag", "connect", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
