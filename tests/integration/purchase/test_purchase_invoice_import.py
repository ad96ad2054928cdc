"""Purchase invoices Procountor → Severa project fees, against both sandboxes over real sockets."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.procountor.demo import PURCHASES
from sevpro.company import PURCHASE_IMPORT_STATUSES
from streams.mapping.purchase_invoice import fee_key
from streams.purchase_invoice import KIND

pytestmark = pytest.mark.integration


def _project(stack, fee: dict[str, Any]) -> int:
    return int(stack.severa_store.get("projects", fee["project"]["guid"])["number"])


async def _redimension(stack, invoice_id: int, shares: dict[str, float], company: str = "FI") -> None:
    """Split the invoice's ENTRY transactions over project items (codeName → amount) through the API."""
    client = stack.procountor[company]
    projects = next(d for d in await client.get_dimensions() if d["name"] == "Projects")
    for code in shares:
        if not any(i["codeName"] == code for i in projects["items"]):
            projects["items"].append(await client.create_dimension_item(projects["id"], {"codeName": code}))
    item_ids = {i["codeName"]: i["id"] for i in projects["items"]}
    invoice = await client.get_invoice(invoice_id)
    receipt = await client.get_ledger_receipt(int(invoice["ledgerReceiptId"]))
    [entry] = [t for t in receipt["transactions"] if t["transactionType"] == "ENTRY"]
    assert sum(shares.values()) == entry["accountingValue"]
    entry["dimensionItemValues"] = [{"dimensionId": projects["id"], "itemId": item_ids[code], "value": value}
                                    for code, value in shares.items()]
    await client.update_ledger_receipt(receipt)


async def test_demo_purchase_invoices_become_fees_on_the_right_projects(stack) -> None:
    imported = 0
    for supplier, project, status, net in PURCHASES:
        invoice = stack.purchase(supplier)
        request = await stack.request(invoice["id"])
        if status not in PURCHASE_IMPORT_STATUSES:
            assert request is None, f"{supplier} is {status}: not imported"
            assert stack.fees(invoice["id"]) == []
            continue
        assert request is not None and request["kind"] == KIND and request["tenant"] == "demo/FI"
        assert request["event_id"] == f"demo/FI:{KIND}:{invoice['id']}:{invoice['version']}"
        result = await stack.transfer().handle(request)
        assert result.state == "succeeded", result.error
        imported += 1

        [fee] = stack.fees(invoice["id"])
        assert _project(stack, fee) == int(project)
        assert fee["unitCost"]["amount"] == net and fee["unitCost"]["currencyCode"] == "EUR"
        assert fee["quantity"] == 1 and fee["isBillable"] is False
        assert fee["eventDate"] == invoice["date"]
        assert str(invoice["invoiceNumber"]) in fee["description"] and supplier in fee["description"]
        assert invoice["originalInvoiceNumber"] in fee["description"]

        entry = stack.store.transfer("demo/FI", KIND, str(invoice["id"]))
        assert entry["state"] == "succeeded" and entry["procountor_id"] == fee["guid"]
        assert stack.store.lookup_severa_id("demo/FI", "project_fee", fee["guid"]) == str(invoice["id"])
        links = [link for link in stack.store.id_map(kind="project_fee")
                 if link["severa_key"] == fee_key(invoice["id"], project)]
        assert [(link["severa_id"], link["created"]) for link in links] == [(fee["guid"], True)]
    assert imported == 5
