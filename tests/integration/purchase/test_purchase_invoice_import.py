"""Purchase invoices Procountor → Severa project fees, against both sandboxes over real sockets."""

from __future__ import annotations

from typing import Any

import pytest

from foundation.company import PURCHASE_IMPORT_STATUSES
from sandbox.procountor.demo import PURCHASES
from streams.mapping.purchase_invoice import fee_key
from streams.purchase_invoice import KIND

pytestmark = pytest.mark.integration


def _project(stack, fee: dict[str, Any]) -> int:
    return int(stack.severa_store.get("projects", fee["project"]["guid"])["number"])


def _imported_fee_guids(stack) -> list[str]:
    fees = stack.severa_store.all("projectfees")
    return sorted(f["guid"] for f in fees if "Procountor #" in (f["description"] or ""))


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


async def test_a_later_version_creates_no_second_fee(stack) -> None:
    invoice = stack.purchase("Pilvipalvelu Oy")  # APPROVED
    first = await stack.request(invoice["id"])
    assert (await stack.transfer().handle(first)).state == "succeeded"
    [fee] = stack.fees(invoice["id"])

    stack.procountor_store.set_invoice_status("FI", invoice["id"], "PAID")  # the bank paid it: a new version
    second = await stack.request(invoice["id"])
    assert second is not None and second["event_id"] != first["event_id"]
    writes, calls = stack.severa_writes(), dict(stack.severa.calls)
    result = await stack.transfer().handle(second)
    assert result.state == "skipped"  # recognised from the log: same fee, no API call at all
    assert dict(stack.severa.calls) == calls and stack.severa_writes() == writes
    assert stack.store.transfer("demo/FI", KIND, str(invoice["id"]))["source_version"] == second["source_version"]
    assert stack.store.transfer("demo/FI", KIND, str(invoice["id"]))["state"] == "succeeded"

    # Without the log (a lagging or wiped projection) the same version takes the read-first path: no write.
    result = await stack.transfer(with_log=False).handle(second)
    assert result.state == "succeeded" and result.target_id == fee["guid"]
    assert stack.severa_writes() == writes and stack.fees(invoice["id"]) == [fee]


async def test_a_changed_split_updates_the_fee_and_adds_the_new_project(stack) -> None:
    invoice = stack.purchase("Laitekauppa Oy")  # APPROVED, 2200 on 2026003
    assert (await stack.transfer().handle(await stack.request(invoice["id"]))).state == "succeeded"
    [before] = stack.fees(invoice["id"])

    await _redimension(stack, invoice["id"], {"2026003": 1200.0, "2026004": 1000.0})
    request = await stack.request(invoice["id"])
    result = await stack.transfer().handle(request)
    assert result.state == "succeeded", result.error
    fees = {_project(stack, f): f for f in stack.fees(invoice["id"])}
    assert sorted(fees) == [2026003, 2026004]
    assert fees[2026003]["guid"] == before["guid"]  # PATCHed, not created again
    assert fees[2026003]["unitCost"]["amount"] == 1200.0 and fees[2026004]["unitCost"]["amount"] == 1000.0
    patched = sum(n for route, n in stack.severa_server.app.state.sandbox.stats.calls.items()
                  if route.startswith("PATCH") and "projectfees" in route)
    assert patched == 1
    steps = [(o["step"], o["adopted"]) for o in stack.outcomes(request["event_id"]) if o["state"] == "step"]
    assert steps == [("fee:2026003", True), ("fee:2026004", False)]


class Crash(BaseException):
    """The worker process dies (not an error the agent handles)."""


async def test_crash_after_the_severa_post_then_retry_leaves_one_fee(stack) -> None:
    invoice = stack.purchase("Konesali Oy")  # PAYMENT_QUEUED
    request = await stack.request(invoice["id"])
    crashing = stack.transfer()

    async def die_before_the_link(name: str, record: dict) -> None:
        if name == "IdLinked":
            raise Crash  # the fee exists in Severa, nothing of it in our records
        await stack.emit(name, record)

    crashing.emit = die_before_the_link
    with pytest.raises(Crash):
        await crashing.handle(request)
    assert len(stack.fees(invoice["id"])) == 1
    assert stack.store.id_map(kind="project_fee") == []

    result = await stack.transfer().handle(request, attempt_number=2)
    assert result.state == "succeeded", result.error
    [fee] = stack.fees(invoice["id"])
    assert result.target_id == fee["guid"]
    [link] = stack.store.id_map(kind="project_fee")
    assert (link["severa_id"], link["created"]) == (fee["guid"], False)  # adopted by its marker
    [step] = [o for o in stack.outcomes(request["event_id"]) if o["state"] == "step"]
    assert step["adopted"] is True


async def test_replay_of_every_request_makes_no_writes(stack) -> None:
    requests = [r for supplier, *_ in PURCHASES if (r := await stack.request(stack.purchase(supplier)["id"]))]
    assert len(requests) == 5
    for request in requests:
        assert (await stack.transfer().handle(request)).state == "succeeded"
    writes = stack.writes()
    fees = _imported_fee_guids(stack)
    assert len(fees) == 5

    calls = dict(stack.severa.calls)
    for request in requests:  # redelivery: the log knows every request
        assert (await stack.transfer().handle(request)).state == "skipped"
    assert dict(stack.severa.calls) == calls

    replay = stack.transfer(with_log=False)  # a fresh worker with wiped read models
    for request in requests:
        assert (await replay.handle(request)).state == "succeeded"
    assert stack.writes() == writes
    assert _imported_fee_guids(stack) == fees


async def test_a_purchase_invoice_dimensioned_to_an_unknown_project_is_a_data_error(stack) -> None:
    invoice = stack.purchase("Matkatoimisto Oy")  # PAID, 310.5 on 2026002
    await _redimension(stack, invoice["id"], {"2026002": 110.5, "2026099": 200.0})  # 2026099: no such project
    request = await stack.request(invoice["id"])
    assert request is not None
    writes = stack.severa_writes()
    result = await stack.transfer().handle(request)
    assert result.state == "failed_data"
    error = stack.outcomes(request["event_id"])[-1]["error"]
    assert error["code"] == "MISSING_PROJECT" and error["value"] == "2026099"
    assert str(invoice["invoiceNumber"]) in error["message"] and "2026099" in error["message"]
    assert "Projects" in error["message"] and "Severa" in error["solution"]
    assert stack.severa_writes() == writes and stack.fees(invoice["id"]) == []  # not even 2026002's share
    entry = stack.store.transfer("demo/FI", KIND, str(invoice["id"]))
    assert entry["state"] == "failed-data" and entry["last_error"]["code"] == "MISSING_PROJECT"


async def test_not_imported_without_project_dimension_or_when_disabled(stack) -> None:
    invoice = stack.purchase("Koulutus Oy")  # MARKED_PAID
    client = stack.procountor["FI"]
    receipt = await client.get_ledger_receipt(int(invoice["ledgerReceiptId"]))
    for transaction in receipt["transactions"]:
        transaction["dimensionItemValues"] = []
    await client.update_ledger_receipt(receipt)
    assert await stack.request(invoice["id"]) is None

    other = stack.purchase("Laitekauppa Oy")
    fi = stack.companies["FI"]
    stack.companies["FI"] = fi.model_copy(update={"purchase_invoices": fi.purchase_invoices.model_copy(
        update={"enabled": False})})
    assert await stack.request(other["id"]) is None
    stack.companies["FI"] = fi.model_copy(update={"purchase_invoices": fi.purchase_invoices.model_copy(
        update={"statuses": ("PAID",)})})
    assert await stack.request(other["id"]) is None  # APPROVED is not among this company's statuses


async def test_moving_the_cost_to_another_project_moves_the_fee(stack) -> None:
    invoice = stack.purchase("Pilvipalvelu Oy")  # APPROVED, 480 on 2026001
    assert (await stack.transfer().handle(await stack.request(invoice["id"]))).state == "succeeded"
    [old] = stack.fees(invoice["id"])

    await _redimension(stack, invoice["id"], {"2026004": 480.0})
    request = await stack.request(invoice["id"])
    result = await stack.transfer().handle(request)
    assert result.state == "succeeded", result.error
    [new] = stack.fees(invoice["id"])
    assert _project(stack, new) == 2026004 and new["unitCost"]["amount"] == 480.0
    assert stack.severa_store.get("projectfees", old["guid"]) is None
    steps = [o["step"] for o in stack.outcomes(request["event_id"]) if o["state"] == "step"]
    assert steps == ["fee:2026004", "fee_removed:2026001"]

    writes = stack.severa_writes()  # the same request again, without the log: nothing left to do
    assert (await stack.transfer(with_log=False).handle(request)).state == "succeeded"
    assert stack.severa_writes() == writes
