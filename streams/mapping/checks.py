"""What every mapping checks before Procountor is called: Procountor's documented limits (procountor-api.md
§5.2, §14), its character set and its closed fiscal periods, so that the user gets the precise reason at once.
``Errors`` collects every data error of one record, each naming the Procountor field and the value.

Decisions where the sources leave room (each has a test):
- An over-long text is a data error ``SIZE_MUST_BE_BETWEEN_0_AND_<n>`` naming the field (the one exception, the
  contact person, is in ``counter_party``): those texts are visible on the invoice or identify it, and silently
  cutting them changes what the customer sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date as Date
from typing import Any

from streams.mapping.errors import TransferDataError, size_code
from streams.mapping.text import non_cp1252

# Procountor limits (procountor-api.md §5.2 and §14).
CONTACT_PERSON_MAX = 28
NAME_MAX = 80
STREET_MAX = 80
SPECIFIER_MAX = 80
CITY_MAX = 40
ZIP_MAX = 20
ORIGINAL_INVOICE_NUMBER_MAX = 40
ORDER_REFERENCE_MAX = 70
ADDITIONAL_INFORMATION_MAX = 10_000
NOTES_MAX = 10_000
ROW_PRODUCT_MAX = 100
PRODUCT_CODE_MAX = 40
ROW_COMMENT_MAX = 512
PAYMENT_TERM_MAX_DAYS = 999
CURRENCY_RATE_MAX = 1_000_000

COMPANY_CURRENCY = {"FI": "EUR", "SE": "SEK"}

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Errors:
    """Collects data errors for one record; each names the Procountor field and the value."""

    def __init__(self, record: str) -> None:
        self.record = record
        self.items: list[TransferDataError] = []

    def add(self, code: str, field: str | None, value: Any = None, message: str | None = None) -> None:
        self.items.append(TransferDataError(code, record=self.record, field=field, value=value, message=message))

    def text(self, field: str, value: str | None, limit: int | None = None) -> str | None:
        """Check a text for Procountor's character set and length; returns it stripped (None if empty)."""
        if value is None:
            return None
        value = value.strip()
        if not value:
            return None
        bad = non_cp1252(value)
        if bad:
            self.add(
                "INVALID_CHARACTERS",
                field,
                value,
                f"INVALID_CHARACTERS ({field}): {', '.join(repr(c) for c in bad)} not allowed",
            )
        if limit is not None and len(value) > limit:
            self.add(size_code(limit), field, value)
        return value


def record_name(invoice: Mapping[str, Any]) -> str:
    """How the transfer log names a Severa sales invoice: by number, else by guid."""
    number = invoice.get("number") if isinstance(invoice, Mapping) else None
    if number is not None:
        return f"sales invoice {number}"
    return f"sales invoice {invoice.get('guid') if isinstance(invoice, Mapping) else '?'}"


def check_fiscal_period(when: Date, fiscal_years: Iterable[Mapping[str, Any]], errors: Errors) -> None:
    """Pre-check CLOSED_FISCAL_PERIOD against Procountor's GET /fiscalyears answer."""
    day = when.isoformat()
    for year in fiscal_years:
        if not (str(year.get("startDate", "")) <= day <= str(year.get("endDate", ""))):
            continue
        if year.get("isOpen") is False:
            errors.add("CLOSED_FISCAL_PERIOD", "date", day)
            return
        for period in year.get("trackingPeriods") or []:
            if str(period.get("startDate", "")) <= day <= str(period.get("endDate", "")):
                if str(period.get("status", "")).upper() == "CLOSED":
                    errors.add("CLOSED_FISCAL_PERIOD", "date", day)
                return
        return
    errors.add(
        "CLOSED_FISCAL_PERIOD",
        "date",
        day,
        f"CLOSED_FISCAL_PERIOD (date): no fiscal year in Procountor covers {day}",
    )
