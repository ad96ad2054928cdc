"""The Severa REST API sandbox: a Starlette app emulating ``https://api.severa.visma.com/rest-api``.

Base URL for clients: ``http://<host>:<port>/rest-api`` (every operation is under ``/rest-api/v1/...``, as in
production). Around every API operation the app applies, in order: the request counter, the 10 requests/second
quota (429 with Severa's text), added latency / slow responses, injected 500s, the bearer token (401), the
operation's scopes (403 ``InsufficientApiScope``), then the handler. ``/_sandbox/stats``, ``/_sandbox/config``
and ``/_sandbox/organisations`` are sandbox-only admin routes without auth.

One sandbox can host many organisations (``organisations=N`` or ``POST /_sandbox/organisations``): each is a store of
its own with its own API client, a token reads only the data of its client's organisation, and the quota is per API
client (the public descriptions leave its scope open; Procountor documents its limit per client).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import random
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.severa.api import OPERATIONS, Operation, run
from sandbox.severa.store import SeveraStore
from sandbox.severa.web import Ctx, exception_model

BASE_PATH = "/rest-api"
QUOTA_MESSAGE = "API calls quota exceeded! maximum admitted {n} per 1s."


@dataclass
class SandboxConfig:
    """Runtime knobs, changeable through ``POST /_sandbox/config``."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 2000.0
    rate_limit_per_second: float | None = 10.0
    access_token_lifetime_s: float = 3600.0
    refresh_token_lifetime_s: float = 30 * 24 * 3600.0
    max_row_count: int = 100
    require_client_id_header: bool = False
    # Seconds in the Retry-After of a 429 (a third-party client saw real tenants send it); None sends none.
    retry_after_s: float | None = 1.0
    # Requests whose path contains a key (one invoice's PDF, say) wait that many milliseconds more, or until the
    # key is taken out of the knob: one slow record.
    slow_paths: dict[str, float] = field(default_factory=dict)


@dataclass
class SandboxStats:
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    total: int = 0
    rate_limited: int = 0
    injected_errors: int = 0
    slow_responses: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "total": self.total,
            "rate_limited": self.rate_limited,
            "injected_errors": self.injected_errors,
            "slow_responses": self.slow_responses,
        }


@dataclass
class Grant:
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    organisation: str = ""  # the organisation of the client, whose data the token reads


class TokenIssuer:
    """Access and refresh tokens handed out by /v1/token and /v1/refreshtoken."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}

    def issue(self, client_id: str, scopes: frozenset[str], organisation: str = "") -> dict[str, Any]:
        now = time.time()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access[access] = Grant(client_id, scopes, now + self.config.access_token_lifetime_s, organisation)
        self.refresh[refresh] = Grant(client_id, scopes, now + self.config.refresh_token_lifetime_s, organisation)

        def utc(ts: float) -> str:
            return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

        return {
            "access_token": access,
            "scope": ",".join(sorted(scopes)),
            "refresh_token": refresh,
            "refresh_token_expires_in": int(self.config.refresh_token_lifetime_s),
            "refresh_token_expires_utc": utc(now + self.config.refresh_token_lifetime_s),
            "access_token_type": "Bearer",
            # Whole seconds on the wire; a sub-second lifetime (tests) still expires on time server-side.
            "access_token_expires_in": max(0, int(self.config.access_token_lifetime_s)),
            "access_token_expires_utc": utc(now + self.config.access_token_lifetime_s),
        }


class QuotaWindow:
    """Severa's fixed quota: at most N admitted requests in any 1-second window, per API client (requests
    without a known client share one window)."""

    def __init__(self) -> None:
        self._admitted: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, limit: float | None, client: str = "") -> bool:
        if limit is None:
            return True
        now = time.monotonic()
        with self._lock:
            admitted = self._admitted.setdefault(client, collections.deque())
            while admitted and now - admitted[0] >= 1.0:
                admitted.popleft()
            if len(admitted) >= limit:
                return False
            admitted.append(now)
            return True


def _split_scopes(text: str | None) -> set[str]:
    return {s for s in re.split(r"[,\s]+", text or "") if s}


def _ci(body: dict[str, Any], key: str) -> Any:
    """Case-insensitive JSON key lookup (ASP.NET binds client_Id / client_id alike)."""
    return next((v for k, v in body.items() if k.lower() == key), None)


class SeveraSandbox:
    """State behind one app instance: the organisations' stores, knobs, counters, tokens."""

    def __init__(self, store: SeveraStore, config: SandboxConfig, state_file: str | None) -> None:
        self.store = store  # the first organisation (named ""): the demo's, or the one of the state file
        self.organisations: dict[str, SeveraStore] = {"": store}
        # organisation → route and its query parameters' names ("GET /v1/invoices?changedSince&rowCount": a poll,
        # "...?numbers": a transfer's check) → time.time() of the last call, and the number of calls
        self.last_calls: dict[str, dict[str, float]] = {}
        self.org_calls: dict[str, collections.Counter[str]] = {}
        self.config = config
        self.stats = SandboxStats()
        self.tokens = TokenIssuer(config)
        self.quota = QuotaWindow()
        self.random = random.Random()
        self.state_file = state_file

    def add_organisation(self, name: str, store: SeveraStore) -> None:
        """Host another organisation; its clients must be its own (a client id names one organisation)."""
        if name in self.organisations:
            raise ValueError(f"organisation {name!r} exists already")
        taken = {client for other in self.organisations.values() for client in other.api_clients}
        if clash := sorted(taken & set(store.api_clients)):
            raise ValueError(f"organisation {name!r}: API client {clash[0]!r} belongs to another organisation")
        self.organisations[name] = store

    def organisation_of_client(self, client_id: str) -> tuple[str, SeveraStore] | None:
        for name, store in self.organisations.items():
            if client_id in store.api_clients:
                return name, store
        return None

    def grant_of(self, request: Request) -> Grant | None:
        """The live grant of the request's bearer token, if any."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        grant = self.tokens.access.get(token.strip()) if scheme.lower() == "bearer" else None
        return grant if grant is not None and grant.expires_at > time.time() else None

    async def gate(self, request: Request, key: str, client: str = "") -> Response | None:
        """Counting, quota (per API client), latency and fault injection shared by every /rest-api route."""
        self.stats.calls[key] += 1
        self.stats.total += 1
        if not self.quota.admit(self.config.rate_limit_per_second, client):
            self.stats.rate_limited += 1
            limit = self.config.rate_limit_per_second or 0
            headers = {}
            if self.config.retry_after_s is not None:
                headers["Retry-After"] = str(max(1, round(self.config.retry_after_s)))
            return PlainTextResponse(QUOTA_MESSAGE.format(n=f"{limit:g}"), status_code=429, headers=headers)
        delay = self.config.latency_ms / 1000
        if self.config.slow_rate and self.random.random() < self.config.slow_rate:
            self.stats.slow_responses += 1
            delay += self.config.slow_ms / 1000
        if delay > 0:
            await asyncio.sleep(delay)
        for part in [part for part in self.config.slow_paths if part in request.url.path]:
            until = time.monotonic() + self.config.slow_paths[part] / 1000
            # ... or until the knob is taken away (by another thread: a test's, or a POST): polled, not an Event
            while part in self.config.slow_paths and time.monotonic() < until:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        if self.config.error_rate and self.random.random() < self.config.error_rate:
            self.stats.injected_errors += 1
            return exception_model(500, "InternalSystemError", "An unexpected error occurred (injected).")
        return None

    def authorize(self, request: Request, scopes: tuple[str, ...]) -> Response | None:
        grant = self.grant_of(request)
        if grant is None:
            return exception_model(
                401,
                "AuthenticationRequired",
                "Authentication required: missing, invalid or expired access token.",
                name="Authorization",
                location="RequestHeader",
            )
        if self.config.require_client_id_header and request.headers.get("client_id") != grant.client_id:
            return exception_model(
                401,
                "AuthenticationRequired",
                "The Client_Id header is missing or wrong.",
                name="Client_Id",
                location="RequestHeader",
            )
        missing = [s for s in scopes if s not in grant.scopes]
        if missing:
            return exception_model(
                403,
                "InsufficientApiScope",
                f"Insufficient API scope. Required scope(s): {', '.join(missing)}.",
            )
        return None

    def persist(self) -> None:
        if self.state_file:
            self.store.save(self.state_file)


def _api_route(sandbox: SeveraSandbox, op: Operation) -> Route:
    key = f"{op.method} {op.path}"

    async def endpoint(request: Request) -> Response:
        grant = sandbox.grant_of(request)
        if (early := await sandbox.gate(request, key, grant.client_id if grant else "")) is not None:
            return early
        if (denied := sandbox.authorize(request, op.scopes)) is not None:
            return denied
        assert grant is not None  # authorize answered 401 without one
        parameters = "&".join(sorted({name.lower() for name in request.query_params}))
        call = f"{key}?{parameters}" if parameters else key
        sandbox.last_calls.setdefault(grant.organisation, {})[call] = time.time()
        sandbox.org_calls.setdefault(grant.organisation, collections.Counter())[call] += 1
        store = sandbox.organisations[grant.organisation]
        ctx = Ctx(request=request, store=store, max_row_count=sandbox.config.max_row_count)
        response = await run(op, ctx)
        if op.method != "GET" and response.status_code < 400:
            sandbox.persist()
        return response

    return Route(BASE_PATH + op.path, endpoint, methods=[op.method])


def _auth_routes(sandbox: SeveraSandbox) -> list[Route]:
    async def token(request: Request, *, oauth: bool = False) -> Response:
        """POST /v1/token (ClientCredentials) and POST /v1/login/oauth/access_token (AccessTokenCredentials,
        which also takes grant_type=refresh_token)."""
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        asking = _ci(body, "client_id") if isinstance(body, dict) else None
        if (early := await sandbox.gate(request, "POST /v1/token", str(asking or ""))) is not None:
            return early
        if not isinstance(body, dict):
            return exception_model(
                400, "InvalidRequest", "ClientCredentials JSON body is required.", location="RequestBody"
            )
        if oauth and _ci(body, "grant_type") == "refresh_token":
            return refresh_grant(body)
        client_id, secret = _ci(body, "client_id"), _ci(body, "client_secret")
        if not client_id or not secret:
            return exception_model(
                400,
                "InvalidParameter",
                "client_id and client_secret are required.",
                name="client_id",
                location="RequestBody",
            )
        found = sandbox.organisation_of_client(str(client_id))
        client = found[1].api_clients.get(str(client_id)) if found else None
        # compare_digest on bytes: on str it refuses non-ASCII text (a 500 where the API answers 401).
        if found is None or client is None or not secrets.compare_digest(str(secret).encode(),
                                                                           client["secret"].encode()):
            return exception_model(401, "AuthenticationRequired", "Invalid client credentials.")
        allowed = set(client["scopes"])
        scope = _ci(body, "scope")
        if scope is not None and not isinstance(scope, str):
            return exception_model(400, "InvalidParameter", "scope must be a string of scopes.", name="scope",
                                   location="RequestBody")
        requested = _split_scopes(scope)
        if requested - allowed:
            # "If scopes that are not allowed for the client are requested, returns unauthorized."
            return exception_model(
                401,
                "AuthenticationRequired",
                f"Scopes not allowed for this client: {', '.join(sorted(requested - allowed))}.",
            )
        return JSONResponse(sandbox.tokens.issue(str(client_id), frozenset(requested or allowed), found[0]))

    async def oauth_token(request: Request) -> Response:
        return await token(request, oauth=True)

    def refresh_grant(body: dict[str, Any]) -> Response:
        """grant_type=refresh_token (AccessTokenCredentials): a new token with the ORIGINAL grant's scopes when
        no scope is asked for (as real tenants answer; never every scope the client is allowed), or the asked
        ones of them."""
        value, client_id = _ci(body, "refresh_token"), _ci(body, "client_id")
        grant = sandbox.tokens.refresh.pop(value, None) if isinstance(value, str) else None
        if grant is None or grant.expires_at <= time.time() or client_id not in (None, grant.client_id):
            return exception_model(401, "AuthenticationRequired", "Invalid or expired refresh token.")
        scope = _ci(body, "scope")
        requested = _split_scopes(scope) if isinstance(scope, str) else set()
        if requested - grant.scopes:
            return exception_model(401, "AuthenticationRequired",
                                   f"Scopes not in the original grant: {', '.join(sorted(requested - grant.scopes))}.")
        return JSONResponse(sandbox.tokens.issue(grant.client_id, frozenset(requested) or grant.scopes,
                                                 grant.organisation))

    async def refresh(request: Request) -> Response:
        if (early := await sandbox.gate(request, "POST /v1/refreshtoken")) is not None:
            return early
        try:
            value = json.loads(await request.body() or b"null")
        except ValueError:
            value = None
        grant = sandbox.tokens.refresh.pop(value, None) if isinstance(value, str) else None
        if grant is None or grant.expires_at <= time.time():
            return exception_model(401, "AuthenticationRequired", "Invalid or expired refresh token.")
        return JSONResponse(sandbox.tokens.issue(grant.client_id, grant.scopes, grant.organisation))

    async def signout(request: Request) -> Response:
        if (early := await sandbox.gate(request, "POST /v1/signout")) is not None:
            return early
        try:
            value = json.loads(await request.body() or b"null")
        except ValueError:
            value = None
        if isinstance(value, str):
            sandbox.tokens.refresh.pop(value, None)
        return Response(b"", media_type="application/octet-stream")

    async def authorized(request: Request) -> Response:
        if (early := await sandbox.gate(request, "GET /heartbeat/authorized")) is not None:
            return early
        return sandbox.authorize(request, ()) or Response(status_code=204)

    async def server(request: Request) -> Response:
        return PlainTextResponse("Server is alive.")

    async def database(request: Request) -> Response:
        return PlainTextResponse("Database is alive.")

    return [
        Route(f"{BASE_PATH}/v1/token", token, methods=["POST"]),
        Route(f"{BASE_PATH}/v1/login/oauth/access_token", oauth_token, methods=["POST"]),
        Route(f"{BASE_PATH}/v1/refreshtoken", refresh, methods=["POST"]),
        Route(f"{BASE_PATH}/v1/signout", signout, methods=["POST"]),
        Route(f"{BASE_PATH}/heartbeat/authorized", authorized, methods=["GET"]),
        Route(f"{BASE_PATH}/heartbeat/server", server, methods=["GET"]),
        Route(f"{BASE_PATH}/heartbeat/database", database, methods=["GET"]),
    ]


def _admin_routes(sandbox: SeveraSandbox) -> list[Route]:
    async def stats(request: Request) -> Response:
        return JSONResponse(sandbox.stats.as_json())

    async def reset_stats(request: Request) -> Response:
        sandbox.stats = SandboxStats()
        return JSONResponse(sandbox.stats.as_json())

    async def config(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = json.loads(await request.body() or b"{}")
            except ValueError:
                return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
            if not isinstance(changes, dict):
                return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
            unknown = set(changes) - set(asdict(sandbox.config))
            if unknown:
                return JSONResponse({"error": f"unknown knobs: {sorted(unknown)}"}, status_code=400)
            for name, value in changes.items():
                setattr(sandbox.config, name, value)
        return JSONResponse(asdict(sandbox.config))

    async def organisations(request: Request) -> Response:
        """GET: each organisation's name, API client, and per route with its query parameters' names the time of
        its last call (how recently a tenant was polled) and the number of calls. POST {"count": N}: organisations
        org0001…orgNNNN exist (those missing are made)."""
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
                count = int(body["count"])
            except (ValueError, KeyError, TypeError):
                return JSONResponse({"error": 'body must be {"count": N}'}, status_code=400)
            if sandbox.state_file:
                return JSONResponse({"error": "organisations are not kept in the state file"}, status_code=400)
            add_organisations(sandbox, count)
        return JSONResponse({"organisations": [
            {"name": name, "clients": sorted(store.api_clients), "last_calls": sandbox.last_calls.get(name, {}),
             "calls": dict(sandbox.org_calls.get(name, {}))}
            for name, store in sandbox.organisations.items()]})

    return [
        Route("/_sandbox/organisations", organisations, methods=["GET", "POST"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/stats/reset", reset_stats, methods=["POST"]),
        Route("/_sandbox/config", config, methods=["GET", "POST"]),
    ]


async def _not_found(request: Request, exc: Exception) -> Response:
    # Unknown routes, like unknown guids, get Severa's empty 404.
    return Response(status_code=404)


def add_organisations(sandbox: SeveraSandbox, count: int) -> None:
    """Organisations org0001…org<count> (sandbox/severa/organisations.py), those not there yet."""
    from sandbox.severa.organisations import new_organisation, organisation_name

    for number in range(1, count + 1):
        name = organisation_name(number)
        if name not in sandbox.organisations:
            sandbox.add_organisation(name, new_organisation(name))


def create_app(
    *,
    seed: str | None = None,
    organisations: int = 0,
    latency_ms: float = 0.0,
    error_rate: float = 0.0,
    slow_rate: float = 0.0,
    slow_ms: float = 2000.0,
    rate_limit_per_second: float | None = 10.0,
    state_file: str | None = None,
    access_token_lifetime_s: float = 3600.0,
    max_row_count: int = 100,
    require_client_id_header: bool = False,
) -> Starlette:
    """Build the sandbox app. ``seed="demo"`` loads the demo organisation; ``None`` an empty organisation with
    the demo credentials. With ``state_file``, an existing file is loaded instead of the seed and every write
    is saved back to it. ``organisations=N`` hosts N more organisations beside it, each with its own client
    (sandbox/severa/organisations.py; not with a state file). ``app.state.store`` is the first organisation's
    ``SeveraStore``; ``app.state.sandbox`` holds knobs, stats and ``organisations`` (name → store).
    """
    if organisations and state_file:
        raise ValueError("organisations are not kept in the state file: use one or the other")
    from sandbox.severa import demo

    store = SeveraStore()
    if state_file and Path(state_file).exists():
        store.load(state_file)
    elif seed == "demo":
        demo.seed_demo(store)
    elif seed is None:
        demo.seed_empty(store)
    else:
        raise ValueError(f"unknown seed {seed!r} (use 'demo' or None)")
    config = SandboxConfig(
        latency_ms=latency_ms,
        error_rate=error_rate,
        slow_rate=slow_rate,
        slow_ms=slow_ms,
        rate_limit_per_second=rate_limit_per_second,
        access_token_lifetime_s=access_token_lifetime_s,
        max_row_count=max_row_count,
        require_client_id_header=require_client_id_header,
    )
    sandbox = SeveraSandbox(store, config, state_file)
    add_organisations(sandbox, organisations)
    routes = _auth_routes(sandbox) + [_api_route(sandbox, op) for op in OPERATIONS] + _admin_routes(sandbox)
    app = Starlette(routes=routes, exception_handlers={404: _not_found})
    app.state.store = store
    app.state.sandbox = sandbox
    if state_file:
        sandbox.persist()
    return app
