"""SASL for ``chinwag connect`` (IRCv3 sasl 3.2), Sans-I/O like client/protocol.py.

``--account NAME`` with ``--password-file FILE`` logs in with PLAIN (RFC 4616);
``--cert FILE`` (a client certificate over ``--tls``) without ``--account``
logs in with EXTERNAL. The exchange runs inside CAP negotiation: ``CAP REQ
sasl``, ``AUTHENTICATE <mechanism>``, the server's ``AUTHENTICATE +``, our
base64 message in chunks of at most 400 bytes, then 903 (logged in) or 90x
(not: the client goes on as a guest and says so) before ``CAP END``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Final

CHUNK: Final = 400
OK: Final = ("903", "907")  # logged in; already logged in
FAILED: Final = ("902", "904", "905", "906", "908")


@dataclass(frozen=True, slots=True)
class Login:
    mechanism: str  # "PLAIN" or "EXTERNAL"
    account: str = ""
    password: str = field(default="", repr=False)

    def chunks(self) -> list[str]:
        """The AUTHENTICATE arguments answering the server's ``+``."""
        if self.mechanism == "PLAIN":
            raw = f"{self.account}\0{self.account}\0{self.password}".encode()
        else:  # EXTERNAL: an empty authzid (the certificate says who)
            raw = self.account.encode()
        data = base64.b64encode(raw).decode()
        out = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
        if not out or len(out[-1]) == CHUNK:
            out.append("+")
        return out


def read_password_file(path: str) -> str:
    """The first line of ``path`` (OSError if unreadable)."""
    with open(path, encoding="utf-8") as f:
        return f.readline().rstrip("\r\n")
