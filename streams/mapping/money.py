"""Money in the mapping: exact ``Decimal`` amounts, never binary floats (a unit test scans for them).

Severa's JSON is read with decimals (foundation.exact_json) and Procountor's bodies are written with them, so
an amount reaches Procountor with the digits Severa gave it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def exact(value: Any) -> Decimal:
    """A JSON number as a Decimal: as it is when read exactly, else from its shortest text (a float's repr)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"not a number: {value!r}")
    return Decimal(str(value)) if not isinstance(value, int) else Decimal(value)


def cents(value: Decimal) -> Decimal:
    """An amount or a percentage at scale 2, rounded half up (Procountor's "Scale: 2")."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


TOTALS = (("net", "totalExcludingTax", "excludingVatTotal"), ("VAT", "totalTax", "vatSumTotal"),
          ("gross", "totalIncludingTax", "invoiceSumTotal"))  # fmt: skip


def totals_warning(invoice: Mapping[str, Any], rows: Iterable[Mapping[str, Any]],
                   procountor_invoice: Mapping[str, Any]) -> str | None:
    """Where Procountor's totals of a created invoice differ from Severa's by more than 0.01 per VAT rate.

    Severa states its totals on the invoice (``totalExcludingTax``, ``totalTax``, ``totalIncludingTax``);
    Procountor computes its own from the rows (``invoiceSumInfo``, in the invoice's currency). Neither API
    gives VAT per rate, so each total is allowed one cent of rounding per VAT rate on the invoice, and a
    larger difference is reported with both figures. None when they agree, or when either side states none.
    """
    sums = procountor_invoice.get("invoiceSumInfo") or []
    currency = (procountor_invoice.get("paymentInfo") or {}).get("currency")
    theirs = next((s for s in sums if s.get("currency") == currency), sums[0] if sums else None)
    if theirs is None:
        return None
    rates = {exact(r["vatRate"]) for r in rows if r.get("vatRate") is not None} or {Decimal(0)}
    tolerance = CENT * len(rates)
    flip = bool(invoice.get("isCreditNote")) and _sign(invoice.get("totalIncludingTax")) == -_sign_of(
        theirs.get("invoiceSumTotal"))  # a credit note sent with positive rows is flipped by the mapping
    differences = []
    for label, severa_key, procountor_key in TOTALS:
        ours = (invoice.get(severa_key) or {}).get("amount")
        figure = theirs.get(procountor_key)
        if ours is None or figure is None:
            continue
        severa_total = -exact(ours) if flip else exact(ours)
        if abs(severa_total - exact(figure)) > tolerance:
            differences.append(f"{label} Severa {cents(severa_total)}, Procountor {cents(exact(figure))}")
    if not differences:
        return None
    return (f"Procountor's totals differ from Severa's by more than 0.01 per VAT rate ({len(rates)} "
            f"rate{'s' if len(rates) > 1 else ''}): {'; '.join(differences)}. The invoice stays as written: "
            "Procountor's figures are the ones on it.")


def _sign(money: Any) -> int:
    return _sign_of((money or {}).get("amount") if isinstance(money, Mapping) else None)


def _sign_of(value: Any) -> int:
    if value is None:
        return 0
    number = exact(value)
    return (number > 0) - (number < 0)
