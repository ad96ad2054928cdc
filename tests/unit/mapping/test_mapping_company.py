"""Per-company settings: the demo file, the loader's messages, secrets by reference."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from foundation.company import (
    AttachmentMode,
    CompanySettings,
    CompanySettingsError,
    ProcountorSalesStatus,
    demo_companies_path,
    load_companies,
    parse_companies,
)

MINIMAL = """
[company.FI]
country = "FI"
severa_business_unit_name = "Kumpula Consulting Oy"
procountor_api_key_env = "SEVPRO_PROCOUNTOR_API_KEY_FI"
default_product_code = "DEFAULT-PRODUCT"
default_work_type_code = "DEFAULT-WORK"
default_travel_expense_code = "DEFAULT-TRAVEL"

[company.FI.sales_invoices]
transfer_status = "Waiting for transfer to Procountor"
after_transfer_status = "Transferred to Procountor"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "companies.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_file_matches_the_demo_spec():
    companies = load_companies(demo_companies_path())
    assert set(companies) == {"FI", "SE"}
    for key, company in companies.items():
        assert company.name == key and company.country == key and company.enabled
        assert company.create_customers and company.create_products
        assert (
            company.default_product_code,
            company.default_work_type_code,
            company.default_travel_expense_code,
        ) == ("DEFAULT-PRODUCT", "DEFAULT-WORK", "DEFAULT-TRAVEL")
        assert (
            company.project_dimension,
            company.cost_center_dimension,
            company.business_unit_dimension,
        ) == ("Projects", "Cost centers", "Business units")
        sales = company.sales_invoices
        assert sales.transfer_status == "Waiting for transfer to Procountor"
        assert sales.after_transfer_status == "Transferred to Procountor"
        assert sales.procountor_status is ProcountorSalesStatus.UNFINISHED
        assert sales.attachments is AttachmentMode.PDF
    assert companies["FI"].display_name == "Kumpula Consulting Oy"
    assert companies["SE"].severa_business_unit_name == "Kumpula Consulting AB"
    for company in companies.values():  # the API keys are referenced, not stored
        assert not any("api-key" in str(value) for value in company.model_dump().values())
        assert company.procountor_api_key_env.startswith("SEVPRO_PROCOUNTOR_API_KEY_")


def test_minimal_file_gets_the_seed_defaults(tmp_path):
    company = load_companies(write(tmp_path, MINIMAL))["FI"]
    assert not company.enabled and not company.create_customers and not company.create_products
    assert company.sales_invoices.procountor_status is ProcountorSalesStatus.UNFINISHED
    assert company.sales_invoices.attachments is AttachmentMode.NONE
    assert not company.travel_reimbursements.enabled and not company.purchase_invoices.enabled
    assert company.purchase_invoices.statuses[0] == "APPROVED"


def test_missing_field_names_company_and_field(tmp_path):
    text = MINIMAL.replace('default_work_type_code = "DEFAULT-WORK"\n', "")
    with pytest.raises(CompanySettingsError) as raised:
        load_companies(write(tmp_path, text))
    assert "company 'FI': default_work_type_code: Field required" in str(raised.value)


def test_missing_nested_field_names_the_path(tmp_path):
    text = MINIMAL.replace('after_transfer_status = "Transferred to Procountor"\n', "")
    with pytest.raises(CompanySettingsError) as raised:
        load_companies(write(tmp_path, text))
    assert "company 'FI': sales_invoices.after_transfer_status: Field required" in str(raised.value)


def test_bad_enum_and_typo_are_refused(tmp_path):
    text = MINIMAL + 'procountor_status = "PAID"\nsend_by_emial = true\n'
    with pytest.raises(CompanySettingsError) as raised:
        load_companies(write(tmp_path, text))
    message = str(raised.value)
    assert "sales_invoices.procountor_status" in message
    assert "sales_invoices.send_by_emial: Extra inputs are not permitted" in message


def test_api_key_is_referenced_by_environment_variable(tmp_path):
    text = MINIMAL.replace('"SEVPRO_PROCOUNTOR_API_KEY_FI"', '"demo-fi-api-key"')
    with pytest.raises(CompanySettingsError) as raised:
        load_companies(write(tmp_path, text))
    assert "procountor_api_key_env" in str(raised.value)
    assert "demo-fi-api-key" not in str(raised.value)
    company = load_companies(write(tmp_path, MINIMAL))["FI"]
    assert company.procountor_api_key({"SEVPRO_PROCOUNTOR_API_KEY_FI": "k"}) == "k"
    with pytest.raises(CompanySettingsError, match="SEVPRO_PROCOUNTOR_API_KEY_FI"):
        company.procountor_api_key({})


def test_dimension_toggle_needs_a_dimension_name(tmp_path):
    text = MINIMAL + "transfer_project_dimension = true\n"
    with pytest.raises(CompanySettingsError, match="project_dimension is required"):
        load_companies(write(tmp_path, text))
    named = text.replace('country = "FI"\n', 'country = "FI"\nproject_dimension = "Projects"\n')
    assert load_companies(write(tmp_path, named))["FI"].sales_invoices.transfer_project_dimension


def test_business_unit_and_email_rules(tmp_path):
    no_unit = MINIMAL.replace('severa_business_unit_name = "Kumpula Consulting Oy"\n', "")
    with pytest.raises(CompanySettingsError, match="severa_business_unit_guid or severa_business_unit_name"):
        load_companies(write(tmp_path, no_unit))
    email = MINIMAL.replace('country = "FI"\n', 'country = "FI"\nsend_error_email = true\n')
    with pytest.raises(CompanySettingsError, match="error_email is required"):
        load_companies(write(tmp_path, email))
    bad_guid = MINIMAL.replace('country = "FI"\n', 'country = "FI"\nsevera_business_unit_guid = "x"\n')
    with pytest.raises(CompanySettingsError, match="severa_business_unit_guid"):
        load_companies(write(tmp_path, bad_guid))


def test_same_transfer_and_after_status_is_refused(tmp_path):
    text = MINIMAL.replace('"Transferred to Procountor"', '"waiting for transfer to procountor"')
    with pytest.raises(CompanySettingsError, match="after_transfer_status must differ"):
        load_companies(write(tmp_path, text))


def test_travel_reimbursements_enabled_needs_statuses():
    with pytest.raises(CompanySettingsError, match="travel_reimbursements: status_before and status_after"):
        parse_companies({"company": {"FI": {**_minimal_table(), "travel_reimbursements": {"enabled": True}}}})


def test_country_only_fi_or_se():
    with pytest.raises(ValidationError):
        CompanySettings.model_validate({**_minimal_table(), "name": "NO", "country": "NO"})


def test_file_level_errors(tmp_path):
    with pytest.raises(CompanySettingsError, match="not valid TOML"):
        load_companies(write(tmp_path, "[company.FI\n"))
    with pytest.raises(CompanySettingsError, match=r"no \[company.<name>\] tables"):
        load_companies(write(tmp_path, "x = 1\n".replace("x = 1", "")))
    with pytest.raises(CompanySettingsError, match="unknown top-level keys"):
        load_companies(write(tmp_path, MINIMAL + "\n[companies.SE]\n"))
    with pytest.raises(CompanySettingsError, match="name: must equal the table name"):
        parse_companies({"company": {"FI": {**_minimal_table(), "name": "SE"}}})


def test_errors_of_several_companies_are_reported_together():
    with pytest.raises(CompanySettingsError) as raised:
        parse_companies({"company": {"FI": {"country": "FI"}, "SE": {"country": "SE"}}})
    assert "company 'FI'" in str(raised.value) and "company 'SE'" in str(raised.value)


def _minimal_table() -> dict:
    import tomllib

    return tomllib.loads(MINIMAL)["company"]["FI"]
