"""The payments section of a company's settings: off by default, a "Paid" status required when on, and every
mistake named with the company and the field."""

from __future__ import annotations

import tomllib

import pytest

from foundation.company import CompanySettingsError, demo_companies_path, parse_companies


def _with(payments: dict[str, object]) -> dict[str, object]:
    document = tomllib.loads(demo_companies_path().read_text())
    document["company"]["FI"]["payments"] = payments
    return document


def test_payments_are_off_by_default() -> None:
    companies = parse_companies(tomllib.loads(demo_companies_path().read_text()))
    assert companies["FI"].payments.enabled is False
    assert companies["FI"].payments.payment_date is True


def test_a_paid_status_is_needed_when_payments_are_on() -> None:
    with pytest.raises(CompanySettingsError, match=r"company 'FI': payments: paid_status is required"):
        parse_companies(_with({"enabled": True}))


def test_the_two_statuses_differ() -> None:
    with pytest.raises(CompanySettingsError, match=r"company 'FI': payments: partly_paid_status must differ"):
        parse_companies(_with({"enabled": True, "paid_status": "Paid", "partly_paid_status": "paid"}))


def test_a_typo_is_named() -> None:
    with pytest.raises(CompanySettingsError, match=r"company 'FI': payments.paid_stauts: Extra inputs"):
        parse_companies(_with({"enabled": True, "paid_stauts": "Paid"}))


def test_valid_payment_settings() -> None:
    payments = parse_companies(_with({"enabled": True, "paid_status": "Paid", "partly_paid_status": "Partly paid",
                                      "payment_date": False}))["FI"].payments
    assert (payments.paid_status, payments.partly_paid_status, payments.payment_date) == (
        "Paid", "Partly paid", False)
