"""Async client for the Visma Severa REST API (v1): the only code that speaks HTTP to Severa.

    async with SeveraClient("https://api.severa.visma.com/rest-api", client_id, client_secret) as severa:
        status = await severa.find_invoice_status("Waiting for transfer to Procountor")
        async for invoice in severa.iter_invoices(status_guids=[status["guid"]], changed_since=since):
            rows = await severa.get_invoice_rows(invoice["guid"])

- ``base_url`` is the API root that the ``/v1/...`` paths hang from (production
  ``https://api.severa.visma.com/rest-api``; the sandbox ``http://127.0.0.1:<port>/rest-api``).
- Token from ``POST /v1/token`` (client credentials + scopes), refreshed with ``/v1/refreshtoken`` shortly
  before it expires (falling back to a fresh login); one re-login when a call answers 401.
- Requests are paced at ``requests_per_second`` (aiolimiter, default 8 < Severa's 10/s quota), with a burst of up
  to 3 after a quiet spell where the quota leaves room (``severa_pacer``).
  429 honours ``Retry-After`` when sent, for every request of the client, which then leave at the pace
  (``hold_pacer``), else exponential backoff with jitter; 5xx, timeouts and connection
  errors are retried likewise, at most ``max_retries`` times, then ``SeveraTransientError``
  (``SeveraRateLimited`` for 429). Creates (POST) are repeated only when the request surely did not take
  effect (429, connection refused): Severa has no idempotency keys, so after a 5xx/timeout on a create the
  error carries ``maybe_applied=True``. PATCH (JSON Patch ``replace``) is idempotent and always retried.
- ``scopes`` defaults to ``DEFAULT_SCOPES`` (what the integration needs); the create methods used by tests
  and the demo to put data in also need ``customers:write``, ``projects:write``, ``settings:write``,
  ``hours:write`` or ``users:write``.
- Reads return the JSON exactly as Severa returned it (dicts in Severa's camelCase), because the integration
  snapshots it verbatim. Errors are typed (``connectors.severa.errors``).
- ``calls`` counts HTTP requests per ``"METHOD path-template"`` (retries and token requests included).
- Tokens and the client secret never appear in logs, reprs or exception messages.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from connectors.errors import ContentTooLarge
from connectors.http_transport import AiohttpTransport
from connectors.prepared_urls import PreparedUrls
from connectors.tls import shared_tls_context
from foundation.exact_json import dumps, loads
from foundation.types import Json

from .errors import (
    SeveraAuthError,
    SeveraError,
    SeveraTransientError,
    error_from_response,
)

log = logging.getLogger(__name__)

PdfOption = Literal["All", "InvoiceOnly", "AttachmentAndBreakdown"]

#: The scopes the integration needs (reference §2.5); request only these.
DEFAULT_SCOPES: tuple[str, ...] = (
    "invoices:read",
    "invoices:write",
    "files:read",
    "settings:read",
    "customers:read",
    "projects:read",
    "users:read",
    "travels:read",
    "travels:write",
    "fees:read",
    "fees:write",
    "fees:delete",
    "organization:read",
)
PAGE_SIZE = 100  # the spec's "maximum 100" on token-paged lists
SATURATION_WINDOW = 5.0  # seconds over which the requests' waits at the pacer are summed


SEVERA_QUOTA = 10.0  # requests a second (severa-api.md §3.6: "maximum admitted 10 per 1s")
IDLE_BURST = 3  # requests an idle client may send at once


def hold_pacer(pacer: AsyncLimiter, seconds: float) -> None:
    """After a 429 with Retry-After: no request leaves the pacer for `seconds`, and then they leave at its pace,
    as if the bucket had filled up for that long (it leaks its level at the rate). Before, the requests that
    passed the pacer during the hold waited it out past it and went all at once when it ended: more than the
    quota in one second, a 429 again, a hold again (100 429s in one benchmark drain)."""
    pacer._leak()  # aiolimiter's level as of now (streams.runtime.Pace reads and sets the same)
    pacer._level = max(pacer._level, pacer.max_rate - 1 + seconds * pacer._rate_per_sec)


def severa_pacer(requests_per_second: float) -> AsyncLimiter:
    """A token bucket filled at `requests_per_second`, holding up to `IDLE_BURST` tokens while the pacing leaves
    room under Severa's quota: after a quiet spell an invoice's few calls go at once instead of one per 1/rps
    (0.2 s at 5/s, four times over before its create), and no 1-second window sees more than rps + burst
    requests, within the 10 the quota admits. Under a backlog the bucket is empty and the rate is rps. At 9.5/s
    the burst is 1: requests evenly spaced."""
    burst = max(1, min(IDLE_BURST, int(SEVERA_QUOTA - requests_per_second)))
    return AsyncLimiter(burst, burst / requests_per_second)


class PacerLoad:
    """How long this client's requests waited at its pacer lately. Waits adding up to the window's length mean
    that on average a request was always queued: the budget is saturated (a backlog), not merely in use (an idle
    invoice's few calls wait a fraction of a second in all)."""

    def __init__(self, window: float = SATURATION_WINDOW) -> None:
        self.window = window
        self._waits: collections.deque[tuple[float, float]] = collections.deque()  # (monotonic end, seconds)
        # Their sum, kept as they come and go: every poll round asks (`saturated`), and under a backlog the window
        # holds a request's wait for each of the last 5 s of requests (summing them each time was 2 % of a worker).
        self._sum = 0.0

    def note(self, waited: float, at: float) -> None:
        if waited > 0:
            self._waits.append((at, waited))
            self._sum += waited

    def waited(self, at: float | None = None) -> float:
        """Seconds the requests that got through within the window before `at` (now) waited, summed."""
        at = time.monotonic() if at is None else at
        while self._waits and self._waits[0][0] < at - self.window:
            self._sum -= self._waits.popleft()[1]
        if not self._waits:
            self._sum = 0.0  # no rounding left over
        return self._sum

    def saturated(self, at: float | None = None) -> bool:
        return self.waited(at) >= self.window

OFFSET_PAGE_SIZE = 100
# Changed-since reads that many transfers wait on go ahead of the per-invoice calls queued at the pacer: the
# invoice poller's (it answers the transfers' checks under a backlog, see invoice_reads.py) and the row mirror's.
# Under a backlog each of them, queued behind every transfer's call, held dozens of transfers as long again.
# aiolimiter (1.3, pinned) wakes its waiters smallest amount first, so these ask for a hair less than a request.
# Not the checks' own `?numbers=` read: its batch is what gathers while the previous one is under way.
SHARED_READS = frozenset({"/v1/invoices", "/v1/invoicerows"})
SHARED_READ = 0.999


def _shared_read(method: str, template: str, params: Mapping[str, Any] | None) -> bool:
    return (method == "GET" and template in SHARED_READS and (params or {}).get("changedSince") is not None
            and not (params or {}).get("numbers"))


class _Retry(Exception):
    """Internal: a failed attempt that may be repeated after ``delay`` (None = backoff)."""

    def __init__(self, error: SeveraError, delay: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay


def _param_datetime(value: datetime | date | str | None) -> str | None:
    """A DateTimeOffset query value; naive datetimes are taken as UTC (httpx encodes '+' as %2B)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, (parsed - datetime.now(UTC)).total_seconds()) if parsed else None


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop None values; lists are sent as repeated keys (``style: form, explode: true``)."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | tuple | set):
            if value:
                out[key] = [str(v) for v in value]
        elif isinstance(value, datetime | date):
            out[key] = _param_datetime(value)
        else:
            out[key] = value
    return out


class SeveraClient:
    """Typed async access to the Severa operations the integration uses."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        scopes: list[str] | None = None,
        requests_per_second: float = 8.0,
        limiter: AsyncLimiter | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_initial: float = 0.25,
        backoff_max: float = 30.0,
        retry_writes: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.scopes = list(scopes) if scopes is not None else list(DEFAULT_SCOPES)
        self.max_retries = max_retries
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.retry_writes = retry_writes
        self.calls: collections.Counter[str] = collections.Counter()
        # `limiter` instead: a pacer the caller adjusts (a pool worker's share of the client's limit).
        self._limiter = limiter or severa_pacer(requests_per_second)
        self.load = PacerLoad()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport or AiohttpTransport(shared_tls_context()),
            verify=shared_tls_context(),
            headers={"Client_Id": client_id},  # Accept per request: JSON, or a download's own type
        )
        self._token: str | None = None
        self._token_type = "Bearer"
        self._refresh_token: str | None = None
        self._expires_at = 0.0
        self._refresh_margin = 60.0
        self._token_lock = asyncio.Lock()
        self._urls = PreparedUrls(self._http)

    def saturated(self) -> bool:
        """The pacer is the bottleneck now (see `PacerLoad`): the pollers slow down and the invoice reads wait
        for the invoice poller's pages rather than spend calls of their own."""
        return self.load.saturated()

    def __repr__(self) -> str:  # never show credentials
        return f"SeveraClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    async def __aenter__(self) -> SeveraClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ transport

    async def _send_once(
        self,
        method: str,
        template: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        authenticated: bool = True,
        max_bytes: int | None = None,
        accept: str = "application/json",
    ) -> httpx.Response:
        """One HTTP exchange; raises ``_Retry`` for what may be repeated, typed errors otherwise (a successful
        answer over ``max_bytes`` is ``ContentTooLarge``)."""
        headers = {"Accept": accept}
        content = None
        if json_body is not None:
            # Decimals (money read exactly, foundation.exact_json) are written as the same JSON numbers.
            content = dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        if authenticated:
            headers["Authorization"] = f"{self._token_type} {await self._access_token()}"
        # Token calls are safe to repeat; other POSTs create something and are not.
        is_create = method == "POST" and template not in ("/v1/token", "/v1/refreshtoken")
        queued = time.monotonic()
        await self._limiter.acquire(SHARED_READ if _shared_read(method, template, params) else 1.0)
        self.load.note(time.monotonic() - queued, time.monotonic())
        self.calls[f"{method} {template}"] += 1
        request = self._http.build_request(method, self._urls.url(template, path, _clean(params)), content=content,
                                           headers=headers)
        try:
            # Streamed, so that a download is stopped at `max_bytes` rather than read whole first.
            response = await self._http.send(request, stream=True)
            try:
                response = await _read_body(response, max_bytes, f"{method} {template}")
            finally:
                await response.aclose()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the server: safe to repeat, also for creates.
            raise _Retry(self._transient(f"connection failed: {type(exc).__name__}", method, template)) from exc
        except httpx.TransportError as exc:  # every other transport error (timeouts included) leaves as ours
            lost = self._transient(f"{type(exc).__name__} during request", method, template, maybe=is_create)
            if is_create and not self.retry_writes:
                raise lost from exc
            raise _Retry(lost) from exc
        if response.status_code < 400:
            return response
        error = error_from_response(
            response.status_code,
            response.content,
            method=method,
            path=template,
            retry_after=_retry_after(response),
        )
        if response.status_code == 429:
            delay = getattr(error, "retry_after", None)
            if delay is not None:  # back off together: every request of this client waits it out
                hold_pacer(self._limiter, min(delay, self.backoff_max))
            raise _Retry(error, delay=delay)
        if response.status_code >= 500:
            assert isinstance(error, SeveraTransientError)
            error.maybe_applied = is_create
            if is_create and not self.retry_writes:
                raise error
            raise _Retry(error)
        raise error

    def _transient(self, message: str, method: str, template: str, *, maybe: bool = False) -> SeveraTransientError:
        return SeveraTransientError(message, method=method, path=template, maybe_applied=maybe)

    def _wait(self, retry_state: Any) -> float:
        backoff = wait_exponential_jitter(
            multiplier=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
        )(retry_state)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, _Retry) and exc.delay is not None:
            return min(exc.delay, self.backoff_max)
        return backoff

    async def _send(
        self,
        method: str,
        template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        authenticated: bool = True,
        max_bytes: int | None = None,
        accept: str = "application/json",
    ) -> httpx.Response:
        """Send with pacing, bounded retries and one re-login on 401."""
        path = template.format(**{k: quote(str(v), safe="") for k, v in (path_params or {}).items()})
        relogged = False
        while True:
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception_type(_Retry),
                    stop=stop_after_attempt(self.max_retries + 1),
                    wait=self._wait,
                    reraise=True,
                ):
                    with attempt:
                        return await self._send_once(
                            method,
                            template,
                            path,
                            params=params,
                            json_body=json_body,
                            authenticated=authenticated,
                            max_bytes=max_bytes,
                            accept=accept,
                        )
            except _Retry as exhausted:
                log.warning("severa %s %s gave up after %d attempts", method, template, self.max_retries + 1)
                raise exhausted.error from None
            except SeveraAuthError:
                if not authenticated or relogged:
                    raise
                # The token was revoked or expired early: log in again once, then repeat.
                relogged = True
                self._token = None
                self._refresh_token = None

    async def _json(self, method: str, template: str, **kwargs: Any) -> Any:
        response = await self._send(method, template, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return loads(response.content)  # money as Decimal, never a binary float

    # ---------------------------------------------------------------------- token

    async def _access_token(self) -> str:
        if self._token is not None and time.monotonic() < self._expires_at - self._refresh_margin:
            return self._token
        async with self._token_lock:
            if self._token is not None and time.monotonic() < self._expires_at - self._refresh_margin:
                return self._token
            if self._refresh_token is not None:
                try:
                    await self._refresh()
                except SeveraError:
                    log.info("severa token refresh failed; logging in again")
                    await self._login()
            else:
                await self._login()
            assert self._token is not None
            return self._token

    def _store_token(self, body: Json) -> None:
        lifetime = float(body.get("access_token_expires_in") or 0)
        self._token = str(body["access_token"])
        self._token_type = str(body.get("access_token_type") or "Bearer")
        self._refresh_token = body.get("refresh_token")
        self._expires_at = time.monotonic() + lifetime
        # Refresh early: 60 s on real lifetimes, a fifth of very short (test) lifetimes.
        self._refresh_margin = min(60.0, lifetime / 5)

    async def _login(self) -> None:
        body = await self._json(
            "POST",
            "/v1/token",
            json_body={
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "scope": ",".join(self.scopes),
            },
            authenticated=False,
        )
        self._store_token(body)
        log.info("severa token obtained for client %s", self.client_id)

    async def _refresh(self) -> None:
        body = await self._json("POST", "/v1/refreshtoken", json_body=self._refresh_token, authenticated=False)
        self._store_token(body)
        log.info("severa token refreshed for client %s", self.client_id)

    # --------------------------------------------------------------------- paging

    async def iter_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        path_params: Mapping[str, str] | None = None,
        row_count: int = PAGE_SIZE,
    ) -> AsyncIterator[Json]:
        """Items of a token-paged list, following ``NextPageToken`` until the header is absent.

        ``path`` is the template (``/v1/invoices/{invoiceGuid}/invoicerows``) filled from ``path_params``.
        The original filters are re-sent with every page, as Severa expects.
        """
        query = dict(params or {})
        query["rowCount"] = row_count
        while True:
            response = await self._send("GET", path, path_params=path_params, params=query)
            for item in loads(response.content):
                yield item
            token = response.headers.get("NextPageToken")
            if not token:
                return
            query["pageToken"] = token

    async def iter_offset(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        path_params: Mapping[str, str] | None = None,
        row_count: int = OFFSET_PAGE_SIZE,
    ) -> AsyncIterator[Json]:
        """Items of an offset-paged list (``firstRow``/``rowCount``), until a short page."""
        first = 0
        while True:
            query = dict(params or {}) | {"firstRow": first, "rowCount": row_count}
            page = await self._json("GET", path, path_params=path_params, params=query)
            for item in page:
                yield item
            if len(page) < row_count:
                return
            first += row_count

    async def _all(self, iterator: AsyncIterator[Json]) -> list[Json]:
        return [item async for item in iterator]

    async def _get(self, template: str, **path_params: str) -> Json:
        return await self._json("GET", template, path_params=path_params)

    async def _bytes(self, template: str, params: Mapping[str, Any] | None = None, *, max_bytes: int | None = None,
                     accept: str, **path_params: str) -> bytes:
        """A binary download, asking for its own type, not JSON."""
        response = await self._send("GET", template, path_params=path_params, params=params, max_bytes=max_bytes,
                                    accept=accept)
        return response.content

    async def _create(self, template: str, body: Mapping[str, Any], **path_params: str) -> Any:
        return await self._json("POST", template, path_params=path_params, json_body=dict(body))

    async def _patch(self, template: str, guid: str, operations: list[Json]) -> Json:
        result = await self._json("PATCH", template, path_params={"guid": guid}, json_body=operations)
        # Severa answers PATCH with an array holding the updated model.
        return result[0] if isinstance(result, list) and result else result

    @staticmethod
    def replace_ops(changes: Mapping[str, Any]) -> list[Json]:
        """JSON Patch ``replace`` operations from {"/path": value}."""
        return [{"op": "replace", "path": path, "value": value} for path, value in changes.items()]

    # ------------------------------------------------------------------- invoices

    def iter_invoices(
        self,
        *,
        status_guids: Iterable[str] | None = None,
        changed_since: datetime | str | None = None,
        customer_guids: Iterable[str] | None = None,
        project_guids: Iterable[str] | None = None,
        numbers: Iterable[int] | None = None,
        row_count: int = PAGE_SIZE,
    ) -> AsyncIterator[Json]:
        """``GET /v1/invoices`` filtered by status guids and ``changedSince`` (>=), all pages of ``row_count``."""
        return self.iter_pages(
            "/v1/invoices",
            {
                "invoiceStatusGuids": list(status_guids or []),
                "changedSince": _param_datetime(changed_since),
                "customerGuids": list(customer_guids or []),
                "projectGuids": list(project_guids or []),
                "numbers": list(numbers or []),
            },
            row_count=row_count,
        )

    async def list_invoices(self, **filters: Any) -> list[Json]:
        """All invoices matching ``iter_invoices`` filters."""
        return await self._all(self.iter_invoices(**filters))

    async def get_invoice(self, invoice_guid: str) -> Json:
        return await self._get("/v1/invoices/{guid}", guid=invoice_guid)

    async def get_invoice_rows(self, invoice_guid: str) -> list[Json]:
        return await self._all(
            self.iter_pages("/v1/invoices/{invoiceGuid}/invoicerows", path_params={"invoiceGuid": invoice_guid})
        )

    def iter_invoice_rows(self, *, changed_since: datetime | str | None = None) -> AsyncIterator[Json]:
        """``GET /v1/invoicerows``: rows of every invoice (each with its ``invoiceGuid``), changed since (>=)."""
        return self.iter_pages("/v1/invoicerows", {"changedSince": _param_datetime(changed_since)})

    async def get_invoice_row_sources(
        self, invoice_row_guid: str, kinds: tuple[str, ...] = ("workhours", "projectfees", "projecttravelexpenses")
    ) -> dict[str, list[Json]]:
        """The hours, fees and/or travel expenses behind one invoice row (their work type/product codes)."""
        out: dict[str, list[Json]] = {}
        for kind in kinds:
            out[kind] = await self._all(
                self.iter_pages(
                    "/v1/invoicerows/{invoiceRowGuid}/" + kind,
                    path_params={"invoiceRowGuid": invoice_row_guid},
                )
            )
        return out

    async def list_invoice_statuses(self) -> list[Json]:
        return await self._all(self.iter_offset("/v1/invoicestatuses"))

    async def find_invoice_status(self, name: str) -> Json | None:
        """The invoice status with this exact name, or None."""
        return next((s for s in await self.list_invoice_statuses() if s.get("name") == name), None)

    async def get_invoice_pdf(
        self, invoice_guid: str, *, pdf_get_options: PdfOption = "All", invoice_type: str = "Invoice",
        max_bytes: int | None = None,
    ) -> bytes:
        """``GET /v1/invoices/{guid}/pdf``: ``All`` = PDF with attachments, ``AttachmentAndBreakdown`` =
        breakdown and attachments without the invoice image, ``InvoiceOnly``. Over ``max_bytes``:
        ``ContentTooLarge`` (the download stops there)."""
        return await self._bytes(
            "/v1/invoices/{guid}/pdf",
            {"pdfGetOptions": pdf_get_options, "invoiceType": invoice_type},
            max_bytes=max_bytes,
            accept="application/pdf",
            guid=invoice_guid,
        )

    async def list_invoice_files(self, invoice_guid: str) -> list[Json]:
        return await self._all(
            self.iter_offset("/v1/invoices/{invoiceGuid}/files", path_params={"invoiceGuid": invoice_guid})
        )

    async def get_invoice_settings(self, invoice_guid: str) -> Json:
        """``GET /v1/invoices/{invoiceGuid}/invoicesettings`` (InvoiceSettingsOutputModel: row groupings etc.)."""
        return await self._json(
            "GET", "/v1/invoices/{invoiceGuid}/invoicesettings", path_params={"invoiceGuid": invoice_guid}
        )

    async def get_file(self, file_guid: str) -> Json:
        return await self._get("/v1/files/{guid}", guid=file_guid)

    async def get_file_data(self, file_guid: str, *, max_bytes: int | None = None) -> bytes:
        """Binary content of a file (e.g. an invoice attachment's ``fileGuid``); ``ContentTooLarge`` over
        ``max_bytes``."""
        return await self._bytes("/v1/files/{guid}/filedata", max_bytes=max_bytes, accept="*/*",  # any file type
                                 guid=file_guid)

    async def set_invoice_status(self, invoice_guid: str, status_guid: str) -> Json:
        """Write-back: move the invoice to another status (e.g. "Transferred to Procountor")."""
        return await self._patch("/v1/invoices/{guid}", invoice_guid, self.replace_ops({"/status/guid": status_guid}))

    async def patch_invoice(self, invoice_guid: str, changes: Mapping[str, Any]) -> Json:
        """Replace fields of an invoice, e.g. ``{"/paymentDate": "2026-11-25"}``."""
        return await self._patch("/v1/invoices/{guid}", invoice_guid, self.replace_ops(changes))

    async def create_invoices(
        self,
        project_guids: Iterable[str],
        *,
        status_guid: str | None = None,
        invoice_date: date | str | None = None,
        billing_customer_guid: str | None = None,
        group_projects: bool = False,
    ) -> list[Json]:
        """``POST /v1/invoices``: invoice the projects' uninvoiced billable items (one invoice per project
        unless ``group_projects``)."""
        body: Json = {"projects": [{"guid": g} for g in project_guids], "groupProjects": group_projects}
        if status_guid:
            body["invoiceStatusGuid"] = status_guid
        if billing_customer_guid:
            body["billingCustomerGuid"] = billing_customer_guid
        if invoice_date is not None:
            body["date"] = invoice_date if isinstance(invoice_date, str) else invoice_date.isoformat()
        return await self._create("/v1/invoices", body)

    # ----------------------------------------------------------------- customers

    def iter_customers(
        self,
        *,
        changed_since: datetime | str | None = None,
        numbers: Iterable[int] | None = None,
        vat_number: str | None = None,
    ) -> AsyncIterator[Json]:
        return self.iter_pages(
            "/v1/customers",
            {
                "changedSince": _param_datetime(changed_since),
                "numbers": list(numbers or []),
                "vatNumber": vat_number,
            },
        )

    async def list_customers(self, **filters: Any) -> list[Json]:
        return await self._all(self.iter_customers(**filters))

    async def get_customer(self, customer_guid: str) -> Json:
        return await self._get("/v1/customers/{guid}", guid=customer_guid)

    async def get_customer_addresses(self, customer_guid: str) -> list[Json]:
        return await self._all(
            self.iter_offset("/v1/customers/{customerGuid}/addresses", path_params={"customerGuid": customer_guid})
        )

    def iter_addresses(self, *, changed_since: datetime | str | None = None) -> AsyncIterator[Json]:
        """``GET /v1/addresses``: every customer's addresses (each with its ``customer``), changed since (>=)."""
        return self.iter_offset("/v1/addresses", {"changedSince": _param_datetime(changed_since)})

    async def get_customer_contact_persons(self, customer_guid: str) -> list[Json]:
        return await self._all(
            self.iter_offset("/v1/customers/{customerGuid}/contactpersons", path_params={"customerGuid": customer_guid})
        )

    async def create_customer(self, customer: Mapping[str, Any]) -> Json:
        return await self._create("/v1/customers", customer)

    async def create_customer_address(self, customer_guid: str, address: Mapping[str, Any]) -> Json:
        return await self._create("/v1/customers/{customerGuid}/addresses", address, customerGuid=customer_guid)

    async def create_contact_person(self, contact: Mapping[str, Any]) -> Json:
        return await self._create("/v1/contactpersons", contact)

    # ------------------------------------------------------ products and settings

    async def list_products(
        self, *, changed_since: datetime | str | None = None, code: str | None = None
    ) -> list[Json]:
        return await self._all(
            self.iter_pages("/v1/products", {"changedSince": _param_datetime(changed_since), "code": code})
        )

    async def get_product(self, product_guid: str) -> Json:
        return await self._get("/v1/products/{guid}", guid=product_guid)

    async def create_product(self, product: Mapping[str, Any]) -> Json:
        return await self._create("/v1/products", product)

    async def list_work_types(self, *, changed_since: datetime | str | None = None) -> list[Json]:
        return await self._all(self.iter_offset("/v1/worktypes", {"changedSince": _param_datetime(changed_since)}))

    async def create_work_type(self, work_type: Mapping[str, Any]) -> Json:
        return await self._create("/v1/worktypes", work_type)

    async def list_travel_expense_types(self, *, changed_since: datetime | str | None = None) -> list[Json]:
        return await self._all(
            self.iter_offset("/v1/travelexpensetypes", {"changedSince": _param_datetime(changed_since)})
        )

    async def create_travel_expense_type(self, travel_expense_type: Mapping[str, Any]) -> Json:
        return await self._create("/v1/travelexpensetypes", travel_expense_type)

    async def list_cost_centers(self, *, changed_since: datetime | str | None = None) -> list[Json]:
        return await self._all(self.iter_offset("/v1/costcenters", {"changedSince": _param_datetime(changed_since)}))

    async def create_cost_center(self, cost_center: Mapping[str, Any]) -> Json:
        return await self._create("/v1/costcenters", cost_center)

    async def list_business_units(self, *, changed_since: datetime | str | None = None) -> list[Json]:
        return await self._all(self.iter_offset("/v1/businessunits", {"changedSince": _param_datetime(changed_since)}))

    async def create_business_unit(self, business_unit: Mapping[str, Any]) -> Json:
        return await self._create("/v1/businessunits", business_unit)

    async def list_sales_accounts(self) -> list[Json]:
        return await self._all(self.iter_offset("/v1/salesaccounts"))

    async def create_sales_account(self, account: Mapping[str, Any]) -> Json:
        return await self._create("/v1/salesaccounts", account)

    async def list_bank_accounts(self, *, company_guid: str | None = None) -> list[Json]:
        return await self._all(self.iter_offset("/v1/bankaccounts", {"companyGuid": company_guid}))

    async def list_vat_rates(self) -> list[Json]:
        return await self._json("GET", "/v1/vatrates")

    async def get_organization_details(self) -> Json:
        return await self._get("/v1/organizationdetails")

    # ------------------------------------------------------------------- projects

    def iter_projects(self, *, changed_since: datetime | str | None = None) -> AsyncIterator[Json]:
        return self.iter_pages("/v1/projects", {"changedSince": _param_datetime(changed_since)})

    async def list_projects(self, *, changed_since: datetime | str | None = None) -> list[Json]:
        return await self._all(self.iter_projects(changed_since=changed_since))

    async def get_project(self, project_guid: str) -> Json:
        return await self._get("/v1/projects/{guid}", guid=project_guid)

    async def create_project(self, project: Mapping[str, Any]) -> Json:
        return await self._create("/v1/projects", project)

    async def patch_project(self, project_guid: str, changes: Mapping[str, Any]) -> Json:
        return await self._patch("/v1/projects/{guid}", project_guid, self.replace_ops(changes))

    async def list_phases(self, *, project_guids: Iterable[str] | None = None) -> list[Json]:
        return await self._all(self.iter_pages("/v1/phases", {"projectGuids": list(project_guids or [])}))

    async def create_work_hour(self, work_hour: Mapping[str, Any]) -> Json:
        return await self._create("/v1/workhours", work_hour)

    # --------------------------------------------------------------- project fees

    async def create_project_fee(self, fee: Mapping[str, Any]) -> Json:
        """``POST /v1/projectfees`` (a purchase-invoice row as a project cost); returns the created fee."""
        result = await self._create("/v1/projectfees", fee)
        return result[0] if isinstance(result, list) and result else result

    async def get_project_fee(self, fee_guid: str) -> Json:
        return await self._get("/v1/projectfees/{guid}", guid=fee_guid)

    async def patch_project_fee(self, fee_guid: str, changes: Mapping[str, Any]) -> Json:
        return await self._patch("/v1/projectfees/{guid}", fee_guid, self.replace_ops(changes))

    async def delete_project_fee(self, fee_guid: str) -> None:
        await self._send("DELETE", "/v1/projectfees/{guid}", path_params={"guid": fee_guid})

    async def list_project_fees(
        self, *, project_guid: str | None = None, changed_since: datetime | str | None = None
    ) -> list[Json]:
        if project_guid is not None:
            return await self._all(
                self.iter_pages("/v1/projects/{projectGuid}/projectfees", path_params={"projectGuid": project_guid})
            )
        return await self._all(self.iter_pages("/v1/projectfees", {"changedSince": _param_datetime(changed_since)}))

    # ---------------------------------------------------------------------- users

    def iter_users(self, *, changed_since: datetime | str | None = None) -> AsyncIterator[Json]:
        return self.iter_pages("/v1/users", {"changedSince": _param_datetime(changed_since)})

    async def list_users(self, *, changed_since: datetime | str | None = None) -> list[Json]:
        return await self._all(self.iter_users(changed_since=changed_since))

    async def get_user(self, user_guid: str) -> Json:
        return await self._get("/v1/users/{guid}", guid=user_guid)

    async def create_user(self, user: Mapping[str, Any]) -> Json:
        return await self._create("/v1/users", user)

    # --------------------------------------------------------- travel reimbursements

    def iter_travel_reimbursements(
        self,
        *,
        status_guids: Iterable[str] | None = None,
        changed_since: datetime | str | None = None,
    ) -> AsyncIterator[Json]:
        return self.iter_pages(
            "/v1/travelreimbursements",
            {
                "travelReimbursementStatusGuids": list(status_guids or []),
                "changedSince": _param_datetime(changed_since),
            },
        )

    async def list_travel_reimbursements(self, **filters: Any) -> list[Json]:
        return await self._all(self.iter_travel_reimbursements(**filters))

    async def get_travel_reimbursement(self, reimbursement_guid: str) -> Json:
        return await self._get("/v1/travelreimbursements/{guid}", guid=reimbursement_guid)

    async def list_travel_reimbursement_statuses(self) -> list[Json]:
        return await self._all(self.iter_offset("/v1/travelreimbursementstatuses"))

    async def find_travel_reimbursement_status(self, name: str) -> Json | None:
        return next((s for s in await self.list_travel_reimbursement_statuses() if s.get("name") == name), None)

    async def get_travel_reimbursement_expenses(self, reimbursement_guid: str) -> list[Json]:
        return await self._all(
            self.iter_pages(
                "/v1/travelreimbursements/{travelReimbursementGuid}/projecttravelexpenses",
                path_params={"travelReimbursementGuid": reimbursement_guid},
            )
        )

    async def get_travel_reimbursement_pdf(self, reimbursement_guid: str, *, max_bytes: int | None = None) -> bytes:
        """The reimbursement with its attachments as one PDF; ``ContentTooLarge`` over ``max_bytes``."""
        return await self._bytes("/v1/travelreimbursements/{guid}/pdf", max_bytes=max_bytes, accept="application/pdf",
                                 guid=reimbursement_guid)

    async def set_travel_reimbursement_status(self, reimbursement_guid: str, status_guid: str) -> Json:
        """Write-back: move the reimbursement to another status."""
        return await self._patch(
            "/v1/travelreimbursements/{guid}",
            reimbursement_guid,
            self.replace_ops({"/travelReimbursementStatus/guid": status_guid}),
        )

    async def create_project_travel_expense(self, expense: Mapping[str, Any]) -> Json:
        return await self._create("/v1/projecttravelexpenses", expense)

    async def create_travel_reimbursement(
        self,
        reimbursement: Mapping[str, Any],
        *,
        include_expense_guids: Iterable[str] | None = None,
    ) -> Json:
        """``POST /v1/travelreimbursements``; all the user's unreimbursed expenses unless a list is given."""
        params: Json = {}
        if include_expense_guids is not None:
            params = {
                "addAllUnreimbursedTravelExpenses": False,
                "includedProjectTravelExpenses": list(include_expense_guids),
            }
        return await self._json("POST", "/v1/travelreimbursements", params=params, json_body=dict(reimbursement))


__all__ = ["DEFAULT_SCOPES", "SeveraClient"]


async def _read_body(response: httpx.Response, max_bytes: int | None, what: str) -> httpx.Response:
    """The answer with its body read; a successful one over ``max_bytes`` raises ``ContentTooLarge`` as soon as
    that is known (its Content-Length, or the bytes received so far), without reading the rest."""
    if max_bytes is None or response.status_code >= 400:
        await response.aread()
        return response
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ContentTooLarge(what, int(declared), max_bytes, exact=True)
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ContentTooLarge(what, size, max_bytes, exact=False)
        chunks.append(chunk)
    # The body as received, decoded already: the encoding and length headers no longer describe it.
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-encoding", "content-length")}
    return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks), request=response.request)
