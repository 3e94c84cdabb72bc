"""End to end in a real terminal (tmux): an incoming line lands above a half-typed one."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from chinwag.transport.server import Server
from tests.client.conftest import ROOT, TIMEOUT, MakeHeadless, program

Screen = list[str]


class Pane:
    """One tmux pane. Waits are driven by the pane's output (pipe-pane into a
    FIFO): each time it prints, the screen is captured and checked again."""

    def __init__(self, tmux: str, socket: Path, target: str) -> None:
        self.tmux = tmux
        self.socket = socket
        self.target = target
        self.output = asyncio.StreamReader()
        self.transport: asyncio.BaseTransport | None = None

    async def run(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            self.tmux, "-S", str(self.socket), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        assert proc.returncode == 0, err.decode()
        return out.decode()

    async def follow(self, fifo: Path) -> None:
        os.mkfifo(fifo)
        # O_RDWR: we count as a writer too, so the FIFO never reads as EOF.
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(self.output), os.fdopen(fd, "rb", 0)
        )
        await self.run("pipe-pane", "-t", self.target, f"cat >> {shlex.quote(str(fifo))}")

    async def screen(self) -> Screen:
        return (await self.run("capture-pane", "-p", "-t", self.target)).rstrip("\n").split("\n")

    async def wait(self, predicate: Callable[[Screen], bool], what: str) -> Screen:
        screen: Screen = []

        async def until() -> Screen:
            nonlocal screen
            while True:
                screen = await self.screen()
                if predicate(screen):
                    return screen
                await self.output.read(65536)  # the pane printed something: look again

        try:
            return await asyncio.wait_for(until(), TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"{what}; the screen:\n" + "\n".join(screen)) from None

    def send(self, *keys: str) -> Awaitable[str]:
        return self.run("send-keys", "-t", self.target, *keys)


def last_line(screen: Screen) -> str:
    lines = [line for line in screen if line.strip()]
    return lines[-1] if lines else ""


@pytest.fixture
async def pane(tmp_path: Path, server: Server) -> AsyncIterator[Pane]:
    tmux = program("tmux")
    socket = tmp_path / "tmux.sock"
    command = shlex.join([sys.executable, "-m", "chinwag", "connect", f"127.0.0.1:{server.port('irc')}",
                          "--nick", "alice", "--room", "#lobby"])
    p = Pane(tmux, socket, "chat")
    await p.run("new-session", "-d", "-x", "120", "-y", "30", "-s", "chat", "-c", str(ROOT),
                f"cd {shlex.quote(str(ROOT))} && exec {command}",
                ";", "set-option", "-t", "chat", "remain-on-exit", "on")
    await p.follow(tmp_path / "pane.fifo")
    try:
        yield p
    finally:
        await p.run("kill-server")
        if p.transport is not None:
            p.transport.close()


async def test_incoming_line_goes_above_the_half_typed_one(pane: Pane, server: Server,
                                                          headless: MakeHeadless) -> None:
    await pane.wait(lambda s: last_line(s) == "#lobby>" and any("now talking in #lobby" in x for x in s),
                    "the client did not join #lobby")
    bob = await headless(server.port("irc"), "bob")
    await pane.wait(lambda s: any("bob joined #lobby" in x for x in s), "bob's join not shown")
    await pane.send("-l", "half typed li")
    await pane.wait(lambda s: last_line(s) == "#lobby> half typed li", "the typing is not on the prompt")

    bob.type("hello from bob\r")
    # Wait for the whole redraw: the line is printed first, then the prompt is drawn again
    # below it; a capture between the two would catch the line where the prompt was.
    screen = await pane.wait(lambda s: any(x.endswith("bob: hello from bob") for x in s)
                             and last_line(s) == "#lobby> half typed li",
                             "bob's message not shown above the half-typed line")
    incoming = next(i for i, x in enumerate(screen) if x.endswith("bob: hello from bob"))
    prompt = max(i for i, x in enumerate(screen) if x.strip())
    assert incoming < prompt, screen
    assert screen[prompt] == "#lobby> half typed li"  # intact, cursor still at its end

    await pane.send("-l", "ne")
    await pane.send("Enter")
    await bob.expect("alice: half typed line")
    screen = await pane.wait(lambda s: any(x.endswith("alice: half typed line") for x in s)
                             and last_line(s) == "#lobby>", "the sent line is not shown")
    print("\n".join(screen))  # the README's session capture comes from here (pytest -s)
