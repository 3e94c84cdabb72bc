"""Accounts on the server side: register, log in, log out, change password.

The client intents of core/accounts.py never reach the hub. Each one pauses
its connection's input (as a password check does: the lines after it wait
behind it, live traffic goes on reaching it), then, in a task:

* storage lookups and writes go to the store (its threads);
* argon2id hashing and verification run in the password pool of
  ``transport/passwords.py`` (at most ``auth_checks`` at once server-wide,
  one check at a time per address);
* a login waits out the delay earlier failures earned, per connection, per
  address and per account (``Backoff``, the ``auth_*`` limits and
  ``account_failures``); an address past ``auth_failures_per_ip`` or a
  connection past ``auth_failures`` is closed, an account past
  ``account_failures`` refuses logins until its failures drain;
* on success the hub gets ``SetAccount``, the one way a session's account
  changes (after the account's playback setting, and the read markers of the
  rooms a connection that attaches is put in, reached the connection:
  ``AccountService._login``); on failure the connection gets a ``Failed`` with an
  ``AccountError``. A wrong name and a wrong password cost and answer the same.

Passwords never reach a log line: the commands' ``repr`` leaves them out and
only names and addresses are logged. ``AccountService.verify_login`` and
``credentials`` are also what the IRC SASL and NickServ front ends call, and
the web client's ``/session`` (transport/websession.py), whose caller is an HTTP
request rather than a connection (:class:`Caller`).

Registrations count per address (``max_accounts_per_address`` per
``account_window``, whatever the protocol): past that, ``TooManyAccounts``.
Client certificates (``AccountCert``: NickServ CERT, text ``/cert``) are
credentials of kind ``cert`` in the store, at most ``account_certs_max`` per
account; SASL EXTERNAL looks the connection's fingerprint up there.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Protocol

from chinwag.core.accounts import (
    EXTERNAL_MECHANISM,
    PLAIN_MECHANISM,
    AccountCert,
    AccountCommand,
    AccountError,
    AccountExists,
    AccountLogin,
    AccountLogout,
    AccountNote,
    AccountPassword,
    AccountPlayback,
    AccountRegister,
    AccountRegisterV3,
    AlreadyLoggedIn,
    HashParams,
    LoginFailed,
    NotLoggedIn,
    PlaybackChanged,
    SaslAbort,
    SaslChallenge,
    SaslResponse,
    ScramError,
    ScramServer,
    SetAccount,
    TooManyAccounts,
    WeakPassword,
    make_secrets,
    verify_password,
)
from chinwag.core.events import Failed, Outbound
from chinwag.core.handlers import users
from chinwag.core.names import casefold
from chinwag.core.ratelimit import Backoff
from chinwag.core.types.ircv3 import ReadMarker
from chinwag.protocols.irc.adapter import IrcProtocol
from chinwag.protocols.irc.caps import READ_MARKER
from chinwag.storage.accounts import CERT, SESSION, Account

if TYPE_CHECKING:
    from chinwag.transport.connection import Connection
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag.accounts")

ACCOUNT_COMMANDS = (AccountRegister, AccountLogin, AccountLogout, AccountPassword, SaslResponse, SaslAbort,
                    AccountCert, AccountPlayback)
# Failed.command for each (never "register": that is the hub's Register).
_NAMES = {AccountRegister: "account register", AccountLogin: "login", AccountLogout: "logout",
          AccountPassword: "password", SaslResponse: "sasl", AccountRegisterV3: "REGISTER", AccountCert: "cert",
          AccountPlayback: "playback"}
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def fingerprint_of(text: str) -> str | None:
    """A SHA-256 fingerprint as stored (64 lowercase hex digits), from hex with
    or without colons, any case; None if it is not one."""
    fp = text.replace(":", "").strip().lower()
    return fp if _FINGERPRINT.fullmatch(fp) else None


class Caller(Protocol):
    """Who asks: a connection, or a web request (transport/websession.py)."""

    sid: int  # rate-limit key of its own ("conn {sid}")
    ip: str
    closed: bool


class _Scram:
    """One connection's SCRAM exchange in progress."""

    __slots__ = ("server", "account")

    def __init__(self) -> None:
        self.server = ScramServer()
        self.account: str | None = None  # set once the proof checked out


class AccountService:
    def __init__(self, server: Server) -> None:
        limits = server.config.limits
        self.server = server
        self.checks = server.passwords
        self.limits = limits
        self.params = HashParams(limits.argon2_time_cost, limits.argon2_memory_kib, limits.scram_iterations)
        self._scram: dict[int, _Scram] = {}  # conn sid -> its SCRAM exchange
        # Accounts registered per address (a leaky count: blocked() past the limit).
        self.registrations = Backoff(1.0, 1.0, limits.max_accounts_per_address, limits.account_window,
                                     limits.auth_tracked)

    def account_of(self, conn: Connection) -> str | None:
        session = self.server.hub.session_of(conn.sid)
        return session.account if session else None

    # --- the commands -------------------------------------------------------------

    def forget(self, conn: Connection) -> None:
        self._scram.pop(conn.sid, None)

    def handle(self, conn: Connection, command: AccountCommand) -> None:
        if isinstance(command, SaslAbort):
            self._scram.pop(conn.sid, None)
            return
        if isinstance(command, AccountLogout):
            if self.account_of(conn) is None:
                self.fail(conn, command, NotLoggedIn())
            else:
                log.info("conn %d logged out of %s", conn.sid, self.account_of(conn))
                self.server.dispatch(conn, SetAccount(None))
            return
        conn.pause(gate=False)  # input only: live traffic goes on reaching it
        task = asyncio.get_running_loop().create_task(self._run(conn, command))
        self.checks.track(conn, task)

    async def _run(self, conn: Connection, command: AccountCommand) -> None:
        try:
            await self._do(conn, command)
        except AccountError as exc:
            self._scram.pop(conn.sid, None)
            if not conn.closed:
                self.fail(conn, command, exc)
                if exc.final:
                    conn.adapter.abort("too many failed passwords")
        except Exception:
            conn.log.exception("account command failed")
            conn.close("internal error", abort=True)
        finally:
            conn.resume(set())

    async def _do(self, conn: Connection, command: AccountCommand) -> None:
        hub = self.server.hub
        nick = hub.nick_of(conn.sid)
        if isinstance(command, AccountRegister):
            if self.account_of(conn) is not None:
                raise AlreadyLoggedIn()
            if nick is None:
                raise AccountError(reason="choose a name first")
            account = await self.register(conn, nick, command.password)
            if not conn.closed:
                self.server.dispatch(conn, SetAccount(account.name, created=True))
        elif isinstance(command, AccountLogin):
            if self.account_of(conn) is not None:
                raise AlreadyLoggedIn()
            account = await self.verify_login(conn, command.name, command.password)
            await self._login(conn, account.name)
        elif isinstance(command, AccountPlayback):
            name = self.account_of(conn)
            if name is None:
                raise NotLoggedIn()
            if not await self.server.store.set_playback(name, command.count):
                raise NotLoggedIn(reason="your account no longer exists")
            if not conn.closed:
                self.server.deliver([Outbound((conn.sid,), PlaybackChanged(command.count, note=True))])
        elif isinstance(command, SaslResponse):
            await self._sasl(conn, command)
        elif isinstance(command, AccountCert):
            await self._cert(conn, command)
        elif isinstance(command, AccountPassword):
            name = self.account_of(conn)
            if name is None:
                raise NotLoggedIn()
            self.check_password(command.new)
            await self.verify_login(conn, name, command.old)
            secrets = await self.checks.in_thread(make_secrets, command.new, self.params)
            store = self.server.store
            if not await store.set_password(name, secrets):
                raise NotLoggedIn(reason="your account no longer exists")
            for token in await store.list_credentials(SESSION, name):  # browsers log in again
                await store.delete_credential(SESSION, token, name)
            log.info("conn %d changed the password of account %s", conn.sid, name)
            self._note(conn, f"password of account {name} changed")

    async def _cert(self, conn: Connection, command: AccountCert) -> None:
        name = self.account_of(conn)
        if name is None:
            raise NotLoggedIn(reason="log in first to manage your account's certificates")
        store = self.server.store
        if command.action == "list":
            certs = await store.list_credentials(CERT, name)
            self._note(conn, f"certificates of account {name}: {len(certs)}")
            for cert in certs:
                self._note(conn, f"certificate {cert}")
            return
        fp = fingerprint_of(command.fingerprint) if command.fingerprint else conn.tls_fingerprint
        if fp is None:
            raise AccountError(reason="a certificate fingerprint is 64 hex digits (SHA-256)" if command.fingerprint
                               else "this connection has no client certificate; give its fingerprint")
        if command.action == "del":
            if not await store.delete_credential(CERT, fp, name):
                raise AccountError(reason=f"{fp} is not a certificate of account {name}")
            log.info("conn %d removed a certificate from account %s", conn.sid, name)
            self._note(conn, f"certificate {fp} removed from account {name}")
            return
        if len(await store.list_credentials(CERT, name)) >= self.limits.account_certs_max:
            raise AccountError(reason=f"an account has at most {self.limits.account_certs_max} certificates;"
                                      " remove one first")
        if not await store.add_credential(CERT, fp, name, 0, self.server.hub.clock()):
            raise AccountError(reason=f"certificate {fp} already belongs to an account")
        log.info("conn %d added a certificate to account %s", conn.sid, name)
        self._note(conn, f"certificate {fp} added to account {name}: SASL EXTERNAL now logs in with it")

    async def _external(self, conn: Connection, command: SaslResponse) -> None:
        """SASL EXTERNAL (RFC 4422 appendix A): the TLS client certificate is the
        credential; the message is an optional authzid, which must name its account."""
        authzid = command.data.decode("utf-8", "replace")
        async with self.checks.turn(conn.ip):
            await self.wait_turn(conn, f"account {casefold(authzid)}" if authzid else f"conn {conn.sid}")
            fp = conn.tls_fingerprint
            account = await self.server.store.find_credential(CERT, fp, self.server.hub.clock()) if fp else None
            if account is None or (authzid and casefold(authzid) != casefold(account)):
                raise self.failed(conn, authzid or account or f"certificate {fp or '(none)'}", "SASL EXTERNAL")
        self.checks.per_conn.forget(f"conn {conn.sid}")
        await self.server.store.touch_account(account, self.server.hub.clock())
        log.info("conn %d (%s) logged in to account %s (EXTERNAL)", conn.sid, conn.ip, account)
        await self._login(conn, account)

    async def _sasl(self, conn: Connection, command: SaslResponse) -> None:
        if self.account_of(conn) is not None:
            raise AlreadyLoggedIn()
        if command.mechanism == EXTERNAL_MECHANISM:
            await self._external(conn, command)
            return
        if command.mechanism == PLAIN_MECHANISM:
            # RFC 4616: [authzid] NUL authcid NUL passwd
            parts = command.data.decode("utf-8", "replace").split("\0")
            if len(parts) != 3 or not parts[1] or (parts[0] and casefold(parts[0]) != casefold(parts[1])):
                raise self.failed(conn, parts[1] if len(parts) == 3 else "", "SASL PLAIN message")
            account = await self.verify_login(conn, parts[1], parts[2])
            await self._login(conn, account.name)
            return
        state = self._scram.get(conn.sid)
        if command.step == 0 or state is None:
            state = self._scram[conn.sid] = _Scram()
            try:
                user = state.server.client_first(command.data.decode("utf-8", "replace"))
            except ScramError:
                raise self.failed(conn, "", "SCRAM client-first") from None
            async with self.checks.turn(conn.ip):
                await self.wait_turn(conn, f"account {casefold(user)}")
            found = await self.server.store.get_account(user)
            state.account = None
            self._challenge(conn, state.server.server_first(found.scram if found else None).encode())
            return
        if state.account is None:
            try:
                final = state.server.client_final(command.data.decode("utf-8", "replace"))
            except ScramError:
                raise self.failed(conn, state.server.user, "SCRAM proof") from None
            found = await self.server.store.get_account(state.server.user)
            if found is None:
                raise self.failed(conn, state.server.user, "SCRAM proof")
            state.account = found.name
            self._challenge(conn, final.encode())
            return
        # The client acknowledged our server-final (AUTHENTICATE +): done.
        del self._scram[conn.sid]
        self.checks.per_conn.forget(f"conn {conn.sid}")
        self.checks.per_account.forget(f"account {casefold(state.account)}")
        await self.server.store.touch_account(state.account, self.server.hub.clock())
        log.info("conn %d (%s) logged in to account %s (SCRAM-SHA-256)", conn.sid, conn.ip, state.account)
        await self._login(conn, state.account)

    async def _login(self, conn: Connection, name: str) -> None:
        """The password (or certificate) for ``name`` checked out: log ``conn`` in.

        What the account keeps for its connections is read first and given to
        the connection *before* the hub hears ``SetAccount``, because a
        connection whose account's user is online attaches to it right there
        (core/handlers/users.py attach), and its rooms are shown at once, each
        as a JOIN of its own: its playback on join (``PlaybackChanged``: the
        JOINs replay by the account's setting, not the server's) and, when it
        will attach, the read marker of each of the user's rooms
        (``ReadMarker(join=True)``: the MARKREAD that goes with each JOIN).
        Read before the connection's input resumes, so before its next JOIN too."""
        count = await self.server.store.get_playback(name)
        marks = await self._join_markers(conn, name)
        if conn.closed:
            return
        out = [Outbound((conn.sid,), ReadMarker(room, ms, join=True)) for room, ms in marks.items()]
        if count is not None:
            out.insert(0, Outbound((conn.sid,), PlaybackChanged(count)))
        if out:
            self.server.deliver(out)
        self.server.dispatch(conn, SetAccount(name))

    async def _join_markers(self, conn: Connection, name: str) -> dict[str, int | None]:
        """Room -> the account's read marker, for each room of the account's
        online user, when ``conn`` will attach to it and asked for read markers
        (draft/read-marker); empty otherwise. The rooms are read again after
        each round of lookups (the user may join one meanwhile), at most
        ``attach_marker_rounds`` times: a room joined later still than that gets ``*``."""
        hub = self.server.hub
        adapter = conn.adapter
        if not (hub.multiclient and isinstance(adapter, IrcProtocol) and READ_MARKER in adapter.caps):
            return {}
        store = self.server.store
        marks: dict[str, int | None] = {}
        for _ in range(self.limits.attach_marker_rounds):
            holder = users.user_of_account(hub, name, conn.sid)
            if holder is None or conn.closed:
                break
            rooms = [hub.rooms[key].name for key in hub.sessions[holder].rooms if key in hub.rooms]
            missing = [room for room in rooms if room not in marks]
            if not missing:
                break
            for room in missing:
                marks[room] = await store.read_marker(name, room)
        return marks

    def _challenge(self, conn: Connection, data: bytes) -> None:
        if not conn.closed:
            self.server.deliver([Outbound((conn.sid,), SaslChallenge(data))])

    def fail(self, conn: Connection, command: object, error: AccountError) -> None:
        self.server.deliver([Outbound((conn.sid,), Failed(error, _NAMES.get(type(command), "account")))])

    def _note(self, conn: Connection, text: str) -> None:
        if not conn.closed:
            self.server.deliver([Outbound((conn.sid,), AccountNote(text))])

    # --- the pieces (also used by IRC SASL and NickServ) --------------------------------

    def check_password(self, password: str) -> None:
        lo, hi = self.limits.password_min, self.limits.password_max
        if not lo <= len(password) <= hi:
            raise WeakPassword(reason=f"a password must have {lo} to {hi} characters")

    async def register(self, conn: Caller, name: str, password: str) -> Account:
        """Create account ``name`` (hashing in the pool, one at a time per address;
        at most max_accounts_per_address per account_window from one address)."""
        self.check_password(password)
        store = self.server.store
        address = self.server.admission.key(conn.ip)  # (None: exempt)
        async with self.checks.turn(conn.ip):
            if address is not None and self.registrations.blocked(address):
                log.warning("refusing to register account %s from %s (conn %d): too many accounts from there",
                            name, conn.ip, conn.sid)
                raise TooManyAccounts(name)
            if await store.get_account(name) is not None:
                raise AccountExists(name)
            secrets = await self.checks.in_thread(make_secrets, password, self.params)
            now = self.server.hub.clock()
            account = Account(name, secrets.password_hash, secrets.scram, now, now)
            if not await store.create_account(account):
                raise AccountExists(name)
            if address is not None:
                self.registrations.fail(address)
        log.info("conn %d (%s) registered account %s", conn.sid, conn.ip, name)
        return account

    async def verify_login(self, conn: Caller, name: str, password: str) -> Account:
        """The account if ``password`` is its password; LoginFailed otherwise
        (``retry_after``: the wait before the next try; ``final``: no more tries)."""
        checks = self.checks
        conn_key, acct_key = f"conn {conn.sid}", f"account {casefold(name)}"
        async with checks.turn(conn.ip):
            await self.wait_turn(conn, acct_key)
            store = self.server.store
            account = await store.get_account(name) if len(password) <= self.limits.password_max else None
            stored = account.password_hash if account is not None else None
            ok = await checks.in_thread(verify_password, stored, password, self.params)
            if ok and account is not None:
                checks.per_conn.forget(conn_key)
                checks.per_account.forget(acct_key)
                await store.touch_account(account.name, self.server.hub.clock())
                log.info("conn %d (%s) logged in to account %s", conn.sid, conn.ip, account.name)
                return account
            raise self.failed(conn, name, "password")

    async def wait_turn(self, conn: Caller, acct_key: str) -> None:
        """Wait out earlier failures' delays; LoginFailed(final) if the address
        is blocked, LoginFailed if the account is."""
        checks = self.checks
        ip_key, conn_key = f"ip {conn.ip}", f"conn {conn.sid}"
        while True:
            if checks.per_ip.blocked(ip_key):
                log.warning("refusing a login from %s (conn %d): too many recent failures", conn.ip, conn.sid)
                raise LoginFailed(reason=f"too many failed passwords from {conn.ip}", final=True)
            if checks.per_account.blocked(acct_key):
                log.warning("refusing a login to %s from %s (conn %d): too many recent failures for it",
                            acct_key, conn.ip, conn.sid)
                wait = max(checks.per_conn.fail(conn_key), checks.per_ip.fail(ip_key))
                final = checks.per_conn.blocked(conn_key) or checks.per_ip.blocked(ip_key)
                raise LoginFailed(reason="too many failed logins to this account; try again later",
                                  retry_after=wait, final=final)
            wait = max(checks.per_conn.delay(conn_key), checks.per_ip.delay(ip_key), checks.per_account.delay(acct_key))
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def failed(self, conn: Caller, name: str, how: str) -> LoginFailed:
        """Count a failed login everywhere; the error to raise."""
        checks = self.checks
        ip_key, conn_key, acct_key = f"ip {conn.ip}", f"conn {conn.sid}", f"account {casefold(name)}"
        wait = max(checks.per_conn.fail(conn_key), checks.per_ip.fail(ip_key), checks.per_account.fail(acct_key))
        final = checks.per_conn.blocked(conn_key) or checks.per_ip.blocked(ip_key)
        log.warning(
            "wrong %s for account %r from %s (conn %d; failures: %d on this connection, %d from this address,"
            " %d for this account); %s",
            how, name, conn.ip, conn.sid, round(checks.per_conn.level(conn_key)), round(checks.per_ip.level(ip_key)),
            round(checks.per_account.level(acct_key)), "closing it" if final else f"next try in {wait:g} s",
        )
        return LoginFailed(retry_after=wait, final=final)
