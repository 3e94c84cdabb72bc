"""Drop telnet option negotiation (IAC ...) from a text client's input.

telnet clients may send IAC WILL/DO/... or subnegotiations at any time; those
bytes are instructions to us, not words for the room, so nobody may see them.
We never negotiate options back: a telnet client then stays in its default
line mode, which is what the text protocol expects. State carries across
chunk boundaries, so a sequence split between reads is still removed.
"""

from __future__ import annotations

from typing import Final

IAC: Final = 255
SE: Final = 240
SB: Final = 250
WILL, WONT, DO, DONT = 251, 252, 253, 254

_DATA, _COMMAND, _OPTION, _SUB, _SUB_IAC = range(5)


class TelnetFilter:
    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = _DATA

    def feed(self, data: bytes) -> bytes:
        if self._state == _DATA and IAC not in data:
            return data  # the common case: nothing to do
        out = bytearray()
        state = self._state
        for byte in data:
            if state == _DATA:
                if byte == IAC:
                    state = _COMMAND
                else:
                    out.append(byte)
            elif state == _COMMAND:
                if byte == IAC:
                    out.append(IAC)  # escaped 0xFF: invalid UTF-8, replaced later
                    state = _DATA
                elif WILL <= byte <= DONT:
                    state = _OPTION
                elif byte == SB:
                    state = _SUB
                else:
                    state = _DATA  # a two-byte command (NOP, AYT, IP, ...)
            elif state == _OPTION:
                state = _DATA
            elif state == _SUB:
                if byte == IAC:
                    state = _SUB_IAC
            else:  # _SUB_IAC
                state = _DATA if byte == SE else _SUB
        self._state = state
        return bytes(out)
