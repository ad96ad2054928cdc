"""The Severa REST API v1 operations the integration uses, as (method, path, scopes, handler) rows.

Paths are relative to the base path ``/rest-api``; scopes are the per-operation ``security`` scopes
of Severa's OpenAPI document (an operation with several scopes needs all of them).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response

from sandbox.severa import builders
from sandbox.severa.pdf import render_pdf
from sandbox.severa.store import NotFound, Record, SeveraStore, ValidationProblem
from sandbox.severa.web import (
    ApiError,
    Ctx,
    PatchRules,
    Predicate,
    apply_patch,
    common_filters,
    from_validation,
    not_found,
    offset_page,
    parse_datetime,
    token_page,
)

log = logging.getLogger(__name__)

Handler = Callable[[Ctx], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    scopes: tuple[str, ...]
    handler: Handler


def _get_or_404(store: SeveraStore, kind: str, guid: str) -> Record:
    record = store.get(kind, guid)
    if record is None:
        raise not_found()
    return record


def _in(field: Callable[[Record], Any], values: list[str]) -> Predicate:
    wanted = {v.lower() for v in values}
    return lambda r: str(field(r)).lower() in wanted


def _sub_guid(name: str) -> Callable[[Record], Any]:
    return lambda r: (r.get(name) or {}).get("guid")


# ------------------------------------------------------------- generic handlers


def get_one(kind: str) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        return JSONResponse(_get_or_404(ctx.store, kind, ctx.params["guid"]))

    return handler


def create(kind: str, build: Callable[[SeveraStore, Record], Record], *, as_array: bool = False) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        record = ctx.store.insert(kind, build(ctx.store, await ctx.json_object()))
        return JSONResponse([record] if as_array else record, status_code=201)

    return handler


def patch(kind: str, rules: PatchRules | None = None) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        ops = await ctx.json()
        updated = apply_patch(ctx.store, kind, ctx.params["guid"], ops, rules or PatchRules())
        return JSONResponse([updated])

    return handler


def delete(kind: str) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        try:
            ctx.store.delete(kind, ctx.params["guid"])
        except NotFound as exc:
            raise not_found() from exc
        return Response(status_code=204)

    return handler


def token_list(
    kind: str,
    extra: Callable[[Ctx], list[Predicate]] | None = None,
    *,
    changed_since: bool = True,
    scope_to: tuple[str, str, str] | None = None,
) -> Handler:
    """A token-paged list; ``scope_to=(path_param, parent_kind, sub_model)`` restricts it to one parent
    (404 when the parent does not exist)."""

    async def handler(ctx: Ctx) -> Response:
        preds = common_filters(ctx, changed_since=changed_since) + (extra(ctx) if extra else [])
        if scope_to is not None:
            param, parent_kind, sub = scope_to
            parent = _get_or_404(ctx.store, parent_kind, ctx.params[param])["guid"]
            preds.append(
                lambda r: (
                    (r.get(sub) or {}).get("guid") == parent if sub != "invoiceGuid" else r.get("invoiceGuid") == parent
                )
            )
        return token_page(ctx, ctx.store.all(kind), preds)

    return handler


def offset_list(
    kind: str,
    extra: Callable[[Ctx], list[Predicate]] | None = None,
    *,
    changed_since: bool = True,
    default_count: int | None = 20,
) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        preds = common_filters(ctx, changed_since=changed_since) + (extra(ctx) if extra else [])
        return offset_page(ctx, ctx.store.all(kind), preds, default_count=default_count)

    return handler


# ----------------------------------------------------------------- filters


def _invoice_filters(ctx: Ctx) -> list[Predicate]:
    preds: list[Predicate] = []
    if statuses := ctx.q_list("invoiceStatusGuids"):
        preds.append(_in(_sub_guid("status"), statuses))
    if customers := ctx.q_list("customerGuids"):
        preds.append(_in(_sub_guid("customer"), customers))
    if projects := ctx.q_list("projectGuids"):
        wanted = {p.lower() for p in projects}
        preds.append(lambda r: any(p["guid"].lower() in wanted for p in r.get("projects") or []))
    if numbers := ctx.q_list("numbers"):
        preds.append(_in(lambda r: r.get("number"), numbers))
    if refs := ctx.q_list("referenceNumbers"):
        preds.append(_in(lambda r: r.get("referenceNumber"), refs))
    if (start := ctx.q_datetime("startDate")) is not None:
        preds.append(lambda r: r["date"] >= start.date().isoformat())
    if (end := ctx.q_datetime("endDate")) is not None:
        preds.append(lambda r: r["date"] <= end.date().isoformat())
    if (paid := ctx.q_datetime("paymentDateStart")) is not None:
        preds.append(lambda r: bool(r.get("paymentDate")) and r["paymentDate"] >= paid.date().isoformat())
    return preds


def _customer_filters(ctx: Ctx) -> list[Predicate]:
    preds: list[Predicate] = []
    if numbers := ctx.q_list("numbers"):
        preds.append(_in(lambda r: r.get("number"), numbers))
    if (vat := ctx.q("vatNumber")) is not None and vat != "":
        preds.append(lambda r: r.get("vatNumber") == vat)
    if (active := ctx.q_bool("isActive")) is not None:
        preds.append(lambda r: r.get("isActive") == active)
    if names := ctx.q_list("customerNames"):
        preds.append(_in(lambda r: r.get("name"), names))
    return preds


def _product_filters(ctx: Ctx) -> list[Predicate]:
    preds: list[Predicate] = []
    if code := ctx.q("code"):
        preds.append(lambda r: (r.get("code") or "").lower() == code.lower())
    if product_type := ctx.q("type"):
        preds.append(lambda r: r.get("type") == product_type)
    if (active := ctx.q_bool("isActive")) is not None:
        preds.append(lambda r: r.get("isActive") == active)
    return preds


def _code_filter(ctx: Ctx) -> list[Predicate]:
    code = ctx.q("code")
    return [lambda r: (r.get("code") or "").lower() == code.lower()] if code else []


def _project_filters(ctx: Ctx) -> list[Predicate]:
    preds: list[Predicate] = []
    if customers := ctx.q_list("customerGuids"):
        preds.append(_in(_sub_guid("customer"), customers))
    if projects := ctx.q_list("projectGuids"):
        preds.append(_in(lambda r: r["guid"], projects))
    if units := ctx.q_list("businessUnitGuids"):
        preds.append(_in(_sub_guid("businessUnit"), units))
    if numbers := ctx.q_list("numbers"):
        preds.append(_in(lambda r: r.get("number"), numbers))
    if (closed := ctx.q_bool("isClosed")) is not None:
        preds.append(lambda r: r.get("isClosed") == closed)
    return preds


def _user_filters(ctx: Ctx) -> list[Predicate]:
    preds: list[Predicate] = []
    if code := ctx.q("code"):
        preds.append(lambda r: (r.get("code") or "") == code)
    if (active := ctx.q_bool("isActive")) is not None:
        preds.append(lambda r: r.get("isActive") == active)
    if units := ctx.q_list("businessUnitGuids"):
        preds.append(_in(_sub_guid("businessUnit"), units))
    return preds


def _expense_class_filter(ctx: Ctx) -> list[Predicate]:
    expense_class = ctx.q("expenseClass")
    return [lambda r: r["travelExpense"]["expenseClass"] == expense_class] if expense_class else []


def _product_type_filter(ctx: Ctx) -> list[Predicate]:
    product_type = ctx.q("productType")
    return [lambda r: r.get("productType") == product_type] if product_type else []


def _row_type_filter(ctx: Ctx) -> list[Predicate]:
    row_type = ctx.q("rowType")
    return [lambda r: r.get("rowType") == row_type] if row_type else []


def _reimbursement_filters(ctx: Ctx) -> list[Predicate]:
    statuses = ctx.q_list("travelReimbursementStatusGuids")
    return [_in(_sub_guid("travelReimbursementStatus"), statuses)] if statuses else []


def _phase_filters(ctx: Ctx) -> list[Predicate]:
    projects = ctx.q_list("projectGuids")
    return [_in(_sub_guid("project"), projects)] if projects else []


def _company_filters(ctx: Ctx) -> list[Predicate]:
    preds: list[Predicate] = []
    if company := ctx.q("companyGuid"):
        preds.append(lambda r: (r.get("companyGuid") or (r.get("company") or {}).get("guid")) == company)
    if unit := ctx.q("businessUnitGuid"):
        preds.append(lambda r: (r.get("businessUnit") or {}).get("guid") == unit)
    return preds


def _deleted_filters(ctx: Ctx) -> list[Predicate]:
    since = ctx.q_datetime("deletedSince")
    return [lambda r: parse_datetime(r["deletedDateTime"], "deletedDateTime") >= since] if since else []


# ------------------------------------------------------------ special handlers


async def create_address(ctx: Ctx) -> Response:
    record = ctx.store.insert(
        "addresses", builders.address(ctx.store, ctx.params["customerGuid"], await ctx.json_object())
    )
    return JSONResponse(record, status_code=201)


async def list_customer_addresses(ctx: Ctx) -> Response:
    customer = _get_or_404(ctx.store, "customers", ctx.params["customerGuid"])
    rows = [a for a in ctx.store.all("addresses") if (a.get("customer") or {}).get("guid") == customer["guid"]]
    return offset_page(ctx, rows, [])


async def list_customer_contacts(ctx: Ctx) -> Response:
    customer = _get_or_404(ctx.store, "customers", ctx.params["customerGuid"])
    rows = [c for c in ctx.store.all("contactpersons") if c["customer"]["guid"] == customer["guid"]]
    return offset_page(ctx, rows, [])


async def create_project(ctx: Ctx) -> Response:
    return JSONResponse(builders.create_project(ctx.store, await ctx.json_object()), status_code=201)


async def create_invoices(ctx: Ctx) -> Response:
    return JSONResponse(builders.create_invoices(ctx.store, await ctx.json_object()), status_code=201)


async def create_reimbursement(ctx: Ctx) -> Response:
    add_all = ctx.q_bool("addAllUnreimbursedTravelExpenses")
    record = builders.create_travel_reimbursement(
        ctx.store,
        await ctx.json_object(),
        add_all_unreimbursed=True if add_all is None else add_all,
        included=ctx.q_list("includedProjectTravelExpenses"),
    )
    return JSONResponse(record, status_code=201)


def _number(value: Any, spec: str) -> str:
    """A number as the PDF prints it; an empty field prints as a dash (Severa renders whatever the record has)."""
    return format(value, spec) if isinstance(value, int | float) else "-"


def _invoice_lines(store: SeveraStore, invoice: Record) -> list[str]:
    rows = [r for r in store.all("invoicerows") if r["invoiceGuid"] == invoice["guid"]]
    return [
        f"{'/'.join(str(c) for c in r.get('code') or []) or '-'}  {str(r.get('description') or '')[:60]}  "
        f"{_number(r.get('quantity'), 'g')} {r.get('measurementUnit') or ''}"
        f" x {_number((r.get('unitPrice') or {}).get('amount'), '.2f')}  VAT {_number(r.get('vatRate'), 'g')} %"
        for r in rows
    ]


async def invoice_pdf(ctx: Ctx) -> Response:
    invoice = _get_or_404(ctx.store, "invoices", ctx.params["guid"])
    options = ctx.q("pdfGetOptions") or "All"
    invoice_type = ctx.q("invoiceType") or "Invoice"
    if options not in ("All", "InvoiceOnly", "AttachmentAndBreakdown"):
        raise ApiError(
            400,
            "InvalidParameter",
            f"The value '{options}' is not valid for pdfGetOptions.",
            name="pdfGetOptions",
            location="UriParameter",
        )
    if invoice_type not in ("Invoice", "Reminder"):
        raise ApiError(
            400,
            "InvalidParameter",
            f"The value '{invoice_type}' is not valid for invoiceType.",
            name="invoiceType",
            location="UriParameter",
        )
    heading = (
        "PAYMENT REMINDER" if invoice_type == "Reminder" else ("CREDIT NOTE" if invoice["isCreditNote"] else "INVOICE")
    )
    total = (invoice.get("totalIncludingTax") or {}).get("amount")
    currency = (invoice.get("currency") or {}).get("code") or ""
    front = [
        f"{heading} {invoice['number']}",
        f"{invoice.get('senderName')}  VAT {invoice.get('senderVatNumber')}",
        f"To: {invoice.get('receiverCustomerName')}",
        f"Date {invoice['date']}  Due {invoice['dueDate']}",
        f"Reference {invoice.get('referenceNumber')}",
        f"Total {_number(total, '.2f')} {currency}",
        f"pdfGetOptions={options}",
    ]
    breakdown = [f"INVOICE BREAKDOWN {invoice['number']}", *_invoice_lines(ctx.store, invoice)]
    attachments = [f"ATTACHMENT {f['name']}" for f in ctx.store.find("invoicefiles", invoiceGuid=invoice["guid"])]
    pages = {
        "All": [front, breakdown] + ([attachments] if attachments else []),
        "InvoiceOnly": [front],
        "AttachmentAndBreakdown": [breakdown] + ([attachments] if attachments else []),
    }[options]
    pdf = render_pdf(pages, title=f"{heading} {invoice['number']} ({options})")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="invoice_{invoice["number"]}.pdf"'},
    )


async def reimbursement_pdf(ctx: Ctx) -> Response:
    reimbursement = _get_or_404(ctx.store, "travelreimbursements", ctx.params["guid"])
    expenses = [
        e
        for e in ctx.store.all("projecttravelexpenses")
        if (e.get("travelReimbursement") or {}).get("guid") == reimbursement["guid"]
    ]
    total = reimbursement.get("totalExpenses") or {}
    lines = [
        f"TRAVEL REIMBURSEMENT {reimbursement['number']}",
        f"{reimbursement['user']['name']}",
        f"Status {reimbursement['travelReimbursementStatus']['name']}",
        f"Total {_number(total.get('amount'), '.2f')} {total.get('currencyCode') or ''}",
    ]
    lines += [
        f"{e.get('eventDate') or '-'} {(e.get('travelExpense') or {}).get('code')} {_number(e.get('quantity'), 'g')}"
        f" x {_number((e.get('unitCost') or {}).get('amount'), '.2f')}"
        for e in expenses
    ]
    pages = [lines, [f"RECEIPTS {reimbursement['number']}", f"{len(expenses)} expense(s)"]]
    return Response(
        render_pdf(pages, title=f"Travel reimbursement {reimbursement['number']}"),
        media_type="application/pdf",
    )


async def invoice_files(ctx: Ctx) -> Response:
    invoice = _get_or_404(ctx.store, "invoices", ctx.params["invoiceGuid"])
    return offset_page(ctx, ctx.store.find("invoicefiles", invoiceGuid=invoice["guid"]), [], default_count=None)


async def invoice_settings(ctx: Ctx) -> Response:
    _get_or_404(ctx.store, "invoices", ctx.params["invoiceGuid"])
    return JSONResponse(ctx.store.invoice_settings(ctx.params["invoiceGuid"]))


async def expense_files(ctx: Ctx) -> Response:
    expense = _get_or_404(ctx.store, "projecttravelexpenses", ctx.params["projectTravelExpenseGuid"])
    rows = ctx.store.find("projecttravelexpensefiles", travelExpenseGuid=expense["guid"])
    return offset_page(ctx, rows, [], default_count=None)


async def get_file(ctx: Ctx) -> Response:
    record = dict(_get_or_404(ctx.store, "files", ctx.params["guid"]))
    if ctx.q_bool("includeDataInResponse"):
        record["data"] = base64.b64encode(ctx.store.file_data.get(record["guid"], b"")).decode("ascii")
    return JSONResponse(record)


async def file_data(ctx: Ctx) -> Response:
    record = _get_or_404(ctx.store, "files", ctx.params["guid"])
    return Response(
        ctx.store.file_data.get(record["guid"], b""),
        media_type=record.get("contentType") or "application/octet-stream",
    )


def _items_of(kind: str, sub: str, param: str) -> Handler:
    """Hours/fees/travel expenses of an invoice or an invoice row."""

    async def handler(ctx: Ctx) -> Response:
        parent = ctx.params[param]
        if sub == "invoice":
            _get_or_404(ctx.store, "invoices", parent)
            preds: list[Predicate] = [lambda r: (r.get("invoice") or {}).get("guid") == parent]
        else:
            _get_or_404(ctx.store, "invoicerows", parent)
            preds = [lambda r: r.get("invoiceRowGuid") == parent]
        if kind == "projectfees":
            preds += _product_type_filter(ctx)
        if kind == "projecttravelexpenses":
            preds += _expense_class_filter(ctx)
        return token_page(ctx, ctx.store.all(kind), preds)

    return handler


def _reimbursement_expenses(ctx: Ctx) -> list[Predicate]:
    guid = ctx.params["travelReimbursementGuid"]
    _get_or_404(ctx.store, "travelreimbursements", guid)
    return [lambda r: (r.get("travelReimbursement") or {}).get("guid") == guid] + _expense_class_filter(ctx)


async def organization_details(ctx: Ctx) -> Response:
    return JSONResponse(ctx.store.organization)


async def deleted(ctx: Ctx) -> Response:
    kind = {
        "/v1/deletedprojectfees": "projectfees",
        "/v1/deletedprojecttravelexpenses": "projecttravelexpenses",
        "/v1/deletedworkhours": "workhours",
    }[ctx.request.url.path.removeprefix("/rest-api")]
    return token_page(ctx, ctx.store.deleted.get(kind, []), _deleted_filters(ctx))


async def vat_rates(ctx: Ctx) -> Response:
    rows = ctx.store.all("vatrates")
    if country := ctx.q("countryGuid"):
        rows = [r for r in rows if r.get("countryGuid") == country]
    if (active := ctx.q_bool("active")) is not None:
        rows = [r for r in rows if r.get("isActive") == active]
    return JSONResponse(rows)


async def countries(ctx: Ctx) -> Response:
    return JSONResponse(ctx.store.all("countries"))


# ----------------------------------------------------------------- patch rules


def _status_ref(store: SeveraStore, guid: str) -> Record:
    return store.invoice_status_sub(guid)


def _reimbursement_status_ref(store: SeveraStore, guid: str) -> Record:
    status = store.require("travelreimbursementstatuses", guid, field="travelReimbursementStatus")
    return {"guid": status["guid"], "name": status["name"]}


def _after_reimbursement(store: SeveraStore, reimbursement: Record) -> None:
    # The expenses' TravelReimbursementSubModel mirrors the reimbursement's status flags.
    status = store.get("travelreimbursementstatuses", reimbursement["travelReimbursementStatus"]["guid"])
    if status is None:
        return
    for expense in store.all("projecttravelexpenses"):
        if (expense.get("travelReimbursement") or {}).get("guid") == reimbursement["guid"]:
            sub = {
                "guid": reimbursement["guid"],
                "isApproved": status["isApproved"],
                "isLocked": status["isLocked"],
                "status": status["name"],
            }
            if expense["travelReimbursement"] != sub:
                store.update("projecttravelexpenses", expense["guid"], {"travelReimbursement": sub})


def _named_ref(kind: str, field: str, *extra: str) -> Callable[[SeveraStore, str], Record]:
    def ref(store: SeveraStore, guid: str) -> Record:
        record = store.require(kind, guid, field=field)
        return {"guid": record["guid"], "name": record.get("name")} | {k: record.get(k) for k in extra}

    return ref


INVOICE_RULES = PatchRules(
    refs={"status": _status_ref},
    read_only={
        "number",
        "customer",
        "projects",
        "totalIncludingTax",
        "totalExcludingTax",
        "totalTax",
        "workHoursTotalExcludingTax",
        "projectFeesTotalExcludingTax",
        "flatRatesTotalExcludingTax",
        "projectTravelExpensesTotalExcludingTax",
        "workHoursQuantity",
        "isCreditNote",
        "canBeDeleted",
    },
)
REIMBURSEMENT_RULES = PatchRules(
    refs={"travelReimbursementStatus": _reimbursement_status_ref},
    read_only={"number", "user", "total", "totalExpenses", "canChangeApproval"},
    after=_after_reimbursement,
)
PROJECT_RULES = PatchRules(
    refs={
        "costCenter": lambda s, g: {
            k: s.require("costcenters", g, field="costCenter")[k] for k in ("name", "guid", "identifier")
        }
    },
    read_only={"customer", "rootPhase"},
)
FEE_RULES = PatchRules(read_only={"project", "customer", "invoice", "invoiceRowGuid"})
EXPENSE_RULES = PatchRules(read_only={"project", "customer", "invoice", "invoiceRowGuid", "travelReimbursement"})


OPERATIONS: list[Operation] = [
    # invoices
    Operation("GET", "/v1/invoices", ("invoices:read",), token_list("invoices", _invoice_filters)),
    Operation("POST", "/v1/invoices", ("invoices:write",), create_invoices),
    Operation("GET", "/v1/invoices/{guid}", ("invoices:read",), get_one("invoices")),
    Operation("PATCH", "/v1/invoices/{guid}", ("invoices:write",), patch("invoices", INVOICE_RULES)),
    Operation("DELETE", "/v1/invoices/{guid}", ("invoices:delete",), delete("invoices")),
    Operation("GET", "/v1/invoices/{guid}/pdf", ("files:read",), invoice_pdf),
    Operation("GET", "/v1/invoices/{invoiceGuid}/files", ("files:read",), invoice_files),
    Operation("GET", "/v1/invoices/{invoiceGuid}/invoicesettings", ("invoices:read",), invoice_settings),
    Operation(
        "GET",
        "/v1/invoices/{invoiceGuid}/invoicerows",
        ("invoices:read",),
        token_list(
            "invoicerows", _row_type_filter, changed_since=False, scope_to=("invoiceGuid", "invoices", "invoiceGuid")
        ),
    ),
    Operation(
        "GET",
        "/v1/invoices/{invoiceGuid}/workhours",
        ("invoices:read",),
        _items_of("workhours", "invoice", "invoiceGuid"),
    ),
    Operation(
        "GET",
        "/v1/invoices/{invoiceGuid}/projectfees",
        ("invoices:read",),
        _items_of("projectfees", "invoice", "invoiceGuid"),
    ),
    Operation(
        "GET",
        "/v1/invoices/{invoiceGuid}/projecttravelexpenses",
        ("invoices:read",),
        _items_of("projecttravelexpenses", "invoice", "invoiceGuid"),
    ),
    Operation("GET", "/v1/invoicefiles/{guid}", ("files:read",), get_one("invoicefiles")),
    Operation("GET", "/v1/invoicerows", ("invoices:read",), token_list("invoicerows")),
    Operation("GET", "/v1/invoicerows/{guid}", ("invoices:read",), get_one("invoicerows")),
    Operation(
        "GET",
        "/v1/invoicerows/{invoiceRowGuid}/workhours",
        ("invoices:read",),
        _items_of("workhours", "row", "invoiceRowGuid"),
    ),
    Operation(
        "GET",
        "/v1/invoicerows/{invoiceRowGuid}/projectfees",
        ("invoices:read",),
        _items_of("projectfees", "row", "invoiceRowGuid"),
    ),
    Operation(
        "GET",
        "/v1/invoicerows/{invoiceRowGuid}/projecttravelexpenses",
        ("invoices:read",),
        _items_of("projecttravelexpenses", "row", "invoiceRowGuid"),
    ),
    Operation("GET", "/v1/invoicestatuses", ("settings:read",), offset_list("invoicestatuses", changed_since=False)),
    Operation("POST", "/v1/invoicestatuses", ("settings:write",), create("invoicestatuses", builders.invoice_status)),
    Operation("GET", "/v1/invoicestatuses/{guid}", ("settings:read",), get_one("invoicestatuses")),
    # customers
    Operation("GET", "/v1/customers", ("customers:read",), token_list("customers", _customer_filters)),
    Operation("POST", "/v1/customers", ("customers:write",), create("customers", builders.customer)),
    Operation("GET", "/v1/customers/{guid}", ("customers:read",), get_one("customers")),
    Operation(
        "PATCH",
        "/v1/customers/{guid}",
        ("customers:write",),
        patch("customers", PatchRules(read_only={"number"})),
    ),
    Operation("GET", "/v1/customers/{customerGuid}/addresses", ("customers:read",), list_customer_addresses),
    Operation("POST", "/v1/customers/{customerGuid}/addresses", ("customers:write",), create_address),
    Operation("GET", "/v1/customers/{customerGuid}/contactpersons", ("customers:read",), list_customer_contacts),
    Operation("GET", "/v1/addresses", ("customers:read",), offset_list("addresses")),
    Operation("GET", "/v1/addresses/{guid}", ("customers:read",), get_one("addresses")),
    Operation(
        "PATCH",
        "/v1/addresses/{guid}",
        ("customers:write",),
        patch("addresses", PatchRules(read_only={"customer", "country"})),
    ),
    Operation("GET", "/v1/contactpersons", ("customers:read",), offset_list("contactpersons")),
    Operation("POST", "/v1/contactpersons", ("customers:write",), create("contactpersons", builders.contact_person)),
    Operation("GET", "/v1/contactpersons/{guid}", ("customers:read",), get_one("contactpersons")),
    # products, work types, travel expense types
    Operation("GET", "/v1/products", ("settings:read",), token_list("products", _product_filters)),
    Operation("POST", "/v1/products", ("settings:write",), create("products", builders.product)),
    Operation("GET", "/v1/products/{guid}", ("settings:read",), get_one("products")),
    Operation("PATCH", "/v1/products/{guid}", ("settings:write",), patch("products")),
    Operation("GET", "/v1/worktypes", ("settings:read",), offset_list("worktypes", _code_filter)),
    Operation("POST", "/v1/worktypes", ("settings:write",), create("worktypes", builders.work_type)),
    Operation("GET", "/v1/worktypes/{guid}", ("settings:read",), get_one("worktypes")),
    Operation(
        "GET",
        "/v1/travelexpensetypes",
        ("settings:read",),
        offset_list("travelexpensetypes", _code_filter, default_count=None),
    ),
    Operation(
        "POST",
        "/v1/travelexpensetypes",
        ("settings:write",),
        create("travelexpensetypes", builders.travel_expense_type),
    ),
    Operation("GET", "/v1/travelexpensetypes/{guid}", ("settings:read",), get_one("travelexpensetypes")),
    # projects, phases, work hours, fees
    Operation("GET", "/v1/projects", ("projects:read",), token_list("projects", _project_filters)),
    Operation("POST", "/v1/projects", ("projects:write",), create_project),
    Operation("GET", "/v1/projects/{guid}", ("projects:read",), get_one("projects")),
    Operation("PATCH", "/v1/projects/{guid}", ("projects:write",), patch("projects", PROJECT_RULES)),
    Operation(
        "GET",
        "/v1/projects/{projectGuid}/projectfees",
        ("fees:read",),
        token_list(
            "projectfees", _product_type_filter, changed_since=False, scope_to=("projectGuid", "projects", "project")
        ),
    ),
    Operation("GET", "/v1/phases", ("projects:read",), token_list("phases", _phase_filters)),
    Operation("GET", "/v1/phases/{guid}", ("projects:read",), get_one("phases")),
    Operation("GET", "/v1/workhours", ("hours:read",), token_list("workhours")),
    Operation("POST", "/v1/workhours", ("hours:write",), create("workhours", builders.work_hour)),
    Operation("GET", "/v1/workhours/{guid}", ("hours:read",), get_one("workhours")),
    Operation("GET", "/v1/projectfees", ("fees:read",), token_list("projectfees")),
    Operation("POST", "/v1/projectfees", ("fees:write",), create("projectfees", builders.project_fee, as_array=True)),
    Operation("GET", "/v1/projectfees/{guid}", ("fees:read",), get_one("projectfees")),
    Operation("PATCH", "/v1/projectfees/{guid}", ("fees:write",), patch("projectfees", FEE_RULES)),
    Operation("DELETE", "/v1/projectfees/{guid}", ("fees:delete",), delete("projectfees")),
    Operation("GET", "/v1/deletedprojectfees", ("fees:read",), deleted),
    # cost centers, business units, accounts, organisation
    Operation("GET", "/v1/costcenters", ("settings:read",), offset_list("costcenters")),
    Operation("POST", "/v1/costcenters", ("settings:write",), create("costcenters", builders.cost_center)),
    Operation("GET", "/v1/costcenters/{guid}", ("settings:read",), get_one("costcenters")),
    Operation("PATCH", "/v1/costcenters/{guid}", ("settings:write",), patch("costcenters")),
    Operation("GET", "/v1/businessunits", ("settings:read",), offset_list("businessunits", _company_filters)),
    Operation("POST", "/v1/businessunits", ("settings:write",), create("businessunits", builders.business_unit)),
    Operation("GET", "/v1/businessunits/{guid}", ("settings:read",), get_one("businessunits")),
    Operation("PATCH", "/v1/businessunits/{guid}", ("settings:write",), patch("businessunits")),
    Operation("GET", "/v1/salesaccounts", ("settings:read",), offset_list("salesaccounts", changed_since=False)),
    Operation("POST", "/v1/salesaccounts", ("settings:write",), create("salesaccounts", builders.sales_account)),
    Operation("GET", "/v1/salesaccounts/{guid}", ("settings:read",), get_one("salesaccounts")),
    Operation("GET", "/v1/costaccounts", ("settings:read",), offset_list("costaccounts", changed_since=False)),
    Operation("POST", "/v1/costaccounts", ("settings:write",), create("costaccounts", builders.cost_account)),
    Operation(
        "GET",
        "/v1/bankaccounts",
        ("settings:read",),
        offset_list("bankaccounts", _company_filters, changed_since=False),
    ),
    Operation("GET", "/v1/bankaccounts/{guid}", ("settings:read",), get_one("bankaccounts")),
    Operation("GET", "/v1/currencies", ("settings:read",), offset_list("currencies", changed_since=False)),
    Operation("GET", "/v1/vatrates", ("settings:read",), vat_rates),
    Operation("GET", "/v1/localization/countries", ("settings:read",), countries),
    Operation("GET", "/v1/localization/countries/{guid}", ("settings:read",), get_one("countries")),
    Operation("GET", "/v1/organizationdetails", ("organization:read",), organization_details),
    # users
    Operation("GET", "/v1/users", ("users:read",), token_list("users", _user_filters)),
    Operation("POST", "/v1/users", ("users:write",), create("users", builders.user)),
    Operation("GET", "/v1/users/{guid}", ("users:read",), get_one("users")),
    Operation("PATCH", "/v1/users/{guid}", ("users:write",), patch("users", PatchRules(read_only={"businessUnit"}))),
    # travel
    Operation(
        "GET",
        "/v1/travelreimbursements",
        ("travels:read",),
        token_list("travelreimbursements", _reimbursement_filters),
    ),
    Operation("POST", "/v1/travelreimbursements", ("travels:write",), create_reimbursement),
    Operation("GET", "/v1/travelreimbursements/{guid}", ("travels:read",), get_one("travelreimbursements")),
    Operation(
        "PATCH",
        "/v1/travelreimbursements/{guid}",
        ("travels:write",),
        patch("travelreimbursements", REIMBURSEMENT_RULES),
    ),
    Operation("GET", "/v1/travelreimbursements/{guid}/pdf", ("files:read",), reimbursement_pdf),
    Operation(
        "GET",
        "/v1/travelreimbursements/{travelReimbursementGuid}/projecttravelexpenses",
        ("travels:read",),
        token_list("projecttravelexpenses", _reimbursement_expenses, changed_since=False),
    ),
    Operation(
        "GET",
        "/v1/travelreimbursementstatuses",
        ("settings:read",),
        offset_list("travelreimbursementstatuses", changed_since=False),
    ),
    Operation(
        "POST",
        "/v1/travelreimbursementstatuses",
        ("settings:write",),
        create("travelreimbursementstatuses", builders.travel_reimbursement_status),
    ),
    Operation(
        "GET",
        "/v1/travelreimbursementstatuses/{guid}",
        ("settings:read",),
        get_one("travelreimbursementstatuses"),
    ),
    Operation("GET", "/v1/projecttravelexpenses", ("travels:read",), token_list("projecttravelexpenses")),
    Operation(
        "POST",
        "/v1/projecttravelexpenses",
        ("travels:write",),
        create("projecttravelexpenses", builders.project_travel_expense),
    ),
    Operation("GET", "/v1/projecttravelexpenses/{guid}", ("travels:read",), get_one("projecttravelexpenses")),
    Operation(
        "PATCH",
        "/v1/projecttravelexpenses/{guid}",
        ("travels:write",),
        patch("projecttravelexpenses", EXPENSE_RULES),
    ),
    Operation("GET", "/v1/projecttravelexpenses/{projectTravelExpenseGuid}/files", ("files:read",), expense_files),
    # files
    Operation("GET", "/v1/files/{guid}", ("files:read",), get_file),
    Operation("GET", "/v1/files/{guid}/filedata", ("files:read",), file_data),
]


async def run(op: Operation, ctx: Ctx) -> Response:
    """Call a handler, turning store exceptions into HTTP answers."""
    try:
        return await op.handler(ctx)
    except ValidationProblem as problem:
        return from_validation(problem).response()
    except NotFound:
        return not_found().response()
    except ApiError as error:
        return error.response()
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        # The real API deserializes into its models first: a value of the wrong type or shape is the
        # client's error (400), never a 500. Logged, so that a sandbox bug does not hide behind it.
        log.warning("request refused as malformed: %s %s: %r", op.method, op.path, exc)
        return ApiError(400, "InvalidRequest", "The request does not match the model of the operation.",
                        location="RequestBody").response()
