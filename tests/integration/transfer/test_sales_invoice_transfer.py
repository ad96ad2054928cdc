"""Sales invoices Severa → Procountor against both sandboxes over real sockets: fields, errors, exactly once."""

from __future__ import annotations

from datetime import date

import pytest

from streams.mapping.errors import SOLUTIONS

pytestmark = pytest.mark.integration

WAITING = "Waiting for transfer to Procountor"
TRANSFERRED = "Transferred to Procountor"


def _outcomes(stack, request_id: str) -> list[dict]:
    return [r for name, r in stack.events if name == "TransferOutcome" and r["request_id"] == request_id]


async def test_happy_path_field_by_field(stack) -> None:
    request = stack.request(10002)
    invoice = stack.invoice(10002)
    result = await stack.transfer().handle(request)
    assert result.state == "succeeded", result.error

    [target] = stack.procountor_invoices("FI", 10002)
    customer = stack.severa_store.get("customers", invoice["customer"]["guid"])
    party = target["counterParty"]
    assert target["type"] == "SALES_INVOICE" and target["status"] == "UNFINISHED"
    assert party["customerNumber"] == str(customer["number"])
    assert party["identifier"] == customer["vatNumber"]
    assert party["counterPartyAddress"]["name"] == invoice["receiverCustomerName"]
    assert party["counterPartyAddress"]["street"] == invoice["receiverAddress"]["addressline"]
    assert party["counterPartyAddress"]["zip"] == invoice["receiverAddress"]["postalCode"]
    assert party["counterPartyAddress"]["city"] == invoice["receiverAddress"]["city"]
    assert party["counterPartyAddress"]["country"] == "FINLAND"
    assert target["date"] == invoice["date"] and target["paymentInfo"]["dueDate"] == invoice["dueDate"]
    assert target["originalInvoiceNumber"] == "10002"
    assert target["invoiceChannel"] == "MAIL"  # customer 1001 has neither e-invoice address nor email
    assert target["language"] == "FINNISH"

    rows = sorted((r for r in stack.severa_store.all("invoicerows") if r["invoiceGuid"] == invoice["guid"]),
                  key=lambda r: r["sortOrder"])
    assert [r["productCode"] for r in target["invoiceRows"]] == [r["code"][0] for r in rows]
    assert [r["quantity"] for r in target["invoiceRows"]] == [r["quantity"] for r in rows]
    assert [r["unitPrice"] for r in target["invoiceRows"]] == [r["unitPrice"]["amount"] for r in rows]
    assert all(r["vatPercent"] == 25.5 for r in target["invoiceRows"])

    company = stack.procountor_store.company("FI")
    receipt = company.ledger_receipts[target["ledgerReceiptId"]]
    entries = [t for t in receipt["transactions"] if t["transactionType"] == "ENTRY"]
    dimension_names = {d["id"]: d["name"] for d in company.dimensions.values()}
    for entry in entries:
        named = {dimension_names[v["dimensionId"]] for v in entry["dimensionItemValues"]}
        assert named == {"Projects", "Cost centers", "Business units"}
        assert all(v["value"] == entry["accountingValue"] for v in entry["dimensionItemValues"])
    assert [a["name"] for a in target["attachments"]] == ["invoice-10002.pdf"]
    assert stack.severa_store.get("invoices", invoice["guid"])["status"]["name"] == TRANSFERRED

    states = [(o["state"], o["step"]) for o in _outcomes(stack, request["event_id"])]
    assert states == [("attempting", None), ("step", "invoice"), ("step", "dimensions"), ("step", "attachment"),
                      ("step", "target_status"), ("step", "source_status"), ("succeeded", None)]
    links = {r["kind"] for name, r in stack.events if name == "IdLinked"}
    assert "invoice" in links


@pytest.mark.parametrize(("number", "code", "field", "seed_solution"), [
    (10005, "REGISTRY_MISMATCH", "counterParty.identifier", True),
    (10006, "ERROR_BRN_CODE", "counterParty.identifier", True),
    (10007, "CLOSED_FISCAL_PERIOD", "date", True),
    (10008, "SIZE_MUST_BE_BETWEEN_0_AND_100", "invoiceRows[0].product", True),
])
async def test_data_errors_end_as_the_right_reason(stack, number, code, field, seed_solution) -> None:
    request = stack.request(number)
    writes_before = stack.writes()
    result = await stack.transfer().handle(request)
    assert result.state == "failed_data"
    final = _outcomes(stack, request["event_id"])[-1]
    assert final["state"] == "failed_data"
    error = final["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["record"] == f"sales invoice {number}"
    assert error["solution"] == SOLUTIONS[code]
    assert stack.writes() == writes_before, "a data error must be found before anything is written"
    assert stack.procountor_invoices("FI", number) == []
    assert stack.severa_store.get("invoices", request["source_id"])["status"]["name"] == WAITING


async def test_retry_after_correction(stack) -> None:
    first = stack.request(10007)
    assert (await stack.transfer().handle(first)).state == "failed_data"
    # The user moves the invoice to draft, corrects the date, and moves it back to the transfer status.
    store = stack.severa_store
    draft = store.status_by_name("invoicestatuses", "Draft")
    waiting = store.status_by_name("invoicestatuses", WAITING)
    store.set_invoice_status(first["source_id"], draft["guid"])
    store.update("invoices", first["source_id"], {"date": "2026-11-24", "dueDate": "2026-12-08"})
    store.set_invoice_status(first["source_id"], waiting["guid"])
    second = stack.request(10007)
    assert second["event_id"] != first["event_id"], "a corrected invoice is a new request"
    result = await stack.transfer().handle(second)
    assert result.state == "succeeded", result.error
    assert len(stack.procountor_invoices("FI", 10007)) == 1


class Crash(BaseException):
    """The worker process dies (not an error the agent handles)."""


async def test_crash_between_procountor_write_and_its_record_leaves_one_invoice(stack) -> None:
    request = stack.request(10002)

    async def die_after_create(name: str, record: dict) -> None:
        if name == "TransferOutcome" and record["step"] == "invoice":
            raise Crash

    crashing = stack.transfer()
    crashing.emit = die_after_create
    with pytest.raises(Crash):
        await crashing.handle(request)
    assert len(stack.procountor_invoices("FI", 10002)) == 1

    result = await stack.transfer().handle(request, attempt_number=2)
    assert result.state == "succeeded"
    assert len(stack.procountor_invoices("FI", 10002)) == 1
    adopted = [o for o in _outcomes(stack, request["event_id"]) if o["step"] == "invoice"]
    assert adopted[-1]["adopted"] is True


async def test_replay_of_every_request_makes_no_writes(stack) -> None:
    waiting = [i["number"] for i in stack.severa_store.all("invoices") if i["status"]["name"] == WAITING]
    requests = [stack.request(n) for n in sorted(waiting)]
    for request in requests:
        await stack.transfer().handle(request)
    writes_after_first_pass = stack.writes()
    succeeded = {r["event_id"] for r in requests
                 if _outcomes(stack, r["event_id"])[-1]["state"] == "succeeded"}
    assert len(succeeded) == 8

    replay = stack.transfer()  # a fresh worker, no memory of the first pass
    for request in requests:
        await replay.handle(request)
    assert stack.writes() == writes_after_first_pass
    for number in waiting:
        company = "SE" if number in (10011, 10012) else "FI"
        assert len(stack.procountor_invoices(company, number)) <= 1


async def test_registries_on_first_use_and_credit_note(stack) -> None:
    for number in (10003, 10004, 10012, 10013):
        result = await stack.transfer().handle(stack.request(number))
        assert result.state == "succeeded", (number, result.error)
    links = [(r["kind"], r["severa_key"], r["created"]) for name, r in stack.events if name == "IdLinked"]
    assert ("product", "TRAINING", True) in links and ("product", "HW-LAPTOP", True) in links
    assert ("customer", "2004", True) in links  # SE customer missing in Procountor, created with the invoice
    assert stack.procountor_store.company("SE").find_partner(customer_number="2004") is not None
    [credit] = stack.procountor_invoices("FI", 10013)
    assert all(r["quantity"] * r["unitPrice"] < 0 for r in credit["invoiceRows"])


async def test_skips_a_request_the_log_shows_succeeded(stack) -> None:
    request = stack.request(10002)

    class Log:
        def succeeded_request(self, request_id: str) -> bool:
            return False  # a reprocess request has a new id...

        def transfer(self, tenant: str, kind: str, source_id: str) -> dict | None:
            # ...but the log shows this version of the invoice succeeded
            return {"state": "succeeded", "source_version": request["source_version"]}

    before = dict(stack.procountor["FI"].calls), dict(stack.severa.calls)
    result = await stack.transfer(transfer_log=Log()).handle(request)
    assert result.state == "skipped"
    assert (dict(stack.procountor["FI"].calls), dict(stack.severa.calls)) == before


async def test_transfers_sharing_contexts_read_procountor_registers_once(stack) -> None:
    from streams.transfer import company_contexts

    contexts = company_contexts(stack.companies, stack.procountor)
    assert (await stack.transfer(contexts=contexts).handle(stack.request(10002))).state == "succeeded"
    loads = stack.procountor["FI"].calls["GET /dimensions"]
    # A second transfer of the worker (another kind, in production) reuses the cache: no second load.
    assert (await stack.transfer(contexts=contexts).handle(stack.request(10003))).state == "succeeded"
    assert stack.procountor["FI"].calls["GET /dimensions"] == loads


async def test_rows_without_code_take_it_from_their_source_items(stack) -> None:
    """A Severa that gives no `code[]` on invoice rows: the hours/fees/travel behind each row name the code."""
    invoice = stack.invoice(10002)
    rows = sorted((r for r in stack.severa_store.all("invoicerows") if r["invoiceGuid"] == invoice["guid"]),
                  key=lambda r: r["sortOrder"])
    expected = [r["code"][0] for r in rows]
    assert any(code != stack.companies["FI"].default_work_type_code for code in expected)
    for row in rows:
        stack.severa_store.update("invoicerows", row["guid"], {"code": []})

    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    [target] = stack.procountor_invoices("FI", 10002)
    assert [r["productCode"] for r in target["invoiceRows"]] == expected
    sources = "GET /v1/invoicerows/{invoiceRowGuid}/"
    asked = sum(n for route, n in stack.severa.calls.items() if route.startswith(sources))
    assert asked == len(rows)  # one call per row without a code, of the row's own source kind


async def test_rows_with_code_need_no_source_items(stack) -> None:
    assert (await stack.transfer().handle(stack.request(10002))).state == "succeeded"
    assert not [route for route in stack.severa.calls if route.startswith("GET /v1/invoicerows/")]


@pytest.mark.contract_exempt("the sandbox answers a row of the wrong shape on purpose")
async def test_malformed_row_is_a_data_error_naming_the_row_and_field(stack) -> None:
    invoice = stack.invoice(10002)
    row = min((r for r in stack.severa_store.all("invoicerows") if r["invoiceGuid"] == invoice["guid"]),
              key=lambda r: r["sortOrder"])
    stack.severa_store.update("invoicerows", row["guid"], {"quantity": "many"})
    writes = stack.writes()
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "failed_data"
    assert result.error.field == "rows[0].quantity" and result.error.record == "sales invoice 10002"
    assert stack.writes() == writes


def _rows_and_sources(stack, number: int) -> list[tuple[dict, str, dict]]:
    """The invoice's rows in order, each with the kind and the first of its source items in the sandbox."""
    invoice = stack.invoice(number)
    rows = sorted((r for r in stack.severa_store.all("invoicerows") if r["invoiceGuid"] == invoice["guid"]),
                  key=lambda r: r["sortOrder"])
    out = []
    for row in rows:
        kind, item = next((kind, item) for kind in ("workhours", "projectfees", "projecttravelexpenses")
                          for item in stack.severa_store.all(kind) if item.get("invoiceRowGuid") == row["guid"])
        out.append((row, kind, item))
    return out


def _project_items(stack, target: dict) -> list[str | None]:
    """Per ledger entry of the Procountor invoice, the codeName of its item in the Projects dimension."""
    company = stack.procountor_store.company("FI")
    projects = next(d for d in company.dimensions.values() if d["name"] == "Projects")
    names = {i["id"]: i["codeName"] for i in projects["items"]}
    receipt = company.ledger_receipts[target["ledgerReceiptId"]]
    return [next((names[v["itemId"]] for v in t["dimensionItemValues"] if v["dimensionId"] == projects["id"]), None)
            for t in receipt["transactions"] if t["transactionType"] == "ENTRY"]


async def test_row_comment_comes_from_the_source_item(stack) -> None:
    [(row, kind, item), *_] = _rows_and_sources(stack, 10002)
    stack.severa_store.update(kind, item["guid"], {"invoiceRowComment": "Sprint 14: data model review"})
    stack.severa_store.update("invoicerows", row["guid"], {"hasInvoiceComment": True})
    assert (await stack.transfer().handle(stack.request(10002))).state == "succeeded"
    [target] = stack.procountor_invoices("FI", 10002)
    assert target["invoiceRows"][0]["comment"] == "Sprint 14: data model review"
    assert "comment" not in target["invoiceRows"][1]


async def test_rows_of_a_multi_project_invoice_get_their_own_project_item(stack) -> None:
    rows = _rows_and_sources(stack, 10002)
    invoice = stack.invoice(10002)
    other = next(p for p in stack.severa_store.all("projects") if p["number"] == 2026002)
    other_ref = {"guid": other["guid"], "name": other["name"], "number": other["number"]}
    stack.severa_store.update("invoices", invoice["guid"], {"projects": [*invoice["projects"], other_ref]})
    _, kind, item = rows[-1]
    # Each kind's project sub-model has guid and name (a project fee's has no number), as the public models say.
    stack.severa_store.update(kind, item["guid"], {"project": {"guid": other["guid"], "name": other["name"]}})

    assert (await stack.transfer().handle(stack.request(10002))).state == "succeeded"
    [target] = stack.procountor_invoices("FI", 10002)
    assert _project_items(stack, target) == ["2026001"] * (len(rows) - 1) + ["2026002"]


async def test_a_period_opened_in_procountor_is_seen_by_the_same_workers_retry(stack) -> None:
    """The accountant opens the closed period in Procountor (or adds next year's fiscal year) and presses
    Retry: the worker that refused the invoice, with Procountor's fiscal years cached since it started, reads
    them again before refusing, and the invoice is transferred, without a restart."""
    transfer = stack.transfer()  # one worker's transfer: its company contexts (and their caches) are kept
    request = stack.request(10007)
    assert (await transfer.handle(request)).state == "failed_data"
    procountor = stack.procountor_store.company(request["company"])
    year, period = procountor.fiscal_period_for(date.fromisoformat(stack.invoice(10007)["date"]))
    assert year is not None, "the demo's closed period lies in a fiscal year"
    year["isOpen"] = True
    if period is not None:
        period["status"] = "OPEN"

    result = await transfer.handle(request, attempt_number=2)

    assert result.state == "succeeded", result.error
    assert len(stack.procountor_invoices(request["company"], 10007)) == 1
