"""`sevpro compare`'s sales accounts against both sandboxes: Severa's chart of accounts ↔ Procountor's (GET /coa)."""

from __future__ import annotations

from datetime import date

from registry.compare import compare_registries

TODAY = date(2026, 11, 25)


async def test_sales_accounts_missing_on_either_side_and_fixed_in_procountor(sandboxes, severa, companies) -> None:
    fi = companies["FI"]
    fi = fi.model_copy(update={"sales_invoices": fi.sales_invoices.model_copy(
        update={"transfer_sales_accounts": True})})
    async with sandboxes.procountor("FI") as procountor:
        report = await compare_registries(severa, procountor, fi, today=TODAY)
        found = {(f.key, f.status): f for f in report.registry("sales_accounts")}
        assert found[("3020", "only_in_severa")].severity == "error"  # the rows' accounts are transferred
        assert found[("3020", "only_in_severa")].record == "sales account 3020 Re-invoiced travel expenses"
        assert found[("3050", "only_in_procountor")].severity == "warning"
        assert {key for key, status in found if status == "matched"} == {"3000", "3010"}

        chart = sandboxes.procountor_store.company("FI").ledger_accounts
        chart.append({"ledgerAccountCode": "3020", "name": "Edelleenlaskutetut matkat", "active": True})
        next(a for a in chart if a["ledgerAccountCode"] == "3010")["active"] = False
        again = await compare_registries(severa, procountor, fi, today=TODAY)
    statuses = {(f.key, f.status) for f in again.registry("sales_accounts")}
    assert ("3020", "matched") in statuses and ("3010", "inactive_in_procountor") in statuses
