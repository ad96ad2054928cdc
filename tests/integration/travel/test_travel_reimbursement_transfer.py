"""Travel reimbursements Severa → Procountor against both sandboxes over real sockets: fields, errors, exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from schwifty import IBAN

from sandbox.severa.demo import DEMO_USERS, demo_guid
from streams.mapping.errors import SOLUTIONS as SEED_SOLUTIONS
from streams.travel_reimbursement import KIND, TravelReimbursementTransfer, travel_request

pytestmark = pytest.mark.integration

WAITING = "Waiting for transfer to Procountor"
TRANSFERRED = "Transferred to Procountor"


class Crash(BaseException):
    """The worker process dies here (not an error the agent handles: a BaseException, as SystemExit)."""


def _status(travel, number: int) -> str:
    return travel.reimbursement(number)["travelReimbursementStatus"]["name"]


def _set_ticket_vat(travel, rate: float) -> None:
    """Set the VAT of the demo's travel tickets, as a user would (Finland's reduced rate: 13.5 % since 2026)."""
    store = travel.severa_store
    for expense in store.all("projecttravelexpenses"):
        if expense["travelExpense"]["code"] == "TRAVEL-TICKET":
            store.update("projecttravelexpenses", expense["guid"], {"purchaseVatRate": rate})


def _fix_ticket_vat(travel) -> None:
    _set_ticket_vat(travel, 13.5)


def _entries(travel, target: dict[str, Any]) -> list[dict[str, Any]]:
    receipt = travel.procountor_store.company("FI").ledger_receipts[target["ledgerReceiptId"]]
    return sorted((t for t in receipt["transactions"] if t["transactionType"] == "ENTRY"), key=lambda t: t["id"])


async def test_happy_path_field_by_field(travel) -> None:
    request = await travel.request(1)
    assert (request["kind"], request["company"], request["source_number"]) == (KIND, "FI", "1")
    result = await travel.transfer().handle(request)
    assert result.state == "succeeded", result.error

    [target] = travel.travel_invoices(1)
    fi = travel.procountor_store.company("FI")
    user = travel.severa_store.get("users", demo_guid("user", "E001"))
    person = fi.find_person(person_number="E001")
    assert target["type"] == "TRAVEL_INVOICE" and target["status"] == "UNFINISHED"
    assert target["partnerId"] == person["id"]
    assert target["counterParty"]["counterPartyAddress"]["name"] == f"{person['firstName']} {person['lastName']}"
    assert target["paymentInfo"]["bankAccount"]["accountNumber"] == IBAN(user["bankAccountNumber"]).compact
    assert target["date"] == travel.reimbursement(1)["date"][:10]
    assert target["originalInvoiceNumber"] == "1" and target["invoiceChannel"] == "NO_SENDING"

    expenses = sorted((e for e in travel.severa_store.all("projecttravelexpenses")
                       if (e.get("travelReimbursement") or {}).get("guid") == travel.reimbursement(1)["guid"]),
                      key=lambda e: e["eventDate"])
    rows = target["invoiceRows"]
    assert [r["productCode"] for r in rows] == [e["travelExpense"]["code"] for e in expenses]
    assert [r["quantity"] for r in rows] == [e["quantity"] for e in expenses]
    assert [r["unitPrice"] for r in rows] == [e["unitCost"]["amount"] for e in expenses]
    assert [r["unit"] for r in rows] == ["KILOMETER", "DAY"]
    assert [r["vatPercent"] for r in rows] == [0.0, 0.0]
    travel_products = {p["code"]: p["id"] for p in fi.products.values() if p["type"] == "TRAVEL"}
    assert [r["productId"] for r in rows] == [travel_products[r["productCode"]] for r in rows]
    assert target["invoiceSumInfo"][0]["invoiceSumTotal"] == pytest.approx(240 * 0.59 + 2 * 54.0)

    dimension_names = {d["id"]: d["name"] for d in fi.dimensions.values()}
    item_names = {i["id"]: i["codeName"] for d in fi.dimensions.values() for i in d["items"]}
    for entry in _entries(travel, target):
        named = {dimension_names[v["dimensionId"]]: item_names[v["itemId"]] for v in entry["dimensionItemValues"]}
        assert named == {"Projects": "2026001", "Cost centers": "CC-HEL", "Business units": "Kumpula Consulting Oy"}
        assert all(v["value"] == entry["accountingValue"] for v in entry["dimensionItemValues"])
    [attachment] = target["attachments"]
    assert attachment["name"] == "travel-reimbursement-1.pdf"
    assert fi.attachment_files[attachment["id"]].startswith(b"%PDF")
    assert _status(travel, 1) == TRANSFERRED

    states = [(o["state"], o["step"]) for o in travel.outcomes(request["event_id"])]
    assert states == [("attempting", None), ("step", "invoice"), ("step", "dimensions"), ("step", "attachment"),
                      ("step", "target_status"), ("step", "source_status"), ("succeeded", None)]
    links = {(r["kind"], r["severa_key"]): r for name, r in travel.events if name == "IdLinked"}
    assert links[("travel_invoice", "1")]["procountor_id"] == str(target["id"])
    assert links[("person", "E001")]["procountor_id"] == str(person["id"])
    assert not links[("person", "E001")]["created"]


async def test_procountor_status_follows_the_setting(travel) -> None:
    _fix_ticket_vat(travel)
    for number, wanted, actions in ((1, "RECEIVED", ["sendToCirculation"]),
                                    (2, "VERIFIED", ["sendToCirculation", "verify"])):
        travel.set_travel(procountor_status=wanted)
        before = travel.writes()
        result = await travel.transfer().handle(await travel.request(number))
        assert result.state == "succeeded", result.error
        [target] = travel.travel_invoices(number)
        assert target["status"] == wanted
        done = travel.writes() - before
        assert sorted(r.split("/")[-1] for r in done if r.startswith("PUT /invoices/{id}/")) == sorted(actions)


def _break_user(travel, user_code: str, **changes: Any) -> None:
    travel.severa_store.update("users", demo_guid("user", user_code), changes)


def _set_expense_code(travel, key: str, code: str) -> None:
    guid = demo_guid("projecttravelexpense", key)
    expense = travel.severa_store.get("projecttravelexpenses", guid)
    travel.severa_store.update("projecttravelexpenses", guid, {"travelExpense": {**expense["travelExpense"],
                                                                                 "code": code}})


def _set_date(travel, number: int, when: str) -> None:
    travel.severa_store.update("travelreimbursements", demo_guid("travelreimbursement", number), {"date": when})


# (reimbursement, break it, mend it, code, field, a name the message and solution must carry)
DATA_ERRORS: list[tuple[int, Any, Any, str, str, str | None]] = [
    (1, lambda t: _break_user(t, "E001", code=None), lambda t: _break_user(t, "E001", code="E001"),
     "MISSING_EMPLOYEE_NUMBER", "user.code", "Aino Virtanen"),
    (1, lambda t: _break_user(t, "E001", bankAccountNumber=None),
     lambda t: _break_user(t, "E001", bankAccountNumber=DEMO_USERS["E001"][2]), "MISSING_BANK_ACCOUNT",
     "user.bankAccountNumber", "E001"),
    (1, lambda t: _break_user(t, "E001", bankAccountNumber="FI00 1234 5678"),
     lambda t: _break_user(t, "E001", bankAccountNumber=DEMO_USERS["E001"][2]), "MISSING_BANK_ACCOUNT",
     "user.bankAccountNumber", "E001"),
    (3, lambda t: None, lambda t: None, "MISSING_PERSON", "invoicingInfo.personNumber", "E006"),
    (1, lambda t: _set_date(t, 1, "2025-06-15T00:00:00+00:00"), lambda t: _set_date(t, 1, "2026-11-15T00:00:00+00:00"),
     "CLOSED_FISCAL_PERIOD", "date", None),
    (2, lambda t: _set_ticket_vat(t, 14.0), lambda t: _set_ticket_vat(t, 13.5), "ERROR_VATSTATUS_VATPERC",
     "invoiceRows[1].vatPercent", None),
    (1, lambda t: _set_expense_code(t, "TR1-0", "KM-2025"), lambda t: _set_expense_code(t, "TR1-0", "KM-ALLOWANCE"),
     "MISSING_TRAVEL_PRODUCT", "invoiceRows[0].productCode", None),
]


async def test_data_errors_end_as_the_right_reason_with_no_writes(travel) -> None:
    assert travel.reimbursement(1)["date"] == "2026-11-15T00:00:00+00:00"
    for number, breaks, mends, code, field, names in DATA_ERRORS:
        breaks(travel)
        request = await travel.request(number)
        writes_before = travel.writes()
        result = await travel.transfer().handle(request)
        assert result.state == "failed_data", code
        final = travel.outcomes(request["event_id"])[-1]
        assert final["state"] == "failed_data"
        error = final["error"]
        assert (error["code"], error["field"]) == (code, field)
        assert error["record"] == f"travel reimbursement {number}"
        assert "try the" in error["solution"] and "transfer again" in error["solution"]
        if names:
            assert names in error["message"] and names in error["solution"]
        if code == "CLOSED_FISCAL_PERIOD":
            assert error["solution"] == SEED_SOLUTIONS["CLOSED_FISCAL_PERIOD"]  # the seed names travel too
        assert travel.writes() == writes_before, code
        assert travel.travel_invoices(number) == [] and _status(travel, number) == WAITING
        mends(travel)
    # Mended, the same reimbursement goes through: the errors were the data, not the transfer.
    assert (await travel.transfer().handle(await travel.request(1))).state == "succeeded"


async def test_update_persons_creates_the_missing_person_and_updates_a_stale_one(travel) -> None:
    travel.set_travel(update_persons=True)
    _fix_ticket_vat(travel)
    for number in (3, 2):
        result = await travel.transfer().handle(await travel.request(number))
        assert result.state == "succeeded", result.error

    fi = travel.procountor_store.company("FI")
    for code, number in (("E006", 3), ("E002", 2)):
        user = travel.severa_store.get("users", demo_guid("user", code))
        person = fi.find_person(person_number=code)
        assert (person["firstName"], person["lastName"]) == (user["firstName"], user["lastName"])
        assert person["paymentInfo"]["accountNumber"] == IBAN(user["bankAccountNumber"]).compact
        [target] = travel.travel_invoices(number)
        assert target["partnerId"] == person["id"]
    routes = travel.writes()
    assert routes["POST /persons"] == 1 and routes["PUT /persons/{id}"] == 1
    person_links = {r["severa_key"]: r["created"] for name, r in travel.events
                    if name == "IdLinked" and r["kind"] == "person"}
    assert person_links == {"E006": True, "E002": False}
    [ticket] = [r for r in travel.travel_invoices(2)[0]["invoiceRows"] if r["productCode"] == "TRAVEL-TICKET"]
    assert (ticket["unitPrice"], ticket["vatPercent"]) == (89.9, 13.5)


@pytest.mark.parametrize("crash_after", ["invoice", "attachment", "target_status"])
async def test_crash_after_a_procountor_write_then_retry_makes_one_travel_invoice(travel, crash_after) -> None:
    travel.set_travel(procountor_status="APPROVED")
    request = await travel.request(1)

    async def dying_emit(name: str, record: dict[str, Any]) -> None:
        travel.events.append((name, record))
        if name == "TransferOutcome" and record["step"] == crash_after:
            raise Crash(crash_after)

    dying = TravelReimbursementTransfer(travel.severa, travel.procountor, travel.companies, dying_emit,
                                        directory=travel.directory)
    with pytest.raises(Crash):
        await dying.handle(request)
    retried = await travel.transfer().handle(request, attempt_number=2)
    assert retried.state == "succeeded", retried.error

    [target] = travel.travel_invoices(1)
    assert target["status"] == "APPROVED" and len(target["attachments"]) == 1
    assert all(len(e["dimensionItemValues"]) == 3 for e in _entries(travel, target))
    routes = travel.writes()
    assert routes["POST /invoices"] == 1 and routes["POST /attachments"] == 1
    assert routes["PATCH /v1/travelreimbursements/{guid}"] == 1
    assert all(routes[f"PUT /invoices/{{id}}/{a}"] == 1 for a in ("sendToCirculation", "verify", "approve"))
    invoice_steps = [o for o in travel.outcomes(request["event_id"]) if o["step"] == "invoice"]
    assert [o["adopted"] for o in invoice_steps] == [False, True]


async def test_replay_of_every_request_writes_nothing(travel) -> None:
    travel.set_travel(update_persons=True)
    _fix_ticket_vat(travel)
    requests = [await travel.request(n) for n in (1, 2, 3)]
    for request in requests:
        assert (await travel.transfer().handle(request)).state == "succeeded"
    after_first: Counter[str] = travel.writes()

    # The whole topic again, with no transfer log to ask (the worst case): every step finds its work done.
    replay = travel.transfer()
    for request in requests:
        result = await replay.handle(request)
        assert result.state == "succeeded", result.error
    assert travel.writes() == after_first
    assert all(len(travel.travel_invoices(n)) == 1 for n in (1, 2, 3))

    class Log:
        def succeeded_request(self, request_id: str) -> bool:
            return True

        def transfer(self, tenant: str, kind: str, source_id: str) -> dict[str, Any] | None:
            return None

    events_before = len(travel.events)
    for request in requests:
        assert (await travel.transfer(transfer_log=Log()).handle(request)).state == "skipped"
    assert len(travel.events) == events_before and travel.writes() == after_first


async def test_trigger_only_for_status_before_of_an_enabled_company(travel) -> None:
    request = await travel.request(2)
    again = await travel_request(travel.observed(2), travel.directory)
    assert again is not None and again["event_id"] == request["event_id"]
    reimbursement = travel.reimbursement(2)
    assert request["event_id"] == f"demo:{KIND}:{reimbursement['guid']}:{reimbursement['lastUpdatedDateTime']}"
    for number in (4, 5, 6):  # Approved, Draft, Transferred
        assert await travel_request(travel.observed(number), travel.directory) is None

    travel.set_travel(enabled=False)
    travel.directory.companies.companies = travel.companies
    assert await travel_request(travel.observed(2), travel.directory) is None


async def test_trigger_finds_the_company_above_the_users_business_unit(travel) -> None:
    labs = next(u for u in travel.severa_store.all("businessunits") if u["name"] == "Kumpula Labs")
    user = dict(travel.severa_store.get("users", demo_guid("user", "E002")))
    user["businessUnit"] = {"guid": labs["guid"], "name": labs["name"],
                            "companyBusinessUnitGuid": labs["companyBusinessUnitGuid"]}
    travel.directory.remember_user(user)
    request = await travel.request(2)
    assert request["company"] == "FI"

    user["businessUnit"] = {"guid": "00000000-0000-0000-0000-000000000000", "name": "Elsewhere"}
    travel.directory.remember_user(user)
    assert await travel_request(travel.observed(2), travel.directory) is None


async def test_reimbursement_sent_back_to_approved_before_the_write_is_skipped_with_nothing_written(travel) -> None:
    request = await travel.request(1)
    store = travel.severa_store
    store.set_travel_reimbursement_status(
        request["source_id"], store.status_by_name("travelreimbursementstatuses", "Approved")["guid"])
    writes_before = travel.writes()
    result = await travel.transfer().handle(request)
    assert result.state == "skipped"
    assert travel.travel_invoices(1) == []
    assert travel.writes() == writes_before, "not even the person or an item"
    assert _status(travel, 1) == "Approved"
    note = [r for name, r in travel.events if name == "TransferOutcome"][-1]["note"]
    assert note.startswith("moved to Approved at ") and note.endswith("; nothing was written"), note


@pytest.mark.parametrize("crash_after", ["invoice", "attachment"])
async def test_travel_pdf_once_from_the_invoice_attachments_never_the_paid_attachment_search(
        travel, crash_after) -> None:
    """`GET /attachments` needs a paid add-on and answers another shape: the "already uploaded?" check reads the
    invoice's own `attachments`, as the sales path does."""
    _fix_ticket_vat(travel)
    request = await travel.request(1)

    async def dying_emit(name: str, record: dict[str, Any]) -> None:
        travel.events.append((name, record))
        if name == "TransferOutcome" and record["step"] == crash_after:
            raise Crash(crash_after)

    dying = TravelReimbursementTransfer(travel.severa, travel.procountor, travel.companies, dying_emit,
                                        directory=travel.directory)
    with pytest.raises(Crash):
        await dying.handle(request)
    result = await travel.transfer().handle(request, attempt_number=2)
    assert result.state == "succeeded", result.error
    [target] = travel.travel_invoices(1)
    [attachment] = target["attachments"]
    assert attachment["sendWithInvoice"] is False  # may be true only for sales and purchase orders' invoices
    calls = travel.procountor_server.app.state.sandbox.stats.calls
    assert calls["GET /attachments"] == 0 and calls["POST /attachments"] == 1


async def test_a_travel_invoice_not_written_by_the_integration_is_not_adopted(travel) -> None:
    """Procountor has a travel invoice with reimbursement 1's number as its original number, for another person
    and amount (entered by hand): it is not adopted, moved or linked; the reimbursement is a data error naming
    both, with nothing written (issue 10)."""
    assert (await travel.transfer().handle(await travel.request(2))).state == "succeeded"
    [other] = travel.travel_invoices(2)
    as_read = {k: v for k, v in other.items() if not k.startswith("_")}  # the sandbox's bookkeeping stays home
    by_hand = await travel.procountor["FI"].create_invoice({**as_read, "originalInvoiceNumber": "1"})
    request = await travel.request(1)
    writes = travel.writes()
    result = await travel.transfer().handle(request)

    assert result.state == "failed_data" and result.error is not None
    assert result.error.code == "DUPLICATE_ORIGINAL_NUMBER"
    assert (f"Procountor already has invoice no. {by_hand['invoiceNumber']} with this original number, not "
            "written by this integration") in result.error.message
    assert f"Procountor id {by_hand['id']}" in result.error.message and request["source_id"] in result.error.message
    assert travel.writes() == writes
    assert [i["id"] for i in travel.travel_invoices(1)] == [by_hand["id"]]
