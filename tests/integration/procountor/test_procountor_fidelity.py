"""The Procountor sandbox answers as the public description says (../shared/reference, read at run time), and
the client works against that: where client and sandbox shared a wrong idea, every other test passed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.public_reference import procountor_unknown_fields

pytestmark = pytest.mark.integration


def add_person(app: Any, number: str, last: str) -> int:
    store = app.state.store
    company = store.company("FI")
    person_id = company.new_id()
    company.persons[person_id] = {
        "id": person_id, "firstName": "Test", "lastName": last,
        "invoicingInfo": {"personNumber": number, "language": "FINNISH", "gender": "NOT_APPLICABLE"},
        "registryInfo": {"active": True}, "version": store.next_version(),
    }
    return person_id


async def test_person_search_answers_person_basic_info_and_the_client_finds_past_the_first_page(
    procountor_app: Any, fi_client: Any
) -> None:
    for i in range(230):
        add_person(procountor_app, f"X9{i:03d}", f"Many{i}")
    wanted = add_person(procountor_app, "X9", "Wanted")  # partial search: every X9… matches, this one is last
    page = await fi_client._request("GET", "/persons", params={"personNumber": "X9", "size": 200})  # noqa: SLF001
    assert page["results"] and procountor_unknown_fields(page, "PersonSearchResult") == []
    assert all("personNumber" in p["invoicingInfo"] for p in page["results"])
    found = await fi_client.find_person("X9")
    assert found is not None and found["id"] == wanted
    assert fi_client.calls["GET /persons"] == 1 + 2


async def test_invoice_actions_answer_an_info_message(fi_client: Any, invoice_body: Any) -> None:
    from tests.public_reference import procountor_operation

    for action in ("approve", "send", "sendToCirculation", "verify"):
        answer = procountor_operation("PUT", f"/invoices/{{invoiceId}}/{action}")["responses"]["200"]
        assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/InfoMessage")
    invoice = await fi_client.create_invoice(invoice_body())
    approved = await fi_client.approve_invoice(invoice["id"])
    assert set(approved) == {"message"} and procountor_unknown_fields(approved, "InfoMessage") == []
    sent = await fi_client.send_invoice(invoice["id"])
    assert set(sent) == {"message"}
    assert (await fi_client.get_invoice(invoice["id"]))["status"] == "SENT"


@pytest.mark.contract_exempt("sends referenceId as a string on purpose, as a third-party client does and Procountor "
                              "accepts; the public Attachment model says integer")
async def test_attachments_of_any_type_up_to_ten_million_bytes_with_a_string_reference_id(
    fi_client: Any, invoice_body: Any
) -> None:
    from connectors.procountor.errors import ProcountorValidationError
    from tests.public_reference import procountor_schema

    assert "sendWithInvoice" in procountor_schema("Attachment")["required"]
    invoice = await fi_client.create_invoice(invoice_body())
    sheet = await fi_client.upload_attachment(
        {"name": "hours.xlsx", "referenceType": "INVOICE", "referenceId": str(invoice["id"]),
         "sendWithInvoice": True},
        b"PK\x03\x04 spreadsheet",
    )
    assert sheet["referenceId"] == invoice["id"] and sheet["sendWithInvoice"] is True
    assert procountor_unknown_fields(sheet, "Attachment") == []
    with pytest.raises(ProcountorValidationError) as caught:
        await fi_client.upload_attachment(
            {"name": "big.bin", "referenceType": "INVOICE", "referenceId": invoice["id"], "sendWithInvoice": True},
            b"0" * 10_000_001,
        )
    assert caught.value.has_code("FILE_SIZE_TOO_BIG")
    listed = (await fi_client.get_invoice(invoice["id"]))["attachments"]
    assert [a["name"] for a in listed] == ["hours.xlsx"]


async def test_bank_accounts_are_listed_in_pages_with_the_iban_apart_from_the_domestic_number(
    procountor_app: Any, fi_client: Any
) -> None:
    from sandbox.procountor.demo import bank_account

    store = procountor_app.state.store
    company = store.company("FI")
    for _ in range(205):
        company.bank_accounts.append(bank_account(company, "FI1410093000123458", "NDEAFIHH", "EUR", store,
                                                  default=False))
    page = await fi_client._request("GET", "/bankaccounts", params={"size": 200})  # noqa: SLF001
    assert set(page) == {"results", "meta"} and len(page["results"]) == 200
    accounts = await fi_client.get_bank_accounts()
    assert len(accounts) == 206 and fi_client.calls["GET /bankaccounts"] == 1 + 2
    first = accounts[0]
    assert first["iban"].startswith("FI") and first["accountNumber"] == first["iban"][4:]
    assert {"currency", "defaultForInvoice", "status"} <= set(first)
