"""Async client for the Procountor REST API: the only code that speaks HTTP to Procountor.

    async with ProcountorClient("https://api.procountor.com/api", client_id, client_secret, api_key) as pc:
        invoice = await pc.create_invoice({...})          # dicts in Procountor's own field names
        await pc.approve_invoice(invoice["id"])

- `base_url` includes the API base path (`…/api`, `…/latest/api`, …).
- M2M token (client credentials + API key), reused until shortly before expiry; one re-login on 401.
- Paced request by request (`procountor_pacer`: one request per 1/`requests_per_second` s, no bursts: Procountor
  allows 20 per second per API client and suspends the client beyond that); pass one pacer to every client of
  the same API client id (all of a tenant's companies). 429, 5xx, timeouts and connection errors are retried with
  exponential backoff and jitter (tenacity), at most `max_retries` times, then `ProcountorTransientError`.
  Writes (POST/PUT/PATCH) are repeated only when the request surely did not take effect (429, connection
  refused); after a 5xx or timeout on a write the error says `maybe_applied=True`, because Procountor has no
  idempotency keys and a blind repeat could create a second invoice (opt in with `retry_writes=True`).
- `calls` counts HTTP requests per "METHOD path-template" (retries and token requests included).
- Tokens, client secret and API key never appear in logs or exception messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import date, datetime
from types import TracebackType
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from connectors.http_transport import AiohttpTransport
from connectors.prepared_urls import PreparedUrls
from connectors.tls import shared_tls_context
from foundation.exact_json import dumps

from .errors import (
    ProcountorAuthError,
    ProcountorError,
    ProcountorNotFound,
    ProcountorTransientError,
    error_from_response,
)

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 200
#: Procountor's documented limit is 20 requests a second per API client; stay just under it by default.
DEFAULT_REQUESTS_PER_SECOND = 18.0
MAX_BATCH_IDS = 200
TOKEN_PATH = "/oauth/token"


class _RetryableFailure(Exception):
    """Internal: a failed attempt that may be repeated."""

    def __init__(self, error: ProcountorTransientError) -> None:
        self.error = error
        super().__init__(str(error))


def _csv(values: str | Iterable[str] | None) -> str | None:
    if values is None:
        return None
    return values if isinstance(values, str) else ",".join(values)


def _datetime_param(value: str | datetime | date | None) -> str | None:
    """Procountor datetimes: `yyyy-MM-ddTHH:mm:ss`, no offset."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0).isoformat()
    return f"{value.isoformat()}T00:00:00"


def procountor_pacer(requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND) -> AsyncLimiter:
    """One request per 1/`requests_per_second` s and never a burst: capacity 1, so an idle spell saves nothing
    up (`AsyncLimiter(18, 1.0)` let about 36 requests through in the first second after an idle spell)."""
    if requests_per_second <= 0:
        raise ValueError("requests_per_second must be positive")
    return AsyncLimiter(1, 1.0 / requests_per_second)


class ProcountorClient:
    """Typed access to one Procountor company (the one the API key belongs to)."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        api_key: str,
        *,
        requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 20.0,
        retry_writes: bool = False,
        token_refresh_margin_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: AsyncLimiter | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._api_key = api_key
        self.max_retries = max_retries
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.retry_writes = retry_writes
        self.token_refresh_margin_s = token_refresh_margin_s
        self.calls: Counter[str] = Counter()
        # Procountor limits per API client: clients of several companies with one client id share a pacer.
        self._limiter = limiter or procountor_pacer(requests_per_second)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                       transport=transport or AiohttpTransport(shared_tls_context()),
                                       verify=shared_tls_context())
        self._urls = PreparedUrls(self._http)
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_margin = 0.0
        self._token_lock = asyncio.Lock()

    def __repr__(self) -> str:  # never show credentials
        return f"ProcountorClient({self.base_url!r}, client_id={self._client_id!r})"

    async def __aenter__(self) -> ProcountorClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ------
    async def _send_once(
        self, method: str, template: str, path: str | httpx.URL, *, authorized: bool, **kwargs: Any
    ) -> httpx.Response:
        """One paced HTTP attempt; transient outcomes become `_RetryableFailure` when repeating is safe."""
        safe_to_repeat = method == "GET" or self.retry_writes or template == TOKEN_PATH
        headers = dict(kwargs.pop("headers", None) or {})
        if authorized:
            headers["Authorization"] = f"Bearer {await self._access_token()}"
        async with self._limiter:
            self.calls[f"{method} {template}"] += 1
            try:
                response = await self._http.request(method, path, headers=headers, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The request never reached the server: always safe to repeat.
                raise _RetryableFailure(
                    ProcountorTransientError(f"{method} {template}: {type(exc).__name__}", method=method, path=template)
                ) from exc
            except httpx.TransportError as exc:
                lost = ProcountorTransientError(
                    f"{method} {template}: {type(exc).__name__}",
                    method=method,
                    path=template,
                    maybe_applied=not safe_to_repeat,
                )
                if safe_to_repeat:
                    raise _RetryableFailure(lost) from exc
                raise lost from exc
        log.debug("procountor %s %s -> %s", method, template, response.status_code)
        if response.status_code == 429 or response.status_code >= 500:
            error = error_from_response(response.status_code, _json_or_none(response), method, template)
            assert isinstance(error, ProcountorTransientError)
            if response.status_code == 429 or safe_to_repeat:
                raise _RetryableFailure(error)
            error.maybe_applied = True
            raise error
        return response

    async def _send(
        self, method: str, template: str, path: str | httpx.URL, *, authorized: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Retries transient failures with exponential backoff and jitter, bounded by `max_retries`."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, _RetryableFailure)),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_exponential_jitter(
                multiplier=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
            ),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(method, template, path, authorized=authorized, **kwargs)
        except _RetryableFailure as failure:
            raise failure.error from None
        raise AssertionError("unreachable")

    async def _request(
        self,
        method: str,
        template: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        **kwargs: Any,
    ) -> Any:
        path = template.format(**(path_params or {}))
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        if json_body is not None:
            # Decimals (money read exactly, foundation.exact_json) are written as the same JSON numbers.
            kwargs["content"] = dumps(json_body).encode()
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Content-Type": "application/json"}
        url = self._urls.url(template, path, clean)
        response = await self._send(method, template, url, **kwargs)
        if response.status_code == 401:
            # Expired or revoked token: log in again once, then give up.
            self._token = None
            response = await self._send(method, template, url, **kwargs)
        if response.status_code >= 400:
            raise error_from_response(response.status_code, _json_or_none(response), method, template)
        if not response.content:
            return None
        return response.json()

    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token is None or time.monotonic() >= self._token_expires_at - self._token_margin:
                await self._login()
            assert self._token is not None
            return self._token

    async def _login(self) -> None:
        requested_at = time.monotonic()
        response = await self._send(
            "POST",
            TOKEN_PATH,
            TOKEN_PATH,
            authorized=False,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "api_key": self._api_key,
            },
        )
        if response.status_code >= 400:
            error = error_from_response(response.status_code, _json_or_none(response), "POST", TOKEN_PATH)
            if isinstance(error, ProcountorAuthError) or response.status_code in (400, 401, 403):
                raise ProcountorAuthError(
                    "Procountor refused the client credentials or API key",
                    status=response.status_code,
                    errors=error.errors,
                    method="POST",
                    path=TOKEN_PATH,
                )
            raise error
        body = response.json()
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 3600)
        self._token_expires_at = requested_at + lifetime
        # Renew shortly before expiry: a minute for hour-long tokens, a tenth of the lifetime for short ones.
        self._token_margin = min(self.token_refresh_margin_s, lifetime / 10)
        log.info("procountor: new access token, valid %ss", int(lifetime))

    # -- paging helpers ------
    async def _batch_get(self, template: str, ids: Iterable[int]) -> list[dict[str, Any]]:
        """Batch GET in chunks of ≤200 ids; the API answers one object for one id, a list for several."""
        unique = sorted(set(ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(unique), MAX_BATCH_IDS):
            chunk = unique[start : start + MAX_BATCH_IDS]
            try:
                result = await self._request("GET", template, path_params={"ids": ",".join(map(str, chunk))})
            except ProcountorNotFound:
                continue
            found.extend(result if isinstance(result, list) else [result])
        return found

    async def _iterate(self, template: str, params: Mapping[str, Any], size: int) -> AsyncIterator[dict[str, Any]]:
        """Keyset paging by ascending id (`previousId`), stable while records change between pages."""
        previous_id: int | None = None
        while True:
            page = await self._request(
                "GET",
                template,
                params={**params, "orderById": "ASC", "size": size, "previousId": previous_id},
            )
            results = page.get("results") or []
            for item in results:
                yield item
            if len(results) < size:
                return
            previous_id = results[-1]["id"]

    async def _numbered_pages(self, template: str, params: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Offset paging by `page` number, ascending id, for lists without keyset paging (e.g. `/persons`)."""
        number = 0
        while True:
            page = await self._request(
                "GET", template, params={**params, "orderById": "ASC", "size": MAX_PAGE_SIZE, "page": number}
            )
            results = page.get("results") or []
            for item in results:
                yield item
            if len(results) < MAX_PAGE_SIZE:
                return
            number += 1

    # -- company, fiscal years, VAT --------------------------------------------------------------------------
    async def get_company(self) -> dict[str, Any]:
        return await self._request("GET", "/company")

    async def get_bank_accounts(self) -> list[dict[str, Any]]:
        """Every company bank account, across pages (`{results, meta}`; `size` ≤ 200, `previousId`, `orderById`).

        Each is a CompanyBankAccountBasicInfo: `iban`, `accountNumber` (the domestic BBAN, generated from the
        IBAN), `bic`, `currency`, `defaultForInvoice`, `defaultForPayment`, `status` (ACTIVE | INACTIVE)."""
        return [account async for account in self._iterate("/bankaccounts", {}, MAX_PAGE_SIZE)]

    async def get_chart_of_accounts(self) -> list[dict[str, Any]]:
        """The ledger accounts (``ledgerAccountCode``, ``name``, ``active``): a ledger entry's account must be one."""
        return list((await self._request("GET", "/coa")).get("ledgerAccounts") or [])

    async def get_fiscal_years(self) -> dict[str, Any]:
        return await self._request("GET", "/fiscalyears")

    async def get_vat_percentages(self) -> dict[str, Any]:
        """`GET /vats/default`: `{vatInformation:[{country, percentages:[…]}], vatStatuses:[…]}`."""
        return await self._request("GET", "/vats/default")

    # -- invoices ------
    async def create_invoice(self, invoice: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request("POST", "/invoices", json_body=dict(invoice))

    async def get_invoice(self, invoice_id: int) -> dict[str, Any]:
        return await self._request("GET", "/invoices/{ids}", path_params={"ids": invoice_id})

    async def get_invoices(self, invoice_ids: Iterable[int]) -> list[dict[str, Any]]:
        """The invoices that exist among `invoice_ids`, by id, fetched ≤200 per request."""
        return await self._batch_get("/invoices/{ids}", invoice_ids)

    async def update_invoice(self, invoice_id: int, invoice: Mapping[str, Any]) -> dict[str, Any]:
        """PUT needs the current `version`; a stale one raises `ProcountorConflict`."""
        return await self._request("PUT", "/invoices/{id}", path_params={"id": invoice_id}, json_body=dict(invoice))

    async def search_invoices(
        self,
        *,
        types: str | Iterable[str] | None = None,
        status: str | Iterable[str] | None = None,
        original_invoice_number: str | None = None,
        invoice_number: int | None = None,
        version_start_date: str | datetime | None = None,
        version_end_date: str | datetime | None = None,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        business_partner_id: int | None = None,
        size: int = 50,
        page: int | None = None,
        previous_id: int | None = None,
        order_by_id: str | None = None,
    ) -> dict[str, Any]:
        """One page of `GET /invoices`: `{results:[InvoiceBasicInfo], meta}`."""
        return await self._request(
            "GET",
            "/invoices",
            params={
                "types": _csv(types),
                "status": _csv(status),
                "originalInvoiceNumber": original_invoice_number,
                "invoiceNumber": invoice_number,
                "versionStartDate": _datetime_param(version_start_date),
                "versionEndDate": _datetime_param(version_end_date),
                "startDate": str(start_date) if start_date else None,
                "endDate": str(end_date) if end_date else None,
                "businessPartnerId": business_partner_id,
                "size": size,
                "page": page,
                "previousId": previous_id,
                "orderById": order_by_id,
            },
        )

    async def find_invoices_by_original_number(
        self, original_invoice_number: str, types: str | Iterable[str] = "SALES_INVOICE"
    ) -> list[dict[str, Any]]:
        """Invoices already created for an external invoice number (our duplicate check before POST)."""
        found = []
        async for item in self._iterate(
            "/invoices",
            {"originalInvoiceNumber": original_invoice_number, "types": _csv(types)},
            MAX_PAGE_SIZE,
        ):
            found.append(item)
        return found

    def iter_invoices_changed_since(
        self,
        version_start_date: str | datetime | None,
        *,
        types: str | Iterable[str] | None = None,
        status: str | Iterable[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every invoice whose `version` ≥ the given time (all invoices for None), across pages, by id."""
        return self._iterate(
            "/invoices",
            {
                "versionStartDate": _datetime_param(version_start_date),
                "types": _csv(types),
                "status": _csv(status),
            },
            page_size,
        )

    async def get_payment_events(self, invoice_id: int) -> list[dict[str, Any]]:
        """An invoice's payment events (`PaymentEvent`: type, paymentDate, status, amount in the accounting
        currency, paidAmount and paidCurrency), every page."""
        events: list[dict[str, Any]] = []
        previous_id: int | None = None
        while True:
            page = await self._request("GET", "/invoices/{id}/paymentevents", path_params={"id": invoice_id},
                                       params={"orderById": "ASC", "size": MAX_PAGE_SIZE, "previousId": previous_id})
            results = page.get("results") or []
            events.extend(results)
            if len(results) < MAX_PAGE_SIZE:
                return events
            previous_id = results[-1]["id"]

    async def _invoice_action(self, invoice_id: int, action: str, body: Any = None) -> dict[str, Any]:
        """Every action answers an InfoMessage `{message}`, not the invoice: read the invoice for its status."""
        return await self._request("PUT", f"/invoices/{{id}}/{action}", path_params={"id": invoice_id}, json_body=body)

    async def approve_invoice(self, invoice_id: int, comment: str | None = None) -> dict[str, Any]:
        """Sales: UNFINISHED → NOT_SENT (APPROVED if NO_SENDING); purchase: RECEIVED/VERIFIED → APPROVED."""
        return await self._invoice_action(invoice_id, "approve", {"comment": comment} if comment else {})

    async def send_invoice(self, invoice_id: int) -> dict[str, Any]:
        """Sales: NOT_SENT/SENT → SENT."""
        return await self._invoice_action(invoice_id, "send")

    async def send_to_circulation(self, invoice_id: int) -> dict[str, Any]:
        """Purchase/travel/expense: UNFINISHED → RECEIVED."""
        return await self._invoice_action(invoice_id, "sendToCirculation")

    async def verify_invoice(self, invoice_id: int, comment: str | None = None) -> dict[str, Any]:
        return await self._invoice_action(invoice_id, "verify", {"comment": comment} if comment else {})

    async def set_invoice_unfinished(self, invoice_id: int) -> dict[str, Any]:
        return await self._invoice_action(invoice_id, "unfinished")

    async def invalidate_invoice(self, invoice_id: int) -> dict[str, Any]:
        return await self._invoice_action(invoice_id, "invalidate")

    # -- ledger receipts ------
    async def get_ledger_receipt(self, receipt_id: int) -> dict[str, Any]:
        return await self._request("GET", "/ledgerreceipts/{ids}", path_params={"ids": receipt_id})

    async def get_ledger_receipts(self, receipt_ids: Iterable[int]) -> list[dict[str, Any]]:
        return await self._batch_get("/ledgerreceipts/{ids}", receipt_ids)

    async def update_ledger_receipt(self, receipt: Mapping[str, Any]) -> dict[str, Any]:
        """PUT the whole receipt as read and edited (its `version` is the optimistic lock)."""
        return await self._request(
            "PUT", "/ledgerreceipts/{id}", path_params={"id": receipt["id"]}, json_body=dict(receipt)
        )

    async def set_transaction_dimensions(
        self, receipt_id: int, dimensions: Mapping[int, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        """Replace `dimensionItemValues` of the given transactions (id → values): read, edit, PUT."""
        receipt = await self.get_ledger_receipt(receipt_id)
        unknown = set(dimensions) - {t["id"] for t in receipt["transactions"]}
        if unknown:
            raise ProcountorError(f"ledger receipt {receipt_id} has no transactions {sorted(unknown)}")
        for transaction in receipt["transactions"]:
            if transaction["id"] in dimensions:
                transaction["dimensionItemValues"] = list(dimensions[transaction["id"]])
        return await self.update_ledger_receipt(receipt)

    # -- business partners ------
    async def search_business_partners(
        self,
        *,
        customer_number: str | None = None,
        type: str | None = None,
        name: str | None = None,
        identifier: str | None = None,
        active: bool | None = None,
        version_start_date: str | datetime | None = None,
        size: int = 50,
        page: int | None = None,
    ) -> dict[str, Any]:
        """`name` and `identifier` travel in HTTP headers (personal data stay out of URLs and logs)."""
        headers = {k: v for k, v in (("name", name), ("identifier", identifier)) if v}
        return await self._request(
            "GET",
            "/businesspartners",
            headers=headers,
            params={
                "customerNumber": customer_number,
                "type": type,
                "active": None if active is None else str(active).lower(),
                "versionStartDate": _datetime_param(version_start_date),
                "size": size,
                "page": page,
            },
        )

    def iter_business_partners_changed_since(
        self, version_start_date: str | datetime | None
    ) -> AsyncIterator[dict[str, Any]]:
        """Basic info of every partner whose `version` ≥ the given time (all for None), across pages."""
        return self._iterate(
            "/businesspartners", {"versionStartDate": _datetime_param(version_start_date)}, MAX_PAGE_SIZE
        )

    async def find_business_partner(self, customer_number: str, type: str = "CUSTOMER") -> dict[str, Any] | None:
        """The partner with exactly this customer number (BusinessPartnerBasicInfo), or None; every page is read
        (the search may match more than one page)."""
        params = {"customerNumber": customer_number, "type": type}
        async for partner in self._iterate("/businesspartners", params, MAX_PAGE_SIZE):
            if (partner.get("invoicingInfo") or {}).get("customerNumber") == customer_number:
                return partner
        return None

    async def get_business_partner(self, partner_id: int) -> dict[str, Any]:
        return await self._request("GET", "/businesspartners/{ids}", path_params={"ids": partner_id})

    async def get_business_partners(self, partner_ids: Iterable[int]) -> list[dict[str, Any]]:
        return await self._batch_get("/businesspartners/{ids}", partner_ids)

    async def create_business_partner(self, partner: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request("POST", "/businesspartners", json_body=dict(partner))

    # -- products ------
    async def search_products(
        self,
        *,
        code: str | None = None,
        type: str | None = None,
        name: str | None = None,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        active: bool | None = None,
        size: int = 50,
        previous_id: int | None = None,
    ) -> dict[str, Any]:
        """`code` and `name` are substring searches; `type` is ONE of SALES, PURCHASE, TRAVEL (the reference
        documents one value, so search once per type); without it Procountor returns SALES and PURCHASE."""
        return await self._request(
            "GET",
            "/products",
            params={
                "code": code,
                "type": type,
                "name": name,
                "startDate": str(start_date) if start_date else None,
                "endDate": str(end_date) if end_date else None,
                "active": None if active is None else str(active).lower(),
                "size": size,
                "previousId": previous_id,
            },
        )

    async def iter_products_changed_since(
        self, version_start_date: str | datetime | None, types: Iterable[str] = ("SALES", "PURCHASE", "TRAVEL")
    ) -> AsyncIterator[dict[str, Any]]:
        """Every product of the given types whose `version` ≥ the given time (all for None), across pages; one
        search per type."""
        for kind in types:
            async for product in self._iterate(
                "/products", {"versionStartDate": _datetime_param(version_start_date), "type": kind}, MAX_PAGE_SIZE
            ):
                yield product

    async def find_product(self, code: str, type: str = "SALES", *, on: date | None = None) -> dict[str, Any] | None:
        """The active product with exactly this code (TRAVEL: valid on `on`), or None."""
        params: dict[str, Any] = {"code": code, "type": type, "active": "true"}
        if on is not None:
            params.update(startDate=on.isoformat(), endDate=on.isoformat())
        async for product in self._iterate("/products", params, MAX_PAGE_SIZE):
            if product.get("code") == code:
                return product
        return None

    async def get_products(self, product_ids: Iterable[int]) -> list[dict[str, Any]]:
        return await self._batch_get("/products/{ids}", product_ids)

    async def create_product(self, product: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request("POST", "/products", json_body=dict(product))

    # -- dimensions ------
    async def get_dimensions(self) -> list[dict[str, Any]]:
        """Every dimension with its items (an item without `status` is active; `"P"` is closed)."""
        return await self._request("GET", "/dimensions")

    async def create_dimension_item(self, dimension_id: int, item: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request(
            "POST", "/dimensions/{id}/items", path_params={"id": dimension_id}, json_body=dict(item)
        )

    async def update_dimension_item(self, dimension_id: int, item: Mapping[str, Any]) -> dict[str, Any]:
        """PUT with the item `id` in the body."""
        return await self._request(
            "PUT", "/dimensions/{id}/items", path_params={"id": dimension_id}, json_body=dict(item)
        )

    async def set_dimension_item_active(
        self, dimension_id: int, item: Mapping[str, Any], active: bool
    ) -> dict[str, Any]:
        body = {k: v for k, v in item.items() if k != "status"}
        if not active:
            body["status"] = "P"
        return await self.update_dimension_item(dimension_id, body)

    # -- attachments ------
    async def upload_attachment(
        self, meta: Mapping[str, Any], content: bytes, content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """multipart/form-data: `meta` (JSON Attachment) and `file`. The public model requires `name`,
        `referenceType`, `referenceId` and `sendWithInvoice` (true only for SALES_INVOICE, SALES_ORDER,
        PURCHASE_ORDER); an invoice's attachments are read from the invoice (`GET /attachments` is a paid add-on)."""
        missing = [key for key in ("name", "referenceType", "referenceId", "sendWithInvoice") if key not in meta]
        if missing:
            raise ValueError(f"attachment meta lacks {missing}")
        files = {
            "meta": (None, json.dumps(dict(meta)), "application/json"),
            "file": (str(meta["name"]), content, content_type),
        }
        return await self._request("POST", "/attachments", files=files)

    # -- persons ------
    async def find_person(self, person_number: str) -> dict[str, Any] | None:
        """The active person whose person number (employee number) is exactly `person_number`, or None.

        `GET /persons` matches `personNumber` partially and answers `PersonBasicInfo` with the number at
        `invoicingInfo.personNumber`; it pages by `page` number (it has no `previousId`)."""
        async for person in self._numbered_pages("/persons", {"personNumber": person_number}):
            if (person.get("invoicingInfo") or {}).get("personNumber") == person_number:
                return person
        return None

    async def get_person(self, person_id: int) -> dict[str, Any]:
        return await self._request("GET", "/persons/{id}", path_params={"id": person_id})

    async def create_person(self, person: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request("POST", "/persons", json_body=dict(person))

    async def update_person(self, person_id: int, person: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request("PUT", "/persons/{id}", path_params={"id": person_id}, json_body=dict(person))


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # gateways answer HTML
