"""The operations console: server-rendered pages and a JSON API over the read models, and `/metrics`.

Signing in, sessions, CSRF tokens and the Host allow-list are console.auth's. The console never writes to the
read models; its actions (console.actions: retry, reprocess) publish requests to Kafka as `sevpro reprocess`
does, and its settings pages (console/settings_pages.py) change company settings (a settings event or the
companies file); each change is a POST with the session's CSRF token. Every request reads the version `current`
names (a replay's switch shows at once). With a bootstrap, the overview and `/metrics` also show how far the
projector is behind the topics.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from console import actions, pages, registry_pages, settings_pages
from console.auth import SESSION_COOKIE, ConsoleAuth, RequireLogin, csrf_token, safe_next
from console.html import record_url
from console.lag import EndOffsetsFetcher, Lag, kafka_end_offsets, measure_lag
from console.links import WebLinks
from console.metrics import render
from console.queries import ConsoleQueries, TransferFilter
from foundation.i18n import LANGUAGES, _, current_language, negotiate
from foundation.settings import get_settings
from projections.apply import STATES
from projections.store import read_models_at

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_PER_PAGE = 500


LANGUAGE_COOKIE = "sevpro_language"
LANGUAGE_COOKIE_DAYS = 365


class ChooseLanguage:
    """ASGI middleware: the language of the pages. The user's choice (`?lang=fi` from the selector in the header,
    remembered in a cookie for a year), else the browser's Accept-Language, else English."""

    def __init__(self, app: Any, secure_cookies: bool) -> None:
        self.app = app
        self.secure = secure_cookies

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        chosen = request.query_params.get("lang")
        chosen = chosen if chosen in LANGUAGES else None
        remembered = request.cookies.get(LANGUAGE_COOKIE)
        language = chosen or (remembered if remembered in LANGUAGES else None) or negotiate(
            request.headers.get("accept-language"))

        async def remember(message: Any) -> None:
            if chosen and message["type"] == "http.response.start":
                cookie = (f"{LANGUAGE_COOKIE}={chosen}; Path=/; Max-Age={LANGUAGE_COOKIE_DAYS * 86400}; SameSite=Lax"
                          + ("; Secure" if self.secure else ""))
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
            await send(message)

        token = current_language.set(language)
        try:
            await self.app(scope, receive, remember)
        finally:
            current_language.reset(token)


class BadParameter(ValueError):
    pass


def _date(value: str | None, name: str, end: bool = False) -> datetime | None:
    """ISO date or date-time (UTC when no zone). A plain date as `until` means the end of that day."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"{name}: {value!r} is not an ISO date or date-time (e.g. 2026-11-01)") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if end and len(value) == 10:
        parsed += timedelta(days=1)
    return parsed


def _int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadParameter(f"{name}: {value!r} is not a whole number") from None
    if not low <= number <= high:
        raise BadParameter(f"{name}: {number} is not between {low} and {high}")
    return number


def _params(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The query parameters the page knows, non-empty ones only (kept in the paging links)."""
    return {n: request.query_params[n].strip() for n in names if request.query_params.get(n, "").strip()}


TRANSFER_PARAMS = ("company", "kind", "state", "tenant", "since", "until", "q", "per_page")
ID_PARAMS = ("kind", "company", "tenant", "q", "per_page")


def create_app(db_root: Path | str | None = None, bootstrap: str | None = None, *, auth: ConsoleAuth,
               now: Callable[[], datetime] | None = None, end_offsets: EndOffsetsFetcher | None = None,
               refresh: int | None = 30, web_links: WebLinks | None = None,
               company_settings: settings_pages.CompanySettingsSource | None = None) -> Starlette:
    """The console over the read models at `db_root`, a folder or a postgresql:// URL (default: $SEVPRO_READ_MODEL_URL,
    else the project's folder); `bootstrap` adds the lag;
    `auth` says who may sign in and which Host names are served.

    `now` and `end_offsets` are seams for tests (a fixed clock, end offsets without a broker); `refresh` is
    the overview's auto-refresh in seconds (None: off); `web_links` (default: from the settings) makes the links
    to the invoices in Severa and Procountor. Without `bootstrap` the actions are not offered. `company_settings`
    is where the companies' settings are (the settings pages change them, the registry pages compare and check
    them; None: not shown)."""
    queries = ConsoleQueries(read_models_at(db_root))
    links = web_links or WebLinks.from_settings(get_settings())
    can_act = bool(bootstrap)
    clock = now or (lambda: datetime.now(UTC))
    fetch = end_offsets or kafka_end_offsets

    def stamp() -> str:
        return clock().isoformat(timespec="seconds")

    async def lag() -> Lag | None:
        if not bootstrap:
            return None
        applied = await run_in_threadpool(lambda: queries.projector()["offsets"])
        return await measure_lag(bootstrap, {(o["topic"], o["partition"]): o["offset"] for o in applied}, fetch)

    def transfer_query(request: Request) -> tuple[TransferFilter, int, int]:
        p = request.query_params
        state = p.get("state") or None
        if state and state not in STATES:
            raise BadParameter(f"state: {state!r} is not one of {', '.join(STATES)}")
        filters = TransferFilter(tenant=p.get("tenant") or None, company=p.get("company") or None,
                                 kind=p.get("kind") or None, state=state, since=_date(p.get("since"), "since"),
                                 until=_date(p.get("until"), "until", end=True), text=p.get("q") or None)
        return filters, _int(p.get("page"), "page", 1, 1, 10**9), _int(p.get("per_page"), "per_page", 50, 1,
                                                                          MAX_PER_PAGE)

    # -- signing in ---------------------------------------------------------------------------------------
    async def login_form(request: Request) -> Response:
        return HTMLResponse(pages.login(safe_next(request.query_params.get("next")), None))

    async def login(request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
        target = safe_next(str(form.get("next") or ""))
        if not await run_in_threadpool(auth.check, name, password):
            return HTMLResponse(pages.login(target, _("Wrong user name or password."), name), status_code=401)
        request.session.clear()  # a new session (and CSRF token) for the signed-in user
        request.session["user"] = name
        csrf_token(request)
        return RedirectResponse(target, status_code=303)

    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # -- pages -------------------------------------------------------------------------------------------
    async def overview_page(request: Request) -> Response:
        data = await run_in_threadpool(queries.overview, clock())
        measured = await lag()
        no_refresh = request.query_params.get("refresh") == "0"
        return HTMLResponse(pages.overview(data, measured.as_json() if measured else None,
                                           None if no_refresh else refresh, can_act=can_act))

    async def transfers_page(request: Request) -> Response:
        filters, page, per_page = transfer_query(request)
        result = await run_in_threadpool(queries.transfer_page, filters, page, per_page)
        facets = await run_in_threadpool(queries.facets)
        return HTMLResponse(pages.transfers(result, _params(request, TRANSFER_PARAMS), facets, stamp(),
                                            can_act=can_act))

    async def record_page(request: Request) -> Response:
        ref = request.path_params["ref"]
        tenant = request.query_params.get("tenant") or None
        data = await run_in_threadpool(queries.record, ref, tenant)
        found = bool(data["transfers"] or data["history"])
        return HTMLResponse(pages.record(ref, data, tenant, stamp(), links=links, can_act=can_act),
                            status_code=200 if found else 404)

    async def ids_page(request: Request) -> Response:
        p = request.query_params
        result = await run_in_threadpool(
            queries.id_page, p.get("kind") or None, p.get("tenant") or None, p.get("company") or None,
            p.get("q") or None, _int(p.get("page"), "page", 1, 1, 10**9),
            _int(p.get("per_page"), "per_page", 50, 1, MAX_PER_PAGE))
        facets = await run_in_threadpool(queries.facets)
        return HTMLResponse(pages.id_map(result, _params(request, ID_PARAMS), facets, stamp()))

    async def search(request: Request) -> Response:
        """A number or id typed anywhere: straight to the record."""
        ref = (request.query_params.get("q") or "").strip()
        return RedirectResponse(record_url(ref) if ref else "/transfers", status_code=303)

    # -- JSON --------------------------------------------------------------------------------------------
    async def api_overview(request: Request) -> Response:
        data = await run_in_threadpool(queries.overview, clock())
        measured = await lag()
        return JSONResponse(data | {"lag": measured.as_json() if measured else None})

    async def api_transfers(request: Request) -> Response:
        filters, page, per_page = transfer_query(request)
        result = await run_in_threadpool(queries.transfer_page, filters, page, per_page)
        return JSONResponse(result.as_json())

    async def api_record(request: Request) -> Response:
        ref = request.path_params["ref"]
        data = await run_in_threadpool(queries.record, ref, request.query_params.get("tenant") or None)
        if not data["transfers"] and not data["history"]:
            return JSONResponse({"error": f"nothing is known about {ref!r}"}, status_code=404)
        return JSONResponse(data)

    async def api_ids(request: Request) -> Response:
        p = request.query_params
        result = await run_in_threadpool(
            queries.id_page, p.get("kind") or None, p.get("tenant") or None, p.get("company") or None,
            p.get("q") or None, _int(p.get("page"), "page", 1, 1, 10**9),
            _int(p.get("per_page"), "per_page", 50, 1, MAX_PER_PAGE))
        return JSONResponse(result.as_json())

    async def api_facets(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(queries.facets))

    async def metrics(request: Request) -> Response:
        measured = await lag()
        return Response(await run_in_threadpool(render, queries, measured), media_type=PROMETHEUS_TYPE)

    async def health(request: Request) -> Response:
        info = await run_in_threadpool(queries.projector)
        return JSONResponse({"ok": True, "version": info["version"], "last_event_at": info["last_event_at"]})

    # -- errors ------------------------------------------------------------------------------------------
    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    async def bad_parameter(request: Request, exc: Exception) -> Response:
        if wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=400)
        return HTMLResponse(pages.error_page(400, str(exc), stamp()), status_code=400)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if wants_json(request):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return HTMLResponse(pages.error_page(exc.status_code, str(exc.detail), stamp()), status_code=exc.status_code)

    routes = [
        Route("/login", login_form, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview_page), Route("/transfers", transfers_page), Route("/records/{ref:path}", record_page),
        Route("/ids", ids_page), Route("/search", search),
        Route("/api/overview", api_overview), Route("/api/transfers", api_transfers),
        Route("/api/records/{ref:path}", api_record), Route("/api/ids", api_ids), Route("/api/facets", api_facets),
        Route("/metrics", metrics), Route("/healthz", health),
        *actions.routes(queries, bootstrap, lambda request: transfer_query(request)[0], stamp),
        *settings_pages.routes(company_settings, stamp), *registry_pages.routes(company_settings, bootstrap, stamp),
    ]
    handlers: dict[Any, Any] = {BadParameter: bad_parameter, HTTPException: http_error}
    middleware = [  # outermost first: an unknown Host is refused before anything else is looked at
        Middleware(TrustedHostMiddleware, allowed_hosts=list(auth.allowed_hosts), www_redirect=False),
        Middleware(SessionMiddleware, secret_key=auth.session_secret, session_cookie=SESSION_COOKIE,
                   max_age=int(auth.session_hours * 3600), same_site="lax", https_only=auth.secure_cookies),
        Middleware(ChooseLanguage, secure_cookies=auth.secure_cookies),
        Middleware(RequireLogin, auth=auth),
        Middleware(actions.ShowNotice),
    ]
    app = Starlette(routes=routes, exception_handlers=handlers, middleware=middleware)
    app.state.queries = queries
    return app
