"""VAT rates in force, by country and date, so that a wrong rate is reported before Procountor refuses it.

Finland: general rate 24 % until 2024-08-31, 25.5 % from 2024-09-01; the reduced 14 % became 13.5 % on
2026-01-01; 10 % and 0 %. Sweden: 25, 12, 6 and 0 %.
"""

from __future__ import annotations

from datetime import date

_FI_GENERAL_CHANGE = date(2024, 9, 1)
_FI_REDUCED_CHANGE = date(2026, 1, 1)


def vat_rates(country: str, on: date) -> tuple[float, ...]:
    """The VAT percentages a sale in `country` may carry on `on`."""
    if country == "SE":
        return (25.0, 12.0, 6.0, 0.0)
    general = 25.5 if on >= _FI_GENERAL_CHANGE else 24.0
    reduced = 13.5 if on >= _FI_REDUCED_CHANGE else 14.0
    return (general, reduced, 10.0, 0.0)
