"""The sales transfer sends what the public description requires (../shared/reference, read at run time)."""

from __future__ import annotations

import pytest

from tests.public_reference import procountor_schema

pytestmark = pytest.mark.integration


async def test_the_invoice_pdf_is_sent_with_the_invoice(stack) -> None:
    # The public Attachment model requires sendWithInvoice; without it Procountor keeps the PDF off the invoice.
    assert "sendWithInvoice" in procountor_schema("Attachment")["required"]
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    [target] = stack.procountor_invoices("FI", 10002)
    [attachment] = target["attachments"]
    assert attachment["name"] == "invoice-10002.pdf" and attachment["sendWithInvoice"] is True


def add_account(stack, iban: str, currency: str, *, default: bool = False) -> None:
    from sandbox.procountor.demo import bank_account

    store = stack.procountor_store
    company = store.company("FI")
    if default:
        for account in company.bank_accounts:
            account["defaultForInvoice"] = False
    company.bank_accounts.append(bank_account(company, iban, "NDEAFIHH", currency, store, default=default))


async def test_the_invoice_carries_the_iban_of_the_configured_account_never_the_domestic_number(stack) -> None:
    # Procountor lists accountNumber as the domestic BBAN and the IBAN in iban (reference §12, from the
    # official OpenAPI's CompanyBankAccountBasicInfo); the invoice takes the IBAN.
    from tests.public_reference import procountor_notes

    notes = procountor_notes()
    assert "accountNumber (the domestic BBAN), iban" in notes and "defaultForInvoice" in notes
    add_account(stack, "FI14 1009 3000 1234 58", "EUR")
    add_account(stack, "FI49 5000 9420 0287 30", "USD")
    stack.companies["FI"] = stack.companies["FI"].model_copy(
        update={"bank_account_iban": "FI1410093000123458", "bank_account_currency": "EUR"})
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    [target] = stack.procountor_invoices("FI", 10002)
    assert target["paymentInfo"]["bankAccount"]["accountNumber"] == "FI1410093000123458"


async def test_without_a_setting_the_account_marked_default_for_invoices(stack) -> None:
    add_account(stack, "FI1410093000123458", "EUR", default=True)
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    [target] = stack.procountor_invoices("FI", 10002)
    assert target["paymentInfo"]["bankAccount"]["accountNumber"] == "FI1410093000123458"


async def test_no_matching_account_is_a_configuration_error_before_any_write(stack) -> None:
    stack.companies["FI"] = stack.companies["FI"].model_copy(update={"bank_account_iban": "FI1410093000123458"})
    writes = stack.writes()
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "failed_config"
    [outcome] = [r for name, r in stack.events if name == "TransferOutcome" and r["state"] == "failed_config"]
    assert outcome["error"]["code"] == "BANK_ACCOUNT_NOT_FOUND"
    assert "company 'FI'" in outcome["error"]["message"]
    assert "FI1410093000123458 (bank_account_iban)" in outcome["error"]["message"]
    assert stack.procountor_invoices("FI", 10002) == [] and stack.writes() == writes


@pytest.mark.parametrize(("attached", "grouping", "expected"), [
    (True, "Group", ["invoice-10002.pdf"]), (True, "OneByOne", []), (False, "Group", []),
])
async def test_breakdown_when_the_invoice_has_attachments_and_grouped_rows(stack, attached, grouping,
                                                                         expected) -> None:
    """The seed's "none" setting still attaches the breakdown when the invoice has attachments and row grouping
    is on. Severa's invoice model has neither `files` nor `invoiceSettings`: they are read from
    /v1/invoices/{invoiceGuid}/files and /v1/invoices/{invoiceGuid}/invoicesettings."""
    from tests.public_reference import severa_model, severa_operation

    fields = {f["name"] for f in severa_model("InvoiceOutputModel")["fields"]}
    assert not {"files", "invoiceSettings"} & fields
    severa_operation("GET", "/v1/invoices/{invoiceGuid}/invoicesettings")
    fi = stack.companies["FI"]
    stack.companies["FI"] = fi.model_copy(
        update={"sales_invoices": fi.sales_invoices.model_copy(update={"attachments": "none"})})
    guid = stack.invoice(10002)["guid"]
    store = stack.severa_store
    for file in store.find("invoicefiles", invoiceGuid=guid):  # the demo gives 10002 a timesheet: start from none
        store.collections["invoicefiles"].pop(file["guid"])
    if attached:
        store.attach_invoice_file(guid, "timesheet.pdf", "application/pdf", b"%PDF-1.4 hours")
    store.set_invoice_grouping(guid, workHourGrouping=grouping)
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    [target] = stack.procountor_invoices("FI", 10002)
    assert [a["name"] for a in target.get("attachments") or []] == expected
