"""Real IRC clients from Debian's packages join a room with history and show it:
irssi and WeeChat, each in a tmux pane, and ii (scripts/test-deps.sh installs them).

Nothing sleeps: each wait captures the pane whenever it prints, until what is
expected is on the screen, with a deadline (tests/client/test_tmux.py's Pane).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from chinwag.transport.server import Server
from tests.client.conftest import program
from tests.client.test_tmux import Pane, Screen
from tests.conftest import IrcConnect, make_config
from tests.transport.test_real_client import Ii

Start = Callable[[list[str]], Awaitable[Pane]]
SAID = ("first words before anyone", "second words, still alone", "!seen bob")


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """The usual test server with playback on join at the default (20)."""
    srv = Server(dataclasses.replace(make_config(), irc_history_on_join=20))
    await srv.start()
    yield srv
    await srv.shutdown()


@pytest.fixture
async def terminal(tmp_path: Path) -> AsyncIterator[Start]:
    panes: list[Pane] = []

    async def start(command: list[str]) -> Pane:
        p = Pane(program("tmux"), tmp_path / "tmux.sock", "irc")
        await p.run("new-session", "-d", "-x", "160", "-y", "40", "-s", "irc", "-c", str(tmp_path),
                    "env TERM=screen-256color LANG=C.UTF-8 " + shlex.join(command),
                    ";", "set-option", "-t", "irc", "remain-on-exit", "on")
        await p.follow(tmp_path / "pane.fifo")
        panes.append(p)
        return p

    yield start
    for p in panes:
        await p.run("kill-server")
        if p.transport is not None:
            p.transport.close()


async def history(irc: IrcConnect) -> None:
    """alice says SAID in #dev before the real client comes."""
    alice = await irc("alice")
    await alice.send("JOIN #dev")
    await alice.expect_cmd("366")
    for text in SAID:
        await alice.send(f"PRIVMSG #dev :{text}")
    await alice.send("PING :said")
    await alice.expect_cmd("PONG")


def shows(*fragments: str) -> Callable[[Screen], bool]:
    """Every fragment is on some line of the screen, each after the one before."""
    def check(screen: Screen) -> bool:
        at = 0
        for fragment in fragments:
            found = next((i for i in range(at, len(screen)) if fragment in screen[i]), None)
            if found is None:
                return False
            at = found + 1
        return True
    return check


async def test_irssi_joins_a_room_and_shows_its_history(server: Server, irc: IrcConnect, terminal: Start,
                                                        tmp_path: Path) -> None:
    await history(irc)
    pane = await terminal([program("irssi"), f"--home={tmp_path / 'irssi'}", "--noconnect",
                           "--nick=bob"])
    await pane.wait(lambda s: any("Irssi v" in x for x in s) or any("[(status)]" in x for x in s),
                    "irssi did not start")
    await pane.send("-l", f"/connect 127.0.0.1 {server.port('irc')}")
    await pane.send("Enter")
    await pane.wait(shows("Welcome to the chinwag IRC Network"), "irssi did not register")
    await pane.send("-l", "/join #dev")
    await pane.send("Enter")
    # irssi asks for server-time: the lines carry their time, no [HH:MM] in the text
    screen = await pane.wait(shows("!chinwag *** Replaying the last 3 messages of #dev",
                                   *(f"<@alice> {text}" for text in SAID), "!chinwag *** End of replay"),
                             "irssi does not show the playback")
    print("\n".join(screen))


async def test_weechat_joins_a_room_and_shows_its_history(server: Server, irc: IrcConnect, terminal: Start,
                                                          tmp_path: Path) -> None:
    await history(irc)
    port = server.port("irc")
    commands = "; ".join([
        f"/server add chinwag 127.0.0.1/{port} -notls -nicks=bob -autojoin=#dev",
        "/connect chinwag",
    ])
    pane = await terminal([program("weechat"), "--dir", str(tmp_path / "weechat"), "-r", commands])
    # WeeChat 3.8 asks for server-time but not batch: the markers, each line at its time
    screen = await pane.wait(shows("Notice(chinwag): *** Replaying the last 3 messages of #dev",
                                   *(f"@alice | {text}" for text in SAID), "Notice(chinwag): *** End of replay"),
                             "WeeChat does not show the playback")
    print("\n".join(screen))


async def test_ii_joins_a_room_and_gets_the_playback_in_its_channel_file(server: Server, irc: IrcConnect,
                                                                         tmp_path: Path) -> None:
    await history(irc)
    proc = subprocess.Popen(
        [program("ii"), "-s", "127.0.0.1", "-p", str(server.port("irc")), "-i", str(tmp_path / "ii"), "-n", "ian"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ii = Ii(tmp_path / "ii", "127.0.0.1", proc)
        await ii.expect("Welcome to the chinwag IRC Network")
        await ii.write("/j #dev")
        # ii asks for no caps: each line's time in front of its text; ii files the
        # server's notices (the start and end markers) under the server
        assert (await ii.expect("*** End of replay")).endswith(" *** End of replay")
        server_out = [line.split(" ", 1)[1] for line in ii.out().splitlines()]
        assert server_out[-2:] == ["*** Replaying the last 3 messages of #dev", "*** End of replay"]
        shown = [line.split(" ", 1)[1] for line in ii.out("#dev").splitlines()]
        assert [re.sub(r"\[(\d{4}-\d\d-\d\d )?\d\d:\d\d\] ", "", line) for line in shown[1:]] == [
            f"<alice> {text}" for text in SAID], shown
        assert all(re.match(r"<alice> \[(\d{4}-\d\d-\d\d )?\d\d:\d\d\] ", line) for line in shown[1:]), shown
    finally:
        proc.terminate()
        proc.wait(timeout=10)
