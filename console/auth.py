"""Who may use the console, and how a browser proves it.

- Users are names with argon2 password hashes, from a users file (``name:hash`` per line, written by
  ``sevpro console user add``) and/or the settings; or, off by default, a trusted reverse proxy that has already
  authenticated the user names them in a header.
- A browser signs in once on /login and then carries a signed session cookie (HttpOnly, SameSite=Lax, Secure
  unless the console is served on loopback over plain HTTP); machines (Prometheus, scripts) may send HTTP Basic
  credentials on read-only requests instead.
- Every state-changing request (POST, PUT, PATCH, DELETE) must carry the session's CSRF token, as the form
  field ``csrf_token`` or the header ``X-CSRF-Token``: another site cannot make a signed-in browser act.
- Only the Host names allowed (loopback by default) are served, so a web page cannot reach a loopback console
  through DNS rebinding.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foundation.paths import project_home
from foundation.settings import LOOPBACK_NAMES, Settings

SESSION_COOKIE = "sevpro_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_HOSTS = LOOPBACK_NAMES
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Reachable without signing in: the login form itself, and the liveness probe (it tells only the version).
OPEN_PATHS = frozenset({"/login", "/healthz"})
MAX_FORM_BYTES = 1 << 20
USER_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")

_hasher = PasswordHasher()
# Checked when the name is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UsersFileError(ValueError):
    """A users file or user name that cannot be used; the message names the file and line."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_user_name(name: str) -> str:
    if not name or not set(name) <= USER_NAME_CHARS:
        raise UsersFileError(f"user name {name!r}: use letters, digits and . _ @ - only")
    return name


def load_users(path: Path) -> dict[str, str]:
    """name -> argon2 hash from a users file; blank lines and # comments are skipped."""
    users: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not hashed.startswith("$argon2"):
            raise UsersFileError(f"{path}:{number}: expected 'name:$argon2id$...' (use `sevpro console user add`)")
        users[check_user_name(name)] = hashed
    return users


def save_user(path: Path, name: str, password: str) -> bool:
    """Add the user, or set a new password for it; True when it was new. The file is readable by its owner only."""
    check_user_name(name)
    users = load_users(path) if path.exists() else {}
    new = name not in users
    users[name] = hash_password(password)
    write_users(path, users)
    return new


def remove_user(path: Path, name: str) -> bool:
    users = load_users(path) if path.exists() else {}
    if users.pop(name, None) is None:
        return False
    write_users(path, users)
    return True


def write_users(path: Path, users: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# sevpro console users: name:argon2 hash (sevpro console user add NAME)\n")
        handle.writelines(f"{name}:{hashed}\n" for name, hashed in sorted(users.items()))
    os.replace(temporary, path)


@dataclass(frozen=True)
class ConsoleAuth:
    """Everything the console needs to decide who is asking."""

    users: Mapping[str, str] = field(default_factory=dict)  # name -> argon2 hash
    session_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    secure_cookies: bool = True
    trusted_user_header: str | None = None  # e.g. X-Forwarded-User, set by an authenticating proxy
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    session_hours: float = 12.0

    def check(self, name: str, password: str) -> bool:
        hashed = self.users.get(name)
        ok = verify_password(hashed or _DUMMY_HASH, password)
        return ok and hashed is not None

    def user_of(self, request: Request) -> str | None:
        """The signed-in user of a request: the proxy's header, the session, or (safe methods) Basic auth."""
        if self.trusted_user_header:
            proxied = request.headers.get(self.trusted_user_header, "").strip()
            if proxied:
                return proxied
        name = request.session.get("user")
        proxied_session = bool(self.trusted_user_header) and request.session.get("via") == "proxy"
        if isinstance(name, str) and (name in self.users or proxied_session):
            return name
        if request.method in SAFE_METHODS:
            return self._basic(request.headers.get("authorization", ""))
        return None

    def _basic(self, header: str) -> str | None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            return None
        try:
            name, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return name if self.check(name, password) else None


def default_users_file() -> Path:
    return project_home() / "console-users"


def auth_from_settings(settings: Settings, listen_host: str) -> ConsoleAuth:
    """The console's users and cookie and Host rules from the settings, for a console listening on `listen_host`.

    Raises UsersFileError when nobody could sign in (no user and no trusted proxy header)."""
    path = settings.console_users_file or default_users_file()
    if settings.console_users_file and not path.exists():
        raise UsersFileError(f"SEVPRO_CONSOLE_USERS_FILE: {path} does not exist")
    users = load_users(path) if path.exists() else {}
    for name, hashed in settings.console_users.items():
        if not hashed.startswith("$argon2"):
            raise UsersFileError(f"SEVPRO_CONSOLE_USERS: user {name!r}: expected an argon2 hash ($argon2id$...)")
        users[check_user_name(name)] = hashed
    if not users and not settings.console_trusted_user_header:
        raise UsersFileError(f"no console users: add one with `sevpro console user add NAME` (writes {path}), "
                             "or set SEVPRO_CONSOLE_USERS or SEVPRO_CONSOLE_TRUSTED_USER_HEADER")
    hosts = list(settings.console_allowed_hosts)
    if listen_host not in ("0.0.0.0", "::", "") and listen_host not in hosts:
        hosts.append(listen_host)  # the address it listens on is the name a user types
    secure = settings.console_secure_cookies
    secret = settings.console_session_secret
    return ConsoleAuth(users=users,
                       session_secret=secret.get_secret_value() if secret else secrets.token_urlsafe(32),
                       secure_cookies=listen_host not in LOOPBACK_NAMES if secure is None else secure,
                       trusted_user_header=settings.console_trusted_user_header, allowed_hosts=tuple(hosts),
                       session_hours=settings.console_session_hours)


# The signed-in user and CSRF token of the request being served, for the page header and action forms.
current_user: ContextVar[str | None] = ContextVar("console_user", default=None)
current_csrf: ContextVar[str | None] = ContextVar("console_csrf", default=None)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this console only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class RequireLogin:
    """ASGI middleware (inside the session middleware): sign-in and CSRF checks before any route runs."""

    def __init__(self, app: ASGIApp, auth: ConsoleAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        user = self.auth.user_of(request)
        path = scope["path"]
        if user is None and path not in OPEN_PATHS:  # first: without a session, an action goes to the sign-in
            await self._refuse(request)(scope, receive, send)
            return
        if request.method not in SAFE_METHODS:
            receive, refusal = await self._check_csrf(request, receive)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        if user is not None and self.auth.trusted_user_header and request.session.get("user") != user:
            request.session.update(user=user, via="proxy")
        user_token = current_user.set(user)
        csrf_token_token = current_csrf.set(csrf_token(request))
        try:
            await self.app(scope, receive, _with_security_headers(send))
        finally:
            current_user.reset(user_token)
            current_csrf.reset(csrf_token_token)

    def _refuse(self, request: Request) -> Response:
        path = request.url.path
        if path.startswith("/api/") or path == "/metrics":
            return PlainTextResponse("sign in: a session cookie, or HTTP Basic credentials", status_code=401,
                                     headers={"WWW-Authenticate": 'Basic realm="sevpro console", charset="UTF-8"'})
        wanted = path + (f"?{request.url.query}" if request.url.query else "")
        if request.method not in SAFE_METHODS:  # a form sent from a page: back to that page, not to the POST
            wanted = _same_origin_path(request.headers.get("referer"), request.url.netloc)
        return RedirectResponse("/login?next=" + quote(wanted, safe=""), status_code=303)

    async def _check_csrf(self, request: Request, receive: Receive) -> tuple[Receive, Response | None]:
        """Read the body (to find the form's token) and hand the same body on to the route."""
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_FORM_BYTES:
                return receive, PlainTextResponse("request body too large", status_code=413)
        replay = _replay(body, receive)
        expected = request.session.get("csrf")
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await Request(request.scope, _replay(body, receive)).form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if not (isinstance(expected, str) and sent and hmac.compare_digest(expected, sent)):
            return replay, PlainTextResponse(
                "refused: the form's security token is missing or out of date; reload the page and try again",
                status_code=403)
        return replay, None


def _same_origin_path(referer: str | None, netloc: str) -> str:
    """The path (and query) of a Referer on this console, else "/"."""
    parsed = urlsplit(referer or "")
    if parsed.netloc != netloc:
        return "/"
    return safe_next(parsed.path + (f"?{parsed.query}" if parsed.query else ""))


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _with_security_headers(send: Send) -> Send:
    """No framing (clickjacking of the coming actions), no sniffing, no referrer to other sites."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers: list[Any] = list(message.get("headers", []))
            headers += [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"same-origin")]
            message = {**message, "headers": headers}
        await send(message)

    return sending
