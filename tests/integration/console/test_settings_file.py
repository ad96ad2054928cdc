"""The console's settings pages with the settings in a TOML file (SEVPRO_COMPANY_SETTINGS=file): switches and
the form validate as the settings model does, write the file atomically, say the worker must be restarted, keep
who changed what; a refused request (no session, a bad CSRF token, an invalid field) leaves the file as it was."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from console import testing as sample_log
from console.app import create_app
from console.settings_pages import FileSettings
from foundation.company import demo_companies_path, load_companies
from sandbox.runner import SandboxServer
from tests.integration.console.console_signin import signed_in
from tests.integration.console.settings_forms import as_data, form_fields, replaced


@pytest.fixture
def companies_file(tmp_path: Path) -> Path:
    path = tmp_path / "companies.toml"
    shutil.copy(demo_companies_path(), path)
    return path


@pytest.fixture
def app(tmp_path: Path, companies_file: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "proj"
    sample_log.fill(root)
    return create_app(root, auth=sample_log.auth(), refresh=None, company_settings=FileSettings(companies_file))


def csrf(http: httpx.Client, path: str) -> str:
    return dict(form_fields(http.get(path).text, path))["csrf_token"]


def test_the_form_saves_the_file_atomically_and_says_the_worker_must_be_restarted(app, companies_file: Path) -> None:
    with signed_in(app) as http:
        page = http.get("/settings/SE")
        assert page.status_code == 200
        fields = form_fields(page.text, "/settings/SE")
        sent = replaced(fields, sales_invoices__procountor_status="NOT_SENT", create_products=None,
                        bank_account_iban="SE45 5000 0000 0583 9825 7466")
        saved = http.post("/settings/SE", data=as_data(sent) | {"purchase_invoices.statuses": ["PAID", "MARKED_PAID"]})
        assert saved.status_code == 303, saved.text
        after = http.get(saved.headers["location"])
        assert "restart" in after.text.lower() and str(companies_file) in after.text
        se = load_companies(companies_file)["SE"]
        assert se.sales_invoices.procountor_status == "NOT_SENT" and se.create_products is False
        assert se.bank_account_iban == "SE4550000000058398257466"
        assert se.purchase_invoices.statuses == ("PAID", "MARKED_PAID")
        assert load_companies(companies_file)["FI"] == load_companies(demo_companies_path())["FI"]  # untouched
        assert not list(companies_file.parent.glob("*.tmp"))  # the temporary file was renamed, none left over

        history = http.get("/settings/SE/history").text
        assert sample_log.USER in history
        assert "sales_invoices.procountor_status" in history and "UNFINISHED" in history and "NOT_SENT" in history
        assert "create_products" in history


def test_an_invalid_field_is_named_next_to_it_and_nothing_is_saved(app, companies_file: Path) -> None:
    before = companies_file.read_bytes()
    with signed_in(app) as http:
        fields = form_fields(http.get("/settings/FI").text, "/settings/FI")
        for change, field, words in [
            ({"error_email": "billing at kumpula"}, "error_email", "is not an email address"),
            ({"bank_account_iban": "FI00 1234"}, "bank_account_iban", "is not a valid IBAN"),
            ({"procountor_api_key_env": "sk-live-123 456"}, "procountor_api_key_env", "must name an environment"),
            ({"sales_invoices__after_transfer_status": "Waiting for transfer to Procountor"},
             "sales_invoices.after_transfer_status", "must differ from transfer_status"),
            ({"sales_invoices__vat_status": "minus one"}, "sales_invoices.vat_status", "valid integer"),
            ({"default_product_code": ""}, "default_product_code", "at least 1 character"),
            ({"project_dimension": ""}, "project_dimension", "project_dimension is required"),
            ({"sales_invoices__vat_status_by_severa_vat_code": "EU = six"},
             "sales_invoices.vat_status_by_severa_vat_code", "valid integer"),
            ({"sales_invoices__vat_status_by_severa_vat_code": "EU = -1"},
             "sales_invoices.vat_status_by_severa_vat_code", "statuses 0 or more"),
            ({"sales_invoices__vat_status_by_severa_vat_code": "EU 6"},
             "sales_invoices.vat_status_by_severa_vat_code", "CODE = STATUS"),
        ]:
            refused = http.post("/settings/FI", data=as_data(replaced(fields, **change)))
            assert refused.status_code == 400, (change, refused.status_code)
            error = refused.text.split(f'id="error-{field}"', 1)
            assert len(error) == 2, f"no error shown at {field} for {change}"
            assert field in error[1][:400] and words in error[1][:400], error[1][:400]
            # The form keeps what the user typed, so that they can correct it.
            for value in change.values():
                if value:
                    assert value in refused.text
        assert companies_file.read_bytes() == before


def test_switches_turn_a_company_and_its_transfer_kinds_off_and_on(app, companies_file: Path) -> None:
    with signed_in(app) as http:
        token = csrf(http, "/settings/SE")
        for field, value in [("enabled", "false"), ("travel_reimbursements.enabled", "false"),
                             ("purchase_invoices.enabled", "true"), ("sales_invoices.transfer_project_dimension",
                                                                     "false")]:
            answer = http.post("/settings/SE/switch", data={"field": field, "value": value, "csrf_token": token})
            assert answer.status_code == 303, answer.text
        se = load_companies(companies_file)["SE"]
        assert (se.enabled, se.travel_reimbursements.enabled, se.purchase_invoices.enabled,
                se.sales_invoices.transfer_project_dimension) == (False, False, True, False)
        overview = http.get("/settings").text
        assert "SE" in overview and "FI" in overview

        # A switch the model refuses (a dimension toggle without the dimension's name) names the field.
        http.post("/settings/SE", data=as_data(replaced(form_fields(http.get("/settings/SE").text, "/settings/SE"),
                                                     cost_center_dimension="",
                                                     sales_invoices__transfer_cost_center_dimension=None,
                                                     travel_reimbursements__transfer_cost_center_dimension=None)))
        before = companies_file.read_bytes()
        refused = http.post("/settings/SE/switch", data={"field": "sales_invoices.transfer_cost_center_dimension",
                                                         "value": "true", "csrf_token": token})
        assert refused.status_code == 400 and "cost_center_dimension is required" in refused.text
        # Payments back to Severa need the status of a paid invoice first.
        refused = http.post("/settings/SE/switch", data={"field": "payments.enabled", "value": "true",
                                                         "csrf_token": token})
        assert refused.status_code == 400 and "paid_status is required when payments are enabled" in refused.text
        unknown = http.post("/settings/SE/switch", data={"field": "procountor_api_key_env", "value": "true",
                                                         "csrf_token": token})
        assert unknown.status_code == 400
        assert companies_file.read_bytes() == before


def test_refused_without_a_session_or_with_a_bad_csrf_token_and_the_file_is_unchanged(app, companies_file: Path
                                                                                       ) -> None:
    before = companies_file.read_bytes()
    with SandboxServer(app) as server, httpx.Client(base_url=server.url) as anonymous:
        for path, data in (("/settings/FI/switch", {"field": "enabled", "value": "false"}),
                           ("/settings/FI", {"enabled": "on"})):
            answer = anonymous.post(path, data=data)  # to the sign-in, nothing done
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), path
    with signed_in(app) as http:
        fields = form_fields(http.get("/settings/FI").text, "/settings/FI")
        for token in ("forged-token-of-another-site-000000", None):
            data = as_data(replaced(fields, csrf_token=token, enabled=None))
            assert http.post("/settings/FI", data=data).status_code == 403
            switch = {"field": "enabled", "value": "false"} | ({"csrf_token": token} if token else {})
            assert http.post("/settings/FI/switch", data=switch).status_code == 403
        # A form opened before another change of the same company is refused, not saved over it.
        token = dict(fields)["csrf_token"]
        assert http.post("/settings/FI/switch", data={"field": "travel_reimbursements.enabled", "value": "false",
                                                      "csrf_token": token}).status_code == 303
        changed = companies_file.read_bytes()
        stale = http.post("/settings/FI", data=as_data(replaced(fields, display_name="Kumpula Oy")))
        assert stale.status_code == 409 and "reload" in stale.text.lower()
        assert companies_file.read_bytes() == changed
    assert load_companies(companies_file)["FI"].travel_reimbursements.enabled is False
    assert before != changed


def test_the_form_has_an_input_for_every_field_of_the_model_and_saving_it_unchanged_changes_nothing(
        app, companies_file: Path) -> None:
    """A field added to the settings model appears in the form; one left out would be reset on every save."""

    def leaves(data: dict, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for key, value in data.items():
            found |= leaves(value, f"{prefix}{key}.") if isinstance(value, dict) and key != "vat_status_by_severa_" \
                "vat_code" else {prefix + key}
        return found

    model = load_companies(companies_file)["FI"].model_dump(mode="json")
    with signed_in(app) as http:
        page = http.get("/settings/FI").text
        named = set(re.findall(r'name="([a-z_.]+)"', page.split('action="/settings/FI"', 1)[1]))
        assert leaves(model) - {"name"} <= named, sorted(leaves(model) - {"name"} - named)
        before = companies_file.read_bytes()
        unchanged = http.post("/settings/FI", data=as_data(form_fields(page, "/settings/FI")))
        assert unchanged.status_code == 303 and "unchanged=1" in unchanged.headers["location"]
    assert companies_file.read_bytes() == before
