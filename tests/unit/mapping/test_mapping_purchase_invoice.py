"""Purchase invoice → Severa project fees: the pure parts (which invoices, which projects, which fields)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from foundation.company import PURCHASE_IMPORT_STATUSES, demo_companies_path, load_companies
from streams.mapping.errors import TransferDataError
from streams.mapping.purchase_invoice import (
    FeeMarker,
    fee_body,
    fee_changes,
    fee_key,
    fee_marker,
    fingerprint,
    marked_invoice_id,
    marker,
    plan_fees,
    project_amounts,
)
from streams.purchase_invoice import KIND, transfer_request

PROJECTS = 77
OTHER = 78
DIMENSION = {"id": PROJECTS, "name": "Projects",
             "items": [{"id": 1, "codeName": "2026001"}, {"id": 2, "codeName": "2026002"},
                       {"id": 3, "codeName": "Internal"}]}
ALL_STATUSES = ["UNFINISHED", "NOT_SENT", "SENT", "RECEIVED", "PAID", "PAYMENT_DENIED", "VERIFIED", "APPROVED",
                "INVALIDATED", "PAYMENT_QUEUED", "PARTLY_PAID", "PAYMENT_SENT_TO_BANK", "MARKED_PAID", "DELETED"]


def entry(value: float, *dims: tuple[int, int, float]) -> dict[str, Any]:
    return {"transactionType": "ENTRY", "accountingValue": value,
            "dimensionItemValues": [{"dimensionId": d, "itemId": i, "value": v} for d, i, v in dims]}


def invoice(*entries: dict[str, Any], status: str = "APPROVED", **extra: Any) -> dict[str, Any]:
    reversing = {"transactionType": "REVERSING_ENTRY", "accountingValue": -1.0,
                 "dimensionItemValues": [{"dimensionId": PROJECTS, "itemId": 2, "value": -999}]}
    return {"id": 4711, "type": "PURCHASE_INVOICE", "status": status, "invoiceNumber": 12, "date": "2026-05-15",
            "version": "2026-05-15T10:00:00.000", "originalInvoiceNumber": "S-7002",
            "counterParty": {"counterPartyAddress": {"name": "Pilvipalvelu Oy"}},
            "paymentInfo": {"currency": "EUR"},
            "ledgerReceipt": {"transactions": [*entries, reversing]}} | extra


def observed(body: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": f"procountor:purchase_invoice:4711:{body['version']}", "tenant": "demo/FI",
            "entity_id": "4711", "source_version": body["version"], "snapshot": json.dumps(body), "company": "FI"}


@pytest.fixture(scope="module")
def fi():
    return load_companies(demo_companies_path())["FI"]


def test_amounts_are_summed_per_item_over_entries_only() -> None:
    body = invoice(entry(300.0, (PROJECTS, 1, 100.0), (PROJECTS, 2, 200.0), (OTHER, 9, 300.0)),
                   entry(80.255, (PROJECTS, 1, 80.255)))
    assert project_amounts(body, PROJECTS) == {1: Decimal("180.26"), 2: Decimal("200.00")}
    assert project_amounts(body, OTHER) == {9: Decimal("300.00")}


def test_one_fee_per_project_with_the_item_code_as_project_number() -> None:
    fees = plan_fees(invoice(entry(300.0, (PROJECTS, 1, 100.0), (PROJECTS, 2, 200.0))), DIMENSION)
    assert [(f.project_number, f.item_code, f.amount) for f in fees] == [
        (2026001, "2026001", Decimal("100.00")), (2026002, "2026002", Decimal("200.00"))]


def test_an_item_that_is_no_project_number_is_a_data_error_naming_it() -> None:
    with pytest.raises(TransferDataError) as raised:
        plan_fees(invoice(entry(50.0, (PROJECTS, 3, 50.0))), DIMENSION)
    error = raised.value
    assert (error.code, error.value, error.field) == ("MISSING_PROJECT", "Internal", "dimension Projects")
    assert "purchase invoice 12 (Pilvipalvelu Oy)" in error.message and "Internal" in error.message
    assert "Severa" in error.solution


def test_an_item_unknown_to_the_dimension_is_a_dimension_mismatch() -> None:
    with pytest.raises(TransferDataError) as raised:
        plan_fees(invoice(entry(50.0, (PROJECTS, 99, 50.0))), DIMENSION)
    assert (raised.value.code, raised.value.value) == ("DIMENSION_MISMATCH", 99)


def test_fee_body_is_a_non_billable_cost_with_the_marker() -> None:
    body = invoice(entry(480.0, (PROJECTS, 1, 480.0)))
    [fee] = plan_fees(body, DIMENSION)
    project = {"guid": "p-1", "currency": {"code": "EUR"}, "rootPhase": {"guid": "ph-1"}}
    out = fee_body(body, fee, project, "FI", accounting_currency="EUR")
    assert out["project"] == {"guid": "p-1"} and out["phase"] == {"guid": "ph-1"}
    assert out["unitCost"] == {"amount": 480.0, "currencyCode": "EUR"} and out["quantity"] == 1.0
    assert out["isBillable"] is False and out["eventDate"] == "2026-05-15"
    assert out["description"].startswith(marker("FI", 4711)) and out["description"].startswith("Procountor FI #4711:")
    assert "12" in out["description"] and "S-7002" in out["description"] and "Pilvipalvelu Oy" in out["description"]
    assert marked_invoice_id(out) == "4711" and fee_marker(out) == FeeMarker("4711", "FI")
    assert fee_changes({**out, "guid": "f"}, out) == {}


def test_marker_matches_whole_ids_only() -> None:
    assert marked_invoice_id({"description": "Procountor #123: purchase invoice"}) == "123"
    assert marked_invoice_id({"description": "Procountor #1234"}) != "123"
    assert marked_invoice_id({"description": "typed by hand"}) is None
    assert marked_invoice_id({"description": None}) is None
    assert fee_key(4711, 2026001) == "4711:2026001"


def test_a_marker_names_its_company_and_old_markers_without_one_still_read() -> None:
    assert fee_marker({"description": "Procountor FI #123: purchase invoice 12"}) == FeeMarker("123", "FI")
    assert fee_marker({"description": "Procountor Kumpula AB #77 from X"}) == FeeMarker("77", "Kumpula AB")
    assert fee_marker({"description": "Procountor #123: purchase invoice 12"}) == FeeMarker("123", None)
    assert fee_marker({"description": "Procountor FI #1234"}) != FeeMarker("123", "FI")


def test_changes_name_only_what_differs() -> None:
    body = invoice(entry(480.0, (PROJECTS, 1, 480.0)))
    [fee] = plan_fees(body, DIMENSION)
    wanted = fee_body(body, fee, {"guid": "p"}, "FI", accounting_currency="EUR")
    current = {**wanted, "unitCost": {"amount": 400.0, "currencyCode": "EUR", "multiCurrencyInfo": []},
               "eventDate": "2026-05-15T00:00:00"}
    assert fee_changes(current, wanted) == {"/unitCost": {"amount": 480.0, "currencyCode": "EUR"}}


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_requested_only_in_the_seed_statuses(fi, status: str) -> None:
    request = transfer_request(observed(invoice(entry(50.0, (PROJECTS, 1, 50.0)), status=status)), fi, PROJECTS)
    assert (request is not None) == (status in PURCHASE_IMPORT_STATUSES)
    if request:
        assert request["kind"] == KIND and request["company"] == "FI" and request["source_number"] == "12"
        assert request["event_id"] == "demo/FI:purchase-invoice:4711:2026-05-15T10:00:00.000"


def test_not_requested_without_project_dimensioning(fi) -> None:
    assert transfer_request(observed(invoice(entry(50.0, (OTHER, 9, 50.0)))), fi, PROJECTS) is None
    assert transfer_request(observed(invoice(entry(50.0))), fi, None) is None  # dimensions unknown, none used
    assert transfer_request(observed(invoice(entry(50.0, (OTHER, 9, 50.0)))), fi, None) is not None


def test_not_requested_when_the_company_does_not_import(fi) -> None:
    disabled = fi.model_copy(update={"purchase_invoices": fi.purchase_invoices.model_copy(update={"enabled": False})})
    assert transfer_request(observed(invoice(entry(50.0, (PROJECTS, 1, 50.0)))), disabled, PROJECTS) is None


def test_a_status_change_keeps_the_fingerprint_a_new_split_changes_it() -> None:
    approved = invoice(entry(50.0, (PROJECTS, 1, 50.0)))
    paid = invoice(entry(50.0, (PROJECTS, 1, 50.0)), status="PAID", version="2026-06-01T00:00:00.000")
    split = invoice(entry(50.0, (PROJECTS, 1, 20.0), (PROJECTS, 2, 30.0)))
    assert fingerprint(approved) == fingerprint(paid) != fingerprint(split)


@given(st.lists(st.tuples(st.sampled_from([1, 2]), st.decimals(-10**6, 10**6, places=2, allow_nan=False)),
                min_size=1, max_size=8))
def test_fee_amounts_add_up_to_the_dimensioned_total(values) -> None:
    body = invoice(*(entry(float(v), (PROJECTS, item, float(v))) for item, v in values))
    fees = plan_fees(body, DIMENSION)
    assert sum(f.amount for f in fees) == sum(v for _, v in values)
    assert len({f.project_number for f in fees}) == len(fees)


# ---------------------------------------------------------------------------------- fee currency


def sek_fee(**payment: Any) -> dict[str, Any]:
    body = invoice(entry(100.0, (PROJECTS, 1, 100.0)), paymentInfo=payment)
    [fee] = plan_fees(body, DIMENSION)
    return fee_body(body, fee, {"guid": "p-se", "currency": {"code": "SEK"}}, "FI", accounting_currency="EUR")


def test_a_project_in_the_invoices_currency_gets_the_amount_at_the_invoices_rate() -> None:
    # 100.00 EUR in the ledger; the invoice is in SEK at 11.4321 SEK per EUR.
    out = sek_fee(currency="SEK", currencyRate=Decimal("11.4321"))
    assert out["unitCost"] == {"amount": Decimal("1143.21"), "currencyCode": "SEK"}


@pytest.mark.parametrize("payment", [
    {"currency": "EUR", "currencyRate": 1},  # the invoice gives no rate to SEK
    {"currency": "SEK"},  # no rate at all
    {"currency": "SEK", "currencyRate": 0},
    {"currency": "USD", "currencyRate": Decimal("1.08")},  # a rate, but to another currency
])  # fmt: skip
def test_a_project_in_another_currency_without_a_known_rate_is_refused(payment: dict[str, Any]) -> None:
    with pytest.raises(TransferDataError) as raised:
        sek_fee(**payment)
    error = raised.value
    assert (error.code, error.record, error.field) == (
        "CURRENCY_MISMATCH", "purchase invoice 12 (Pilvipalvelu Oy)", "paymentInfo.currencyRate")
    assert "project 2026001 is in SEK" in error.message and "accounting in EUR" in error.message
    assert "currency rate" in error.solution


def test_a_project_in_the_accounting_currency_keeps_the_ledger_amount_whatever_the_invoice_currency() -> None:
    body = invoice(entry(100.0, (PROJECTS, 1, 100.0)), paymentInfo={"currency": "SEK", "currencyRate": 11})
    [fee] = plan_fees(body, DIMENSION)
    out = fee_body(body, fee, {"guid": "p", "currency": {"code": "EUR"}}, "FI", accounting_currency="EUR")
    assert out["unitCost"] == {"amount": Decimal("100.00"), "currencyCode": "EUR"}


@given(amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999.99"), places=2),
       rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4))  # fmt: skip
def test_conversion_is_exact_to_the_cent(amount: Decimal, rate: Decimal) -> None:
    body = invoice(entry(0, (PROJECTS, 1, amount)), paymentInfo={"currency": "SEK", "currencyRate": rate})
    [fee] = plan_fees(body, DIMENSION)
    out = fee_body(body, fee, {"guid": "p", "currency": {"code": "SEK"}}, "FI", accounting_currency="EUR")
    assert out["unitCost"]["amount"] == (amount * rate).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert isinstance(out["unitCost"]["amount"], Decimal)
