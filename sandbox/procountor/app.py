"""Procountor API sandbox: a Starlette app speaking the public REST API over real HTTP.

Base paths: `/api`, and the versioned `/latest/api`, `/supported/api`, `/vYYMM/api` (all the same routes);
trailing slashes are tolerated. Auth: `POST /api/oauth/token` (form: grant_type=client_credentials, client_id,
client_secret, api_key, optional redirect_uri) -> `{access_token, token_type, expires_in}`; the token is bound
to the API key's company. Errors are `{"errors":[{"status","field","message"}]}`.

Outside the real API, without auth: `GET /_sandbox/stats` (calls per "METHOD template", total, 429s, injected
500s and timeouts), `POST /_sandbox/config` (JSON with any of latency_ms, error_rate, timeout_rate,
timeout_delay_s, rate_limit_per_second, token_lifetime_s; resets stats when {"reset_stats": true}) and
`GET|POST /_sandbox/organisations` (many organisations, each with its own client, API key and company:
sandbox/procountor/organisations.py; GET lists them with the time of each company's last call per route).

Faults: an injected 500 happens before the request is handled (nothing changed); an injected timeout happens
after it was handled (the change is made, the response comes `timeout_delay_s` late), which is the case that
tests a client's duplicate protection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import random
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import invoicing
from .demo import seed_base, seed_demo
from .invoicing import ApiError
from .rules import (
    PAYMENT_METHODS,
    Checker,
    FieldError,
    partner_clash,
    validate_attachment_file,
    validate_partner,
    validate_product,
    vat_percentages,
)
from .store import Company, ProcountorStore, parse_datetime

log = logging.getLogger(__name__)
MAX_PAGE_SIZE = 200
MAX_BATCH_IDS = 200


@dataclass
class SandboxConfig:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_delay_s: float = 35.0
    rate_limit_per_second: float | None = 20.0
    token_lifetime_s: int = 3600


@dataclass
class Token:
    client_id: str
    api_key: str
    company: str
    expires_at: float


@dataclass
class Stats:
    calls: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    injected_errors: int = 0
    injected_timeouts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "total": sum(self.calls.values()),
            "rate_limited": self.rate_limited,
            "injected_errors": self.injected_errors,
            "injected_timeouts": self.injected_timeouts,
        }


class SlidingWindow:
    """At most `rate` requests in any one-second window per API client (Procountor: 20 a second per API
    client, suspension beyond that); unlike a token bucket, an idle spell saves nothing up for a burst."""

    def __init__(self) -> None:
        self.accepted: dict[str, deque[float]] = {}

    def allow(self, key: str, rate: float | None) -> bool:
        if rate is None or rate <= 0:
            return True
        now = time.monotonic()
        window = self.accepted.setdefault(key, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= rate:
            return False
        window.append(now)
        return True


def errors_response(status: int, errors: list[FieldError]) -> JSONResponse:
    return JSONResponse({"errors": [e.to_json() for e in errors]}, status_code=status)


def error(status: int, message: str, field_path: str | None = None) -> JSONResponse:
    return errors_response(status, [FieldError(field_path, message, status)])


def public(resource: dict[str, Any]) -> dict[str, Any]:
    """Drop the sandbox's private bookkeeping keys (leading underscore)."""
    return {k: v for k, v in resource.items() if not k.startswith("_")}


class BasePathRewrite:
    """Serve versioned bases (`/latest/api`, `/supported/api`, `/v2502/api`) as `/api`;
    drop trailing slashes."""

    VERSIONED = re.compile(r"^/(?:latest|supported|v\d{4})/api(?=/|$)")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = self.VERSIONED.sub("/api", scope["path"])
            if len(path) > 1 and path.endswith("/"):
                path = path.rstrip("/")
            scope = {**scope, "path": path}
        await self.app(scope, receive, send)


Handler = Callable[[Request, Company], Awaitable[Response]]

ORDER = {"ASC", "DESC"}
LIST_PARAMS = {"status", "types"}  # comma-separated lists in the public description; the others take one value
# Query parameters with an enum in the public description: another value is a 400, as the API answers it.
QUERY_ENUMS: dict[str, dict[str, set[str]]] = {
    "/invoices": {
        "status": {"EMPTY", "UNFINISHED", "NOT_SENT", "SENT", "RECEIVED", "PAID", "PAYMENT_DENIED", "VERIFIED",
                   "APPROVED", "INVALIDATED", "PAYMENT_QUEUED", "PARTLY_PAID", "PAYMENT_SENT_TO_BANK",
                   "MARKED_PAID", "STARTED", "INVOICED", "OVERRIDDEN", "DELETED", "UNSAVED",
                   "PAYMENT_TRANSACTION_REMOVED"},
        "types": {"PERIODIC_TAX_RETURN", "PURCHASE_INVOICE", "PURCHASE_ORDER", "SALES_INVOICE", "SALES_ORDER",
                  "TRAVEL_INVOICE", "BILL_OF_CHARGES"},
        "invoiceChannel": {"EMAIL", "MAIL", "ELECTRONIC_INVOICE", "EDIFACT", "PAPER_INVOICE", "NO_SENDING"},
        "orderById": ORDER, "orderByDate": ORDER, "orderByCreated": ORDER, "orderByVersion": ORDER,
    },
    "/businesspartners": {"type": {"CUSTOMER", "SUPPLIER", "PERSON"}, "orderById": ORDER},
    "/products": {"type": {"SALES", "PURCHASE", "TRAVEL"}, "orderById": ORDER},
    "/persons": {"orderById": ORDER},
    "/bankaccounts": {"orderById": ORDER, "orderByOrderNo": ORDER},
    "/ledgerreceipts": {"orderById": ORDER, "orderByDate": ORDER, "orderByCreated": ORDER, "orderByVersion": ORDER},
}


def invalid_enum(template: str, request: Request) -> JSONResponse | None:
    """A 400 in the API's error model for a query value outside its enum (lists are comma-separated)."""
    for name, allowed in QUERY_ENUMS.get(template, {}).items():
        value = request.query_params.get(name)
        if value is None:
            continue
        values = set(value.split(",")) if name in LIST_PARAMS else {value}
        if not values <= allowed:
            return error(400, "INVALID_VALUE", name)
    return None


class Sandbox:
    """Routing, auth, rate limiting, fault injection and the API handlers around one store."""

    def __init__(self, store: ProcountorStore, config: SandboxConfig, state_file: str | None) -> None:
        self.store = store
        self.config = config
        self.state_file = state_file
        self.tokens: dict[str, Token] = {}
        self.bucket = SlidingWindow()
        self.stats = Stats()
        self.last_calls: dict[str, dict[str, float]] = {}  # company → "METHOD template" → time.time() of the last
        self.random = random.Random()

    # -- plumbing ------
    def route(
        self,
        method: str,
        template: str,
        handler: Handler | None = None,
        *,
        token_call: Callable[[Request], Awaitable[Response]] | None = None,
    ) -> Route:
        stat_key = f"{method} {template}"

        async def endpoint(request: Request) -> Response:
            self.stats.calls[stat_key] += 1
            token = self.tokens.get(bearer(request) or "")
            if token_call is not None:
                form = await request.form()
                client_key = str(form.get("client_id") or "anonymous")
            else:
                client_key = token.client_id if token else "anonymous"
            if not self.bucket.allow(client_key, self.config.rate_limit_per_second):
                self.stats.rate_limited += 1
                return error(429, "Too many requests")
            if self.config.latency_ms:
                await asyncio.sleep(self.config.latency_ms / 1000)
            if self.config.error_rate and self.random.random() < self.config.error_rate:
                self.stats.injected_errors += 1
                return Response(
                    "<html><body><h1>500 Internal Server Error</h1><hr>nginx</body></html>",
                    status_code=500,
                    media_type="text/html",
                )
            if token_call is not None:
                response = await token_call(request)
            else:
                if (
                    token is None
                    or token.expires_at < time.time()
                    or self.store.api_keys.get(token.api_key) != token.company
                ):
                    return error(401, "Unauthorized")
                assert handler is not None
                self.last_calls.setdefault(token.company, {})[stat_key] = time.time()
                try:
                    refused = invalid_enum(template, request) if method == "GET" else None
                    response = refused or await handler(request, self.store.company(token.company))
                except ApiError as exc:
                    response = errors_response(exc.status, exc.errors)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    response = error(400, "Invalid JSON")
                except (TypeError, AttributeError, KeyError, ValueError) as exc:
                    # The real API deserializes into its models first: a value of the wrong type or shape is
                    # the client's error (400), never a 500. Logged, so that a sandbox bug does not hide here.
                    log.warning("request refused as malformed: %s: %r", stat_key, exc)
                    response = error(400, "INVALID_REQUEST_BODY")
            if method != "GET" and response.status_code < 300 and self.state_file:
                self.store.save(self.state_file)
            if self.config.timeout_rate and self.random.random() < self.config.timeout_rate:
                self.stats.injected_timeouts += 1
                await asyncio.sleep(self.config.timeout_delay_s)
            return response

        return Route(f"/api{template}", endpoint, methods=[method])

    async def oauth_token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        api_key = str(form.get("api_key", ""))
        known = self.store.clients.get(client_id)
        # compare_digest on bytes: on str it refuses non-ASCII text (a 500 where the API answers 401).
        if known is None or not secrets.compare_digest(known.encode(), secret.encode()):
            return error(401, "Unauthorized")
        company = self.store.company_for_api_key(api_key)
        if company is None or not self.store.key_allows(api_key, client_id):  # a key is made for one client
            return error(401, "Unauthorized")
        access_token = secrets.token_urlsafe(32)
        lifetime = self.config.token_lifetime_s
        self.tokens[access_token] = Token(client_id, api_key, company.code, time.time() + lifetime)
        return JSONResponse({"access_token": access_token, "token_type": "bearer", "expires_in": lifetime})

    def routes(self) -> list[Route]:
        r = self.route
        return [
            r("POST", "/oauth/token", token_call=self.oauth_token),
            r("GET", "/company", self.get_company),
            r("GET", "/bankaccounts", self.get_bank_accounts),
            r("GET", "/fiscalyears", self.get_fiscal_years),
            r("GET", "/coa", self.get_chart_of_accounts),
            r("GET", "/vats/default", self.get_vats),
            r("GET", "/vats/country", self.get_vats_country),
            r("GET", "/invoices", self.search_invoices),
            r("POST", "/invoices", self.post_invoice),
            r("GET", "/invoices/{ids}", self.get_invoices),
            r("PUT", "/invoices/{id}", self.put_invoice),
            *[
                r("PUT", f"/invoices/{{id}}/{action}", self.invoice_action(action))
                for action in invoicing.TRANSITIONS
            ],
            r("PUT", "/invoices/{id}/paymentevents/markpaid", self.mark_paid),
            r("GET", "/invoices/{id}/paymentevents", self.payment_events),
            r("GET", "/ledgerreceipts", self.search_ledger_receipts),
            r("GET", "/ledgerreceipts/{ids}", self.get_ledger_receipts),
            r("PUT", "/ledgerreceipts/{id}", self.put_ledger_receipt),
            r("PUT", "/ledgerreceipts/{id}/transactions/{tid}/dimensions", self.put_transaction_dimensions),
            r("GET", "/businesspartners", self.search_partners),
            r("POST", "/businesspartners", self.post_partner),
            r("GET", "/businesspartners/{ids}", self.get_partners),
            r("GET", "/products", self.search_products),
            r("POST", "/products", self.post_product),
            r("GET", "/products/{ids}", self.get_products),
            r("GET", "/dimensions", self.list_dimensions),
            r("GET", "/dimensions/{id}", self.get_dimension),
            r("POST", "/dimensions/{id}/items", self.post_dimension_item),
            r("PUT", "/dimensions/{id}/items", self.put_dimension_item),
            r("POST", "/attachments", self.post_attachment),
            r("GET", "/attachments", self.search_attachments),
            r("GET", "/attachments/{id}/content", self.attachment_content),
            r("GET", "/persons", self.search_persons),
            r("POST", "/persons", self.post_person),
            r("GET", "/persons/{id}", self.get_person),
            r("PUT", "/persons/{id}", self.put_person),
            Route("/_sandbox/stats", self.get_stats, methods=["GET"]),
            Route("/_sandbox/organisations", self.organisations, methods=["GET", "POST"]),
            Route("/_sandbox/config", self.post_config, methods=["POST", "GET"]),
        ]

    async def organisations(self, request: Request) -> Response:
        """POST {"count": N}: organisations org0001…orgNNNN exist (those missing are made). GET, and the answer
        of POST: every company with the time of its last call per route."""
        if request.method == "POST":
            try:
                count = int((await request.json())["count"])
            except (ValueError, KeyError, TypeError):
                return error(400, 'body must be {"count": N}')
            add_organisations(self.store, count)
            if self.state_file:
                self.store.save(self.state_file)
        return JSONResponse({"organisations": [{"name": code, "last_calls": self.last_calls.get(code, {})}
                                               for code in self.store.companies]})

    async def get_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats.to_json())

    async def post_config(self, request: Request) -> Response:
        if request.method == "POST":
            changes = await request.json()
            if changes.pop("reset_stats", False):
                self.stats = Stats()
            for key, value in changes.items():
                if not hasattr(self.config, key):
                    return error(400, "INVALID_VALUE", key)
                setattr(self.config, key, value)
        return JSONResponse(self.config.__dict__)

    # -- company, fiscal years, VAT -------------------------------------------------------------------------
    async def get_company(self, request: Request, company: Company) -> Response:
        return JSONResponse(company.info)

    async def get_bank_accounts(self, request: Request, company: Company) -> Response:
        # CompanyBankAccountSearchResult: {results, meta}, paged by size (≤ 200), previousId and orderById.
        return page(request, company.bank_accounts, lambda a: a)

    async def get_chart_of_accounts(self, request: Request, company: Company) -> Response:
        return JSONResponse({"ledgerAccounts": company.ledger_accounts})

    async def get_fiscal_years(self, request: Request, company: Company) -> Response:
        return JSONResponse({"fiscalYears": company.fiscal_years})

    async def get_vats(self, request: Request, company: Company) -> Response:
        day = query_date(request, "date") or self.store.today()
        percentages = [
            {"vatPercent": float(p), "sales": True, "purchase": True}
            for p in vat_percentages(company.country, day)
        ]
        statuses = [{k: v for k, v in s.items() if k != "domestic"} for s in company.vat_statuses]
        return JSONResponse(
            {
                "vatInformation": [{"country": company.country, "percentages": percentages}],
                "vatStatuses": statuses,
            }
        )

    async def get_vats_country(self, request: Request, company: Company) -> Response:
        country = {"FI": "FINLAND", "SE": "SWEDEN"}.get(request.query_params.get("countryCode", ""), "")
        return JSONResponse(
            {"vatPercentages": [float(p) for p in vat_percentages(country, self.store.today())]}
        )

    # -- invoices ------
    async def search_invoices(self, request: Request, company: Company) -> Response:
        q = request.query_params
        items = list(company.invoices.values())
        items = filter_in(items, "status", q.get("status"))
        items = filter_in(items, "type", q.get("types"))
        items = filter_in(items, "invoiceChannel", q.get("invoiceChannel"))
        if q.get("originalInvoiceNumber") is not None:
            items = [i for i in items if i.get("originalInvoiceNumber") == q["originalInvoiceNumber"]]
        if q.get("invoiceNumber"):
            items = [i for i in items if str(i["invoiceNumber"]) == q["invoiceNumber"]]
        if q.get("businessPartnerId"):
            items = [i for i in items if str(i.get("partnerId")) == q["businessPartnerId"]]
        if q.get("searchTerm"):
            term = q["searchTerm"].lower()
            items = [
                i
                for i in items
                if term in i["counterParty"]["counterPartyAddress"]["name"].lower()
                or term == str(i["invoiceNumber"])
                or term in (i.get("additionalInformation") or "").lower()
            ]
        items = filter_dates(items, "date", q.get("startDate"), q.get("endDate"))
        items = filter_times(items, "_created", q.get("createdStartDate"), q.get("createdEndDate"))
        items = filter_times(items, "version", q.get("versionStartDate"), q.get("versionEndDate"))
        return page(request, items, invoice_basic_info)

    async def post_invoice(self, request: Request, company: Company) -> Response:
        invoice = invoicing.create_invoice(self.store, company, await request.json())
        return JSONResponse(public(invoice))

    async def get_invoices(self, request: Request, company: Company) -> Response:
        return batch(request, company.invoices, "Invoice")

    async def put_invoice(self, request: Request, company: Company) -> Response:
        invoice_id = path_id(request)
        return JSONResponse(
            public(invoicing.update_invoice(self.store, company, invoice_id, await request.json()))
        )

    def invoice_action(self, action: str) -> Handler:
        async def handler(request: Request, company: Company) -> Response:
            body = await request.body()
            invoicing.transition(
                self.store, company, path_id(request), action, json.loads(body) if body else None
            )
            # InfoMessage, as every invoice action answers in the public description (not the invoice).
            return JSONResponse({"message": f"Invoice {action} done."})

        return handler

    async def mark_paid(self, request: Request, company: Company) -> Response:
        event = invoicing.mark_paid(self.store, company, path_id(request), await request.json())
        return JSONResponse(event)

    async def payment_events(self, request: Request, company: Company) -> Response:
        invoice = invoicing.get_invoice(company, path_id(request))
        return page(request, list(invoice.get("_paymentEvents", [])), lambda e: e)

    # -- ledger receipts ------
    async def search_ledger_receipts(self, request: Request, company: Company) -> Response:
        q = request.query_params
        items = list(company.ledger_receipts.values())
        items = filter_in(items, "type", q.get("types"))
        items = filter_in(items, "status", q.get("status"))
        items = filter_dates(items, "receiptDate", q.get("startDate"), q.get("endDate"))
        items = filter_times(items, "version", q.get("versionStartDate"), q.get("versionEndDate"))
        return page(request, items, lambda r: {k: v for k, v in r.items() if k != "transactions"})

    async def get_ledger_receipts(self, request: Request, company: Company) -> Response:
        return batch(request, company.ledger_receipts, "Ledger receipt")

    async def put_ledger_receipt(self, request: Request, company: Company) -> Response:
        receipt = invoicing.update_ledger_receipt(self.store, company, path_id(request), await request.json())
        return JSONResponse(receipt)

    async def put_transaction_dimensions(self, request: Request, company: Company) -> Response:
        receipt = invoicing.set_transaction_dimensions(
            self.store, company, path_id(request), int(request.path_params["tid"]), await request.json()
        )
        return JSONResponse(receipt)

    # -- business partners ------
    async def search_partners(self, request: Request, company: Company) -> Response:
        q = request.query_params
        items = list(company.partners.values()) + [person_as_partner(p) for p in company.persons.values()]
        if q.get("customerNumber"):
            items = [
                p
                for p in items
                if (p.get("invoicingInfo") or {}).get("customerNumber") == q["customerNumber"]
            ]
        if q.get("type"):
            items = [p for p in items if p["type"] == q["type"]]
        active = q.get("active", "true").lower() != "false"
        items = [p for p in items if (p.get("registryInfo") or {}).get("active", True) == active]
        # Personal data go in headers, not in the URL (since 23.09).
        if request.headers.get("name"):
            items = [p for p in items if request.headers["name"].lower() in p["name"].lower()]
        if request.headers.get("identifier"):
            items = [
                p
                for p in items
                if (p.get("invoicingInfo") or {}).get("identifier") == request.headers["identifier"]
            ]
        items = filter_times(items, "version", q.get("versionStartDate"), q.get("versionEndDate"))
        return page(request, items, partner_basic_info)

    async def post_partner(self, request: Request, company: Company) -> Response:
        body = await request.json()
        errors = validate_partner(company, body)
        if not errors:
            info = body.get("invoicingInfo") or {}
            clash = partner_clash(company, info.get("customerNumber"), info.get("identifier"), body["name"])
            errors = [clash] if clash else []
        if errors:
            raise ApiError(400, errors)
        partner = {k: v for k, v in body.items() if k not in {"id", "version", "attachments"}}
        partner.setdefault("registryInfo", {}).setdefault("active", True)
        partner.update(id=company.new_id(), version=self.store.next_version())
        company.partners[partner["id"]] = partner
        return JSONResponse(partner)

    async def get_partners(self, request: Request, company: Company) -> Response:
        # A person is a business partner of type PERSON (same id): what the search lists, this one knows.
        known = {**{p["id"]: person_as_partner(p) for p in company.persons.values()}, **company.partners}
        return batch(request, known, "Business partner")

    # -- products ------
    async def search_products(self, request: Request, company: Company) -> Response:
        q = request.query_params
        items = list(company.products.values())
        types = {q["type"]} if q.get("type") else {"SALES", "PURCHASE"}  # one value (checked by QUERY_ENUMS)
        items = [p for p in items if p["type"] in types]
        if q.get("code"):
            items = [p for p in items if q["code"].lower() in (p.get("code") or "").lower()]
        if q.get("name"):
            items = [p for p in items if q["name"].lower() in p["name"].lower()]
        if q.get("active"):
            items = [p for p in items if p["active"] == (q["active"].lower() == "true")]
        start, end = query_date(request, "startDate"), query_date(request, "endDate")
        if start or end:  # travel products valid at some point of the window
            items = [
                p
                for p in items
                if p["type"] != "TRAVEL"
                or (
                    (end is None or not p.get("startDate") or date.fromisoformat(p["startDate"]) <= end)
                    and (start is None or not p.get("endDate") or date.fromisoformat(p["endDate"]) >= start)
                )
            ]
        items = filter_times(items, "_version", q.get("versionStartDate"), q.get("versionEndDate"))
        return page(request, items, public)

    async def post_product(self, request: Request, company: Company) -> Response:
        body = await request.json()
        errors = validate_product(body)
        if errors:
            raise ApiError(400, errors)
        product = {k: v for k, v in body.items() if k not in {"id", "version"}}
        # The public Product model has no version (procountor-api.md §8): kept private, for `versionStartDate`.
        product.update(id=company.new_id(), _version=self.store.next_version())
        company.products[product["id"]] = product
        return JSONResponse(public(product))

    async def get_products(self, request: Request, company: Company) -> Response:
        return batch(request, company.products, "Product")

    # -- dimensions ------
    async def list_dimensions(self, request: Request, company: Company) -> Response:
        name = request.query_params.get("name", "").lower()
        return JSONResponse([d for d in company.dimensions.values() if name in d["name"].lower()])

    def dimension(self, request: Request, company: Company) -> dict[str, Any]:
        dimension = company.dimensions.get(path_id(request))
        if dimension is None:
            raise ApiError.one(404, None, "Dimension not found")
        return dimension

    async def get_dimension(self, request: Request, company: Company) -> Response:
        return JSONResponse(self.dimension(request, company))

    async def post_dimension_item(self, request: Request, company: Company) -> Response:
        dimension = self.dimension(request, company)
        body = await request.json()
        check = Checker()
        check.text(body.get("codeName"), "codeName", 255, required=True)
        check.text(body.get("description"), "description", 255)
        if any(i["codeName"] == body.get("codeName") for i in dimension["items"]):
            check.add("codeName", "DIMENSION_ITEM_ALREADY_EXISTS")
        if body.get("status") not in (None, "P"):
            check.add("status", "INVALID_VALUE")
        if check.errors:
            raise ApiError(400, check.errors)
        item = {
            "id": company.new_id(),
            "codeName": body["codeName"],
            "description": body.get("description", ""),
        }
        if body.get("status") == "P":
            item["status"] = "P"
        dimension["items"].append(item)
        return JSONResponse(item)

    async def put_dimension_item(self, request: Request, company: Company) -> Response:
        dimension = self.dimension(request, company)
        body = await request.json()
        item = next((i for i in dimension["items"] if i["id"] == body.get("id")), None)
        if item is None:
            raise ApiError.one(400, "id", "INVALID_VALUE")
        check = Checker()
        check.text(body.get("codeName"), "codeName", 255, required=True)
        if body.get("status") not in (None, "", "P"):
            check.add("status", "INVALID_VALUE")
        if check.errors:
            raise ApiError(400, check.errors)
        item["codeName"] = body["codeName"]
        item["description"] = body.get("description", item.get("description", ""))
        if body.get("status") == "P":
            item["status"] = "P"
        else:
            item.pop("status", None)  # absent means active
        return JSONResponse(item)

    # -- attachments ------
    async def post_attachment(self, request: Request, company: Company) -> Response:
        form = await request.form(max_part_size=10 * 1024 * 1024)
        meta_part, file_part = form.get("meta"), form.get("file")
        meta_raw = await meta_part.read() if isinstance(meta_part, UploadFile) else meta_part
        if not meta_raw or not isinstance(file_part, UploadFile):
            raise ApiError.one(400, "meta" if not meta_raw else "file", "MUST_NOT_BE_NULL")
        meta = json.loads(meta_raw)
        content = await file_part.read()
        check = Checker()
        check.text(meta.get("name"), "meta.name", 255, required=True)
        check.enum(
            meta.get("referenceType"), "meta.referenceType", {"INVOICE", "LEDGERRECEIPT"}, required=True
        )
        # Required in the public Attachment model; true only for SALES_INVOICE, SALES_ORDER and PURCHASE_ORDER.
        send_with_invoice = meta.get("sendWithInvoice")
        if not isinstance(send_with_invoice, bool):
            check.add("meta.sendWithInvoice", "MUST_NOT_BE_NULL")
        if check.errors:
            raise ApiError(400, check.errors)
        reference_id = json_integer(meta.get("referenceId"))  # "123" is read as 123, as the API's JSON does
        target = (company.invoices if meta["referenceType"] == "INVOICE" else company.ledger_receipts).get(
            reference_id  # type: ignore[arg-type]
        )
        if target is None:
            check.add("meta.referenceId", "INVALID_VALUE")
        elif send_with_invoice and target.get("type") not in SEND_WITH_INVOICE_TYPES:
            check.add("meta.sendWithInvoice", "INVALID_VALUE")
        errors = check.errors + validate_attachment_file(meta["name"], content)
        if errors:
            raise ApiError(400, errors)
        assert target is not None
        attachment = {
            "id": company.new_id(),
            "name": meta["name"],
            "referenceType": meta["referenceType"],
            "referenceId": reference_id,
            "mimeType": mimetypes.guess_type(meta["name"])[0] or "application/octet-stream",
            "sendWithInvoice": send_with_invoice,
            "_size": len(content),
            "_attached": self.store.next_version(),
        }
        company.attachments[attachment["id"]] = attachment
        company.attachment_files[attachment["id"]] = content
        target.setdefault("attachments", []).append(public(attachment))
        target["version"] = attachment["_attached"]
        return JSONResponse(public(attachment))

    async def search_attachments(self, request: Request, company: Company) -> Response:
        q = request.query_params
        items = list(company.attachments.values())
        if q.get("referenceId"):
            items = [a for a in items if str(a["referenceId"]) == q["referenceId"]]
        if q.get("type"):
            wanted = set(q["type"].split(","))
            items = [
                a
                for a in items
                if a["referenceType"] == "INVOICE" and company.invoices[a["referenceId"]]["type"] in wanted
            ]
        if q.get("name"):
            items = [a for a in items if q["name"].lower() in a["name"].lower()]
        return page(
            request,
            items,
            lambda a: {
                "attachmentId": a["id"],
                "name": a["name"],
                "size": a["_size"],
                "user": "API user",
                "referenceId": a["referenceId"],
                "referenceType": a["referenceType"],
                "attached": a["_attached"],
            },
        )

    async def attachment_content(self, request: Request, company: Company) -> Response:
        attachment = company.attachments.get(path_id(request))
        if attachment is None:
            raise ApiError.one(404, None, "Attachment not found")
        return Response(company.attachment_files[attachment["id"]], media_type=attachment["mimeType"])

    # -- persons ------
    async def search_persons(self, request: Request, company: Company) -> Response:
        q = request.query_params
        items = list(company.persons.values())
        if q.get("personNumber"):
            items = [p for p in items if q["personNumber"] in p["invoicingInfo"].get("personNumber", "")]
        if q.get("includeInactive", "false").lower() != "true":
            items = [p for p in items if p["registryInfo"].get("active", True)]
        # PersonBasicInfo; `/persons` pages by `page` number only (no `previousId` parameter).
        return page(request, items, person_basic_info, keyset=False)

    async def get_person(self, request: Request, company: Company) -> Response:
        person = company.persons.get(path_id(request))
        if person is None:
            raise ApiError.one(404, None, "Person not found")
        return JSONResponse(person)

    async def post_person(self, request: Request, company: Company) -> Response:
        """Not in the public spec material (reference §11 [U]); offered for first-use creation."""
        body = await request.json()
        check = person_checks(body)
        if check.errors:
            raise ApiError(400, check.errors)
        person = {k: v for k, v in body.items() if k not in {"id", "version"}}
        person.update(id=company.new_id(), version=self.store.next_version())
        company.persons[person["id"]] = person
        return JSONResponse(person)

    async def put_person(self, request: Request, company: Company) -> Response:
        """PUT /persons/{id} (reference §11): the whole person, with its current `version`."""
        current = company.persons.get(path_id(request))
        if current is None:
            raise ApiError.one(404, None, "Person not found")
        body = await request.json()
        if not isinstance(body, dict):
            raise ApiError.one(400, None, "INVALID_VALUE")
        invoicing.check_version(body.get("version"), current["version"])
        check = person_checks(body)
        if check.errors:
            raise ApiError(400, check.errors)
        person = {k: v for k, v in body.items() if k not in {"id", "version"}}
        person.update(id=current["id"], version=self.store.next_version())
        company.persons[person["id"]] = person
        return JSONResponse(person)


def person_checks(body: Any) -> Checker:
    """The Person rules of reference §11 that POST and PUT share."""
    if not isinstance(body, dict):
        body = {}
    check = Checker()
    check.text(body.get("firstName"), "firstName", 80)
    check.text(body.get("lastName"), "lastName", 80, required=True)
    info = body.get("invoicingInfo") or {}
    check.text(info.get("personNumber"), "invoicingInfo.personNumber", 40)
    check.enum(
        info.get("language"), "invoicingInfo.language", {"ENGLISH", "FINNISH", "SWEDISH"}, required=True
    )
    check.enum(
        info.get("gender"), "invoicingInfo.gender", {"FEMALE", "MALE", "NOT_APPLICABLE"}, required=True
    )
    payment = body.get("paymentInfo") or {}
    # Required in the public PersonPaymentInfo; the values of the partners' payment methods.
    check.enum(payment.get("paymentMethod"), "paymentInfo.paymentMethod", PAYMENT_METHODS | {"DIRECT_DEBIT"},
               required=True)
    if payment.get("paymentTermDays") in (None, ""):
        check.add("paymentInfo.paymentTermDays", "MUST_NOT_BE_NULL")
    if payment.get("penalInterestRate") is None:
        check.add("paymentInfo.penalInterestRate", "MUST_NOT_BE_NULL")
    if not isinstance((body.get("registryInfo") or {}).get("active"), bool):
        check.add("registryInfo.active", "MUST_NOT_BE_NULL")
    return check


SEND_WITH_INVOICE_TYPES = {"SALES_INVOICE", "SALES_ORDER", "PURCHASE_ORDER"}


def json_integer(value: Any) -> int | None:
    """An integer field as the API's JSON reader takes it: a number, or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


def path_id(request: Request) -> int:
    try:
        return int(request.path_params["id"])
    except ValueError:
        raise ApiError.one(404, None, "Not found") from None


def query_date(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError.one(400, name, "INVALID_VALUE") from None


def filter_in(items: list[dict[str, Any]], key: str, csv: str | None) -> list[dict[str, Any]]:
    if not csv:
        return items
    wanted = set(csv.split(","))
    return [i for i in items if i.get(key) in wanted]


def filter_dates(
    items: list[dict[str, Any]], key: str, start: str | None, end: str | None
) -> list[dict[str, Any]]:
    try:
        lo = date.fromisoformat(start) if start else None
        hi = date.fromisoformat(end) if end else None
    except ValueError:
        raise ApiError.one(400, "startDate", "INVALID_VALUE") from None
    return [
        i
        for i in items
        if (lo is None or date.fromisoformat(i[key]) >= lo)
        and (hi is None or date.fromisoformat(i[key]) <= hi)
    ]


def filter_times(
    items: list[dict[str, Any]], key: str, start: str | None, end: str | None
) -> list[dict[str, Any]]:
    try:
        lo: datetime | None = parse_datetime(start) if start else None
        hi: datetime | None = parse_datetime(end) if end else None
    except ValueError:
        raise ApiError.one(400, f"{key.lstrip('_')}StartDate", "INVALID_VALUE") from None
    return [
        i
        for i in items
        if (lo is None or parse_datetime(i[key]) >= lo) and (hi is None or parse_datetime(i[key]) <= hi)
    ]


ORDERINGS = (
    ("orderById", "id"),
    ("orderByDate", "date"),
    ("orderByCreated", "_created"),
    ("orderByVersion", "version"),
)


def page(
    request: Request,
    items: list[dict[str, Any]],
    shape: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    keyset: bool = True,
) -> Response:
    """Ordering, keyset (`previousId`, where the operation has it) and offset (`page`) paging, and the
    `{results, meta}` envelope."""
    q = request.query_params
    try:
        size = int(q.get("size", 50))
        page_number = int(q.get("page", 0))
        previous_id = int(q["previousId"]) if keyset and q.get("previousId") else None
    except ValueError:
        raise ApiError.one(400, "size", "INVALID_VALUE") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError.one(400, "size", f"SIZE_MUST_BE_BETWEEN_1_AND_{MAX_PAGE_SIZE}")
    if page_number < 0:
        raise ApiError.one(400, "page", "INVALID_VALUE")
    param, key = next(((p, k) for p, k in ORDERINGS if q.get(p)), ("orderById", "id"))
    descending = q.get(param, "DESC").upper() != "ASC"
    if previous_id is not None:
        items = [i for i in items if (i["id"] < previous_id if descending else i["id"] > previous_id)]
    items = sorted(
        items, key=lambda i: (i.get(key) or "", i["id"]) if key != "id" else i["id"], reverse=descending
    )
    window = items[page_number * size : (page_number + 1) * size]
    return JSONResponse(
        {
            "results": [shape(i) for i in window],
            "meta": {
                "pageNumber": page_number,
                "pageSize": size,
                "resultCount": len(window),
                "totalCount": len(items),
            },
        }
    )


def batch(request: Request, registry: dict[int, dict[str, Any]], what: str) -> Response:
    """One id -> the object; several (≤200) -> the found ones as a list, by id; none found -> 404."""
    raw = request.path_params["ids"].split(",")
    if len(raw) > MAX_BATCH_IDS:
        return error(400, f"Maximum number of ids is {MAX_BATCH_IDS}")
    try:
        ids = sorted({int(i) for i in raw})
    except ValueError:
        return error(404, f"{what} not found")
    found = [public(registry[i]) for i in ids if i in registry]
    if not found:
        return error(404, f"{what} not found")
    return JSONResponse(found if len(raw) > 1 else found[0])


def invoice_basic_info(invoice: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "partnerId",
        "type",
        "status",
        "invoiceNumber",
        "originalInvoiceNumber",
        "invoiceChannel",
        "date",
        "version",
        "invoiceSumInfo",
        "creatorId",
        "counterParty",
    )
    info = {k: invoice.get(k) for k in keys}
    info["created"] = invoice.get("_created")
    info["dueDate"] = invoice["paymentInfo"]["dueDate"]
    return info


def partner_basic_info(partner: dict[str, Any]) -> dict[str, Any]:
    invoicing_info = partner.get("invoicingInfo") or {}
    return {
        "id": partner["id"],
        "name": partner["name"],
        "type": partner["type"],
        "version": partner["version"],
        "billingAddress": partner.get("billingAddress") or partner.get("address"),
        "invoicingInfo": {
            k: invoicing_info.get(k) for k in ("customerNumber", "identifier", "identifierType")
        },
        "registryInfo": {"active": (partner.get("registryInfo") or {}).get("active", True)},
    }


def person_basic_info(person: dict[str, Any]) -> dict[str, Any]:
    """PersonBasicInfo: the person number is under `invoicingInfo`, as in the public model."""
    invoicing_info = person.get("invoicingInfo") or {}
    address = person.get("deliveryAddress") or {}
    return {
        "id": person["id"],
        "firstName": person.get("firstName"),
        "lastName": person["lastName"],
        "deliveryAddress": {k: address.get(k) for k in ("street", "zip", "city", "country")},
        "invoicingInfo": {k: invoicing_info.get(k) for k in ("personNumber", "identifier", "identifierType")},
        "registryInfo": {"active": (person.get("registryInfo") or {}).get("active", True)},
    }


def person_as_partner(person: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": person["id"],
        "type": "PERSON",
        "version": person["version"],
        "name": f"{person.get('firstName', '')} {person['lastName']}".strip(),
        "invoicingInfo": {"customerNumber": person["invoicingInfo"].get("personNumber")},
        "paymentInfo": {"paymentMethod": (person.get("paymentInfo") or {}).get("paymentMethod") or "BANK_TRANSFER"},
        "registryInfo": {"active": person["registryInfo"].get("active", True)},
    }


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, "NOT_FOUND")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return error(405, "METHOD_NOT_ALLOWED")


def add_organisations(store: ProcountorStore, count: int) -> None:
    """Organisations org0001…org<count> (sandbox/procountor/organisations.py), those not there yet."""
    from .organisations import add_organisation, organisation_name

    for number in range(1, count + 1):
        if (name := organisation_name(number)) not in store.companies:
            add_organisation(store, name, number)


def create_app(
    *,
    seed: str | None = None,
    organisations: int = 0,
    latency_ms: float = 0.0,
    error_rate: float = 0.0,
    timeout_rate: float = 0.0,
    rate_limit_per_second: float | None = 20.0,
    token_lifetime_s: int = 3600,
    state_file: str | None = None,
    timeout_delay_s: float = 35.0,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The sandbox app; `app.state.store` is the store, `app.state.sandbox` the knobs, tokens and stats.

    seed="demo" loads the demo organisation; seed=None only the two companies with credentials, company info,
    fiscal years and VAT. An existing `state_file` is loaded instead of seeding and
    rewritten after each write. `organisations=N` adds N organisations beside them, each with its own client,
    API key and company (sandbox/procountor/organisations.py).
    """
    if state_file and Path(state_file).exists():
        store = ProcountorStore.load(state_file, clock=clock)
    else:
        store = ProcountorStore(clock=clock)
        if seed == "demo":
            seed_demo(store)
        elif seed is None:
            seed_base(store)
        else:
            raise ValueError(f"unknown seed {seed!r}")
    config = SandboxConfig(
        latency_ms=latency_ms,
        error_rate=error_rate,
        timeout_rate=timeout_rate,
        timeout_delay_s=timeout_delay_s,
        rate_limit_per_second=rate_limit_per_second,
        token_lifetime_s=token_lifetime_s,
    )
    add_organisations(store, organisations)
    sandbox = Sandbox(store, config, state_file)
    app = Starlette(
        routes=sandbox.routes(),
        middleware=[Middleware(BasePathRewrite)],
        # Unknown paths and methods answer the API's JSON error model, not Starlette's plain text.
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    app.state.store = store
    app.state.sandbox = sandbox
    return app
