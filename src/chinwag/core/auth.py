"""Server and operator passwords: plain text or a PBKDF2 hash, compared in constant time.

A stored secret is either the password itself or ``pbkdf2:sha256:<iterations>:<salt hex>:<hash hex>``
(make one with ``chinwag hash-password``). Hashes keep the config file from
holding a usable password; plain text is accepted for convenience. A plain
password that happens to start with ``pbkdf2:`` is read as a hash, so it must
be hashed instead.

Verifying a hash costs tens of milliseconds of CPU, so it never runs on the
event loop: see :class:`Auth` and ``transport/passwords.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from chinwag.core.events import Register
from chinwag.core.types.moderation import Oper

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


# What an unknown operator name is checked against: as slow as a default hash,
# so a wrong name and a wrong password cost (and answer) the same; never matches.
_NO_SUCH = f"{SCHEME}:sha256:{DEFAULT_ITERATIONS}:{'00' * 16}:{'00' * 32}"


@dataclass(frozen=True, slots=True)
class Credential:
    """A password a command presents, with what it is checked against."""

    kind: str  # "server password" or "operator password", for logs
    name: str  # the operator name; "" for the server password
    stored: str = field(repr=False)
    given: str = field(repr=False)
    known: bool = True  # False: an unknown operator name (checked, always refused)


def verify(credential: Credential) -> bool:
    """The slow part (a PBKDF2 hash): pure, so it can run in a worker thread."""
    ok = verify_password(credential.stored, credential.given)
    return ok and credential.known


@dataclass(slots=True)
class Auth:
    """The server password and the operator table.

    The hub never checks a password itself (that would stall every user for
    the hash): the transport asks :meth:`credential` which commands carry one,
    runs :func:`verify` in a thread, rate-limited, and hands the hub a
    ``Checked`` verdict. A password accepted once is remembered (keyed by a
    salted digest, never the password) and let in at once the next time.
    """

    password: str = ""
    operators: Mapping[str, str] = field(default_factory=dict)
    _ok: set[bytes] = field(default_factory=set, repr=False)
    _pepper: bytes = field(default_factory=lambda: os.urandom(16), repr=False)

    @property
    def password_required(self) -> bool:
        return bool(self.password)

    def credential(self, command: object) -> Credential | None:
        """The password ``command`` must pass before the hub runs it, if any."""
        if isinstance(command, Register):
            return Credential("server password", "", self.password, command.password) if self.password else None
        if isinstance(command, Oper):
            stored = self.operators.get(command.name)
            if stored is None:
                return Credential("operator password", command.name, _NO_SUCH, command.password, known=False)
            return Credential("operator password", command.name, stored, command.password)
        return None

    def _key(self, credential: Credential) -> bytes:
        stored, given = credential.stored.encode(), credential.given.encode()
        return hashlib.sha256(self._pepper + stored + b"\0" + given).digest()

    def accepted_before(self, credential: Credential) -> bool:
        """Was this very password accepted already? (Cheap: one SHA-256.)"""
        return credential.known and self._key(credential) in self._ok

    def remember(self, credential: Credential) -> None:
        """Note a password :func:`verify` accepted."""
        if credential.known and len(self._ok) < 1024:
            self._ok.add(self._key(credential))
