"""Sales accounts (the seed: "The sales account number must match Procountor's information"): with the company's
`transfer_sales_accounts` on, each row's Severa sales account is the account of its Procountor ledger entry, and
an account Procountor's chart lacks (or has closed) is a data error naming the row, before anything is written;
`sevpro compare` lists the accounts missing on either side."""

from __future__ import annotations

import pytest
from mapping_builders import invoice, row, settings

from registry.compare import compare_sales_accounts
from streams.mapping import TransferDataError
from streams.mapping.accounts import check_sales_accounts, row_sales_accounts

CHART = [{"ledgerAccountCode": "3000", "name": "Myynti", "active": True},
         {"ledgerAccountCode": "3010", "name": "Palvelumyynti", "active": True},
         {"ledgerAccountCode": "3090", "name": "Vanha myynti", "active": False},
         {"ledgerAccountCode": "3050", "name": "Muu myynti", "active": True},
         {"ledgerAccountCode": "1700", "name": "Myyntisaamiset", "active": True}]  # fmt: skip
ON = {"sales_invoices": {"transfer_sales_accounts": True}}


def account(number: str, name: str = "Sales") -> dict:
    return {"number": number, "name": name}


def test_off_by_default_no_row_gets_an_account():
    rows = [row("Hours", 1, salesAccount=account("3000")), row("ProjectFees", 2, salesAccount=account("3010"))]
    assert settings().sales_invoices.transfer_sales_accounts is False
    assert row_sales_accounts(rows, invoice(), settings()) == [None, None]


def test_each_row_gets_its_own_account_in_the_procountor_row_order():
    rows = [row("ProjectFees", 2, salesAccount=account("3010")), row("Hours", 1, salesAccount=account(" 3000 ")),
            row("TravelExpenses", 3, salesAccount=None)]
    # Procountor's rows follow sortOrder; a row without an account keeps Procountor's own default.
    assert row_sales_accounts(rows, invoice(), settings(**ON)) == ["3000", "3010", None]


def test_an_account_missing_or_closed_in_procountor_names_the_row_and_field():
    with pytest.raises(TransferDataError) as raised:
        check_sales_accounts(["3000", "3020"], CHART, record="sales invoice 10002")
    error = raised.value
    assert (error.code, error.field, error.value) == ("MISSING_SALES_ACCOUNT", "invoiceRows[1].salesAccount", "3020")
    assert error.record == "sales invoice 10002" and "3020" in error.message and "chart of accounts" in error.solution
    with pytest.raises(TransferDataError) as raised:
        check_sales_accounts([None, "3090"], CHART, record="sales invoice 10002")
    assert raised.value.field == "invoiceRows[1].salesAccount" and "not active" in raised.value.message
    check_sales_accounts(["3000", None, "3010"], CHART, record="sales invoice 10002")  # all there: no error


def test_compare_lists_sales_accounts_missing_on_either_side():
    severa = [{"number": "3000", "name": "Sales of services", "isActive": True},
              {"number": "3020", "name": "Re-invoiced travel", "isActive": True},
              {"number": "3090", "name": "Old sales", "isActive": True},
              {"number": "3999", "name": "Closed in Severa", "isActive": False}]
    found = {(f.key, f.status): f for f in compare_sales_accounts(severa, CHART, transfer=True)}
    assert found[("3000", "matched")].severity == "ok"
    missing = found[("3020", "only_in_severa")]
    assert missing.severity == "error" and missing.field == "number" and missing.fix
    assert found[("3090", "inactive_in_procountor")].severity == "error"
    only_theirs = found[("3050", "only_in_procountor")]
    assert only_theirs.severity == "warning" and only_theirs.procountor == "Muu myynti"
    assert ("3010", "only_in_procountor") in found  # a sales (class 3) account Severa lacks
    assert not any(key in ("1700", "3999") for key, _ in found)  # not a sales account; inactive in Severa
    # With the rows' accounts not transferred, a Severa account Procountor lacks is only a warning.
    relaxed = {(f.key, f.status): f for f in compare_sales_accounts(severa, CHART, transfer=False)}
    assert relaxed[("3020", "only_in_severa")].severity == "warning"
