"""Keep other people's bytes out of a terminal's control plane.

A text-protocol user's terminal interprets escape sequences, so anything one
user typed must reach another as inert text: no C0 (except tab), DEL, C1, ANSI
CSI/OSC/DCS/APC/PM sequences, lone ESC, IRC formatting codes, or bidi controls
that make text read differently from what it is.
"""

from __future__ import annotations

import re
from typing import Final

_UNSAFE: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI ... final byte
    r"|\x1b[\]P^_X][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC/DCS/PM/APC/SOS ... ST or BEL
    r"|\x1b[ -/]*[0-~]?"  # other ESC sequences, or a lone ESC
    r"|\x03(?:\d{1,2}(?:,\d{1,2})?)?"  # IRC colour code with its digits
    r"|\x04[0-9a-fA-F]{0,6}"  # IRC hex colour
    r"|[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_FAST_OK: Final = re.compile(r"[ -~\t]*")  # printable ASCII: nothing to strip


def strip_controls(text: str) -> str:
    if _FAST_OK.fullmatch(text):
        return text
    return _UNSAFE.sub("", text)
