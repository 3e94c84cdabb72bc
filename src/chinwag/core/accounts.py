"""Accounts: the commands, events and errors, and the pure crypto behind them.

An account is a name (casefolded as nicks are) with two forms of one password:
an argon2id hash (for PLAIN-style logins: the text protocol's ``/login``, SASL
PLAIN, ``PASS account:password``, NickServ IDENTIFY) and SCRAM-SHA-256
credentials (RFC 5802/7677: salt, iteration count, StoredKey, ServerKey), so a
SCRAM login never needs the password itself.

Nothing here does I/O. Hashing is slow on purpose; the transport runs
:func:`make_secrets` and :func:`verify_password` in its worker threads
(``transport/accounts.py``), rate-limited. :class:`ScramServer` is the server
side of one SCRAM exchange as a small state machine: a few HMACs, cheap enough
for the event loop.

Client intents (``AccountRegister``, ``AccountLogin``, ``AccountLogout``,
``AccountPassword``) never reach the hub: the transport answers them with the
store. When one succeeds it hands the hub ``SetAccount``, the only way a
session's account changes; the hub answers with ``AccountChanged``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chinwag.core.errors import ChatError, ErroneousNick
from chinwag.core.names import casefold

# --- crypto ------------------------------------------------------------------------

SCRAM_MECHANISM: Final = "SCRAM-SHA-256"
PLAIN_MECHANISM: Final = "PLAIN"
EXTERNAL_MECHANISM: Final = "EXTERNAL"  # a client certificate (TLS listeners only)
SASL_MECHANISMS: Final = (PLAIN_MECHANISM, SCRAM_MECHANISM)
_H: Final = "sha256"


@dataclass(frozen=True, slots=True)
class ScramCredentials:
    """What RFC 5802 section 3 says the server keeps: never the password."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, _H).digest()


def scram_credentials(password: str, salt: bytes, iterations: int) -> ScramCredentials:
    """SaltedPassword = Hi(password, salt, i); StoredKey = H(HMAC(SP, "Client Key")),
    ServerKey = HMAC(SP, "Server Key") (RFC 5802 section 3). The password should
    be SASLprep'ed; we use it as given (NFC-normalised by the caller's input)."""
    salted = hashlib.pbkdf2_hmac(_H, password.encode(), salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    return ScramCredentials(salt, iterations, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key"))


@dataclass(frozen=True, slots=True)
class HashParams:
    """argon2id cost (limits.argon2_*); SCRAM iteration count."""

    time_cost: int = 2
    memory_kib: int = 19_456  # OWASP's argon2id minimum (19 MiB)
    scram_iterations: int = 4096


@dataclass(frozen=True, slots=True)
class Secrets:
    password_hash: str = field(repr=False)
    scram: ScramCredentials = field(repr=False)


def _hasher(params: HashParams) -> PasswordHasher:
    return PasswordHasher(time_cost=params.time_cost, memory_cost=params.memory_kib, parallelism=1)


def make_secrets(password: str, params: HashParams) -> Secrets:
    """Slow (argon2id plus PBKDF2): run it in a worker thread."""
    hasher = _hasher(params)
    scram = scram_credentials(password, os.urandom(16), params.scram_iterations)
    return Secrets(hasher.hash(password), scram)


# Checked when the account does not exist, so a wrong name costs (and answers)
# the same as a wrong password. Made on first use (one hash).
_DUMMY: dict[HashParams, str] = {}


def verify_password(password_hash: str | None, password: str, params: HashParams) -> bool:
    """Slow (argon2id): run it in a worker thread. ``None``: no such account;
    a hash is still computed, and the answer is False."""
    hasher = _hasher(params)
    if password_hash is None:
        dummy = _DUMMY.get(params)
        if dummy is None:
            dummy = _DUMMY[params] = hasher.hash(os.urandom(16).hex())
        password_hash = dummy
        password = "\0" + password  # never equal to the random dummy's password
        known = False
    else:
        known = True
    try:
        return hasher.verify(password_hash, password) and known
    except (VerificationError, InvalidHashError):
        return False


class ScramError(Exception):
    """The client's SCRAM message is malformed or its proof is wrong."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _attrs(message: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in message.split(","):
        name, eq, value = part.partition("=")
        if len(name) != 1 or not eq:
            raise ScramError(f"bad attribute {part[:20]!r}")
        out.setdefault(name, value)
    return out


def _unescape_name(name: str) -> str:
    if "=" in name.replace("=2C", "").replace("=3D", ""):
        raise ScramError("bad escape in the user name")
    return name.replace("=2C", ",").replace("=3D", "=")


class ScramServer:
    """The server side of one SCRAM-SHA-256 exchange (RFC 5802 section 5).

    1. :meth:`client_first` parses ``n,,n=user,r=cnonce`` and returns the user name;
    2. the caller looks the account up and calls :meth:`server_first` with its
       credentials (or None: an unknown account gets made-up ones, so the
       exchange looks the same and fails at the proof);
    3. :meth:`client_final` checks ``c=biws,r=...,p=proof`` and returns the
       server-final message ``v=...``; ScramError if the proof is wrong.
    Channel binding is not supported (a gs2 header of ``n`` or ``y`` only).
    """

    def __init__(self) -> None:
        self.user = ""
        self._gs2 = ""
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._creds: ScramCredentials | None = None
        self._known = False

    def client_first(self, message: str) -> str:
        gs2_flag, sep, rest = message.partition(",")
        authzid, sep2, bare = rest.partition(",")
        if not sep or not sep2 or gs2_flag not in ("n", "y") or (authzid and not authzid.startswith("a=")):
            raise ScramError("bad gs2 header (channel binding is not supported)")
        attrs = _attrs(bare)
        if "m" in attrs or "n" not in attrs or not attrs.get("r"):
            raise ScramError("client-first needs n= and r=")
        self._gs2 = f"{gs2_flag},{authzid},"
        self._client_first_bare = bare
        self.user = _unescape_name(attrs["n"])
        self._nonce = attrs["r"]
        return self.user

    def server_first(self, creds: ScramCredentials | None, server_nonce: str | None = None) -> str:
        self._known = creds is not None
        if creds is None:
            creds = ScramCredentials(hashlib.sha256(self.user.encode()).digest()[:16], 4096, os.urandom(32),
                                     os.urandom(32))
        self._creds = creds
        self._nonce += server_nonce if server_nonce is not None else _b64(os.urandom(18))
        self._server_first = f"r={self._nonce},s={_b64(creds.salt)},i={creds.iterations}"
        return self._server_first

    def client_final(self, message: str) -> str:
        creds = self._creds
        if creds is None:
            raise ScramError("client-final before server-first")
        without_proof, sep, proof_attr = message.rpartition(",p=")
        if not sep:
            raise ScramError("client-final needs p=")
        attrs = _attrs(without_proof)
        if attrs.get("c") != _b64(self._gs2.encode()) or attrs.get("r") != self._nonce:
            raise ScramError("channel binding or nonce mismatch")
        try:
            proof = base64.b64decode(proof_attr, validate=True)
        except ValueError:
            raise ScramError("proof is not base64") from None
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        signature = _hmac(creds.stored_key, auth_message)
        if len(proof) != len(signature):
            raise ScramError("wrong proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        ok = hmac.compare_digest(hashlib.sha256(client_key).digest(), creds.stored_key)
        if not ok or not self._known:
            raise ScramError("wrong proof")
        return "v=" + _b64(_hmac(creds.server_key, auth_message))


# --- errors --------------------------------------------------------------------------


class AccountError(ChatError):
    """An account operation was refused; ``reason`` says why, for the user."""


    def __init__(self, subject: str = "", reason: str = "", *, retry_after: float = 0.0, final: bool = False) -> None:
        super().__init__(subject, reason)
        self.retry_after = retry_after
        self.final = final

    def default_reason(self) -> str:
        return "account operation failed"


class LoginFailed(AccountError):
    """Wrong account name or password (the two are never told apart)."""


    def default_reason(self) -> str:
        return "invalid account name or password"


class AccountExists(AccountError):

    def default_reason(self) -> str:
        return "an account with that name already exists"


class NotLoggedIn(AccountError):
    def default_reason(self) -> str:
        return "you are not logged in"


class AlreadyLoggedIn(AccountError):

    def default_reason(self) -> str:
        return "you are already logged in"


class WeakPassword(AccountError):

    def default_reason(self) -> str:
        return "unacceptable password"


class TooManyAccounts(AccountError):
    """This address registered limits.max_accounts_per_address accounts lately."""


    def default_reason(self) -> str:
        return "too many accounts registered from your address lately; try again later"


SERVICES: Final = ("NickServ",)  # pseudo-users the server answers for (protocols/irc/accounts.py)


def not_a_service(nick: str) -> str:
    """``nick``, unless it is a service's name: nobody may pose as NickServ."""
    if casefold(nick) in {casefold(s) for s in SERVICES}:
        raise ErroneousNick(nick, f"invalid name: {nick} is one of the server's services")
    return nick


# --- commands: client -> transport ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountRegister:
    """Register the sender's current nick as an account (and log in to it)."""

    password: str = field(repr=False)
    email: str = ""


@dataclass(frozen=True, slots=True)
class AccountLogin:
    """Log in with a password (PLAIN-style; SCRAM runs in the IRC SASL module)."""

    name: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AccountLogout:
    pass


@dataclass(frozen=True, slots=True)
class AccountPassword:
    old: str = field(repr=False)
    new: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SaslResponse:
    """One whole client message of a SASL exchange (IRC AUTHENTICATE, chunks
    joined and base64-decoded). ``step`` 0 is the first of the exchange."""

    mechanism: str
    data: bytes = field(repr=False)
    step: int = 0


@dataclass(frozen=True, slots=True)
class SaslAbort:
    """The client gave up (AUTHENTICATE *) or started over: forget the exchange."""


@dataclass(frozen=True, slots=True)
class AccountRegisterV3(AccountRegister):
    """IRCv3 draft/account-registration REGISTER: answered with REGISTER SUCCESS / FAIL REGISTER."""


@dataclass(frozen=True, slots=True)
class AccountCert:
    """Client certificates of the sender's account (SASL EXTERNAL): ``action`` is
    "add", "del" or "list"; ``fingerprint`` (SHA-256, hex) empty: the one this
    connection presented."""

    action: str
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class AccountPlayback:
    """Store how many messages the logged-in account is replayed when joining
    a room (IRC NickServ SET PLAYBACK, text /playback): 0 for none, None for
    the server's default."""

    count: int | None


AccountCommand = (
    AccountRegister | AccountLogin | AccountLogout | AccountPassword | SaslResponse | SaslAbort | AccountCert
    | AccountPlayback
)

# --- command: transport -> hub --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetAccount:
    """The transport verified it: the session is now logged in to ``account``
    (its display name), or logged out (None). ``created``: just registered."""

    account: str | None
    created: bool = False


# --- events: hub/transport -> clients ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountChanged:
    """``nick`` logged in to ``account`` (None: logged out). To the session itself
    and, for IRC account-notify, to those sharing a room with it."""

    nick: str
    account: str | None
    created: bool = False
    user: str = field(default="", compare=False)  # the username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class AccountNote:
    """A success message for the user who asked (e.g. "password changed")."""

    text: str


@dataclass(frozen=True, slots=True)
class SaslChallenge:
    """The server's next SASL message (SCRAM server-first or server-final)."""

    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class PlaybackChanged:
    """The session's playback on join, from its account (at login, or just set:
    ``note``, so the user is told); None: the server's default."""

    count: int | None
    note: bool = False


AccountEvent = AccountChanged | AccountNote | SaslChallenge | PlaybackChanged
