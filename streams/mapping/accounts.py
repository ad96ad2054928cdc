"""Sales accounts: the seed's "The sales account number must match Procountor's information".

Severa's invoice row names its sales account (``salesAccount {number, name}``); Procountor books each row of an
invoice made with ``accountingByRow`` on one ledger entry, whose ``account`` must exist in ``GET /coa``. With
the company's ``sales_invoices.transfer_sales_accounts`` on, the row's account number is its entry's account;
off (the default), Procountor's product-register defaults stay. A row without a sales account keeps the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from foundation.company import CompanySettings
from streams.mapping.checks import record_name
from streams.mapping.errors import TransferDataError
from streams.mapping.rows import ordered_rows


def row_sales_accounts(rows: list[dict[str, Any]], invoice: dict[str, Any],
                       settings: CompanySettings) -> list[str | None]:
    """Per Procountor invoice row (the order of ``invoiceRows``), the ledger account to book it on, or None."""
    ordered = ordered_rows(rows, record_name(invoice))
    if not settings.sales_invoices.transfer_sales_accounts:
        return [None] * len(ordered)
    numbers = [str(row.salesAccount.number or "").strip() if row.salesAccount else "" for row in ordered]
    return [number or None for number in numbers]


def check_sales_accounts(accounts: Sequence[str | None], chart: Sequence[Mapping[str, Any]], *, record: str) -> None:
    """A data error for the first row whose account Procountor's chart of accounts lacks or has closed."""
    known = {str(a.get("ledgerAccountCode")): a for a in chart}
    for index, number in enumerate(accounts):
        if number is None:
            continue
        found = known.get(number)
        if found is None or found.get("active") is False:
            problem = "is not in" if found is None else "is not active in"
            raise TransferDataError(
                "MISSING_SALES_ACCOUNT", record=record, field=f"invoiceRows[{index}].salesAccount", value=number,
                message=f"MISSING_SALES_ACCOUNT (invoiceRows[{index}].salesAccount): sales account {number} "
                        f"{problem} Procountor's chart of accounts")
