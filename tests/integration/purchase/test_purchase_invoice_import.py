"""Purchase invoices Procountor → Severa project fees, against both sandboxes over real sockets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from foundation.company import PURCHASE_IMPORT_STATUSES
from sandbox.procountor.demo import PURCHASES, se_business_id
from sandbox.procountor.invoicing import create_invoice, update_ledger_receipt
from streams.mapping.purchase_invoice import fee_key, marked_invoice_id
from streams.purchase_invoice import KIND

pytestmark = pytest.mark.integration


def _project(stack, fee: dict[str, Any]) -> int:
    return int(stack.severa_store.get("projects", fee["project"]["guid"])["number"])


def _imported_fee_guids(stack) -> list[str]:
    fees = stack.severa_store.all("projectfees")
    return sorted(f["guid"] for f in fees if marked_invoice_id(f))


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


def _same_id_in_se(stack, fi_invoice: dict[str, Any], project: str, net: float) -> dict[str, Any]:
    """A purchase invoice of the SE company with the id of an FI one (each Procountor company counts its own
    ids), dimensioned to `project`, approved; SE imports purchase invoices too."""
    se = stack.procountor_store.company("SE")
    restore, se.next_id = se.next_id, int(fi_invoice["id"])
    body = {k: fi_invoice[k] for k in ("type", "date", "invoiceChannel", "vatStatus", "discountPercent",
                                       "counterParty", "paymentInfo", "extraInfo")}
    body["originalInvoiceNumber"] = "SE-9001"
    body["counterParty"] = {"identifier": se_business_id(2001),
                            "counterPartyAddress": {"name": "Leverantör AB", "country": "SWEDEN"}}
    body["invoiceRows"] = [{"product": "Cloud", "quantity": 1, "unit": "PIECE", "unitPrice": net,
                            "discountPercent": 0, "vatPercent": 25.0}]
    invoice = create_invoice(stack.procountor_store, se, body)
    se.next_id = max(restore, se.next_id)
    assert invoice["id"] == fi_invoice["id"]
    projects = se.find_dimension("Projects")
    item = next(i for i in projects["items"] if i["codeName"] == project)
    receipt = se.ledger_receipts[invoice["ledgerReceiptId"]]
    transactions = [{**t, "dimensionItemValues": [{"dimensionId": projects["id"], "itemId": item["id"],
                                                    "value": t["accountingValue"]}]}
                    if t["transactionType"] == "ENTRY" else t for t in receipt["transactions"]]
    update_ledger_receipt(stack.procountor_store, se, receipt["id"],
                          {"version": receipt["version"], "transactions": transactions})
    stack.procountor_store.set_invoice_status("SE", invoice["id"], "APPROVED")
    settings = stack.companies["SE"]
    stack.companies["SE"] = settings.model_copy(update={
        "purchase_invoices": settings.purchase_invoices.model_copy(update={"enabled": True})})
    return invoice


def _fees_on(stack, project: int) -> list[dict[str, Any]]:
    return [f for f in stack.severa_store.all("projectfees")
            if "Procountor" in (f["description"] or "") and _project(stack, f) == project]


async def test_two_companies_purchase_invoices_with_one_id_become_two_fees(stack) -> None:
    """Procountor ids are per company: FI's and SE's invoice 'no. N' are different invoices, and the fee's
    marker says whose it is, so the second import neither adopts nor overwrites the first one's fee."""
    fi_invoice = stack.purchase("Pilvipalvelu Oy")  # APPROVED, 480 on 2026001
    se_invoice = _same_id_in_se(stack, fi_invoice, "2026001", 777.0)
    assert (await stack.transfer().handle(await stack.request(fi_invoice["id"]))).state == "succeeded"
    se_request = await stack.request(se_invoice["id"], company="SE")
    assert se_request is not None and se_request["tenant"] == "demo/SE"
    result = await stack.transfer().handle(se_request)
    assert result.state == "succeeded", result.error

    fees = {f["unitCost"]["amount"]: f for f in _fees_on(stack, 2026001)}
    assert sorted(fees) == [480.0, 777.0], "one fee per company's invoice, the FI one untouched"
    assert fees[480.0]["description"].startswith(f"Procountor FI #{fi_invoice['id']}:")
    assert fees[777.0]["description"].startswith(f"Procountor SE #{se_invoice['id']}:")


async def test_a_fee_with_an_old_marker_is_still_recognised_but_only_for_its_own_company(stack) -> None:
    """Fees written before the marker named the company ('Procountor #N') are still found: a crash before the
    link was recorded does not double them. One the ID map links to another company's invoice is not adopted."""
    fi_invoice = stack.purchase("Konesali Oy")  # PAYMENT_QUEUED, 950 on 2026002
    project = stack.severa_store.all("projects")
    guid = next(p["guid"] for p in project if p["number"] == 2026002)
    old = await stack.severa.create_project_fee({
        "project": {"guid": guid}, "name": "Purchase invoice", "quantity": 1, "isBillable": False,
        "unitCost": {"amount": 950.0, "currencyCode": "EUR"}, "eventDate": fi_invoice["date"],
        "description": f"Procountor #{fi_invoice['id']}: purchase invoice {fi_invoice['invoiceNumber']}"})
    # An SE invoice with the same id, on the same project: the old, unlinked fee is not SE's to take...
    se_invoice = _same_id_in_se(stack, fi_invoice, "2026002", 300.0)
    # ...once the ID map says whose it is (an FI link of before the upgrade).
    await stack.emit("IdLinked", {
        "event_id": f"demo/FI:FI:project_fee:{fi_invoice['id']}:2026002:{old['guid']}", "correlation_id": "c",
        "causation_id": None, "tenant": "demo/FI", "company": "FI", "kind": "project_fee",
        "severa_id": old["guid"], "severa_key": f"{fi_invoice['id']}:2026002",
        "procountor_id": str(fi_invoice["id"]), "created": True, "occurred_at": datetime.now(UTC)})
    result = await stack.transfer().handle(await stack.request(se_invoice["id"], company="SE"))
    assert result.state == "succeeded", result.error
    assert sorted(f["unitCost"]["amount"] for f in _fees_on(stack, 2026002)) == [300.0, 950.0]

    # FI's own import adopts its old-marker fee (no second one) and writes the new marker on it.
    result = await stack.transfer().handle(await stack.request(fi_invoice["id"]))
    assert result.state == "succeeded" and result.target_id == old["guid"]
    mine = [f for f in _fees_on(stack, 2026002) if f["unitCost"]["amount"] == 950.0]
    assert [f["guid"] for f in mine] == [old["guid"]]
    assert mine[0]["description"].startswith(f"Procountor FI #{fi_invoice['id']}:")
