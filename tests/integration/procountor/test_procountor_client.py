"""ProcountorClient against the sandbox over real sockets."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

import pytest

from connectors.procountor.errors import (
    ProcountorAuthError,
    ProcountorConflict,
    ProcountorForbidden,
    ProcountorNotFound,
    ProcountorTransientError,
    ProcountorValidationError,
)

pytestmark = pytest.mark.integration


class Sequence:
    """Stands in for the sandbox's random source: yields given draws, then never injects faults."""

    def __init__(self, *draws: float) -> None:
        self.draws = list(draws)

    def random(self) -> float:
        return self.draws.pop(0) if self.draws else 0.999


async def test_token_is_reused_then_renewed_on_expiry(procountor_app: Any, make_client: Any) -> None:
    # Long enough for the first two calls on a loaded machine; the test then waits out whatever is left of it.
    procountor_app.state.sandbox.config.token_lifetime_s = 4
    async with make_client() as client:
        assert (await client.get_company())["name"] == "Kumpula Consulting Oy"
        await client.get_fiscal_years()
        assert client.calls["POST /oauth/token"] == 1
        await asyncio.sleep(max(0.0, client._token_expires_at - time.monotonic()) + 0.05)
        await client.get_vat_percentages()
        assert client.calls["POST /oauth/token"] == 2
    assert procountor_app.state.sandbox.stats.calls["POST /oauth/token"] == 2


async def test_relogin_once_on_401(procountor_app: Any, fi_client: Any) -> None:
    await fi_client.get_company()
    procountor_app.state.sandbox.tokens.clear()  # e.g. a restart of Procountor's token store
    assert (await fi_client.get_company())["country"] == "FINLAND"
    assert fi_client.calls["POST /oauth/token"] == 2
    assert fi_client.calls["GET /company"] == 3


async def test_refused_credentials(procountor_app: Any, make_client: Any) -> None:
    async with make_client(api_key="no-such-key") as client:
        with pytest.raises(ProcountorAuthError):
            await client.get_company()
    async with make_client() as client:
        await client.get_company()
        procountor_app.state.store.revoke_api_key("demo-fi-api-key")
        procountor_app.state.sandbox.tokens.clear()
        with pytest.raises(ProcountorAuthError):
            await client.get_company()
    assert "demo-fi-api-key" not in repr(client) and "secret" not in repr(client)


async def test_each_company_sees_its_own_data(make_client: Any) -> None:
    async with make_client(api_key="demo-se-api-key") as se:
        assert (await se.get_company())["name"] == "Kumpula Consulting AB"
        assert await se.find_business_partner("1001") is None
        assert (await se.find_business_partner("2001"))["name"] == "Andersson Bygg AB"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        (
            lambda b: b["counterParty"].update(identifier="2901012-3", customerNumber="1012"),
            "counterParty.identifier",
            "ERROR_BRN_CODE",
        ),
        (lambda b: b.update(date="2025-12-15"), "date", "CLOSED_FISCAL_PERIOD"),
        (
            lambda b: b["invoiceRows"][0].update(product="x" * 130),
            "invoiceRows[0].product",
            "SIZE_MUST_BE_BETWEEN_0_AND_100",
        ),
        (
            lambda b: b["invoiceRows"][0].update(productCode="HW-LAPTOP"),
            "invoiceRows[0].productCode",
            "PRODUCT_NOT_FOUND",
        ),
        (lambda b: b.update(invoiceChannel="EMAIL"), "counterParty.email", "MUST_NOT_BE_BLANK"),
        (lambda b: b["invoiceRows"][1].update(vatPercent=24), "invoiceRows[1].vatPercent", "ERROR_VATSTATUS_VATPERC"),
    ],
)
async def test_validation_errors_are_typed_with_field(
    fi_client: Any, invoice_body: Any, change: Any, field: str, code: str
) -> None:
    body = invoice_body()
    change(body)
    with pytest.raises(ProcountorValidationError) as caught:
        await fi_client.create_invoice(body)
    assert caught.value.status == 400
    assert caught.value.has_code(code)
    assert [e.field for e in caught.value.errors if e.message == code] == [field]


async def test_registry_mismatch_and_not_found(fi_client: Any) -> None:
    partner = await fi_client.find_business_partner("1005")
    assert partner["invoicingInfo"]["identifier"] != "2901005-0"
    with pytest.raises(ProcountorValidationError) as caught:
        await fi_client.create_business_partner(
            {
                "type": "CUSTOMER",
                "name": "Eräkettu Oy",
                "paymentInfo": {"paymentMethod": "BANK_TRANSFER"},
                "address": {"name": "Eräkettu Oy", "country": "FINLAND"},
                "invoicingInfo": {"customerNumber": "1005", "identifier": "2901005-0"},
            }
        )
    assert "same number and different VAT number" in caught.value.errors[0].message
    with pytest.raises(ProcountorNotFound):
        await fi_client.get_invoice(987654)


async def test_stale_version_is_a_conflict(fi_client: Any, invoice_body: Any) -> None:
    invoice = await fi_client.create_invoice(invoice_body())
    await fi_client.update_invoice(invoice["id"], dict(invoice, notes="first"))
    with pytest.raises(ProcountorConflict) as caught:
        await fi_client.update_invoice(invoice["id"], dict(invoice, notes="second"))
    assert caught.value.for_field("version")


async def test_paging_changed_since_and_batch_get(fi_client: Any, invoice_body: Any) -> None:
    before = await fi_client.search_invoices(types="SALES_INVOICE", size=1)
    mark = max([i["version"] for i in (await fi_client.search_invoices(size=200))["results"]])
    created = [await fi_client.create_invoice(invoice_body(originalInvoiceNumber=f"200{n}")) for n in range(5)]
    assert before["meta"]["totalCount"] == 0
    fi_client.calls.clear()
    seen = [i async for i in fi_client.iter_invoices_changed_since(mark, page_size=2)]
    # versionStartDate is inclusive: the invoice that set the mark comes again, with the five new ones.
    assert [i["id"] for i in seen if i["version"] > mark] == sorted(i["id"] for i in created)
    assert [i["version"] for i in seen if i["version"] <= mark] == [mark]
    assert fi_client.calls["GET /invoices"] == 4  # 2 + 2 + 2 + an empty page
    purchases = [
        i async for i in fi_client.iter_invoices_changed_since(None, types=["PURCHASE_INVOICE"], status="APPROVED,PAID")
    ]
    assert sorted(i["status"] for i in purchases) == ["APPROVED", "APPROVED", "PAID"]

    fetched = await fi_client.get_invoices([c["id"] for c in created] + [999999])
    assert [i["id"] for i in fetched] == sorted(c["id"] for c in created)
    assert [i["id"] for i in await fi_client.get_invoices([created[0]["id"]])] == [created[0]["id"]]
    fi_client.calls.clear()
    many = await fi_client.get_invoices(range(1, 402))
    assert fi_client.calls["GET /invoices/{ids}"] == 3 and len(many) > 5
    found = await fi_client.find_invoices_by_original_number("2003")
    assert [i["id"] for i in found] == [created[3]["id"]]


async def test_429_recovery(procountor_app: Any, make_client: Any) -> None:
    procountor_app.state.sandbox.config.rate_limit_per_second = 5
    async with make_client(requests_per_second=100, max_retries=8, backoff_initial=0.1, backoff_max=0.5) as c:
        results = await asyncio.gather(*[c.get_fiscal_years() for _ in range(12)])
    assert len(results) == 12
    assert procountor_app.state.sandbox.stats.rate_limited > 0


async def test_500_is_retried_for_reads(procountor_app: Any, fi_client: Any) -> None:
    await fi_client.get_company()
    procountor_app.state.sandbox.config.error_rate = 0.5
    procountor_app.state.sandbox.random = Sequence(0.1, 0.1)  # two injected 500s, then fine
    assert (await fi_client.get_company())["country"] == "FINLAND"
    assert fi_client.calls["GET /company"] == 4
    assert procountor_app.state.sandbox.stats.injected_errors == 2
    procountor_app.state.sandbox.random = Sequence(*[0.1] * 10)
    with pytest.raises(ProcountorTransientError):
        await fi_client.get_fiscal_years()
    assert fi_client.calls["GET /fiscalyears"] == fi_client.max_retries + 1


async def test_write_not_repeated_after_ambiguous_failure(
    procountor_app: Any, make_client: Any, invoice_body: Any
) -> None:
    config = procountor_app.state.sandbox.config
    async with make_client(timeout=0.3, max_retries=2) as client:
        await client.get_company()
        config.timeout_rate, config.timeout_delay_s = 1.0, 0.6
        with pytest.raises(ProcountorTransientError) as caught:
            await client.create_invoice(invoice_body(originalInvoiceNumber="10077"))
        assert caught.value.maybe_applied
        assert client.calls["POST /invoices"] == 1
        config.timeout_rate = 0.0
        # The invoice was created although the answer never came: the duplicate check finds it.
        assert len(await client.find_invoices_by_original_number("10077")) == 1


async def test_timeouts_on_reads_are_retried(procountor_app: Any, make_client: Any) -> None:
    config = procountor_app.state.sandbox.config
    async with make_client(timeout=0.3, max_retries=3) as client:
        await client.get_company()
        config.timeout_rate, config.timeout_delay_s = 0.5, 0.6
        procountor_app.state.sandbox.random = Sequence(0.1)
        assert (await client.get_fiscal_years())["fiscalYears"]
        assert client.calls["GET /fiscalyears"] == 2


async def test_sales_state_machine(fi_client: Any, invoice_body: Any) -> None:
    async def status(invoice_id: int) -> str:
        return (await fi_client.get_invoice(invoice_id))["status"]

    invoice = await fi_client.create_invoice(invoice_body())
    assert invoice["status"] == "UNFINISHED"
    assert "created" not in invoice  # a search result's field, not the invoice's
    with pytest.raises(ProcountorForbidden):
        await fi_client.send_invoice(invoice["id"])
    await fi_client.approve_invoice(invoice["id"])
    assert await status(invoice["id"]) == "NOT_SENT"
    await fi_client.send_invoice(invoice["id"])
    await fi_client.send_invoice(invoice["id"])
    assert await status(invoice["id"]) == "SENT"
    with pytest.raises(ProcountorForbidden):
        await fi_client.approve_invoice(invoice["id"])
    no_sending = await fi_client.create_invoice(invoice_body(invoiceChannel="NO_SENDING"))
    await fi_client.approve_invoice(no_sending["id"])
    assert await status(no_sending["id"]) == "APPROVED"
    [found] = (await fi_client.search_invoices(invoice_number=invoice["invoiceNumber"]))["results"]
    assert found["created"] and "created" not in await fi_client.get_invoice(invoice["id"])


async def test_purchase_circulation(procountor_app: Any, fi_client: Any) -> None:
    unfinished = (await fi_client.search_invoices(types="PURCHASE_INVOICE", status="UNFINISHED"))["results"][0]
    with pytest.raises(ProcountorForbidden):
        await fi_client.approve_invoice(unfinished["id"])
    for action, then in ((fi_client.send_to_circulation(unfinished["id"]), "RECEIVED"),
                         (fi_client.verify_invoice(unfinished["id"], "ok"), "VERIFIED"),
                         (fi_client.approve_invoice(unfinished["id"]), "APPROVED")):
        assert set(await action) == {"message"}  # InfoMessage, not the invoice
        assert (await fi_client.get_invoice(unfinished["id"]))["status"] == then
    procountor_app.state.store.set_invoice_status("FI", unfinished["id"], "PAID")  # the bank, not the API
    assert (await fi_client.get_invoice(unfinished["id"]))["status"] == "PAID"


async def test_ledger_receipt_dimensions(fi_client: Any, invoice_body: Any) -> None:
    invoice = await fi_client.create_invoice(invoice_body())
    dimensions = {d["name"]: d for d in await fi_client.get_dimensions()}
    projects = dimensions["Projects"]
    item = next(i for i in projects["items"] if i["codeName"] == "2026002")
    receipt = await fi_client.get_ledger_receipt(invoice["ledgerReceiptId"])
    entries = [t for t in receipt["transactions"] if t["transactionType"] == "ENTRY"]
    assert len(entries) == 2
    values = {
        t["id"]: [{"dimensionId": projects["id"], "itemId": item["id"], "value": t["accountingValue"]}] for t in entries
    }
    updated = await fi_client.set_transaction_dimensions(receipt["id"], values)
    assert all(t["dimensionItemValues"] for t in updated["transactions"] if t["transactionType"] == "ENTRY")

    await fi_client.set_dimension_item_active(projects["id"], item, active=False)
    with pytest.raises(ProcountorValidationError) as caught:
        await fi_client.set_transaction_dimensions(receipt["id"], values)
    assert caught.value.has_code("DIMENSION_OR_DIMENSION_ITEM_IDENTIFIERS_DOES_NOT_MATCH_THOSE_STORED_IN_DATABASE")
    created = await fi_client.create_dimension_item(projects["id"], {"codeName": "2026005"})
    assert created["id"] and "status" not in created


async def test_registers(fi_client: Any, invoice_body: Any) -> None:
    assert await fi_client.find_product("TRAINING") is None
    training = await fi_client.create_product(
        {
            "type": "SALES",
            "name": "Training",
            "code": "TRAINING",
            "unit": "HOUR",
            "price": 90,
            "discount": 0,
            "active": True,
            "currency": "EUR",
            "vat": 25.5,
        }
    )
    assert (await fi_client.find_product("TRAINING"))["id"] == training["id"]
    assert (await fi_client.find_product("DEV"))["code"] == "DEV"  # exact match among substring hits
    assert (await fi_client.find_product("KM-ALLOWANCE", "TRAVEL", on=date(2026, 6, 1)))["type"] == "TRAVEL"
    assert await fi_client.find_product("KM-ALLOWANCE", "TRAVEL", on=date(2027, 6, 1)) is None

    partner = await fi_client.create_business_partner(
        {
            "type": "CUSTOMER",
            "name": "Ilmari Insights Oy",
            "paymentInfo": {"paymentMethod": "BANK_TRANSFER"},
            "address": {"name": "Ilmari Insights Oy", "city": "Espoo", "country": "FINLAND"},
            "invoicingInfo": {"customerNumber": "1009", "identifier": "2901009-3"},
        }
    )
    assert (await fi_client.find_business_partner("1009"))["id"] == partner["id"]
    assert (await fi_client.get_business_partner(partner["id"]))["name"] == "Ilmari Insights Oy"
    named = await fi_client.search_business_partners(name="Ilmari")
    assert [p["id"] for p in named["results"]] == [partner["id"]]

    assert (await fi_client.find_person("E001"))["lastName"] == "Virtanen"
    assert await fi_client.find_person("E006") is None
    person = await fi_client.create_person(
        {
            "firstName": "Ville",
            "lastName": "Salo",
            "paymentInfo": {"paymentMethod": "BANK_TRANSFER", "paymentTermDays": "0", "penalInterestRate": 0,
                            "accountNumber": "FI2112345600000785"},
            "invoicingInfo": {"personNumber": "E006", "language": "FINNISH", "gender": "NOT_APPLICABLE"},
            "registryInfo": {"active": True},
        }
    )
    assert (await fi_client.find_person("E006"))["id"] == person["id"]

    company = await fi_client.get_company()
    accounts = await fi_client.get_bank_accounts()
    years = await fi_client.get_fiscal_years()
    vats = await fi_client.get_vat_percentages()
    assert company["businessIdentifier"]["code"] == "2617416-4"
    assert accounts[0]["iban"].startswith("FI") and accounts[0]["defaultForInvoice"]
    assert [(y["startDate"][:4], y["isOpen"]) for y in years["fiscalYears"]] == [
        ("2027", True),
        ("2026", True),
        ("2025", False),
    ]
    assert 25.5 in [p["vatPercent"] for p in vats["vatInformation"][0]["percentages"]]

    invoice = await fi_client.create_invoice(invoice_body())
    attachment = await fi_client.upload_attachment(
        {"name": "lasku-10001.pdf", "referenceType": "INVOICE", "referenceId": invoice["id"], "sendWithInvoice": True},
        b"%PDF-1.4 demo",
        "application/pdf",
    )
    listed = (await fi_client.get_invoice(invoice["id"]))["attachments"]
    assert [a["id"] for a in listed] == [attachment["id"]]
    with pytest.raises(ValueError, match="sendWithInvoice"):
        await fi_client.upload_attachment(
            {"name": "notes.txt", "referenceType": "INVOICE", "referenceId": invoice["id"]}, b"hello"
        )


async def test_decimal_money_is_written_as_the_same_json_number(fi_client: Any, invoice_body: Any) -> None:
    from decimal import Decimal

    body = invoice_body()
    body["invoiceRows"] = [dict(body["invoiceRows"][0], quantity=Decimal("3"), unitPrice=Decimal("0.10"))]
    created = await fi_client.create_invoice(body)
    row = (await fi_client.get_invoice(created["id"]))["invoiceRows"][0]
    # 3 × 0.10 is 0.30 exactly; the sandbox computed its totals from the numbers it was sent.
    assert (row["quantity"], row["unitPrice"]) == (3, 0.1)
    assert created["invoiceSumInfo"][0]["excludingVatTotal"] == 0.3
