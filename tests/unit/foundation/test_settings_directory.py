"""The settings directory keeps the latest record per key, as the compacted topics do; what a worker runs with
follows from it (a disabled tenant runs no company; settings the model no longer accepts are named)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from foundation.company import demo_companies_path, load_companies
from foundation.settings_directory import SettingsDirectory
from foundation.settings_events import (
    SettingsRefused,
    company_settings_changed,
    tenant_configured,
    validate_company,
    validate_tenant,
)
from schemas.codec import encode
from streams.live_settings import effective_companies

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
TENANT = {"name": "acme", "severa_client_id": "c", "severa_client_secret": "env:S", "procountor_client_id": "c",
          "procountor_client_secret": "env:P"}


def _directory() -> tuple[SettingsDirectory, dict]:
    directory = SettingsDirectory("unused:9092")
    companies = load_companies(demo_companies_path())
    records = {}
    for name, company in companies.items():
        records[name] = company_settings_changed("acme", company, None, changed_by="a", origin="import", at=AT)
        directory._apply(f"acme/{name}".encode(), encode("CompanySettingsChanged", records[name]))
    return directory, records


def test_the_latest_record_per_company_is_in_force() -> None:
    directory, records = _directory()
    fi = directory.company_settings("acme")["FI"]
    changed = validate_company("FI", {**fi.model_dump(mode="json"), "create_products": False})
    record = company_settings_changed("acme", changed, records["FI"], changed_by="b", origin="set", at=AT)
    assert record is not None
    directory._apply(b"acme/FI", encode("CompanySettingsChanged", record))
    assert directory.company_settings("acme")["FI"].create_products is False
    assert directory.companies["acme"]["FI"]["revision"] == 2
    assert directory.company_settings("other") == {}
    directory._apply(b"acme/SE", None)  # a tombstone removes the company
    assert sorted(directory.company_settings("acme")) == ["FI"]


def test_a_disabled_tenant_runs_no_company_and_keeps_its_settings() -> None:
    directory, _ = _directory()
    assert all(c.enabled for c in effective_companies(directory, "acme").values())
    first = tenant_configured(validate_tenant(TENANT), None, changed_by="a", origin="add", at=AT)
    directory._apply(b"acme", encode("TenantConfigured", first))
    assert all(c.enabled for c in effective_companies(directory, "acme").values())
    disabled = tenant_configured(validate_tenant({**TENANT, "enabled": False}), first, changed_by="b", origin="disable",
                                 at=AT)
    directory._apply(b"acme", encode("TenantConfigured", disabled))
    assert not any(c.enabled for c in effective_companies(directory, "acme").values())
    assert all(c.enabled for c in directory.company_settings("acme").values())  # as they were set


def test_settings_the_model_no_longer_accepts_are_named_by_company_and_field() -> None:
    directory, records = _directory()
    stale = {**records["SE"], "settings": json.dumps({**json.loads(records["SE"]["settings"]), "retired_field": 1})}
    directory._apply(b"acme/SE", encode("CompanySettingsChanged", stale))
    with pytest.raises(SettingsRefused, match=r"tenant 'acme' company 'SE' \(revision 1\): retired_field: Extra"):
        directory.company_settings("acme")


def test_an_unreadable_record_is_ignored_and_what_was_in_force_stays() -> None:
    directory, _ = _directory()
    directory._apply(b"acme/FI", b"not avro")
    assert sorted(directory.company_settings("acme")) == ["FI", "SE"]
