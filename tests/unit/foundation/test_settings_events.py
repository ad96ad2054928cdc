"""Company and tenant settings as events: validated before anything is published, the change named field by
field, secrets by reference only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from foundation.company import demo_companies_path, load_companies
from foundation.settings_events import (
    SettingsRefused,
    assign,
    changes,
    company_settings_changed,
    tenant_configured,
    validate_company,
    validate_tenant,
)
from schemas.codec import decode, encode

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.fixture
def fi() -> dict:
    return load_companies(demo_companies_path())["FI"].model_dump(mode="json")


def test_a_changed_field_is_validated_by_the_companies_model_and_named_in_the_event(fi: dict) -> None:
    before = company_settings_changed("t1", validate_company("FI", fi), None, changed_by="alice", origin="import",
                                      at=AT)
    assert before is not None and before["revision"] == 1 and before["event_id"] == "settings:t1/FI@1"
    changed = validate_company("FI", assign(fi, {"sales_invoices.procountor_status": "NOT_SENT",
                                                 "create_products": "false"}))
    event = company_settings_changed("t1", changed, before, changed_by="bob", origin="sevpro settings set", at=AT)
    assert event is not None and event["revision"] == 2
    assert event["changes"] == [
        {"field": "create_products", "before": "true", "after": "false"},
        {"field": "sales_invoices.procountor_status", "before": '"UNFINISHED"', "after": '"NOT_SENT"'},
    ]
    assert json.loads(event["settings"]) == changed.model_dump(mode="json")  # the whole new settings
    name, decoded = decode(encode("CompanySettingsChanged", event))
    assert name == "CompanySettingsChanged" and decoded["changes"] == event["changes"]
    # Nothing changed: no event at all.
    assert company_settings_changed("t1", changed, event, changed_by="bob", origin="set", at=AT) is None


def test_a_typo_is_refused_with_the_company_and_the_field(fi: dict) -> None:
    with pytest.raises(SettingsRefused) as refused:
        validate_company("FI", assign(fi, {"sales_invoices.procountor_stauts": "SENT"}))
    assert refused.value.problems == ["company 'FI': sales_invoices.procountor_stauts: Extra inputs are not permitted"]
    with pytest.raises(SettingsRefused, match=r"company 'FI': sales_invoices.procountor_status: Input should be"):
        validate_company("FI", assign(fi, {"sales_invoices.procountor_status": "SENDING"}))
    with pytest.raises(SettingsRefused, match=r"company 'FI': sales_invoice: Extra inputs are not permitted"):
        validate_company("FI", assign(fi, {"sales_invoice.transfer_status": "x"}))  # not a section


def test_a_missing_field_is_refused_with_the_company_and_the_field(fi: dict) -> None:
    with pytest.raises(SettingsRefused) as refused:
        validate_company("FI", assign(fi, {}, unset=["default_product_code", "sales_invoices.transfer_status"]))
    assert refused.value.problems == ["company 'FI': default_product_code: Field required",
                                      "company 'FI': sales_invoices.transfer_status: Field required"]
    with pytest.raises(SettingsRefused, match="company 'NEW': country: Field required"):
        validate_company("NEW", {"name": "NEW"})


def test_an_unset_optional_field_goes_back_to_its_default(fi: dict) -> None:
    assert validate_company("FI", assign(fi, {}, unset=["create_products"])).create_products is False


def test_the_fields_that_changed_are_the_leaves_that_differ() -> None:
    assert changes(None, {"a": 1, "b": {"c": None}}) == [{"field": "a", "before": None, "after": "1"},
                                                         {"field": "b.c", "before": None, "after": "null"}]
    assert changes({"a": [1, 2]}, {"a": [1, 2]}) == []
    assert changes({"a": 1, "gone": 2}, {"a": 1}) == [{"field": "gone", "before": "2", "after": None}]


TENANT = {"name": "acme", "severa_client_id": "acme-client", "severa_client_secret": "env:ACME_SEVERA_SECRET",
          "procountor_client_id": "acme-client", "procountor_client_secret": "file:/run/secrets/acme-procountor"}


@pytest.mark.parametrize("secret", ["s3cr3t-value", "env:", "file:relative/path", "env:NOT A NAME", "hunter2 "])
def test_a_tenant_secret_that_is_not_a_reference_is_refused_without_repeating_it(secret: str) -> None:
    with pytest.raises(SettingsRefused) as refused:
        validate_tenant({**TENANT, "severa_client_secret": secret})
    # The whole message, word for word: it never repeats the value (which may be the secret, pasted by mistake).
    assert refused.value.problems == ["tenant 'acme': severa_client_secret: must be a reference to the secret, never "
                                      "the secret: env:VARIABLE_NAME, file:/absolute/path or secret:<secret manager "
                                      "path>"]


@pytest.mark.parametrize("reference", ["env:ACME_SECRET", "file:/run/secrets/acme", "secret:vault/kv/acme#severa"])
def test_references_are_accepted(reference: str) -> None:
    assert validate_tenant({**TENANT, "procountor_client_secret": reference}).procountor_client_secret == reference


def test_a_tenant_name_cannot_break_the_record_keys() -> None:
    with pytest.raises(SettingsRefused, match="tenant 'a/b': name"):
        validate_tenant({**TENANT, "name": "a/b"})


def test_tenant_configured_carries_who_when_and_what_changed() -> None:
    first = tenant_configured(validate_tenant(TENANT), None, changed_by="alice", origin="sevpro tenants add", at=AT)
    assert first is not None
    disabled = validate_tenant({**TENANT, "enabled": False})
    second = tenant_configured(disabled, first, changed_by="bob", origin="sevpro tenants disable", at=AT)
    assert second is not None and second["revision"] == 2
    assert second["changes"] == [{"field": "enabled", "before": "true", "after": "false"}]
    assert decode(encode("TenantConfigured", second))[1]["config"] == second["config"]
