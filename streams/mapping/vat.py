"""VAT rates in force, by country and date, so that a wrong rate is reported before Procountor refuses it; and
Procountor's VAT status (`vatStatus`) of a sale, from the company settings and the customer.

Finland: general rate 24 % until 2024-08-31, 25.5 % from 2024-09-01; the reduced 14 % became 13.5 % on
2026-01-01; 10 % and 0 %. Sweden: 25, 12, 6 and 0 %.

VAT status codes are the Procountor environment's own data (procountor-api.md: "Allowed values: GET /vats/default";
the code list is not documented), so they come from the company settings, never from a constant here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from foundation.company import CompanySettings
from streams.mapping.errors import ConfigFailure

_FI_GENERAL_CHANGE = date(2024, 9, 1)
_FI_REDUCED_CHANGE = date(2026, 1, 1)


def vat_rates(country: str, on: date) -> tuple[float, ...]:
    """The VAT percentages a sale in `country` may carry on `on`."""
    if country == "SE":
        return (25.0, 12.0, 6.0, 0.0)
    general = 25.5 if on >= _FI_GENERAL_CHANGE else 24.0
    reduced = 13.5 if on >= _FI_REDUCED_CHANGE else 14.0
    return (general, reduced, 10.0, 0.0)


@dataclass(frozen=True)
class VatStatusChoice:
    """Procountor's `vatStatus` for a sale, and the company setting it comes from (named in errors)."""

    status: int
    setting: str


def sales_vat_status(settings: CompanySettings, customer: Mapping[str, Any]) -> VatStatusChoice:
    """The VAT status of a sales invoice to `customer` (Severa's CustomerModel): the status the company maps the
    customer's Severa VAT code (`invoicingVat.code`) to, else the company's `vat_status`. A customer invoiced at
    0 % VAT (EU, export, reverse charge: not a domestic sale) whose code is not mapped is a configuration error."""
    sales = settings.sales_invoices
    vat = customer.get("invoicingVat") or {}
    code = str(vat.get("code") or "").strip() if isinstance(vat, Mapping) else ""
    if code in sales.vat_status_by_severa_vat_code:
        return VatStatusChoice(sales.vat_status_by_severa_vat_code[code],
                               f"sales_invoices.vat_status_by_severa_vat_code.{code}")
    if isinstance(vat, Mapping) and _is_zero(vat.get("percentage")):
        number = customer.get("number")
        which = f"Severa VAT code {code!r}" if code else "no Severa VAT code (give its invoicing VAT a code in Severa)"
        raise ConfigFailure(
            "VAT_STATUS_NOT_CONFIGURED",
            f"company {settings.name!r}: sales_invoices.vat_status_by_severa_vat_code has no entry for customer "
            f"{number}'s invoicing VAT: 0 % with {which}; a sale at 0 % is not domestic (EU, export, reverse "
            "charge): map the code to its Procountor VAT status", field="sales_invoices.vat_status_by_severa_vat_code")
    return VatStatusChoice(sales.vat_status, "sales_invoices.vat_status")


def check_sales_vat_status(settings: CompanySettings, choice: VatStatusChoice, statuses: Sequence[Mapping[str, Any]]
                           ) -> None:
    """A configuration error when the chosen status is not a sales VAT status of the company's Procountor
    environment (`GET /vats/default` `vatStatuses`); an environment that lists none is not checked."""
    sales = {int(s["vatStatus"]) for s in statuses if s.get("sales", True) and isinstance(s.get("vatStatus"), int)}
    if sales and choice.status not in sales:
        raise ConfigFailure(
            "VAT_STATUS_NOT_CONFIGURED",
            f"company {settings.name!r}: {choice.setting} is {choice.status}, not a sales VAT status of the company's "
            f"Procountor environment (GET /vats/default lists {sorted(sales)})", field=choice.setting)


def _is_zero(value: Any) -> bool:
    try:
        return value is not None and Decimal(str(value)) == 0
    except InvalidOperation:
        return False
