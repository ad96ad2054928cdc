"""Procountor purchase invoice → Severa project fees: which invoices to import and each fee's fields (pure).

The seed: purchase invoices are imported into Severa as project expenses "after they have been dimensioned to
projects in Procountor and when the status is Approved, Payment queued, Payment sent to bank, Partially paid,
Paid, or Marked paid". The project lives on the invoice's ledger receipt (procountor-api.md §6): each ENTRY
transaction's `dimensionItemValues` split its net amount over items of the company's project dimension, and an
item's `codeName` is the Severa project number. One fee per project, its cost the sum of the project's values.

Decisions where the sources leave room:
- A fee is a cost: `unitCost` = the project's net amount, quantity 1, `isBillable`
  false, `productType` Materials (reference §5.12: "probably Materials or Subcontracting, non-billable").
  Whether and at what price to bill it on is the project manager's choice in Severa.
- The fee is in the project's currency: the ledger's accounting-currency amount as it is when the project
  is in the accounting currency, converted with the invoice's `currencyRate` when the invoice is in the
  project's currency, refused (`CURRENCY_MISMATCH`) otherwise: no rate is guessed.
- Severa fees have no external-id field, so the description starts with the marker `Procountor <company> #<id>`:
  with it the import finds a fee it created even when its own record of the POST was lost. Procountor ids are
  per company (FI's and SE's invoice 4 are two invoices), hence the company. Markers written before it was
  added (`Procountor #<id>`) are still recognised (see `streams/purchase_invoice.py` for when).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from foundation.types import Json
from streams.mapping.errors import TransferDataError
from streams.mapping.money import cents, exact

CENT = Decimal("0.01")
# `Procountor FI #4711`, or the old `Procountor #4711` (no company).
_MARKER = re.compile(r"Procountor (?:(?P<company>\S(?:.*?\S)?) )?#(?P<id>\d+)(?!\d)")
NAME_MAX = 100  # Severa publishes no limit; a product name's length (§5.5) keeps it readable everywhere
DESCRIPTION_MAX = 1000

MISSING_PROJECT_SOLUTION = (
    "The purchase invoice is dimensioned to a project item whose code is not the number of a project in "
    "Severa. Check that the item's code in Procountor's project dimension is the Severa project number (for "
    "example 2026001), or create the project in Severa, then change the dimensioning of the purchase invoice "
    "in Procountor or transfer it again."
)
CURRENCY_SOLUTION = (
    "The project is in another currency than the company's accounting, and the purchase invoice gives no rate "
    "between them. Record the purchase invoice in the project's currency (with its currency rate) in "
    "Procountor, or dimension it to a project in the accounting currency, then transfer it again."
)
UNKNOWN_ITEM_SOLUTION = (
    "The purchase invoice's accounting refers to a project dimension item that Procountor no longer lists. "
    "Check the dimensioning of the purchase invoice in Procountor and save it again."
)


@dataclass(frozen=True)
class PlannedFee:
    """One project's share of a purchase invoice, as a Severa project fee."""

    project_number: int
    item_code: str  # the dimension item's codeName, as the user sees it in Procountor
    amount: Decimal


def marker(company: str, invoice_id: int | str) -> str:
    return f"Procountor {company} #{invoice_id}"


@dataclass(frozen=True)
class FeeMarker:
    """What a fee's marker says: the Procountor invoice id, and its company (None in an old marker)."""

    invoice_id: str
    company: str | None


def fee_marker(fee: Mapping[str, Any]) -> FeeMarker | None:
    """The marker of a fee's description, or None for fees the import did not create."""
    found = _MARKER.search(str(fee.get("description") or ""))
    return FeeMarker(found.group("id"), found.group("company")) if found else None


def marked_invoice_id(fee: Mapping[str, Any]) -> str | None:
    """The Procountor invoice id a fee's description names, or None for fees the import did not create."""
    found = fee_marker(fee)
    return found.invoice_id if found else None


def fee_key(invoice_id: int | str, project_number: int | str) -> str:
    """The ID map's severa_key of one fee: one purchase invoice may become fees on several projects."""
    return f"{invoice_id}:{project_number}"


def supplier_name(invoice: Mapping[str, Any]) -> str:
    party = invoice.get("counterParty") or {}
    return str((party.get("counterPartyAddress") or {}).get("name") or "").strip()


def record_name(invoice: Mapping[str, Any]) -> str:
    number = invoice.get("invoiceNumber") or invoice.get("id")
    supplier = supplier_name(invoice)
    return f"purchase invoice {number}" + (f" ({supplier})" if supplier else "")


def is_importable(invoice: Mapping[str, Any], statuses: Iterable[str]) -> bool:
    """A purchase invoice in one of the company's import statuses (the seed's six by default)."""
    return invoice.get("type", "PURCHASE_INVOICE") == "PURCHASE_INVOICE" and invoice.get("status") in set(statuses)


def _entries(invoice: Mapping[str, Any]) -> list[Json]:
    receipt = invoice.get("ledgerReceipt") or {}
    return [t for t in receipt.get("transactions") or [] if t.get("transactionType") == "ENTRY"]


def dimension_ids(invoice: Mapping[str, Any]) -> set[int]:
    """Every dimension the invoice's accounting uses."""
    return {int(v["dimensionId"]) for t in _entries(invoice) for v in t.get("dimensionItemValues") or []}


def project_amounts(invoice: Mapping[str, Any], dimension_id: int) -> dict[int, Decimal]:
    """Item id → the net amount dimensioned to it, over all ENTRY transactions, in the order first met."""
    amounts: dict[int, Decimal] = {}
    for transaction in _entries(invoice):
        for value in transaction.get("dimensionItemValues") or []:
            if int(value["dimensionId"]) == int(dimension_id):
                item = int(value["itemId"])
                amounts[item] = amounts.get(item, Decimal(0)) + Decimal(str(value["value"]))
    return {item: amount.quantize(CENT, ROUND_HALF_UP) for item, amount in amounts.items()}


def is_dimensioned(invoice: Mapping[str, Any], dimension_id: int) -> bool:
    return bool(project_amounts(invoice, dimension_id))


def fingerprint(invoice: Mapping[str, Any]) -> tuple[Any, ...]:
    """Everything a fee is made of: two versions with the same fingerprint need no write (e.g. APPROVED → PAID).

    Every dimension's values count, not only the project dimension's: comparing needs no dimension lookup,
    and a version that differs elsewhere only takes the full (read-first) path.
    """
    values = sorted((int(v["dimensionId"]), int(v["itemId"]), str(Decimal(str(v["value"])).quantize(CENT)))
                    for t in _entries(invoice) for v in t.get("dimensionItemValues") or [])
    return (tuple(values), invoice.get("date"), invoice.get("invoiceNumber"), invoice.get("originalInvoiceNumber"),
            supplier_name(invoice))


def project_number(code_name: str) -> int | None:
    """Severa project numbers are integers (int64); an item code such as "2026001" is one ("²" is a digit to
    str.isdigit, but no number)."""
    text = code_name.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def plan_fees(invoice: Mapping[str, Any], dimension: Mapping[str, Any]) -> list[PlannedFee]:
    """One fee per project the invoice is dimensioned to; a data error for an item Severa cannot know."""
    items = {int(i["id"]): str(i.get("codeName") or "") for i in dimension.get("items") or []}
    planned: dict[int, PlannedFee] = {}
    for item_id, amount in project_amounts(invoice, int(dimension["id"])).items():
        if item_id not in items:
            raise TransferDataError(
                "DIMENSION_MISMATCH", record=record_name(invoice), field="ledgerReceipt.dimensionItemValues.itemId",
                value=item_id, solution=UNKNOWN_ITEM_SOLUTION,
                message=f"dimension {dimension.get('name')!r} has no item with id {item_id}")
        number = project_number(items[item_id])
        if number is None:
            raise missing_project(invoice, items[item_id], str(dimension.get("name")))
        if number in planned:  # two items with the same code: one project, one fee
            amount += planned[number].amount
        planned[number] = PlannedFee(number, items[item_id], amount)
    return list(planned.values())


def missing_project(invoice: Mapping[str, Any], item_code: str, dimension_name: str) -> TransferDataError:
    return TransferDataError(
        "MISSING_PROJECT", record=record_name(invoice), field=f"dimension {dimension_name}", value=item_code,
        solution=MISSING_PROJECT_SOLUTION,
        message=(f"{record_name(invoice)} is dimensioned to item {item_code!r} of dimension {dimension_name!r}, "
                 f"but Severa has no project with the number {item_code!r}"))


def fee_name(invoice: Mapping[str, Any]) -> str:
    number = invoice.get("originalInvoiceNumber") or invoice.get("invoiceNumber")
    return f"Purchase invoice {number} {supplier_name(invoice)}".strip()[:NAME_MAX]


def fee_description(invoice: Mapping[str, Any], company: str) -> str:
    """Starts with the marker; names the Procountor invoice number, the supplier's number and the supplier."""
    text = f"{marker(company, invoice['id'])}: purchase invoice {invoice.get('invoiceNumber')}"
    if invoice.get("originalInvoiceNumber"):
        text += f" (supplier's invoice {invoice['originalInvoiceNumber']})"
    if supplier := supplier_name(invoice):
        text += f" from {supplier}"
    return text[:DESCRIPTION_MAX]


def fee_cost(invoice: Mapping[str, Any], fee: PlannedFee, project: Mapping[str, Any], *,
             accounting_currency: str) -> tuple[Decimal, str]:
    """(amount, currency) of the fee in the Severa project's currency.

    The ledger's amounts are in the company's accounting currency. A project in another currency gets them
    converted with the invoice's rate when the invoice is in the project's currency (Procountor's
    `currencyRate`: units of the invoice currency for one unit of the accounting currency); any other pair
    has no known rate, and the fee is refused rather than written in the wrong currency.
    """
    project_currency = str((project.get("currency") or {}).get("code") or accounting_currency).upper()
    if project_currency == accounting_currency.upper():
        return fee.amount, project_currency
    payment = invoice.get("paymentInfo") or {}
    invoice_currency = str(payment.get("currency") or accounting_currency).upper()
    rate = payment.get("currencyRate")
    if invoice_currency == project_currency and rate is not None and exact(rate) > 0:
        return cents(fee.amount * exact(rate)), project_currency
    raise TransferDataError(
        "CURRENCY_MISMATCH", record=record_name(invoice), field="paymentInfo.currencyRate",
        value=f"{accounting_currency} -> {project_currency}", solution=CURRENCY_SOLUTION,
        message=(f"project {fee.project_number} is in {project_currency}, the invoice's accounting in "
                 f"{accounting_currency.upper()}, and no rate between them is known (the invoice is in "
                 f"{invoice_currency}{'' if rate is None else f' at rate {rate}'})"))


def fee_body(invoice: Mapping[str, Any], fee: PlannedFee, project: Mapping[str, Any], company: str, *,
             accounting_currency: str) -> Json:
    """`POST /v1/projectfees` body (ProjectFeeInputModel) for one project's share of `company`'s invoice."""
    amount, currency = fee_cost(invoice, fee, project, accounting_currency=accounting_currency)
    body: Json = {
        "project": {"guid": project["guid"]},
        "name": fee_name(invoice),
        "description": fee_description(invoice, company),
        "productType": "Materials",
        "quantity": Decimal(1),
        "unitCost": {"amount": amount, "currencyCode": currency},
        "isBillable": False,
        "eventDate": invoice.get("date"),
    }
    if root := (project.get("rootPhase") or {}).get("guid"):
        body["phase"] = {"guid": root}
    return body


def fee_changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> Json:
    """JSON-patch paths → values that bring an existing fee to the wanted body; {} when nothing differs."""
    changes: Json = {}
    cost = current.get("unitCost") or {}
    if _money(cost.get("amount")) != _money(wanted["unitCost"]["amount"]):
        # Money is patched as an object (reference §3.4); the fee keeps the currency it was created in.
        changes["/unitCost"] = {"amount": wanted["unitCost"]["amount"],
                                "currencyCode": cost.get("currencyCode") or wanted["unitCost"]["currencyCode"]}
    if exact(current.get("quantity") or 0) != exact(wanted["quantity"]):
        changes["/quantity"] = wanted["quantity"]
    for field in ("name", "description"):
        if wanted.get(field) is not None and current.get(field) != wanted[field]:
            changes[f"/{field}"] = wanted[field]
    if wanted.get("eventDate") and str(current.get("eventDate") or "")[:10] != wanted["eventDate"]:
        changes["/eventDate"] = wanted["eventDate"]
    return changes


def _money(value: Any) -> Decimal | None:
    return None if value is None else cents(exact(value))
