"""The sales invoice's `vatStatus` comes from the company settings and the customer's Severa VAT code, checked
against the Procountor environment's sales VAT statuses before anything is written (issue 12). The references:
Procountor's `vatStatus` "Allowed values: GET /vats/default" (procountor-api.md §5, the codes are environment
data); Severa's CustomerModel has `invoicingVat {guid, percentage, code}` (severa-api.md, CustomerInvoicingVat)."""

from __future__ import annotations

import pytest

from streams.mapping.errors import SOLUTIONS
from tests.public_reference import severa_model

pytestmark = pytest.mark.integration

EU_SERVICES = {"guid": "6f1e0c1a-0000-4000-8000-0000000000e1", "percentage": 0.0, "code": "EU"}


def zero_rated_rows(stack, number: int = 10002) -> None:
    invoice = stack.invoice(number)
    for item in stack.severa_store.find("invoicerows", invoiceGuid=invoice["guid"]):
        item["vatRate"] = 0.0


def zero_rated_eu_customer(stack, number: int = 10002) -> None:
    """As a user sets it in Severa: the invoice's customer is invoiced at 0 % VAT with the code EU, and so are
    the invoice's rows."""
    fields = {f["name"] for f in severa_model("CustomerModel")["fields"]}
    assert "invoicingVat" in fields
    invoice = stack.invoice(number)
    stack.severa_store.get("customers", invoice["customer"]["guid"])["invoicingVat"] = dict(EU_SERVICES)
    zero_rated_rows(stack, number)


def sales_settings(stack, **changes) -> None:
    fi = stack.companies["FI"]
    stack.companies["FI"] = fi.model_copy(update={"sales_invoices": fi.sales_invoices.model_copy(update=changes)})


async def test_the_customers_vat_code_gives_the_invoice_its_status(stack) -> None:
    zero_rated_eu_customer(stack)
    sales_settings(stack, vat_status_by_severa_vat_code={"EU": 6})
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    [target] = stack.procountor_invoices("FI", 10002)
    assert target["vatStatus"] == 6


async def test_a_company_default_other_than_domestic(stack) -> None:
    zero_rated_rows(stack)  # e.g. a company that sells only outside the EU
    sales_settings(stack, vat_status=9)
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    assert [t["vatStatus"] for t in stack.procountor_invoices("FI", 10002)] == [9]


async def _failed_config_before_any_write(stack, setting: str, words: str) -> None:
    request = stack.request(10002)
    writes = stack.writes()
    result = await stack.transfer().handle(request)
    assert result.state == "failed_config"
    [outcome] = [r for name, r in stack.events if name == "TransferOutcome" and r["state"] == "failed_config"]
    error = outcome["error"]
    assert (error["code"], error["kind"], error["field"]) == ("VAT_STATUS_NOT_CONFIGURED", "config", setting)
    assert "company 'FI'" in error["message"] and words in error["message"]
    assert error["solution"] == SOLUTIONS["VAT_STATUS_NOT_CONFIGURED"]
    assert stack.procountor_invoices("FI", 10002) == [] and stack.writes() == writes


async def test_a_zero_rated_customer_whose_code_is_not_mapped_stops_before_any_write(stack) -> None:
    zero_rated_eu_customer(stack)
    await _failed_config_before_any_write(stack, "sales_invoices.vat_status_by_severa_vat_code", "'EU'")


async def test_a_status_the_procountor_environment_lacks_stops_before_any_write(stack) -> None:
    sales_settings(stack, vat_status=7)
    await _failed_config_before_any_write(stack, "sales_invoices.vat_status", "is 7")
