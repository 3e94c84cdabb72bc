"""A real IRC client from Debian's packages against chinwag: ii (suckless irc it).

ii is driven through its file interface: commands are written to the ``in``
FIFO, and what it receives appears in ``out`` files, one directory per server
and per channel. ``make test`` installs it (scripts/test-deps.sh); a missing
ii fails the test rather than skipping it.

Files have no readiness event to wait on, so the helpers poll them briefly
until the expected line appears, with the usual deadline.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.transport.server import Server
from tests.conftest import TIMEOUT, Connect

POLL = 0.02


async def until(check: object, what: str) -> None:
    """Wait until ``check()`` is true (polling), or fail naming ``what``."""
    assert callable(check)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL)


class Ii:
    def __init__(self, root: Path, host: str, proc: subprocess.Popen[bytes]) -> None:
        self.dir = root / host
        self.proc = proc

    def out(self, channel: str = "") -> str:
        path = (self.dir / channel if channel else self.dir) / "out"
        return path.read_text(errors="replace") if path.exists() else ""

    async def expect(self, fragment: str, channel: str = "") -> str:
        """The first line of ``out`` containing ``fragment``, once it is there."""
        await until(lambda: fragment in self.out(channel), f"{fragment!r} in ii's {channel or 'server'} out")
        return next(line for line in self.out(channel).splitlines() if fragment in line)

    async def write(self, line: str, channel: str = "") -> None:
        """Write one line to an ``in`` FIFO (once ii has it open)."""
        path = (self.dir / channel if channel else self.dir) / "in"
        fd = -1

        def opened() -> bool:
            nonlocal fd
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # not made yet, or ii not reading it yet
                if exc.errno not in (errno.ENOENT, errno.ENXIO):
                    raise
                return False
            return True

        await until(opened, f"ii's {path}")
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


@pytest.fixture
async def ii(server: Server, tmp_path: Path) -> AsyncIterator[Ii]:
    program = shutil.which("ii")
    if program is None:
        pytest.fail("ii is not installed: `sh scripts/test-deps.sh` (run by `make test`) installs it")
    proc = subprocess.Popen(
        [program, "-s", "127.0.0.1", "-p", str(server.port("irc")), "-i", str(tmp_path), "-n", "ian", "-f", "Ian"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = Ii(tmp_path, "127.0.0.1", proc)
    try:
        yield client
    finally:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)


async def test_ii_and_a_text_user_talk_in_lobby(ii: Ii, connect: Connect) -> None:
    tess = await connect("tess")
    welcome = await ii.expect("Welcome to the chinwag IRC Network")
    assert welcome.endswith(" Welcome to the chinwag IRC Network ian!~ian@chinwag")
    await ii.write("/j #lobby")
    assert await tess.expect("has joined") == "* ian has joined #lobby"
    assert (await ii.expect("has joined", "#lobby")).endswith("-!- ian(~ian@chinwag) has joined #lobby")
    await ii.write("hello from ii", "#lobby")
    assert (await tess.expect("hello from ii")).endswith("] ian: hello from ii")
    await tess.send("hello ii, this is tess")
    assert (await ii.expect("this is tess", "#lobby")).endswith(" <tess> hello ii, this is tess")
    await ii.write("/j tess a private word")  # ii: /j with a nick sends a private message
    assert (await tess.expect("private word")).endswith("] *ian* a private word")
    await ii.write("/l off to lunch", "#lobby")
    assert await tess.expect("has left") == "* ian has left #lobby (off to lunch)"
    await ii.write("/j #lobby")
    assert await tess.expect("has joined") == "* ian has joined #lobby"
    await ii.write("/q bye")
    assert await tess.expect("ian") == "* ian has left (bye)"  # the text protocol's words for QUIT
