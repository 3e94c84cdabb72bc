"""The front end for a pipe: input lines from stdin, plain text out.

``echo hi | chinwag connect --nick bot --room '#lobby'`` registers, joins,
says every line (commands work too), then, at end of input, makes sure the
server has processed everything (a PING/PONG round trip) before QUIT.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TextIO

from chinwag.client.app import Chat
from chinwag.client.connection import Connection
from chinwag.client.render import Line, to_ansi, to_plain


def _read_lines(stdin: TextIO, queue: asyncio.Queue[str | None], loop: asyncio.AbstractEventLoop) -> None:
    """A daemon thread: works for pipes, files and ttys alike, never blocks exit."""
    try:
        for line in stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
    except (OSError, ValueError):
        pass
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def _until(conn: Connection, task: asyncio.Task[None]) -> bool:
    """Wait until registered; False if the connection gave up first."""
    if conn.registered.is_set():
        return True
    ready = asyncio.create_task(conn.registered.wait())
    await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    return conn.registered.is_set()


async def _sync(conn: Connection) -> None:
    try:
        await conn.roundtrip()
    except (ConnectionError, TimeoutError):
        pass


async def run_script(chat: Chat, conn: Connection, stdin: TextIO, out: TextIO, *, colour: bool = False) -> int:
    def emit(line: Line) -> None:
        out.write((to_ansi(line.fragments) if colour else to_plain(line.fragments)) + "\n")
        out.flush()

    chat.emit = emit
    # Fail fast when the server is not there at all; once in, ride out drops.
    wants_reconnect, conn.reconnect = conn.reconnect, False
    task = asyncio.create_task(conn.run())
    if not await _until(conn, task):
        await task
        return 1
    conn.reconnect = wants_reconnect
    await _sync(conn)  # our JOINs are done: the first line goes to a joined room
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(target=_read_lines, args=(stdin, queue, loop), daemon=True).start()
    while not chat.quitting and (line := await queue.get()) is not None:
        while not chat.submit(line):
            if not await _until(conn, task):
                return 1
            await _sync(conn)
    await _sync(conn)  # the server has our lines before we say QUIT
    await conn.quit(chat.quit_reason or "leaving")
    await task
    return 0
