"""Server and operator passwords: plain text or a PBKDF2 hash, compared in constant time.

A stored secret is either the password itself or ``pbkdf2:sha256:<iterations>:<salt hex>:<hash hex>``
(make one with ``chinwag hash-password``). Hashes keep the config file from
holding a usable password; plain text is accepted for convenience. A plain
password that happens to start with ``pbkdf2:`` is read as a hash, so it must
be hashed instead.

Verifying a hash costs tens of milliseconds of CPU on the event loop, so a
successful check is remembered (keyed by a salted digest, never the password).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

SCHEME: Final = "pbkdf2"
DEFAULT_ITERATIONS: Final = 200_000
_DIGESTS: Final = ("sha256", "sha512")


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{SCHEME}:sha256:{iterations}:{salt.hex()}:{digest.hex()}"


def _parse(stored: str) -> tuple[str, int, bytes, bytes]:
    parts = stored.split(":")
    if len(parts) != 5 or parts[1] not in _DIGESTS:
        raise ValueError("a pbkdf2 hash must look like pbkdf2:sha256:<iterations>:<salt hex>:<hash hex>")
    try:
        iterations, salt, digest = int(parts[2]), bytes.fromhex(parts[3]), bytes.fromhex(parts[4])
    except ValueError:
        raise ValueError("a pbkdf2 hash has a bad number or hex field") from None
    if iterations < 1 or not salt or not digest:
        raise ValueError("a pbkdf2 hash needs iterations >= 1, a salt and a digest")
    return parts[1], iterations, salt, digest


def check_stored(stored: str) -> None:
    """Raise ValueError if ``stored`` claims to be a hash but is malformed."""
    if stored.startswith(SCHEME + ":"):
        _parse(stored)


def verify_password(stored: str, given: str) -> bool:
    if not stored.startswith(SCHEME + ":"):
        return hmac.compare_digest(stored.encode(), given.encode())
    name, iterations, salt, digest = _parse(stored)
    return hmac.compare_digest(hashlib.pbkdf2_hmac(name, given.encode(), salt, iterations), digest)


@dataclass(slots=True)
class Auth:
    """The server password and the operator table, as the hub checks them."""

    password: str = ""
    operators: Mapping[str, str] = field(default_factory=dict)
    _ok: set[bytes] = field(default_factory=set, repr=False)
    _pepper: bytes = field(default_factory=lambda: os.urandom(16), repr=False)

    @property
    def password_required(self) -> bool:
        return bool(self.password)

    def _check(self, stored: str, given: str) -> bool:
        key = hashlib.sha256(self._pepper + stored.encode() + b"\0" + given.encode()).digest()
        if key in self._ok:
            return True
        if verify_password(stored, given):
            if len(self._ok) < 1024:
                self._ok.add(key)
            return True
        return False

    def server_password_ok(self, given: str) -> bool:
        return not self.password or self._check(self.password, given)

    def operator_ok(self, name: str, given: str) -> bool:
        stored = self.operators.get(name)
        # An unknown name and a wrong password get the same answer (464).
        return stored is not None and self._check(stored, given)
