"""The pure comparison rules of the registry report and the check list built from it (no network)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from foundation.company import demo_companies_path, load_companies
from registry.checks import exit_code, report_checks
from registry.compare import (
    Finding,
    Report,
    WantedItem,
    check_bank_accounts,
    check_default_codes,
    check_dimension_names,
    check_project_names,
    company_customers,
    company_units,
    compare_codes,
    compare_customers,
    compare_dimension,
    compare_travel_expense_types,
    compare_users,
    cost_center_items,
    customer_problems,
)

FI_IBAN = "FI2112345600000785"
COMPANIES = load_companies(demo_companies_path())


def customer(number: int | None, vat: str | None = "2617416-4", *, country: str = "Finland",
             postal: bool = True, guid: str | None = None, **address: Any) -> dict[str, Any]:
    addresses = [{"addressline": "Katu 1", "postalCode": "00100", "city": "Helsinki",
                  "country": {"name": country}, "isPostalAddress": postal} | address]
    return {"guid": guid or f"c{number}", "number": number, "name": f"Customer {number}", "vatNumber": vat,
            "addresses": addresses}


def partner(number: str, identifier: str | None) -> dict[str, Any]:
    return {"id": int(number), "name": f"Partner {number}",
            "invoicingInfo": {"customerNumber": number, "identifier": identifier}}


def statuses(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.key, f.status, f.severity) for f in findings}


# ------------------------------------------------------------------------------------------- customers


def test_customers_match_by_number_only_and_compare_business_ids() -> None:
    customers = [customer(1, "2617416-4"), customer(2, "26174164"), customer(3, "2617416-4"), customer(4)]
    partners = [partner("1", "2617416-4"), partner("2", "2617416-4"), partner("3", "1572860-0"), partner("9", None)]
    found = compare_customers(customers, partners, create_customers=True)
    assert statuses(found) == {
        ("1", "matched", "ok"),
        ("2", "matched", "ok"),  # the same Y-tunnus in another format is no mismatch
        ("3", "business_id_mismatch", "error"),
        ("4", "only_in_severa", "warning"),
        ("9", "only_in_procountor", "warning"),
    }
    mismatch = next(f for f in found if f.status == "business_id_mismatch")
    assert (mismatch.field, mismatch.severa, mismatch.procountor) == ("vatNumber", "2617416-4", "1572860-0")
    assert mismatch.message == ("Could not add Customer 3 to Procountor, because another partner Customer 3 with "
                                "the same number and different VAT number already exists there.")


def test_only_in_severa_is_an_error_when_customers_are_not_created() -> None:
    [finding] = compare_customers([customer(4)], [], create_customers=False)
    assert (finding.status, finding.severity, finding.field) == ("only_in_severa", "error", "number")
    assert finding.fix and "customer creation" in finding.fix


def test_a_partner_without_business_id_is_no_mismatch() -> None:
    assert statuses(compare_customers([customer(1)], [partner("1", None)], create_customers=True)) == {
        ("1", "matched", "ok")}


@pytest.mark.parametrize(
    ("card", "status", "field"),
    [
        (customer(1, "2617416-5"), "invalid_business_id", "vatNumber"),
        (customer(1, "556036-0794", country="Sweden"), "invalid_business_id", "vatNumber"),
        (customer(1, None), "missing_business_id", "vatNumber"),
        (customer(1, postal=False), "missing_address", "addresses.isPostalAddress"),
        (customer(1, city=None, postalCode=""), "missing_address", "addresses.postalCode, addresses.city"),
    ],
)
def test_customer_card_problems(card: dict[str, Any], status: str, field: str) -> None:
    [finding] = customer_problems(card)
    assert (finding.status, finding.field) == (status, field)
    assert finding.severity == ("warning" if status == "missing_business_id" else "error")


def test_valid_swedish_and_foreign_business_ids_pass() -> None:
    assert customer_problems(customer(1, "556036-0793", country="Sweden")) == []
    assert customer_problems(customer(1, "DE123456789", country="Germany")) == []


def test_a_customer_with_a_problem_and_a_partner_is_not_also_matched() -> None:
    found = compare_customers([customer(1, "2617416-5")], [partner("1", None)], create_customers=True)
    assert statuses(found) == {("1", "invalid_business_id", "error")}


def test_a_customer_without_number_is_an_error() -> None:
    [finding] = compare_customers([customer(None)], [], create_customers=True)
    assert (finding.status, finding.severity, finding.field) == ("missing_customer_number", "error", "number")


# ------------------------------------------------------------------------------------------ scoping


UNITS = [
    {"guid": "fi", "name": "Kumpula Consulting Oy", "parentGuid": None},
    {"guid": "labs", "name": "Kumpula Labs", "parentGuid": "fi"},
    {"guid": "lab2", "name": "Labs Two", "parentGuid": "labs"},
    {"guid": "se", "name": "Kumpula Consulting AB", "parentGuid": None},
]


def test_company_units_include_every_unit_below() -> None:
    assert company_units(UNITS, COMPANIES["FI"]) == {"fi", "labs", "lab2"}
    assert company_units(UNITS, COMPANIES["SE"]) == {"se"}
    assert company_units(UNITS, COMPANIES["SE"].model_copy(update={"severa_business_unit_name": "x"})) == set()


def test_customers_belong_to_the_company_of_their_projects_else_of_their_country() -> None:
    customers = [customer(1, guid="a"), customer(2, guid="b"), customer(3, guid="c", country="Sweden"),
                 customer(4, guid="d", country="Germany"), customer(5, guid="e", country="Sweden")]
    projects = [{"customer": {"guid": "a"}, "businessUnit": {"guid": "lab2"}},
                {"customer": {"guid": "b"}, "businessUnit": {"guid": "se"}},
                {"customer": {"guid": "e"}, "businessUnit": {"guid": "labs"}}]
    fi = {c["number"] for c in company_customers(customers, projects, {"fi", "labs", "lab2"}, "FI")}
    se = {c["number"] for c in company_customers(customers, projects, {"se"}, "SE")}
    assert fi == {1, 4, 5} and se == {2, 3, 4}


# ---------------------------------------------------------------------------------------------- codes


def test_codes_match_exactly_and_creation_decides_the_severity() -> None:
    items = [{"code": "DEV", "name": "Development"}, {"code": "dev2", "name": "x"},
             {"code": "OLD", "isActive": False}, {"code": " ", "name": "Uncoded"}]
    lenient = compare_codes("work_types", "work type", items, {"DEV", "DEV2"}, create=True)
    assert statuses(lenient) == {("DEV", "matched", "ok"), ("dev2", "only_in_severa", "warning"),
                                 ("-", "no_code", "info")}
    strict = compare_codes("work_types", "work type", items, {"DEV"}, create=False)
    assert ("dev2", "only_in_severa", "error") in statuses(strict)


TRAVEL = [
    {"code": "KM", "startDate": "2026-01-01", "endDate": "2026-12-31"},
    {"code": "KM", "startDate": "2027-01-01", "endDate": "2027-12-31"},
    {"code": "DAY", "startDate": "2025-01-01", "endDate": "2025-12-31"},
    {"code": "OPEN"},
]


def test_travel_expense_types_need_a_product_valid_today() -> None:
    types = [{"code": "KM", "name": "Km"}, {"code": "DAY", "name": "Day"}, {"code": "OPEN"}, {"code": "NEW"}]
    found = {f.key: f for f in compare_travel_expense_types(types, TRAVEL, date(2026, 6, 1))}
    assert {k: (f.status, f.severity) for k, f in found.items()} == {
        "KM": ("matched", "ok"), "DAY": ("not_valid_today", "error"), "OPEN": ("matched", "ok"),
        "NEW": ("only_in_severa", "error")}
    assert found["DAY"].procountor == "valid 2025-01-01–2025-12-31"
    later = {f.key: f.status for f in compare_travel_expense_types(types, TRAVEL, date(2027, 12, 31))}
    assert later["KM"] == "matched"


def test_default_codes_must_exist_the_travel_one_valid_today() -> None:
    settings = COMPANIES["FI"].model_copy(update={"default_travel_expense_code": "KM"})
    sales = [{"code": "DEFAULT-PRODUCT"}]
    found = {f.field: f.status for f in check_default_codes(settings, sales, TRAVEL, date(2028, 1, 1))}
    assert found == {"default_product_code": "matched", "default_work_type_code": "missing_default_code",
                     "default_travel_expense_code": "missing_default_code"}
    assert {f.field: f.status for f in check_default_codes(settings, sales, TRAVEL, date(2027, 3, 1))}[
        "default_travel_expense_code"] == "matched"


# ----------------------------------------------------------------------------------------- dimensions

DIMENSIONS = [{"id": 1, "name": "Projects", "items": [{"codeName": "2026001"}, {"codeName": "2026002", "status": "P"}]},
              {"id": 2, "name": "Cost centers", "items": [{"codeName": "CC-HEL"}]}]


def test_dimension_names_must_exist() -> None:
    settings = COMPANIES["FI"].model_copy(update={"business_unit_dimension": "Yksiköt", "sales_invoices":
                                                  COMPANIES["FI"].sales_invoices.model_copy(
                                                      update={"transfer_business_unit_dimension": False})})
    found = {f.field: (f.status, f.severity) for f in check_dimension_names(settings, DIMENSIONS)}
    assert found == {"project_dimension": ("matched", "ok"), "cost_center_dimension": ("matched", "ok"),
                     "business_unit_dimension": ("missing_dimension", "error")}


def test_items_are_matched_by_code_name() -> None:
    by_name = {d["name"]: d for d in DIMENSIONS}
    wanted = [WantedItem(code, f"project {code}", "number") for code in ("2026001", "2026002", "2026003")]
    assert statuses(compare_dimension("projects", "Projects", by_name, wanted)) == {
        ("2026001", "matched", "ok"), ("2026002", "closed_item", "warning"), ("2026003", "missing_item", "warning")}
    assert compare_dimension("projects", "Projektit", by_name, wanted) == []
    assert compare_dimension("projects", None, by_name, wanted) == []


def test_cost_centers_are_those_the_company_uses_by_identifier() -> None:
    projects = [{"costCenter": {"identifier": "CC-HEL", "name": "Helsinki"}}, {"costCenter": None},
                {"costCenter": {"identifier": "CC-HEL", "name": "Helsinki"}}]
    units = [{"guid": "fi", "costCenter": {"identifier": "CC-TRE", "name": "Tampere"}},
             {"guid": "se", "costCenter": {"identifier": "CC-STO", "name": "Stockholm"}}]
    assert [i.code for i in cost_center_items(projects, units, {"fi"})] == ["CC-HEL", "CC-TRE"]


def test_project_names_outside_windows_1252_are_errors() -> None:
    [finding] = check_project_names([{"number": 1, "name": "Projekti ✓"}, {"number": 2, "name": "Äänekoski €"}])
    assert (finding.key, finding.field, finding.severity) == ("1", "name", "error") and "✓" in finding.message


# ---------------------------------------------------------------------------------- users and accounts


def test_users_need_employee_number_iban_and_a_person() -> None:
    users = [{"code": "E1", "firstName": "A", "lastName": "A", "bankAccountNumber": FI_IBAN},
             {"code": "E2", "firstName": "B", "lastName": "B", "bankAccountNumber": "FI21 1234 5600 0007 86"},
             {"code": None, "firstName": "C", "lastName": "C", "bankAccountNumber": FI_IBAN},
             {"code": "E4", "firstName": "D", "lastName": "D", "bankAccountNumber": None}]
    persons = {"E1": {"firstName": "A"}, "E2": {"firstName": "B"}, "E4": None}
    found = compare_users(users, persons)
    assert statuses(found) == {("E1", "matched", "ok"), ("E2", "invalid_iban", "error"),
                               ("-", "missing_employee_number", "error"), ("E4", "missing_bank_account", "error"),
                               ("E4", "missing_person", "error")}
    assert {f.field for f in found if f.key == "E4"} == {"bankAccountNumber", "code"}
    assert ("E4", "missing_person", "warning") in statuses(compare_users(users, persons, update_persons=True))


def test_bank_accounts_must_be_iban() -> None:
    assert statuses(check_bank_accounts([{"accountNumber": FI_IBAN, "accountNumberFormat": "Iban"}])) == {
        (FI_IBAN, "matched", "ok")}
    found = check_bank_accounts([{"accountNumber": "123456-785", "accountNumberFormat": "Bban"},
                                 {"accountNumber": FI_IBAN, "accountNumberFormat": "Bban"}])
    assert {(f.key, f.status, f.severity) for f in found} == {("123456-785", "not_iban", "error"),
                                                              (FI_IBAN, "not_iban", "error")}
    assert check_bank_accounts([])[0].status == "missing_bank_account"


# -------------------------------------------------------------------------------------- checks from it


def test_report_checks_one_per_difference_and_ok_per_clean_registry() -> None:
    report = Report("FI", date(2026, 11, 25), [
        Finding("customers", "1", "matched", "ok", "customer 1"),
        Finding("customers", "2", "only_in_severa", "warning", "customer 2", field="number"),
        Finding("products", "X", "matched", "ok", "product X"),
        Finding("products", "-", "no_code", "info", "product Y"),
        Finding("users", "E6", "missing_person", "error", "user E6", field="code", fix="Add the person"),
    ])
    checks = report_checks(report)
    assert [(c.item, c.status, c.record) for c in checks] == [
        ("customers", "warning", "customer 2"),
        ("products", "ok", None),
        ("users", "error", "user E6"),
    ]
    assert checks[2].fix == "Add the person" and checks[2].field == "code"
    assert exit_code(checks) == 1 and exit_code(checks[:2]) == 0
