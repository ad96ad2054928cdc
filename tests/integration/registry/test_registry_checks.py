"""The checks before enabling, against both demo sandboxes: what passes, what fails, and what it names."""

from __future__ import annotations

from datetime import date

from stdnum.fi import ytunnus

from registry.checks import exit_code, run_checks
from sandbox.procountor.demo import DEMO_FI_API_KEY, DEMO_SE_API_KEY, person
from sandbox.severa.demo import DEMO_CUSTOMERS, DEMO_USERS
from sandbox.severa.store import demo_guid

TODAY = date(2026, 11, 25)


def by_item(checks, item: str):
    return [c for c in checks if c.item == item]


async def test_demo_checks_pass_and_fail_where_the_demo_differs(demo, demo_client, demo_severa_data, companies) -> None:
    async with demo.procountor("FI") as procountor:
        checks = await run_checks(demo_client, procountor, companies["FI"], today=TODAY,
                                  severa_data=demo_severa_data)
    assert [c.status for c in by_item(checks, "severa_credentials")] == ["ok"]
    [key] = by_item(checks, "procountor_api_key")
    assert key.status == "ok" and "Kumpula Consulting Oy" in key.message
    [company] = by_item(checks, "procountor_company")
    assert company.status == "ok"
    # "If the API key is correct, you will be able to view all existing Procountor dimensions".
    listing = by_item(checks, "dimensions")[0]
    assert listing.status == "ok" and "Projects, Cost centers, Business units" in listing.message
    errors = {(c.item, c.record, c.field) for c in checks if c.status == "error"}
    assert errors == {
        ("customers", f"customer 1005 {DEMO_CUSTOMERS[1005]['name']}", "vatNumber"),
        ("customers", f"customer 1012 {DEMO_CUSTOMERS[1012]['name']}", "vatNumber"),
        ("users", "user E006 Onni Laine", "code"),
    }
    assert all(c.fix for c in checks if c.status == "error")
    assert [c.status for c in by_item(checks, "bank_accounts")] == ["ok"]
    assert exit_code(checks) == 1


async def test_after_fixing_the_demos_errors_the_company_is_ready(sandboxes, severa, companies) -> None:
    p_store, s_store = sandboxes.procountor_store, sandboxes.severa_store
    fi = p_store.company("FI")
    first, last, iban = DEMO_USERS["E006"]
    person(p_store, fi, "E006", first, last, iban)
    for partner in fi.partners.values():
        if partner["invoicingInfo"]["customerNumber"] == "1005":
            partner["invoicingInfo"]["identifier"] = DEMO_CUSTOMERS[1005]["business_id"]
    # 1012's business ID with its check digit put right.
    broken = DEMO_CUSTOMERS[1012]["business_id"]
    fixed = next(f"{broken[:-1]}{d}" for d in range(10) if ytunnus.is_valid(f"{broken[:-1]}{d}"))
    s_store.update("customers", demo_guid("customer", 1012), {"vatNumber": fixed})
    async with sandboxes.procountor("FI") as procountor:
        checks = await run_checks(severa, procountor, companies["FI"], today=TODAY)
    assert [c for c in checks if c.status == "error"] == []
    assert exit_code(checks) == 0
    assert {c.item for c in checks if c.status == "warning"} == {"customers", "products", "work_types", "projects",
                                                                  "business_units", "sales_accounts"}


async def test_a_wrong_api_key_is_an_error_naming_the_setting_not_the_key(demo, demo_client, demo_severa_data,
                                                                          companies) -> None:
    wrong = "not-the-right-key-1234"
    async with demo.procountor("SE", api_key=wrong) as procountor:
        checks = await run_checks(demo_client, procountor, companies["SE"], today=TODAY,
                                  severa_data=demo_severa_data)
    [key] = by_item(checks, "procountor_api_key")
    assert key.status == "error" and key.field == "SEVPRO_PROCOUNTOR_API_KEY_SE"
    assert "SEVPRO_PROCOUNTOR_API_KEY_SE" in key.message and "SEVPRO_PROCOUNTOR_API_KEY_SE" in (key.fix or "")
    text = repr(checks)
    assert wrong not in text and DEMO_SE_API_KEY not in text
    assert not by_item(checks, "customers")  # nothing is compared without a working key
    assert exit_code(checks) == 1


async def test_an_api_key_of_another_company_is_a_warning(demo, demo_client, demo_severa_data, companies) -> None:
    async with demo.procountor("FI", api_key=DEMO_SE_API_KEY) as procountor:
        checks = await run_checks(demo_client, procountor, companies["FI"], today=TODAY,
                                  severa_data=demo_severa_data)
    [company] = by_item(checks, "procountor_company")
    assert company.status == "warning" and "Kumpula Consulting AB" in company.message
    assert company.field == "vatNumber" and "SEVPRO_PROCOUNTOR_API_KEY_FI" in (company.fix or "")
    assert DEMO_FI_API_KEY not in repr(checks) and DEMO_SE_API_KEY not in repr(checks)


async def test_a_missing_api_key_variable_is_an_error(demo_client, companies) -> None:
    problem = "SEVPRO_PROCOUNTOR_API_KEY_FI is not set"
    checks = await run_checks(demo_client, None, companies["FI"], procountor_problem=problem)
    [key] = by_item(checks, "procountor_api_key")
    assert key.status == "error" and key.field == "SEVPRO_PROCOUNTOR_API_KEY_FI"


async def test_wrong_severa_credentials_are_an_error(demo, companies) -> None:
    async with demo.severa(secret="wrong-secret") as severa, demo.procountor("FI") as procountor:
        checks = await run_checks(severa, procountor, companies["FI"], today=TODAY)
    [credentials] = by_item(checks, "severa_credentials")
    assert credentials.status == "error" and "SEVPRO_SEVERA_CLIENT_SECRET" in (credentials.field or "")
    assert "wrong-secret" not in repr(checks)
    assert not by_item(checks, "customers")


async def test_a_dimension_name_procountor_does_not_have_is_an_error(demo, demo_client, demo_severa_data,
                                                                     companies) -> None:
    settings = companies["FI"].model_copy(update={"project_dimension": "Projektit"})
    async with demo.procountor("FI") as procountor:
        checks = await run_checks(demo_client, procountor, settings, today=TODAY,
                                  severa_data=demo_severa_data)
    [missing] = [c for c in by_item(checks, "dimensions") if c.status == "error"]
    assert missing.field == "project_dimension" and "Projektit" in missing.message
    assert "Projects, Cost centers, Business units" in (missing.fix or "")
    assert not by_item(checks, "projects")  # no items to compare in a dimension that does not exist


async def test_a_business_unit_severa_does_not_have_is_an_error(demo, demo_client, demo_severa_data, companies) -> None:
    settings = companies["SE"].model_copy(update={"severa_business_unit_name": "Kumpula Consulting AS"})
    async with demo.procountor("SE") as procountor:
        checks = await run_checks(demo_client, procountor, settings, today=TODAY,
                                  severa_data=demo_severa_data)
    [unit] = by_item(checks, "business_unit")
    assert unit.status == "error" and unit.field == "severa_business_unit_name"
    assert "Kumpula Consulting AS" in unit.message
