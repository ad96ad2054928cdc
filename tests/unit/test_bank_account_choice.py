"""Which Procountor bank account a company's sales invoices carry (issue 12, item 6)."""

from __future__ import annotations

from typing import Any

import pytest

from foundation.company import CompanySettings, CompanySettingsError, demo_companies_path, load_companies
from streams.transfer import ConfigFailure, choose_bank_account


def account(iban: str, currency: str = "EUR", *, default: bool = False, status: str = "ACTIVE") -> dict[str, Any]:
    return {"iban": iban, "accountNumber": iban[4:], "currency": currency, "defaultForInvoice": default,
            "status": status}


def fi(**changes: Any) -> CompanySettings:
    return load_companies(demo_companies_path())["FI"].model_copy(update=changes)


ACCOUNTS = [account("FI4950009420028730", default=True), account("FI1410093000123458"),
            account("FI2112345600000785", "USD"), account("FI5542345670000081", status="INACTIVE")]


def test_default_for_invoices_without_settings() -> None:
    assert choose_bank_account(ACCOUNTS, fi()) == "FI4950009420028730"


def test_by_iban_and_currency() -> None:
    assert choose_bank_account(ACCOUNTS, fi(bank_account_iban="FI1410093000123458")) == "FI1410093000123458"
    assert choose_bank_account(ACCOUNTS, fi(bank_account_currency="USD")) == "FI2112345600000785"


@pytest.mark.parametrize(("changes", "named"), [
    ({"bank_account_iban": "FI5542345670000081"}, "(bank_account_iban)"),  # inactive
    ({"bank_account_iban": "FI1410093000123458", "bank_account_currency": "USD"}, "(bank_account_currency)"),
    ({"bank_account_currency": "SEK"}, "(bank_account_currency)"),
])
def test_none_matching_names_the_company_and_setting(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigFailure) as caught:
        choose_bank_account(ACCOUNTS, fi(**changes))
    assert caught.value.code == "BANK_ACCOUNT_NOT_FOUND"
    assert "company 'FI'" in str(caught.value) and named in str(caught.value)


def test_no_default_account_is_a_configuration_error() -> None:
    with pytest.raises(ConfigFailure, match="default for invoices"):
        choose_bank_account([account("FI1410093000123458")], fi())


def test_the_setting_must_be_an_iban() -> None:
    from foundation.company import parse_companies

    table = load_companies(demo_companies_path())["FI"].model_dump(mode="json", exclude_none=True)
    table["bank_account_iban"] = "123456-785"
    with pytest.raises(CompanySettingsError, match="bank_account_iban: is not a valid IBAN"):
        parse_companies({"company": {"FI": {k: v for k, v in table.items() if k != "name"}}})
