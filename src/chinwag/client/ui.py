"""The interactive front end: prompt_toolkit, output above a prompt that is never clobbered.

Incoming lines are printed with ``print_formatted_text``, which, while the
prompt runs, erases the prompt, prints above it and redraws it with the
half-typed text and cursor untouched. Lines arriving in one burst are printed
in one go (one redraw). Keys: Up/Down history, Tab completes commands, nicks
of the current room and joined rooms, Ctrl-N / Ctrl-P switch to the next /
previous joined room, Ctrl-D or Ctrl-C quit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from prompt_toolkit import PromptSession
from prompt_toolkit.application import create_app_session, run_in_terminal
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.filters import has_completions
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output
from prompt_toolkit.renderer import print_formatted_text as print_fragments
from prompt_toolkit.styles import Style

from chinwag.client.app import Chat
from chinwag.client.commands import COMMANDS
from chinwag.client.connection import Connection
from chinwag.client.protocol import casefold
from chinwag.client.render import Fragments, Line

_STYLE = Style([])  # every fragment carries its own inline style


class ChatCompleter(Completer):
    """``/com`` -> commands; ``#ro`` -> joined rooms; anything else -> nicks here.

    A nick completed at the start of the line gets ``": "`` (addressing them).
    """

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        before = document.text_before_cursor
        if before.startswith("/") and " " not in before:
            for name in COMMANDS:
                if name.startswith(before[1:].lower()):
                    yield Completion(f"/{name} ", start_position=-len(before), display=f"/{name}")
            return
        word = document.get_word_before_cursor(WORD=True)
        if not word:
            return
        folded = casefold(word)
        if word[0] in "#&":
            candidates = self.chat.rooms
            suffix = ""
        else:
            candidates = [n for n in self.chat.nicks() if casefold(n) != casefold(self.chat.nick)]
            suffix = ": " if len(word) == len(before) else ""
        for name in candidates:
            if casefold(name).startswith(folded):
                yield Completion(name + suffix, start_position=-len(word), display=name)


class TerminalUI:
    """Runs the prompt and the connection together until /quit, Ctrl-D or a fatal error."""

    def __init__(
        self,
        chat: Chat,
        conn: Connection,
        *,
        colour: bool = True,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        self.chat = chat
        self.conn = conn
        self.colour = colour
        self.transcript: list[str] = []  # every line shown, as plain text (tests, debugging)
        self._pending: list[Line] = []
        self._printing: set[asyncio.Future[None]] = set()
        self.printed = 0  # lines written to the terminal so far
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        bindings = KeyBindings()

        @bindings.add("c-n", filter=~has_completions)
        def _next(event: KeyPressEvent) -> None:
            self.chat.switch(step=1)

        @bindings.add("c-p", filter=~has_completions)
        def _previous(event: KeyPressEvent) -> None:
            self.chat.switch(step=-1)

        self.session: PromptSession[str] = PromptSession(
            history=InMemoryHistory(),
            completer=ChatCompleter(chat),
            complete_while_typing=False,
            erase_when_done=True,  # the sent line comes back as a chat line
            key_bindings=bindings,
            input=input,
            output=output,
        )
        self.session.default_buffer.on_text_changed += lambda _buffer: self._check()
        chat.emit = self._emit
        chat.on_change = self._changed

    # ------------------------------------------------------------- output

    def prompt(self) -> FormattedText:
        room = self.chat.current or "(no room)"
        return FormattedText([("bold", room), ("", "> ")])

    def _emit(self, line: Line) -> None:
        self.transcript.append(line.plain)
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(line)
        self._check()

    def _flush(self) -> None:
        lines, self._pending = self._pending, []
        fragments: Fragments = []
        for line in lines:
            fragments += line.fragments if self.colour else [("", line.plain)]
            fragments.append(("", "\n"))
        bell = self.colour and any(line.bell for line in lines)
        output = self.session.output

        def render() -> None:
            print_fragments(output, FormattedText(fragments), _STYLE)
            if bell:
                output.bell()
                output.flush()
            self.printed += len(lines)
            self._check()

        if self.session.app.is_running:
            # Erase the prompt, print, redraw it: the typed text is untouched.
            task = asyncio.ensure_future(run_in_terminal(render))
            self._printing.add(task)
            task.add_done_callback(self._printing.discard)
        else:
            render()

    def _changed(self) -> None:
        if self.session.app.is_running:
            self.session.app.invalidate()
        self._check()

    # --------------------------------------------------------------- waits

    def _check(self) -> None:
        for item in list(self._waiters):
            predicate, future = item
            if not future.done() and predicate():
                future.set_result(None)
                self._waiters.remove(item)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait (no polling) until ``predicate()`` holds after some output or typing."""
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        item = (predicate, future)
        self._waiters.append(item)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            if item in self._waiters:
                self._waiters.remove(item)

    async def wait_for_line(self, fragment: str, timeout: float = 5.0, start: int = 0) -> str:
        """The first transcript line (from index ``start``) containing ``fragment``."""
        def found() -> bool:
            return any(fragment in line for line in self.transcript[start:])

        await self.wait_until(found, timeout)
        return next(line for line in self.transcript[start:] if fragment in line)

    # ----------------------------------------------------------------- run

    async def run(self) -> int:
        # Our own app session, so that the connection task (created inside it)
        # prints above *this* prompt even when several UIs share a loop (tests).
        with create_app_session(input=self.session.input, output=self.session.output):
            return await self._run()

    async def _run(self) -> int:
        conn_task = asyncio.create_task(self.conn.run())
        conn_task.add_done_callback(lambda _task: self._stop())
        keep = ""
        try:
            while not self.chat.quitting and not conn_task.done():
                try:
                    line = await self.session.prompt_async(self.prompt, default=keep)
                except (EOFError, KeyboardInterrupt):
                    break
                keep = "" if self.chat.submit(line) else line
        finally:
            await self.conn.quit(self.chat.quit_reason or "leaving")
            await conn_task
            if self._pending:
                self._flush()
            if self._printing:
                await asyncio.wait(self._printing)
        return 0

    def _stop(self) -> None:
        if self.session.app.is_running:
            self.session.app.exit(exception=EOFError())
