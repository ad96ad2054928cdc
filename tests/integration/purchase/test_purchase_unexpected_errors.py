"""Purchase invoices the import did not foresee end their attempt with a reason, never `pending` for ever."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def _dimension_to(stack, invoice_id: int, code: str) -> None:
    """Dimension the invoice's ENTRY to the project item `code` (created in Procountor if missing)."""
    client = stack.procountor["FI"]
    projects = next(d for d in await client.get_dimensions() if d["name"] == "Projects")
    item = next((i for i in projects["items"] if i["codeName"] == code), None)
    item = item or await client.create_dimension_item(projects["id"], {"codeName": code})
    invoice = await client.get_invoice(invoice_id)
    receipt = await client.get_ledger_receipt(int(invoice["ledgerReceiptId"]))
    [entry] = [t for t in receipt["transactions"] if t["transactionType"] == "ENTRY"]
    entry["dimensionItemValues"] = [{"dimensionId": projects["id"], "itemId": item["id"],
                                     "value": entry["accountingValue"]}]
    await client.update_ledger_receipt(receipt)


async def test_a_project_item_code_such_as_superscript_two_fails_naming_the_item(stack) -> None:
    invoice = stack.purchase("Laitekauppa Oy")  # APPROVED
    await _dimension_to(stack, invoice["id"], "²")  # str.isdigit() says yes, int() says no
    request = await stack.request(invoice["id"])
    assert request is not None
    result = await stack.transfer().handle(request)
    assert result.state == "failed_data"
    final = stack.outcomes(request["event_id"])[-1]
    assert final["state"] == "failed_data" and final["error"]["value"] == "²"
    assert stack.fees(invoice["id"]) == []
