"""What a signed-in user can do from the console: request transfers again, as `sevpro reprocess` does.

- Retry one failed record (its page's button),
- retry the transient failures of a company (the overview's button: `sevpro reprocess --company C --tenant T`),
- reprocess a selection of the transfer log, after a page that lists it and asks to confirm.

Each one makes its requests with `projections.reprocess` (`select` / `requests_again`, sent by `publish`: the
same functions as the command line and the worker's retry), with the signed-in user as `requested_by`, so the
record's history says who asked. Every action is a POST; console.auth has already refused it without a session
(to the sign-in page, or 401 under /api/) or without the session's CSRF token (403) before it gets here.
A button used twice before the projector has seen the first request sends the same request id again, which
the transfer agent takes as one request.

The pages answer with a redirect (POST/redirect/GET) and a notice shown once on the next page; the same actions
under /api/actions/... answer JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import KafkaError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from console import pages
from console.auth import current_user
from console.html import current_notice, record_url, url
from console.queries import ConsoleQueries, TransferFilter
from foundation.i18n import _
from foundation.logs import get_logger
from projections import reprocess

log = get_logger(__name__)

#: The most records one Reprocess sends (the confirmation lists them all).
MAX_REPROCESS = 500
NOTICE_KEY = "notice"


Publish = Callable[[str, list[dict[str, Any]]], Awaitable[None]]
FilterOf = Callable[[Request], TransferFilter]


class ShowNotice:
    """ASGI middleware (inside the session): hands the last action's notice to the next page, once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        page_view = scope["type"] == "http" and scope["method"] == "GET" and not scope["path"].startswith(
            ("/api/", "/metrics", "/healthz"))
        notice = scope.get("session", {}).pop(NOTICE_KEY, None) if page_view else None
        token = current_notice.set(notice if isinstance(notice, str) else None)
        try:
            await self.app(scope, receive, send)
        finally:
            current_notice.reset(token)


class ActionRefused(Exception):
    """Nothing was requested, and why (the status says whether the request or the record is the problem)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def routes(queries: ConsoleQueries, bootstrap: str | None, filter_of: FilterOf, stamp: Callable[[], str],
           publish: Publish = reprocess.publish) -> list[Route]:
    """The action routes; `filter_of` reads the transfer log's filters from a request's query string (the same
    parser as /transfers), so a selection means the same on the list, the confirmation and the POST."""

    def user() -> str:
        name = current_user.get()
        assert name, "console.auth lets no action through without a signed-in user"
        return name

    async def send(requests: list[dict[str, Any]], action: str) -> list[str]:
        if requests:
            if not bootstrap:
                raise ActionRefused(503, _("The console was started without --bootstrap, so it cannot reach Kafka:"
                                           " nothing was requested."))
            try:
                await publish(bootstrap, requests)
            except (KafkaError, OSError) as error:
                log.error("console action not sent", action=action, user=user(), error=f"{type(error).__name__}")
                raise ActionRefused(503, _("Kafka did not take the requests ({e}); try again. The record's history"
                                           " shows what was requested.").format(e=type(error).__name__)) from None
        ids = [r["event_id"] for r in requests]
        log.info("console action", action=action, user=user(), requested=len(ids), request_ids=ids[:20])
        return ids

    def answer(request: Request, requested: list[str], notice: str, then: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"requested": requested, "requested_by": user()})
        request.session[NOTICE_KEY] = notice
        return RedirectResponse(then, status_code=303)

    def refused(request: Request, refusal: ActionRefused) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(refusal)}, status_code=refusal.status)
        return HTMLResponse(pages.error_page(refusal.status, str(refusal), stamp()), status_code=refusal.status)

    def acting(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except ActionRefused as refusal:
                return refused(request, refusal)
        return run

    async def field(request: Request, *names: str) -> list[str]:
        form = await request.form()
        values = [str(form.get(name) or "").strip() for name in names]
        missing = [name for name, value in zip(names, values, strict=True) if not value]
        if missing:
            raise ActionRefused(400, _("Missing form field: {f}").format(f=", ".join(missing)))
        return values

    # -- one record -----------------------------------------------------------------------------------------
    async def retry(request: Request) -> Response:
        tenant, kind, source_id = await field(request, "tenant", "kind", "source_id")

        def prepare() -> list[dict[str, Any]]:
            entry = queries.store.transfer(tenant, kind, source_id)
            if entry is None:
                raise ActionRefused(404, _("Nothing is known about {k} {r} of {t}.").format(k=kind, r=source_id,
                                                                                            t=tenant))
            if entry["state"] not in pages.RETRIABLE_STATES:
                raise ActionRefused(409, _("Nothing to retry: the record is {s}.").format(s=entry["state"]))
            requests = reprocess.requests_again(queries.store, [entry], user())
            if not requests:
                raise ActionRefused(409, _("Nothing to retry: no request of this record is known to send again."))
            return requests

        requested = await send(await run_in_threadpool(prepare), "retry")
        notice = _("Requested again by {u}: {r}. The worker transfers it; this page shows the outcome as soon as"
                   " it is known.").format(u=user(), r=", ".join(requested))
        return answer(request, requested, notice, record_url(source_id, tenant))

    # -- a company's transient failures -------------------------------------------------------------------
    async def retry_company(request: Request) -> Response:
        tenant, company = await field(request, "tenant", "company")
        requests = await run_in_threadpool(lambda: reprocess.select(
            queries.store, state="failed-transient", company=company, tenant=tenant, requested_by=user()))
        requested = await send(requests, "retry-company")
        notice = _("Requested again by {u}: transient failures of {c}, {n} in all.").format(
            u=user(), n=len(requested), c=company)
        return answer(request, requested, notice, url("/transfers", {"tenant": tenant, "company": company,
                                                                     "state": "failed-transient"}))

    # -- a selection, confirmed ---------------------------------------------------------------------------
    def selection(filters: TransferFilter) -> tuple[int, list[dict[str, Any]]]:
        result = queries.transfer_page(filters, 1, MAX_REPROCESS)
        return result.total, result.items

    async def confirm_page(request: Request) -> Response:
        filters = filter_of(request)
        total, entries = await run_in_threadpool(selection, filters)
        params = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page", "lang") and v}
        if request.url.path.startswith("/api/"):
            return JSONResponse({"total": total, "limit": MAX_REPROCESS, "records": [
                {"record": [e["tenant"], e["kind"], e["severa_id"]], "tenant": e["tenant"], "company": e["company"],
                 "kind": e["kind"], "source_id": e["severa_id"], "source_number": e["severa_number"],
                 "state": e["state"]} for e in entries]})
        return HTMLResponse(pages.reprocess_confirm(entries, total, MAX_REPROCESS, params, stamp()))

    async def reprocess_selection(request: Request) -> Response:
        filters = filter_of(request)
        form = await request.form()
        chosen = {_record_key(value) for value in form.getlist("record")}
        if not chosen:
            raise ActionRefused(400, _("Missing form field: {f}").format(f="record"))

        def prepare() -> tuple[list[dict[str, Any]], int]:
            # Only what was listed and still matches: a record that changed meanwhile is left out, not sent.
            _total, entries = selection(filters)
            still = [e for e in entries if (e["tenant"], e["kind"], e["severa_id"]) in chosen]
            return reprocess.requests_again(queries.store, still, user()), len(chosen) - len(still)

        requests, left_out = await run_in_threadpool(prepare)
        requested = await send(requests, "reprocess")
        notice = _("Requested again by {u}: records of the selection, {n} in all.").format(u=user(), n=len(requested))
        if left_out:
            notice += " " + _("Left out because they no longer match the filter: {n}.").format(n=left_out)
        params = {k: v for k, v in request.query_params.items() if k not in ("page", "lang") and v}
        return answer(request, requested, notice, url("/transfers", params))

    return [
        Route("/actions/retry", acting(retry), methods=["POST"]),
        Route("/api/actions/retry", acting(retry), methods=["POST"]),
        Route("/actions/retry-company", acting(retry_company), methods=["POST"]),
        Route("/api/actions/retry-company", acting(retry_company), methods=["POST"]),
        Route("/actions/reprocess", acting(confirm_page), methods=["GET"]),
        Route("/api/actions/reprocess", acting(confirm_page), methods=["GET"]),
        Route("/actions/reprocess", acting(reprocess_selection), methods=["POST"]),
        Route("/api/actions/reprocess", acting(reprocess_selection), methods=["POST"]),
    ]


def _record_key(value: Any) -> tuple[str, str, str]:
    """A `record` value of the confirmation form (console.pages.record_key) as (tenant, kind, source id)."""
    try:
        tenant, kind, source_id = json.loads(str(value))
        return str(tenant), str(kind), str(source_id)
    except (ValueError, TypeError):
        raise ActionRefused(400, _("record: '{v}' is not a record of the list").format(v=str(value)[:80])) from None
