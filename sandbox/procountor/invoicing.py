"""Invoices, their ledger receipts (accounting pages) and the invoice state machine.

Every operation takes the store and a company and either returns the saved resource or raises `ApiError` with
the errors Procountor would send.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .rules import (
    SALES_TYPES,
    TRAVEL_TYPES,
    Checker,
    FieldError,
    check_open_period,
    normalized_business_id,
    validate_dimension_values,
    validate_invoice,
)
from .store import Company, ProcountorStore

CENT = Decimal("0.01")
STATUS_CHANGE_REFUSED = "Invoice status cannot be changed"

# action -> {invoice kind -> (allowed from-statuses, to-status)}; "sales" = SALES_INVOICE/ORDER.
TRANSITIONS: dict[str, dict[str, tuple[set[str], str]]] = {
    "approve": {
        "sales": ({"UNFINISHED"}, "NOT_SENT"),
        "circulating": ({"RECEIVED", "VERIFIED"}, "APPROVED"),
    },
    "send": {"sales": ({"NOT_SENT", "SENT"}, "SENT")},
    "sendToCirculation": {"circulating": ({"UNFINISHED"}, "RECEIVED")},
    "verify": {"circulating": ({"RECEIVED"}, "VERIFIED")},
    "reject": {"circulating": ({"RECEIVED", "VERIFIED", "APPROVED"}, "PAYMENT_DENIED")},
    "unfinished": {
        "sales": ({"NOT_SENT", "APPROVED"}, "UNFINISHED"),
        "circulating": ({"RECEIVED", "VERIFIED", "APPROVED", "PAYMENT_DENIED"}, "UNFINISHED"),
    },
    "invalidate": {
        "sales": ({"UNFINISHED", "NOT_SENT", "APPROVED"}, "INVALIDATED"),
        "circulating": ({"UNFINISHED", "RECEIVED", "VERIFIED", "APPROVED", "PAYMENT_DENIED"}, "INVALIDATED"),
    },
}
MARKPAID_FROM = {
    "sales": {"NOT_SENT", "SENT", "APPROVED", "PARTLY_PAID"},
    "circulating": {"APPROVED", "PARTLY_PAID"},
}
EDITABLE = {"sales": {"UNFINISHED"}, "circulating": {"UNFINISHED", "RECEIVED"}}


class ApiError(Exception):
    """A refused request: HTTP status plus Procountor's error list."""

    def __init__(self, status: int, errors: Iterable[FieldError]) -> None:
        self.status = status
        self.errors = list(errors)
        super().__init__(", ".join(e.message for e in self.errors))

    @classmethod
    def one(cls, status: int, field: str | None, message: str) -> ApiError:
        return cls(status, [FieldError(field, message, status)])


def kind(invoice: dict[str, Any]) -> str:
    return "sales" if invoice["type"] in SALES_TYPES else "circulating"


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def row_amounts(invoice: dict[str, Any], row: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """(net, vat) of a row after row and invoice discounts."""
    quantity = Decimal(str(row["quantity"]))
    price = Decimal(str(row["unitPrice"]))
    factor = (1 - Decimal(str(row.get("discountPercent") or 0)) / 100) * (
        1 - Decimal(str(invoice.get("discountPercent") or 0)) / 100
    )
    vat_rate = Decimal(str(row["vatPercent"])) / 100
    amount = quantity * price * factor
    if invoice["extraInfo"].get("unitPricesIncludeVat"):
        net = money(amount / (1 + vat_rate))
        return net, money(amount) - net
    net = money(amount)
    return net, money(net * vat_rate)


def sum_info(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    net = vat = Decimal(0)
    for row in invoice["invoiceRows"]:
        row_net, row_vat = row_amounts(invoice, row)
        net += row_net
        vat += row_vat
    return [
        {
            "currency": invoice["paymentInfo"]["currency"],
            "inAccountingCurrency": True,
            "excludingVatTotal": float(net),
            "vatSumTotal": float(vat),
            "invoiceSumTotal": float(net + vat),
        }
    ]


def default_account(company: Company, invoice: dict[str, Any], row: dict[str, Any] | None) -> str:
    if row is not None and invoice["extraInfo"].get("accountingByRow"):
        product = company.products.get(row.get("productId") or -1) or next(
            (
                p
                for p in company.products.values()
                if row.get("productCode") and p.get("code") == row["productCode"]
            ),
            None,
        )
        if product and product.get("defaultAccount"):
            return str(product["defaultAccount"])
    if invoice["type"] in SALES_TYPES:
        return "3000"
    return "7000" if invoice["type"] in TRAVEL_TYPES else "4000"


def build_ledger_receipt(store: ProcountorStore, company: Company, invoice: dict[str, Any]) -> dict[str, Any]:
    """The accounting page: one ENTRY per row (accountingByRow) or per VAT rate, and the REVERSING_ENTRY."""
    sales = invoice["type"] in SALES_TYPES
    sign = Decimal(-1) if sales else Decimal(1)
    entries: list[dict[str, Any]] = []
    gross = Decimal(0)
    by_vat: dict[Decimal, dict[str, Any]] = {}
    for row in invoice["invoiceRows"]:
        net, vat = row_amounts(invoice, row)
        gross += net + vat
        percent = Decimal(str(row["vatPercent"]))
        if invoice["extraInfo"].get("accountingByRow"):
            entries.append(
                {
                    "transactionType": "ENTRY",
                    "account": default_account(company, invoice, row),
                    "accountingValue": float(sign * net),
                    "vatPercent": float(percent),
                    "vatStatus": row.get("vatStatus", invoice.get("vatStatus")),
                    "description": str(row.get("product", ""))[:255],
                    "dimensionItemValues": [],
                }
            )
        else:
            entry = by_vat.setdefault(
                percent,
                {
                    "transactionType": "ENTRY",
                    "account": default_account(company, invoice, None),
                    "accountingValue": 0.0,
                    "vatPercent": float(percent),
                    "vatStatus": invoice.get("vatStatus"),
                    "description": "",
                    "dimensionItemValues": [],
                },
            )
            entry["accountingValue"] = float(Decimal(str(entry["accountingValue"])) + sign * net)
    entries.extend(by_vat.values())
    entries.append(
        {
            "transactionType": "REVERSING_ENTRY",
            "account": "1700" if sales else "2880",
            "accountingValue": float(-sign * gross),
            "vatPercent": 0.0,
            "description": "",
            "dimensionItemValues": [],
        }
    )
    receipt_id = company.new_id()
    for entry in entries:
        entry["id"] = company.new_id()
    receipt = {
        "id": receipt_id,
        "type": invoice["type"],
        "status": invoice["status"],
        "name": invoice["counterParty"]["counterPartyAddress"]["name"][:80],
        "receiptDate": invoice["date"],
        "vatType": "SALES" if sales else "PURCHASE",
        "vatStatus": invoice.get("vatStatus") or 1,
        "invoiceId": invoice["id"],
        "receiptNumber": company.next_receipt_number,
        "invoiceNumber": invoice["invoiceNumber"],
        "invoiceNotes": invoice.get("notes") or "",
        "version": invoice["version"],
        "transactions": entries,
        "attachments": [],
    }
    company.next_receipt_number += 1
    company.ledger_receipts[receipt_id] = receipt
    return receipt


def check_counterparty_partner(company: Company, body: dict[str, Any]) -> list[FieldError]:
    """partnerId must exist; a known customer number must not come with another firm's business ID."""
    errors: list[FieldError] = []
    counter_party = body.get("counterParty") or {}
    partner = None
    if body.get("partnerId") is not None:
        partner = company.partners.get(body["partnerId"]) or company.persons.get(body["partnerId"])
        if partner is None:
            errors.append(FieldError("partnerId", "INVALID_VALUE"))
    elif counter_party.get("customerNumber") and body.get("type") in SALES_TYPES:
        partner = company.find_partner(customer_number=str(counter_party["customerNumber"]))
    if partner is not None and body.get("type") in SALES_TYPES:
        theirs = normalized_business_id((partner.get("invoicingInfo") or {}).get("identifier"))
        ours = normalized_business_id(counter_party.get("identifier"))
        if theirs and ours and theirs != ours:
            name = (counter_party.get("counterPartyAddress") or {}).get("name", "")
            errors.append(
                FieldError(
                    "counterParty.identifier",
                    f"Could not add {name} to Procountor, because another partner {partner['name']} "
                    "with the same "
                    "number and different VAT number already exists there.",
                )
            )
    return errors


def reference_code(company: Company, number: int) -> str:
    """Finnish reference (7-3-1 check digit) or Swedish OCR (Luhn), made when `bankReferenceCode` is ""."""
    base = f"1{number:05d}"
    if company.country == "FINLAND":
        weights = (7, 3, 1)
        total = sum(int(d) * weights[i % 3] for i, d in enumerate(reversed(base)))
        return base + str((10 - total % 10) % 10)
    total = 0
    for i, d in enumerate(reversed(base)):
        v = int(d) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return base + str((10 - total % 10) % 10)


READ_ONLY = {
    "id",
    "status",
    "invoiceNumber",
    "ledgerReceiptId",
    "paymentDate",
    "attachments",
    "invoiceSumInfo",
    "created",  # a search result's field (InvoiceBasicInfo), not the invoice's: dropped from a PUT body
    "_created",
    "creatorId",
    "invoiceOperatorInfo",
    "version",
}


def prepare(company: Company, body: dict[str, Any]) -> dict[str, Any]:
    invoice = {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY}
    address = invoice["counterParty"]["counterPartyAddress"]
    if invoice["type"] in SALES_TYPES | {"PURCHASE_INVOICE", "PURCHASE_ORDER"}:
        invoice.setdefault("billingAddress", dict(address))
        invoice.setdefault("deliveryAddress", dict(address))
    payment = invoice["paymentInfo"]
    if invoice["type"] in SALES_TYPES and not (payment.get("bankAccount") or {}).get("accountNumber"):
        default = next((a for a in company.bank_accounts if a.get("defaultForInvoice")), None)
        if default:
            payment["bankAccount"] = {"accountNumber": default["iban"]}
    return invoice


def create_invoice(store: ProcountorStore, company: Company, body: Any) -> dict[str, Any]:
    errors = validate_invoice(company, body, today=store.today())
    if not errors:
        errors = check_counterparty_partner(company, body)
    if errors:
        raise ApiError(400, errors)
    invoice = prepare(company, body)
    version = store.next_version()
    invoice.update(
        {
            "id": company.new_id(),
            "status": "UNFINISHED",
            "invoiceNumber": company.next_invoice_number,
            "_created": version[:19],  # answered only in search results (InvoiceBasicInfo.created)
            "version": version,
            "attachments": [],
            "creatorId": 1,
        }
    )
    company.next_invoice_number += 1
    if invoice["paymentInfo"].get("bankReferenceCode") == "":
        invoice["paymentInfo"]["bankReferenceCode"] = reference_code(company, invoice["invoiceNumber"])
    invoice["invoiceSumInfo"] = sum_info(invoice)
    company.invoices[invoice["id"]] = invoice
    invoice["ledgerReceiptId"] = build_ledger_receipt(store, company, invoice)["id"]
    return invoice


def get_invoice(company: Company, invoice_id: int) -> dict[str, Any]:
    invoice = company.invoices.get(invoice_id)
    if invoice is None:
        raise ApiError.one(404, None, "Invoice not found")
    return invoice


def check_version(given: Any, current: str) -> None:
    if given is None:
        raise ApiError.one(400, "version", "MUST_NOT_BE_NULL")
    if str(given) != current:
        raise ApiError.one(400, "version", "VERSION_MISMATCH")


def update_invoice(store: ProcountorStore, company: Company, invoice_id: int, body: Any) -> dict[str, Any]:
    """PUT: only while editable, with the current version; rows/amount changes recreate the ledger receipt."""
    current = get_invoice(company, invoice_id)
    if not isinstance(body, dict):
        raise ApiError.one(400, None, "INVALID_VALUE")
    check_version(body.get("version"), current["version"])
    if current["status"] not in EDITABLE[kind(current)]:
        raise ApiError.one(403, "status", STATUS_CHANGE_REFUSED)
    body = {**body, "type": current["type"], "partnerId": current.get("partnerId")}
    errors = validate_invoice(company, body, today=store.today()) or check_counterparty_partner(company, body)
    if errors:
        raise ApiError(400, errors)
    updated = prepare(company, body)
    for key in READ_ONLY - {"version", "invoiceSumInfo", "ledgerReceiptId"}:
        if key in current:
            updated[key] = current[key]
    updated["version"] = store.next_version()
    updated["invoiceSumInfo"] = sum_info(updated)
    accounting = ("invoiceRows", "discountPercent", "extraInfo", "vatStatus", "paymentInfo", "date")
    old_receipt = company.ledger_receipts.get(current.get("ledgerReceiptId") or -1)
    if old_receipt is None or any(current.get(k) != updated.get(k) for k in accounting):
        company.ledger_receipts.pop(current.get("ledgerReceiptId") or -1, None)
        company.invoices[invoice_id] = updated
        updated["ledgerReceiptId"] = build_ledger_receipt(store, company, updated)["id"]
    else:
        updated["ledgerReceiptId"] = old_receipt["id"]
        old_receipt["version"] = updated["version"]
        company.invoices[invoice_id] = updated
    return updated


def transition(
    store: ProcountorStore, company: Company, invoice_id: int, action: str, body: Any = None
) -> dict[str, Any]:
    invoice = get_invoice(company, invoice_id)
    rule = TRANSITIONS[action].get(kind(invoice))
    if isinstance(body, dict) and body.get("comment") is not None:
        check = Checker()
        check.text(body["comment"], "comment", 100)
        if check.errors:
            raise ApiError(400, check.errors)
    if rule is None or invoice["status"] not in rule[0]:
        raise ApiError.one(403, "status", STATUS_CHANGE_REFUSED)
    if action in {"approve", "unfinished", "invalidate"}:
        check = Checker()
        check_open_period(check, company, date.fromisoformat(invoice["date"]), "date")
        if check.errors:
            raise ApiError(403 if action != "approve" else 400, check.errors)
    target = rule[1]
    if action == "approve" and kind(invoice) == "sales" and invoice["invoiceChannel"] == "NO_SENDING":
        target = "APPROVED"
    return store.set_invoice_status(company.code, invoice_id, target)


# MarkInvoiceAsPaid.paymentMethodType → the PaymentEvent.type it is recorded as. The public description lists
# both enums but not how one becomes the other: these pairs are our reading (README "Payments back to Severa").
MARKED_PAYMENT_TYPES = {
    "ADJUSTMENT": "ADJUSTMENT",
    "BANK_STATEMENT": "BANKSTATEMENT",
    "CASH": "CASH",
    "CHARGE_CARD": "CHARGECARD",
    "CORRECTION": "CORRECTION",
    "CREDIT_LOSS": "CREDITLOSS",
    "CREDIT_NOTE": "COMPENSATIONINVOICE",
    "EXTERNAL_BANK_TRANSFER": "BANKTRANSFERELSEWHERE",
    "SET_OFF": "SETOFF",
}


def mark_paid(store: ProcountorStore, company: Company, invoice_id: int, body: Any) -> dict[str, Any]:
    """PUT /invoices/{id}/paymentevents/markpaid: PARTLY_PAID until the payments reach the total, then
    MARKED_PAID; the answer is the PaymentEvent."""
    invoice = get_invoice(company, invoice_id)
    check = Checker()
    if not isinstance(body, dict):
        body = {}
    paid_on = check.day(body.get("paymentDate"), "paymentDate", required=True)
    amount = check.number(body.get("amount"), "amount", required=True)
    if body.get("currency") != invoice["paymentInfo"]["currency"]:
        check.add("currency", "INVALID_VALUE")
    check.text(body.get("description"), "description", 140)
    method = body.get("paymentMethodType") or "EXTERNAL_BANK_TRANSFER"
    if method not in MARKED_PAYMENT_TYPES:
        check.add("paymentMethodType", "INVALID_VALUE")
    check_open_period(check, company, paid_on, "paymentDate")
    if check.errors:
        raise ApiError(400, check.errors)
    if invoice["status"] not in MARKPAID_FROM[kind(invoice)]:
        raise ApiError.one(403, "status", STATUS_CHANGE_REFUSED)
    return store.record_payment(company.code, invoice_id, amount or Decimal(0), on=paid_on,
                                event_type=MARKED_PAYMENT_TYPES[method], description=body.get("description") or "",
                                settled_status="MARKED_PAID")


def update_ledger_receipt(
    store: ProcountorStore, company: Company, receipt_id: int, body: Any
) -> dict[str, Any]:
    """PUT /ledgerreceipts/{id}: the integration changes transactions' accounts,
    descriptions and dimensions.

    Amounts cannot change on an invoice's receipt (they follow the invoice rows).
    """
    receipt = company.ledger_receipts.get(receipt_id)
    if receipt is None:
        raise ApiError.one(404, None, "Ledger receipt not found")
    if not isinstance(body, dict) or not isinstance(body.get("transactions"), list):
        raise ApiError.one(400, "transactions", "MUST_NOT_BE_NULL")
    check_version(body.get("version"), receipt["version"])
    if receipt["status"] in {"INVALIDATED", "DELETED"}:
        raise ApiError.one(403, "status", STATUS_CHANGE_REFUSED)
    check = Checker()
    check_open_period(check, company, date.fromisoformat(receipt["receiptDate"]), "receiptDate")
    current = {t["id"]: t for t in receipt["transactions"]}
    for index, transaction in enumerate(body["transactions"]):
        old = current.get(transaction.get("id") or transaction.get("transactionId"))
        if old is None:
            check.add(f"transactions[{index}].id", "INVALID_VALUE")
        elif money(Decimal(str(transaction.get("accountingValue", 0)))) != money(
            Decimal(str(old["accountingValue"]))
        ):
            check.add(f"transactions[{index}].accountingValue", "INVALID_VALUE")
        check.text(transaction.get("description"), f"transactions[{index}].description", 255)
        account = transaction.get("account")
        if company.ledger_accounts and old is not None and account != old.get("account") and not any(
                a["ledgerAccountCode"] == account and a.get("active", True) for a in company.ledger_accounts):
            check.add(f"transactions[{index}].account", "INVALID_VALUE")  # "must exist in GET /coa"
    if check.errors:
        raise ApiError(400, check.errors)
    errors = validate_dimension_values(company, body["transactions"])
    if errors:
        raise ApiError(400, errors)
    for transaction in body["transactions"]:
        old = current[transaction.get("id") or transaction.get("transactionId")]
        for key in ("account", "description", "dimensionItemValues"):
            if key in transaction:
                old[key] = copy.deepcopy(transaction[key]) if transaction[key] is not None else []
    for key, limit in (("accountantsNotes", 255), ("transactionDescription", 255)):
        if key in body and isinstance(body[key], str):
            receipt[key] = body[key][:limit]
    receipt["version"] = store.next_version()
    invoice = company.invoices.get(receipt.get("invoiceId") or -1)
    if invoice is not None:
        invoice["version"] = receipt["version"]  # the accounting page is part of the invoice
    return receipt


def set_transaction_dimensions(
    store: ProcountorStore, company: Company, receipt_id: int, transaction_id: int, values: Any
) -> dict[str, Any]:
    """PUT /ledgerreceipts/{id}/transactions/{tid}/dimensions (newer API): replace its dimensions."""
    receipt = company.ledger_receipts.get(receipt_id)
    if receipt is None:
        raise ApiError.one(404, None, "Ledger receipt not found")
    transactions = [
        {**t, "dimensionItemValues": (values or {}).get("dimensionItemValues", [])}
        if t["id"] == transaction_id
        else t
        for t in receipt["transactions"]
    ]
    if all(t["id"] != transaction_id for t in receipt["transactions"]):
        raise ApiError.one(404, None, "Transaction not found")
    return update_ledger_receipt(
        store, company, receipt_id, {"version": receipt["version"], "transactions": transactions}
    )
