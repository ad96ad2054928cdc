"""Row dimensions for the ledger receipt, business partner and product bodies."""

from __future__ import annotations

import pytest
from mapping_builders import KNOWN_CODES, customer, invoice, row, rows, settings

from streams.mapping import (
    TransferDataError,
    customer_to_business_partner,
    missing_products,
    product_to_procountor,
    row_dimensions,
)


def items(result, index=0):
    return {item["kind"]: (item["dimension"], item["item"]) for item in result[index]["items"]}


def test_all_three_dimensions_per_row():
    result = row_dimensions(rows(), invoice(), settings())
    assert [r["row"] for r in result] == [0, 1, 2]
    assert items(result) == {
        "project": ("Projects", "P-2026-001"),
        "cost_center": ("Cost centers", "CC-HEL"),
        "business_unit": ("Business units", "Kumpula Consulting Oy"),
    }
    assert result[0]["items"][0]["description"] == "Intranet"


@pytest.mark.parametrize("toggle", ["transfer_project_dimension", "transfer_cost_center_dimension",
                                    "transfer_business_unit_dimension"])  # fmt: skip
def test_each_toggle_switches_its_dimension_off(toggle):
    kind = {"transfer_project_dimension": "project", "transfer_cost_center_dimension": "cost_center",
            "transfer_business_unit_dimension": "business_unit"}[toggle]  # fmt: skip
    result = row_dimensions(rows(), invoice(), settings(sales_invoices={toggle: False}))
    assert kind not in items(result)
    assert len(items(result)) == 2


def test_rows_in_the_same_order_as_the_invoice_rows():
    mixed = [row("ProjectFees", 2, costCenter={"number": "CC-TRE"}), row("Hours", 1)]
    result = row_dimensions(mixed, invoice(), settings())
    assert items(result, 0)["cost_center"][1] == "CC-HEL" and items(result, 1)["cost_center"][1] == "CC-TRE"


def test_multi_project_invoice_uses_the_rows_project_and_never_guesses():
    projects = [{"guid": "p1", "name": "One", "number": "P-2026-001"},
                {"guid": "p2", "name": "Two", "number": "P-2026-002",
                 "businessUnit": {"name": "Kumpula Labs"}, "costCenter": {"number": "CC-TRE"}}]  # fmt: skip
    named = row("Hours", 1, project={"guid": "p2"}, costCenter=None)
    unnamed = row("Hours", 2)
    result = row_dimensions([named, unnamed], invoice(projects=projects), settings())
    assert items(result, 0) == {"project": ("Projects", "P-2026-002"), "cost_center": ("Cost centers", "CC-TRE"),
                                "business_unit": ("Business units", "Kumpula Labs")}  # fmt: skip
    assert "project" not in items(result, 1)


def test_project_without_number_uses_its_name():
    result = row_dimensions([row("Hours", 1)], invoice(projects=[{"guid": "p", "name": "Intranet"}]), settings())
    assert items(result)["project"] == ("Projects", "Intranet")


def test_customer_to_business_partner():
    partner = customer_to_business_partner(customer(1009, name="Uusi Oy", email="laskut@uusi.fi"), "FI")
    assert partner["name"] == "Uusi Oy" and partner["type"] == "CUSTOMER"
    assert partner["address"] == {"name": "Uusi Oy", "street": "Mannerheimintie 1", "zip": "00100",
                                  "city": "Helsinki", "country": "FINLAND"}  # fmt: skip
    info = partner["invoicingInfo"]
    assert info["customerNumber"] == "1009" and info["identifier"] == "2617416-4"
    assert info["email"] == "laskut@uusi.fi" and info["language"] == "FINNISH"
    assert partner["paymentInfo"] == {"paymentMethod": "BANK_TRANSFER", "currency": "EUR",
                                      "paymentTermDays": "14", "penalInterestRate": 8.0}  # fmt: skip


def test_business_partner_needs_a_postal_address():
    visit_only = customer(addresses=[{**customer()["addresses"][0], "isPostalAddress": False}])
    with pytest.raises(TransferDataError) as raised:
        customer_to_business_partner(visit_only, "FI")
    assert raised.value.code == "MISSING_ADDRESS" and raised.value.record == "customer 1001"
    no_city = customer(addresses=[{**customer()["addresses"][0], "city": None}])
    with pytest.raises(TransferDataError) as raised:
        customer_to_business_partner(no_city, "FI")
    assert raised.value.field == "address.city"


def test_business_partner_with_invalid_business_id_is_error_brn_code():
    with pytest.raises(TransferDataError) as raised:
        customer_to_business_partner(customer(1012, vatNumber="1234567-8"), "FI")
    assert raised.value.code == "ERROR_BRN_CODE" and raised.value.field == "invoicingInfo.identifier"


def test_swedish_partner():
    se = customer(
        2004,
        vatNumber="556036-0793",
        language={"code": "sv"},
        currency={"code": "SEK"},
        addresses=[
            {
                "addressline": "Kungsgatan 2",
                "postalCode": "111 43",
                "city": "Stockholm",
                "isPostalAddress": True,
                "country": {"name": "Sverige", "englishName": "Sweden"},
            }
        ],
    )
    partner = customer_to_business_partner(se, "SE")  # fmt: skip
    assert partner["address"]["country"] == "SWEDEN"
    assert partner["invoicingInfo"]["identifier"] == "556036-0793"
    assert partner["paymentInfo"]["currency"] == "SEK" and partner["invoicingInfo"]["language"] == "SWEDISH"


def test_einvoice_partner_carries_einvoice_data():
    partner = customer_to_business_partner(
        customer(1003, eInvoiceAddress="003726174164", eInvoiceOperator="003721291126",
                 organizationUnitNumber="003726174164"), "FI")  # fmt: skip
    info = partner["invoicingInfo"]
    assert (info["einvoiceAddress"], info["einvoiceOperator"], info["ovt"]) == (
        "003726174164", "003721291126", "003726174164")  # fmt: skip


def test_product_to_procountor():
    assert product_to_procountor("TRAINING", "Training", "work_type", unit="HOUR", vat=25.5) == {
        "type": "SALES", "name": "Training", "code": "TRAINING", "unit": "HOUR", "price": 0.0, "discount": 0,
        "active": True, "currency": "EUR", "vat": 25.5}  # fmt: skip
    with pytest.raises(TransferDataError) as raised:
        product_to_procountor("X", "n" * 101, "product")
    assert raised.value.code == "SIZE_MUST_BE_BETWEEN_0_AND_100" and raised.value.field == "name"
    with pytest.raises(TransferDataError) as raised:
        product_to_procountor("KM-2027", "Km", "travel_expense")
    assert raised.value.code == "MISSING_PRODUCT_CODE"


def test_missing_products_lists_only_creatable_unknown_codes():
    invoice_rows = [row("Hours", 1, code=["TRAINING"], workType={"guid": "w", "name": "Training", "code": "TRAINING"}),
                    row("ProjectFees", 2, code=["HW-LAPTOP"], measurementUnit="kpl"),
                    row("Hours", 3, code=["TRAINING"]), row("TravelExpenses", 4, code=["KM-2027"]),
                    row("Hours", 5, code=None), row("Hours", 6)]  # fmt: skip
    created = missing_products(invoice_rows, settings(), KNOWN_CODES)
    assert [(p["code"], p["name"], p["unit"]) for p in created] == [
        ("TRAINING", "Training", "HOUR"), ("HW-LAPTOP", "HW-LAPTOP", "PIECE")]  # fmt: skip
    assert missing_products(invoice_rows, settings(create_products=False), KNOWN_CODES) == []
