"""The web client's accounts: a login that survives a page reload without the
password being kept anywhere but in the account's hash.

* ``POST /session`` with JSON ``{"name", "password", "create"}`` logs in (or,
  with ``create``, registers ``name`` and logs in) through the same
  :class:`~chinwag.transport.accounts.AccountService` as every other login:
  hashing in the password pool, the same per-address and per-account
  ``Backoff``, the same registration limit. On success the server makes a
  random token (256 bits), stores only its SHA-256 as a ``session`` credential
  of the account (expiring after ``web_session_days``; at most
  ``web_sessions_max`` per account, the oldest ended first) and gives the token
  to the browser as a cookie: HttpOnly (no script reads it), SameSite=Strict
  (no other site's page sends it), Secure on HTTPS, Path=/.
* ``GET /session`` says which account the cookie logs in to (``null``: none),
  so the page knows whether to show the form.
* ``DELETE /session`` ends the token (forgotten by the store) and clears the cookie.
* The WebSocket upgrade to ``/irc`` brings the cookie along: a live token logs
  the new connection in to its account before its first line (as SASL would);
  a dead or unknown one leaves it a guest.

POST and DELETE check the Origin header as ``/irc`` does (a page of another
site cannot log a browser in or out); the password travels only in the POST
body, never in a URL, a log line or the browser's storage.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from aiohttp import web

from chinwag.core.accounts import AccountError, AccountExists, LoginFailed, TooManyAccounts, not_a_service
from chinwag.core.errors import ChatError
from chinwag.core.names import casefold, validate_nick
from chinwag.storage.accounts import SESSION
from chinwag.transport.forwarded import client_address
from chinwag.transport.httpgate import HttpGate

if TYPE_CHECKING:
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag.web")

COOKIE: Final = "chinwag_session"
MAX_BODY: Final = 4096  # bytes of a POST /session body
_callers = itertools.count(-1, -1)  # web callers' rate-limit ids, apart from connections' sids


class WebCaller:
    """A POST /session as AccountService sees it (transport/accounts.py Caller)."""

    __slots__ = ("sid", "ip", "closed")

    def __init__(self, ip: str) -> None:
        self.sid = next(_callers)
        self.ip = ip
        self.closed = False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_ip(server: Server, request: web.Request) -> str:
    """The client's address as /irc counts it (a trusted proxy's headers honoured)."""
    transport = request.transport
    gate = transport.get_protocol() if transport is not None else None
    peer = gate.ip if isinstance(gate, HttpGate) else str(request.remote)
    return client_address(peer, request.headers.getall("Forwarded", []),
                          request.headers.getall("X-Forwarded-For", []), server.trusted_proxies)


async def account_of(server: Server, request: web.Request) -> str | None:
    """The account the request's session cookie logs in to, or None."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    return await server.store.find_credential(SESSION, token_hash(token), server.hub.clock())


def _error(status: int, text: str, retry_after: float = 0.0) -> web.Response:
    body: dict[str, object] = {"error": text}
    headers = {}
    if retry_after:
        body["retry_after"] = retry_after
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return web.json_response(body, status=status, headers=headers)


class Sessions:
    """The /session routes (added by WebListener, which checks origins)."""

    def __init__(self, server: Server, origin_ok: Callable[[web.Request], bool]) -> None:
        self.server = server
        self.origin_ok = origin_ok

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/session", self.get)
        app.router.add_post("/session", self.post)
        app.router.add_delete("/session", self.delete)

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response({"account": await account_of(self.server, request)})

    async def post(self, request: web.Request) -> web.Response:
        if not self.origin_ok(request):
            return _error(403, "origin not allowed")
        if request.content_length is None or request.content_length > MAX_BODY:
            return _error(413, f"send at most {MAX_BODY} bytes of JSON")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "send JSON: {name, password, create}")
        if not isinstance(body, dict):
            return _error(400, "send JSON: {name, password, create}")
        name, password, create = body.get("name"), body.get("password"), body.get("create", False)
        if not isinstance(name, str) or not isinstance(password, str) or not isinstance(create, bool):
            return _error(400, "name and password are strings, create is true or false")
        server = self.server
        caller = WebCaller(client_ip(server, request))
        try:
            if create:
                # The checks a nick gets (transport/accounts.py registers the nick in use,
                # which passed them): valid, not reserved, not someone's online.
                name = not_a_service(validate_nick(name, server.config.limits.nick_len))
                server.hub.reserved.check(name)
                online = server.hub.lookalike_of(name, 0) or (name if casefold(name) in server.hub.nicks else None)
                if online is not None:
                    raise AccountError(name, f"{online} is online right now; choose another name")
                account = await server.accounts.register(caller, name, password)
            else:
                account = await server.accounts.verify_login(caller, name, password)
        except LoginFailed as exc:  # (final: this address is blocked for a while)
            return _error(429 if exc.final else 401, exc.reason, 0.0 if exc.final else exc.retry_after)
        except TooManyAccounts as exc:
            return _error(429, exc.reason)
        except AccountExists as exc:
            return _error(409, exc.reason)
        except ChatError as exc:  # a bad name or password (WeakPassword, ErroneousNick, ...)
            return _error(400, exc.reason)
        token = secrets.token_urlsafe(32)
        limits = server.config.limits
        now = server.hub.clock()
        days = limits.web_session_days
        store = server.store
        await store.add_credential(SESSION, token_hash(token), account.name, now + days * 86_400, now)
        for old in (await store.list_credentials(SESSION, account.name))[limits.web_sessions_max:]:
            await store.delete_credential(SESSION, old)  # the oldest logins beyond the cap end
        log.info("%s logged in to account %s in a browser%s", caller.ip, account.name,
                 " (registered it)" if create else "")
        response = web.json_response({"account": account.name, "created": create})
        response.set_cookie(COOKIE, token, max_age=days * 86_400, path="/", httponly=True, samesite="Strict",
                            secure=request.secure)
        return response

    async def delete(self, request: web.Request) -> web.Response:
        if not self.origin_ok(request):
            return _error(403, "origin not allowed")
        token = request.cookies.get(COOKIE)
        if token and len(token) <= 128:
            await self.server.store.delete_credential(SESSION, token_hash(token))
        response = web.json_response({"account": None})
        response.del_cookie(COOKIE, path="/", secure=request.secure, httponly=True, samesite="Strict")
        return response
