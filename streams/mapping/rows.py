"""Severa invoice rows → Procountor ``invoiceRows``: order, product code per row kind, unit, VAT rate.

Decisions where the sources leave room (each has a test):
- An unsupported unit is a data error, not a silent fallback to ``NO_UNIT``.
- A missing quantity or unit price is a data error naming the row (``MISSING_QUANTITY``/``MISSING_PRICE``),
  never a 0. Amounts stay ``Decimal`` from Severa's JSON to Procountor's body.
- Procountor's row ``discountPercent`` is 0: Severa's invoice row has no discount field, its unit price is
  the price after any discount (a test reads the reference and fails if Severa's row model gains one).
- A credit note's rows carry negative amounts (Procountor has no credit-note type): Severa's credit rows are
  negative already; should they arrive positive, the sign goes on every quantity.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from foundation.company import CompanySettings
from streams.mapping.checks import PRODUCT_CODE_MAX, ROW_COMMENT_MAX, ROW_PRODUCT_MAX, Errors
from streams.mapping.severa_models import Invoice, InvoiceRow, Ref, parse
from streams.mapping.units import to_procountor_unit
from streams.mapping.vat import vat_rates

RowKind = Literal["product", "work_type", "travel_expense"]


def row_kind(row: InvoiceRow) -> RowKind:
    """Which register a row's code belongs to, from Severa's row type (or category)."""
    kind = (row.rowType or row.category or "").casefold()
    if kind in ("hours",):
        return "work_type"
    if kind in ("travelexpenses", "travels"):
        return "travel_expense"
    return "product"


def row_source(row: InvoiceRow, kind: RowKind) -> Ref | None:
    if kind == "work_type":
        return row.workType
    if kind == "travel_expense":
        return row.travelExpense or row.travelExpenseType
    return row.product


def row_code(row: InvoiceRow) -> str | None:
    """The product / work type / travel expense code of a Severa invoice row, None if it has none."""
    candidates: list[str | None] = [row.productCode]
    source = row_source(row, row_kind(row))
    candidates.append(source.code if source else None)
    if isinstance(row.code, str):
        candidates.append(row.code)
    elif row.code:
        # A grouped row may list several codes; Procountor's row has one, so the first one stands.
        candidates.extend(row.code)
    for candidate in candidates:
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def row_amount(row: InvoiceRow) -> Decimal:
    """quantity × unit price, exact; a missing figure counts 0 here (map_rows reports it as a data error)."""
    price = row.unitPrice.amount if row.unitPrice else None
    return (row.quantity or Decimal(0)) * (price or Decimal(0))


def default_code(kind: RowKind, settings: CompanySettings) -> str:
    return {
        "product": settings.default_product_code,
        "work_type": settings.default_work_type_code,
        "travel_expense": settings.default_travel_expense_code,
    }[kind]


def ordered_rows(rows: list[dict[str, Any]], record: str) -> list[InvoiceRow]:
    parsed = [parse(InvoiceRow, row, record=record, prefix=f"rows[{i}]") for i, row in enumerate(rows)]
    # Procountor's row index follows Severa's sort order; a stable sort keeps the input order on ties.
    order = sorted(range(len(parsed)), key=lambda i: (parsed[i].sortOrder is None, parsed[i].sortOrder or 0))
    return [parsed[i] for i in order]


def map_rows(
    rows: list[InvoiceRow],
    invoice: Invoice,
    settings: CompanySettings,
    known: set[str] | None,
    errors: Errors,
) -> list[dict[str, Any]]:
    if not rows:
        errors.add("INVALID_FIELD", "invoiceRows", None, "INVALID_FIELD (invoiceRows): the invoice has no rows")
        return []
    # A credit note is a negative invoice in Procountor. Severa's credit rows are negative already; should
    # they arrive positive, the sign goes on every quantity, so that the document still credits.
    total = sum((row_amount(row) for row in rows), Decimal(0))
    flip = invoice.isCreditNote and total > 0
    mapped: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        path = f"invoiceRows[{index}]"
        kind = row_kind(row)
        code = row_code(row)
        if code is None:
            code = default_code(kind, settings)
            if known is not None and code not in known:
                errors.add("MISSING_DEFAULT_CODE", f"{path}.productCode", code)
        elif known is not None and code not in known:
            # Travel codes are never created: they change yearly and must come from Procountor (seed).
            if kind == "travel_expense" or not settings.create_products:
                errors.add("MISSING_PRODUCT_CODE", f"{path}.productCode", code)
        code = errors.text(f"{path}.productCode", code, PRODUCT_CODE_MAX)

        product = errors.text(f"{path}.product", row.description, ROW_PRODUCT_MAX)
        if product is None:
            errors.add(
                "INVALID_FIELD",
                f"{path}.product",
                None,
                f"INVALID_FIELD ({path}.product): the row has no description",
            )
        unit = to_procountor_unit(row.measurementUnit)
        if unit is None:
            errors.add("UNKNOWN_UNIT", f"{path}.unit", row.measurementUnit)
        if row.vatRate is None:
            errors.add(
                "INVALID_FIELD",
                f"{path}.vatPercent",
                None,
                f"INVALID_FIELD ({path}.vatPercent): the row has no VAT rate",
            )
        elif not 0 <= row.vatRate <= 100:
            errors.add(
                "INVALID_FIELD",
                f"{path}.vatPercent",
                row.vatRate,
                f"INVALID_FIELD ({path}.vatPercent): {row.vatRate} is outside 0…100",
            )
        elif row.vatRate not in (allowed := vat_rates(settings.country, invoice.date)):
            errors.add(
                "ERROR_VATSTATUS_VATPERC",
                f"{path}.vatPercent",
                row.vatRate,
                f"ERROR_VATSTATUS_VATPERC ({path}.vatPercent): {row.vatRate} % is not a {settings.country} VAT "
                f"rate on {invoice.date} (in force: {', '.join(f'{r:g} %' for r in allowed)})",
            )
        comment = errors.text(f"{path}.comment", row.comment or row.invoiceRowComment, ROW_COMMENT_MAX)
        price = row.unitPrice.amount if row.unitPrice else None
        # A missing amount is the user's to fill in Severa: a 0 would invoice the row for nothing.
        named = row.description or row.guid
        if row.quantity is None:
            errors.add(
                "MISSING_QUANTITY",
                f"{path}.quantity",
                None,
                f"MISSING_QUANTITY ({path}.quantity): row {index + 1} ({named}) has no quantity in Severa",
            )
        if price is None:
            errors.add(
                "MISSING_PRICE",
                f"{path}.unitPrice",
                None,
                f"MISSING_PRICE ({path}.unitPrice): row {index + 1} ({named}) has no unit price in Severa",
            )
        quantity = row.quantity if row.quantity is not None else Decimal(0)  # reported above when missing
        item: dict[str, Any] = {
            "productCode": code,
            "product": product or "",
            "quantity": -quantity if flip else quantity,
            "unit": unit or "NO_UNIT",
            "unitPrice": price if price is not None else Decimal(0),  # reported above when missing
            # Severa's invoice row has no discount (severa-api.md, InvoiceRowOutputModel): its unit price is
            # what the customer pays, so Procountor's row discount stays 0 and the row's amount is Severa's.
            "discountPercent": 0,
            "vatPercent": row.vatRate if row.vatRate is not None else 0,
        }
        if comment is not None:
            item["comment"] = comment
        mapped.append(item)
    return mapped
