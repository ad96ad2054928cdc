"""Severa travel reimbursement → Procountor TRAVEL_INVOICE: the pure mapping, field by field and error by error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from foundation.company import CompanySettings, demo_companies_path, load_companies
from streams.mapping.errors import SOLUTIONS as SEED_SOLUTIONS
from streams.mapping.errors import TransferDataError
from streams.mapping.travel_reimbursement import (
    employee,
    map_travel_invoice,
    missing_person,
    person_body,
    person_differs,
    record_name,
    row_dimensions,
    status_actions,
)

IBAN_SPACED = "FI21 1234 5600 0007 85"
IBAN = "FI2112345600000785"


def company(**travel: Any) -> CompanySettings:
    base = load_companies(demo_companies_path())["FI"]
    return base.model_copy(update={"travel_reimbursements": base.travel_reimbursements.model_copy(update=travel)})


def user(**changes: Any) -> dict[str, Any]:
    return {"guid": "u-1", "firstName": "Onni", "lastName": "Laine", "code": "E006", "bankAccountNumber": IBAN_SPACED,
            "email": "onni.laine@kumpula.example",
            "businessUnit": {"guid": "bu-fi", "name": "Kumpula Consulting Oy"}, **changes}


def expense(code: str | None = "KM-ALLOWANCE", **changes: Any) -> dict[str, Any]:
    return {"guid": f"e-{code}", "travelExpense": {"guid": "t", "name": "Mileage allowance", "code": code},
            "quantity": 120.0, "measurementUnit": "km", "unitCost": {"amount": 0.59, "currencyCode": "EUR"},
            "purchaseVatRate": 0.0, "eventDate": "2026-11-13", "description": "Customer visit",
            "project": {"guid": "p", "name": "Warehouse integration", "number": 2026003},
            "costCenter": {"guid": "cc-hel", "name": "Helsinki"}, **changes}


def reimbursement(**changes: Any) -> dict[str, Any]:
    return {"guid": "r-3", "number": 3, "title": "Trip 3 / E006", "date": "2026-11-17T00:00:00+00:00",
            "user": {"guid": "u-1", "name": "Onni Laine"},
            "totalExpenses": {"amount": 70.8, "currencyCode": "EUR"}, **changes}


PRODUCTS = {
    "KM-ALLOWANCE": {"id": 57, "code": "KM-ALLOWANCE", "name": "Kilometre allowance", "unit": "KILOMETER"},
    "DAILY-FULL": {"id": 58, "code": "DAILY-FULL", "name": "Full daily allowance", "unit": "DAY"},
    "TRAVEL-TICKET": {"id": 60, "code": "TRAVEL-TICKET", "name": "Travel ticket", "unit": "PIECE"},
    "DEFAULT-TRAVEL": {"id": 61, "code": "DEFAULT-TRAVEL", "name": "Travel expense", "unit": "PIECE"},
}
PERSON = {"id": 72, "firstName": "Onni", "lastName": "Laine"}
YEARS = [{"startDate": "2026-01-01", "endDate": "2026-12-31", "isOpen": True,
          "trackingPeriods": [{"startDate": "2026-11-01", "endDate": "2026-11-30", "status": "OPEN"}]},
         {"startDate": "2025-01-01", "endDate": "2025-12-31", "isOpen": False, "trackingPeriods": []}]


def mapped(expenses: list[dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:
    return map_travel_invoice(kwargs.pop("reimbursement", reimbursement()), expenses or [expense()],
                              kwargs.pop("user", user()), PERSON, PRODUCTS, company(), fiscal_years=YEARS,
                              vat_percentages={0.0, 10.0, 13.5, 25.5}, **kwargs)


def test_travel_invoice_body_field_by_field() -> None:
    ticket = expense("TRAVEL-TICKET", quantity=1.0, measurementUnit="pcs", unitCost={"amount": 89.9},
                     purchaseVatRate=13.5, eventDate="2026-11-12")
    body = mapped([expense(), ticket])
    assert body["type"] == "TRAVEL_INVOICE" and body["partnerId"] == 72
    assert body["date"] == "2026-11-17" and body["originalInvoiceNumber"] == "3"
    assert body["counterParty"] == {"counterPartyAddress": {"name": "Onni Laine"}}
    assert body["paymentInfo"] == {"paymentMethod": "BANK_TRANSFER", "currency": "EUR", "dueDate": "2026-11-17",
                                   "currencyRate": 1, "bankAccount": {"accountNumber": IBAN}}
    assert body["extraInfo"] == {"accountingByRow": True, "unitPricesIncludeVat": True}
    assert body["invoiceChannel"] == "NO_SENDING" and "vatStatus" not in body
    assert body["travelInformationItems"] == [{"purpose": "Trip 3 / E006", "departure": "2026-11-12",
                                               "arrival": "2026-11-13"}]
    first, second = body["invoiceRows"]  # in the order of the travel
    assert first == {"product": "Travel ticket", "productId": 60, "productCode": "TRAVEL-TICKET", "quantity": 1.0,
                     "unit": "PIECE", "unitPrice": Decimal("89.9"), "discountPercent": 0, "vatPercent": 13.5,
                     "comment": "Customer visit", "startDate": "2026-11-12", "endDate": "2026-11-12"}
    assert (second["productCode"], second["unit"], second["quantity"], second["unitPrice"]) == (
        "KM-ALLOWANCE", "KILOMETER", 120.0, Decimal("0.59"))


def test_an_expense_without_code_takes_the_default_travel_code_and_product_unit() -> None:
    [row] = mapped([expense(None, measurementUnit=None)])["invoiceRows"]
    assert (row["productCode"], row["productId"], row["unit"]) == ("DEFAULT-TRAVEL", 61, "PIECE")


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"code": None}, "MISSING_EMPLOYEE_NUMBER", "user.code"),
    ({"code": "  "}, "MISSING_EMPLOYEE_NUMBER", "user.code"),
    ({"bankAccountNumber": None}, "MISSING_BANK_ACCOUNT", "user.bankAccountNumber"),
    ({"bankAccountNumber": "FI21 1234 5600 0007 86"}, "MISSING_BANK_ACCOUNT", "user.bankAccountNumber"),
])
def test_employee_data_errors_name_the_user_and_field(changes, code, field) -> None:
    with pytest.raises(TransferDataError) as raised:
        employee(user(**changes), record="travel reimbursement 3")
    error = raised.value
    assert (error.code, error.field, error.record) == (code, field, "travel reimbursement 3")
    assert "Onni Laine" in error.message and "Onni Laine" in error.solution
    assert "employee number (code) and bank account of user" in error.solution


def test_employee_gives_the_compact_iban() -> None:
    assert employee(user(), record="r") == ("E006", IBAN)


def test_missing_person_names_the_employee_number() -> None:
    error = missing_person(user(), "E006", record="travel reimbursement 3")
    assert (error.code, error.field, error.value) == ("MISSING_PERSON", "invoicingInfo.personNumber", "E006")
    assert "E006" in error.solution and "personal register" in error.solution


@pytest.mark.parametrize(("when", "reason"), [("2025-06-15", "closed"), ("2024-06-15", "no fiscal year")])
def test_closed_fiscal_period_is_found_before_the_api(when, reason) -> None:
    with pytest.raises(TransferDataError) as raised:
        mapped(reimbursement=reimbursement(date=f"{when}T00:00:00+00:00"))
    assert (raised.value.code, raised.value.field, raised.value.value) == ("CLOSED_FISCAL_PERIOD", "date", when)
    assert raised.value.solution == SEED_SOLUTIONS["CLOSED_FISCAL_PERIOD"]


@pytest.mark.parametrize(("item", "code", "field"), [
    (expense("KM-2025"), "MISSING_TRAVEL_PRODUCT", "invoiceRows[0].productCode"),
    (expense(measurementUnit="furlong"), "UNKNOWN_UNIT", "invoiceRows[0].unit"),
    (expense(purchaseVatRate=14.0), "ERROR_VATSTATUS_VATPERC", "invoiceRows[0].vatPercent"),
    (expense(description="x" * 513), "SIZE_MUST_BE_BETWEEN_0_AND_512", "invoiceRows[0].comment"),
])
def test_row_data_errors(item, code, field) -> None:
    with pytest.raises(TransferDataError) as raised:
        mapped([item])
    assert (raised.value.code, raised.value.field) == (code, field)


def test_no_expenses_is_a_data_error() -> None:
    with pytest.raises(TransferDataError) as raised:
        map_travel_invoice(reimbursement(), [], user(), PERSON, PRODUCTS, company())
    assert raised.value.field == "invoiceRows"


def test_row_dimensions_follow_the_three_toggles() -> None:
    centers = {"cc-hel": "CC-HEL"}
    [row] = row_dimensions([expense()], user(), company(), centers)
    assert [(i["dimension"], i["item"]) for i in row["items"]] == [
        ("Projects", "2026003"), ("Cost centers", "CC-HEL"), ("Business units", "Kumpula Consulting Oy")]
    off = company(transfer_project_dimension=False, transfer_business_unit_dimension=False)
    [row] = row_dimensions([expense()], user(), off, {})
    assert [(i["dimension"], i["item"]) for i in row["items"]] == [("Cost centers", "Helsinki")]
    none = company(transfer_project_dimension=False, transfer_business_unit_dimension=False,
                   transfer_cost_center_dimension=False)
    assert row_dimensions([expense(), expense("DAILY-FULL")], user(), none) == [{"row": 0, "items": []},
                                                                                 {"row": 1, "items": []}]


def test_person_body_for_create_and_for_update() -> None:
    created = person_body(user(), "E006", IBAN, company())
    assert created["invoicingInfo"] == {"language": "FINNISH", "gender": "NOT_APPLICABLE", "personNumber": "E006"}
    assert created["paymentInfo"]["accountNumber"] == IBAN and created["registryInfo"]["active"] is True
    assert created["paymentInfo"]["paymentTermDays"] == "0"
    current = {**created, "id": 9, "version": "v1", "jobTitle": "Consultant", "lastName": "Salo",
               "paymentInfo": {**created["paymentInfo"], "accountNumber": "FI4950009420028730"}}
    wanted = person_body(user(), "E006", IBAN, company(), current)
    assert (wanted["id"], wanted["version"], wanted["jobTitle"]) == (9, "v1", "Consultant")  # kept for PUT
    assert person_differs(current, wanted) and not person_differs(wanted, wanted)


@pytest.mark.parametrize(("current", "wanted", "actions"), [
    ("UNFINISHED", "UNFINISHED", []),
    ("UNFINISHED", "RECEIVED", ["sendToCirculation"]),
    ("UNFINISHED", "APPROVED", ["sendToCirculation", "verify", "approve"]),
    ("RECEIVED", "APPROVED", ["verify", "approve"]),
    ("VERIFIED", "RECEIVED", []),  # never backwards
    ("APPROVED", "APPROVED", []),
    ("PAID", "APPROVED", []),
])
def test_status_actions(current, wanted, actions) -> None:
    assert status_actions(current, wanted) == actions


def test_record_name() -> None:
    assert record_name(reimbursement()) == "travel reimbursement 3"
    assert record_name({"guid": "g"}) == "travel reimbursement g"


def test_a_bank_account_that_is_not_an_iban_is_reported_masked() -> None:
    """The failure is kept in events and shown in the console and the export: never the whole account."""
    with pytest.raises(TransferDataError) as raised:
        employee(user(bankAccountNumber="FI21 1234 5600 0007 86"), record="travel reimbursement 3")
    assert raised.value.value == "FI21 **** **** 0786"
    assert "1234 5600" not in repr(vars(raised.value))


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"unitCost": None}, "MISSING_PRICE", "invoiceRows[0].unitPrice"),
    ({"unitCost": {"amount": None, "currencyCode": "EUR"}}, "MISSING_PRICE", "invoiceRows[0].unitPrice"),
    ({"quantity": None}, "MISSING_QUANTITY", "invoiceRows[0].quantity"),
])  # fmt: skip
def test_a_line_without_an_amount_is_a_data_error_never_0(changes: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(TransferDataError) as raised:
        mapped([expense(**changes)])
    assert (raised.value.code, raised.value.record, raised.value.field) == (code, "travel reimbursement 3", field)
    assert "never takes a missing amount for 0" in raised.value.solution


def test_amounts_stay_exact() -> None:
    [row] = mapped([expense(quantity=Decimal("0.1"), unitCost={"amount": Decimal("0.2"), "currencyCode": "EUR"})])[
        "invoiceRows"]  # fmt: skip
    assert (row["quantity"], row["unitPrice"]) == (Decimal("0.1"), Decimal("0.2"))
