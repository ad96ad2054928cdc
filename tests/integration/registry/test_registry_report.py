"""The registry comparison report against both demo sandboxes: exactly the demo's deliberate differences."""

from __future__ import annotations

from datetime import date

from registry.compare import Report, SeveraRegistries, compare_registries
from sandbox.procountor.demo import MISMATCH_1005_BUSINESS_ID, product
from sandbox.severa.demo import DEMO_CUSTOMERS
from sandbox.severa.store import demo_guid

TODAY = date(2026, 11, 25)  # inside the demo's travel product validity (2026)

# (registry, key, status, severity, field): the demo's deliberate differences per company. Customers only in
# Severa are warnings because the demo settings create customers and products on first use.
FI_EXPECTED = {
    ("customers", "1005", "business_id_mismatch", "error", "vatNumber"),
    ("customers", "1012", "invalid_business_id", "error", "vatNumber"),
    *{("customers", str(n), "only_in_severa", "warning", "number")
      for n in (1009, 1010, 1011, 1012, 1101, 1102, 1103, 1104)},
    ("products", "HW-LAPTOP", "only_in_severa", "warning", "code"),
    ("work_types", "TRAINING", "only_in_severa", "warning", "code"),
    ("projects", "2026005", "missing_item", "warning", "number"),
    ("projects", "2026006", "missing_item", "warning", "number"),
    # Kumpula Labs (under the FI company, project 2026006) has no item in "Business units" either.
    ("business_units", "Kumpula Labs", "missing_item", "warning", "name"),
    ("users", "E006", "missing_person", "error", "code"),
    # Severa's travel sales account is not in Procountor's chart; Procountor's 3050 is not in Severa's.
    ("sales_accounts", "3020", "only_in_severa", "warning", "number"),
    ("sales_accounts", "3050", "only_in_procountor", "warning", "ledgerAccountCode"),
}
SE_EXPECTED = {
    ("customers", "2004", "only_in_severa", "warning", "number"),
    ("products", "HW-LAPTOP", "only_in_severa", "warning", "code"),
    ("work_types", "TRAINING", "only_in_severa", "warning", "code"),
    ("projects", "2026007", "missing_item", "warning", "number"),
    ("projects", "2026008", "missing_item", "warning", "number"),
    ("sales_accounts", "3020", "only_in_severa", "warning", "number"),
    ("sales_accounts", "3050", "only_in_procountor", "warning", "ledgerAccountCode"),
}


def differences(report: Report) -> set[tuple[str, str, str, str, str | None]]:
    return {(f.registry, f.key, f.status, f.severity, f.field) for f in report.differences()}


async def report_for(sandboxes, severa, companies, name: str, **kwargs) -> Report:
    """Compare ``name``'s registries; ``severa_data`` from kwargs spares re-reading Severa."""
    async with sandboxes.procountor(name) as procountor:
        return await compare_registries(severa, procountor, companies[name], **{"today": TODAY, **kwargs})


async def test_report_finds_exactly_the_demos_differences(demo, demo_client, companies) -> None:
    # A fresh read of Severa here (the other read-only tests share demo_severa_data).
    shared = await SeveraRegistries.fetch(demo_client)
    fi = await report_for(demo, demo_client, companies, "FI", severa_data=shared)
    se = await report_for(demo, demo_client, companies, "SE", severa_data=shared)
    assert differences(fi) == FI_EXPECTED
    assert differences(se) == SE_EXPECTED
    # And the rest matched: every FI partner 1001-1008 but 1005, the codes, dimensions, persons, bank account.
    matched = {(f.registry, f.key) for f in fi.findings if f.status == "matched"}
    assert {("customers", str(n)) for n in (1001, 1002, 1003, 1004, 1006, 1007, 1008)} <= matched
    assert ("customers", "1005") not in matched
    assert {("users", f"E00{i}") for i in range(1, 6)} <= matched
    travel = ("KM-ALLOWANCE", "DAILY-FULL", "DAILY-PART", "TRAVEL-TICKET")
    assert {("travel_expense_types", c) for c in travel} <= matched
    assert {("default_codes", c) for c in ("DEFAULT-PRODUCT", "DEFAULT-WORK", "DEFAULT-TRAVEL")} <= matched
    assert {("cost_centers", "CC-HEL"), ("cost_centers", "CC-TRE")} <= matched
    assert ("bank_accounts", "FI3940500012345675") in matched
    # Each company sees only its own customers.
    assert not {f.key for f in se.registry("customers")} & {str(n) for n in range(1001, 1200)}


async def test_each_difference_names_the_record_the_values_and_the_fix(demo, demo_client, demo_severa_data,
                                                                      companies) -> None:
    fi = await report_for(demo, demo_client, companies, "FI", severa_data=demo_severa_data)
    by_key = {(f.registry, f.key, f.status): f for f in fi.findings}
    mismatch = by_key[("customers", "1005", "business_id_mismatch")]
    assert mismatch.record == f"customer 1005 {DEMO_CUSTOMERS[1005]['name']}"
    assert (mismatch.severa, mismatch.procountor) == (DEMO_CUSTOMERS[1005]["business_id"], MISMATCH_1005_BUSINESS_ID)
    assert "same number and different VAT number" in mismatch.message and mismatch.fix
    invalid = by_key[("customers", "1012", "invalid_business_id")]
    assert invalid.severa == DEMO_CUSTOMERS[1012]["business_id"] and "Y-tunnus" in invalid.message
    assert invalid.fix and "business ID" in invalid.fix
    person = by_key[("users", "E006", "missing_person")]
    assert person.record == "user E006 Onni Laine" and "E006" in person.message and person.fix
    laptop = by_key[("products", "HW-LAPTOP", "only_in_severa")]
    assert laptop.record == "product HW-LAPTOP Laptop"


async def test_settings_decide_error_or_warning(demo, demo_client, demo_severa_data, companies) -> None:
    strict = companies["SE"].model_copy(update={"create_customers": False, "create_products": False})
    async with demo.procountor("SE") as procountor:
        report = await compare_registries(demo_client, procountor, strict, today=TODAY, severa_data=demo_severa_data)
    errors = {(f.registry, f.key) for f in report.differences() if f.severity == "error"}
    assert errors == {("customers", "2004"), ("products", "HW-LAPTOP"), ("work_types", "TRAINING")}
    assert all(f.fix for f in report.differences() if f.severity == "error")


async def test_a_fix_in_procountor_shows_in_the_next_report(sandboxes, severa, demo_severa_data, companies) -> None:
    store = sandboxes.procountor_store
    fi = store.company("FI")
    product(store, fi, "TRAINING", "SALES", "Training", "HOUR", 130.0, "3010")
    for partner in fi.partners.values():
        if partner["invoicingInfo"]["customerNumber"] == "1005":
            partner["invoicingInfo"]["identifier"] = DEMO_CUSTOMERS[1005]["business_id"]
    report = await report_for(sandboxes, severa, companies, "FI", severa_data=demo_severa_data)
    keys = {(f.registry, f.key) for f in report.differences()}
    assert ("work_types", "TRAINING") not in keys and ("customers", "1005") not in keys
    assert ("products", "HW-LAPTOP") in keys  # the other difference is still there
    se = await report_for(sandboxes, severa, companies, "SE", severa_data=demo_severa_data)
    assert ("work_types", "TRAINING") in {(f.registry, f.key) for f in se.differences()}  # SE is its own registry


async def test_travel_codes_are_checked_against_the_validity_of_today(demo, demo_client, demo_severa_data,
                                                                     companies) -> None:
    report = await report_for(demo, demo_client, companies, "FI", severa_data=demo_severa_data)
    assert not [f for f in report.registry("travel_expense_types") if f.severity != "ok"]
    next_year = await report_for(demo, demo_client, companies, "FI", severa_data=demo_severa_data,
                                 today=date(2027, 1, 15))
    stale = {f.key: f for f in next_year.differences() if f.registry == "travel_expense_types"}
    assert set(stale) == {"KM-ALLOWANCE", "DAILY-FULL", "DAILY-PART", "TRAVEL-TICKET"}
    assert all(f.status == "not_valid_today" and "2026-12-31" in (f.procountor or "") for f in stale.values())
    defaults = {f.key: f for f in next_year.differences() if f.registry == "default_codes"}
    assert set(defaults) == {"DEFAULT-TRAVEL"} and defaults["DEFAULT-TRAVEL"].field == "default_travel_expense_code"


async def test_a_customer_without_postal_address_is_an_error(sandboxes, severa, companies) -> None:
    store = sandboxes.severa_store
    store.update("addresses", demo_guid("address", 1002), {"isPostalAddress": False})
    store.update("addresses", demo_guid("address", 1003), {"city": None})
    report = await report_for(sandboxes, severa, companies, "FI")
    found = {f.key: f for f in report.differences() if f.status == "missing_address"}
    assert set(found) == {"1002", "1003"}
    assert found["1002"].field == "addresses.isPostalAddress" and found["1003"].field == "addresses.city"
    assert all(f.severity == "error" and "Postal address" in (f.fix or "") for f in found.values())
