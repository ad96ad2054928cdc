"""Sales accounts against both sandboxes over real sockets: with `transfer_sales_accounts` on, every ledger entry of
the invoice is booked on its Severa row's sales account; an account Procountor's chart lacks fails the invoice
before anything is written; off (the default), Procountor's product defaults stay."""

from __future__ import annotations

import pytest

from streams.mapping.errors import SOLUTIONS

pytestmark = pytest.mark.integration


def transfer_accounts(stack, on: bool) -> None:
    fi = stack.companies["FI"]
    stack.companies["FI"] = fi.model_copy(update={
        "sales_invoices": fi.sales_invoices.model_copy(update={"transfer_sales_accounts": on})})


def severa_accounts(stack, number: int) -> list[str | None]:
    invoice = stack.invoice(number)
    rows = sorted((r for r in stack.severa_store.all("invoicerows") if r["invoiceGuid"] == invoice["guid"]),
                  key=lambda r: r["sortOrder"])
    return [(r["salesAccount"] or {}).get("number") for r in rows]


def entry_accounts(stack, number: int) -> list[str]:
    [target] = stack.procountor_invoices("FI", number)
    receipt = stack.procountor_store.company("FI").ledger_receipts[target["ledgerReceiptId"]]
    entries = sorted((t for t in receipt["transactions"] if t["transactionType"] == "ENTRY"), key=lambda t: t["id"])
    return [t["account"] for t in entries]


async def test_rows_are_booked_on_their_severa_sales_accounts(stack) -> None:
    transfer_accounts(stack, True)
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    wanted = severa_accounts(stack, 10002)
    assert wanted == ["3000", "3000", "3010"]  # work types on 3000, the licence product on 3010
    assert entry_accounts(stack, 10002) == wanted


async def test_off_procountor_books_on_its_product_defaults(stack) -> None:
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    # The demo's Procountor products disagree with Severa (DEV and PM on 3010, the licence on 3000).
    assert entry_accounts(stack, 10002) == ["3010", "3010", "3000"]


async def test_a_sales_account_missing_in_procountor_fails_before_any_write(stack) -> None:
    transfer_accounts(stack, True)
    request = stack.request(10010)  # travel rows on Severa's 3020, which Procountor's chart lacks
    index = severa_accounts(stack, 10010).index("3020")
    writes_before = stack.writes()
    result = await stack.transfer().handle(request)
    assert result.state == "failed_data"
    error = result.error
    assert (error.code, error.field, error.value) == ("MISSING_SALES_ACCOUNT", f"invoiceRows[{index}].salesAccount",
                                                      "3020")
    assert error.record == "sales invoice 10010" and error.solution == SOLUTIONS["MISSING_SALES_ACCOUNT"]
    assert stack.writes() == writes_before and stack.procountor_invoices("FI", 10010) == []
