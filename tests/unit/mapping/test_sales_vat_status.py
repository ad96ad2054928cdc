"""Procountor's `vatStatus` of a sales invoice comes from the company settings and the customer, not a constant
(issue 12): "Allowed values: GET /vats/default" (procountor-api.md §5) and the codes are environment data, so a
company maps them; Severa's CustomerModel carries the customer's invoicing VAT (`invoicingVat {guid, percentage,
code}`). A sale the settings cannot place is a configuration error naming the company and the setting."""

from __future__ import annotations

import pytest
from mapping_builders import KNOWN_CODES, customer, invoice, row, settings

from foundation.company import CompanySettingsError, demo_companies_path, load_companies, parse_companies
from streams.mapping import map_sales_invoice
from streams.mapping.errors import SOLUTIONS, ConfigFailure
from streams.mapping.vat import VatStatusChoice, check_sales_vat_status, sales_vat_status

EU = {"guid": "0c2f1c9e-0000-4000-8000-000000000001", "percentage": 0.0, "code": "EU"}
DOMESTIC = {"guid": "0c2f1c9e-0000-4000-8000-000000000002", "percentage": 25.5, "code": "25.5"}
ENVIRONMENT = [{"vatStatus": 1, "description": "Domestic", "sales": True, "purchase": True},
               {"vatStatus": 6, "description": "EU sales of services", "sales": True, "purchase": False},
               {"vatStatus": 9, "description": "Sales outside the EU", "sales": True, "purchase": False},
               {"vatStatus": 12, "description": "Purchases only", "sales": False, "purchase": True}]


def zero_rated_body(cust: dict, sett) -> dict:
    rows = [row("Hours", 1, vatRate=0.0), row("ProjectFees", 2, vatRate=0.0), row("TravelExpenses", 3, vatRate=0.0)]
    return map_sales_invoice(invoice(), rows, cust, sett, known_product_codes=KNOWN_CODES)


def test_existing_settings_files_keep_the_domestic_default() -> None:
    fi = load_companies(demo_companies_path())["FI"]
    assert fi.sales_invoices.vat_status == 1 and fi.sales_invoices.vat_status_by_severa_vat_code == {}
    assert sales_vat_status(fi, customer()) == VatStatusChoice(1, "sales_invoices.vat_status")


def test_the_company_sets_its_own_status() -> None:
    sett = settings(sales_invoices={"vat_status": 9})
    assert map_sales_invoice(invoice(), [row("Hours", 1)], customer(), sett,
                             known_product_codes=KNOWN_CODES)["vatStatus"] == 9


def test_the_customers_severa_vat_code_chooses_the_status() -> None:
    sett = settings(sales_invoices={"vat_status_by_severa_vat_code": {"EU": 6}})
    assert zero_rated_body(customer(invoicingVat=EU), sett)["vatStatus"] == 6
    # A code the company does not map, at a rate other than 0 %, is a domestic sale.
    assert sales_vat_status(sett, customer(invoicingVat=DOMESTIC)) == VatStatusChoice(1, "sales_invoices.vat_status")
    assert sales_vat_status(sett, customer(invoicingVat=None)).status == 1


@pytest.mark.parametrize("vat", [EU, {**EU, "code": None}])
def test_a_zero_rated_customer_without_a_mapping_is_a_configuration_error(vat: dict) -> None:
    with pytest.raises(ConfigFailure) as caught:
        zero_rated_body(customer(1005, invoicingVat=vat), settings())
    failure = caught.value
    assert failure.code == "VAT_STATUS_NOT_CONFIGURED" and failure.code in SOLUTIONS
    assert failure.field == "sales_invoices.vat_status_by_severa_vat_code"
    assert "company 'FI'" in str(failure) and "customer 1005" in str(failure)
    assert ("'EU'" in str(failure)) == (vat["code"] == "EU")


def test_a_status_the_environment_does_not_have_is_a_configuration_error() -> None:
    check_sales_vat_status(settings(), VatStatusChoice(6, "sales_invoices.vat_status_by_severa_vat_code.EU"),
                           ENVIRONMENT)
    for status in (7, 12):  # unknown; a purchase-only status
        with pytest.raises(ConfigFailure) as caught:
            check_sales_vat_status(settings(), VatStatusChoice(status, "sales_invoices.vat_status"), ENVIRONMENT)
        assert caught.value.field == "sales_invoices.vat_status"
        assert "company 'FI'" in str(caught.value) and "[1, 6, 9]" in str(caught.value)
    check_sales_vat_status(settings(), VatStatusChoice(7, "sales_invoices.vat_status"), [])  # nothing listed


def test_the_mapping_in_a_settings_file() -> None:
    table = load_companies(demo_companies_path())["FI"].model_dump(mode="json", exclude_none=True)
    table.pop("name")
    table["sales_invoices"]["vat_status_by_severa_vat_code"] = {" EU ": 6, "EXPORT": 9}
    assert parse_companies({"company": {"FI": table}})["FI"].sales_invoices.vat_status_by_severa_vat_code == {
        "EU": 6, "EXPORT": 9}
    table["sales_invoices"]["vat_status_by_severa_vat_code"] = {"EU": "six"}
    with pytest.raises(CompanySettingsError, match=r"company 'FI': sales_invoices\.vat_status_by_severa_vat_code"):
        parse_companies({"company": {"FI": table}})
