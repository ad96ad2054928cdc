"""Money on a sales invoice: exact from Severa's JSON to Procountor's body, never a silent 0, nothing dropped."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mapping_builders import KNOWN_CODES, customer, invoice, row, settings

from foundation.exact_json import dumps, loads
from streams.mapping import map_sales_invoice, validate_sales_invoice

REFERENCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference"


def body(rows, **invoice_changes):
    return map_sales_invoice(invoice(**invoice_changes), rows, customer(), settings(),
                             known_product_codes=KNOWN_CODES)  # fmt: skip


def codes(rows):
    return [(e.code, e.record, e.field) for e in validate_sales_invoice(invoice(), rows, customer(), settings(),
                                                                         known_product_codes=KNOWN_CODES)]  # fmt: skip


@pytest.mark.parametrize("price", [None, {"amount": None, "currencyCode": "EUR"}])
def test_a_row_without_a_price_is_a_data_error_naming_the_row_never_0(price):
    rows = [row("Hours", 1), row("ProjectFees", 2, unitPrice=price)]
    assert codes(rows) == [("MISSING_PRICE", "sales invoice 10002", "invoiceRows[1].unitPrice")]
    error = validate_sales_invoice(invoice(), rows, customer(), settings(), known_product_codes=KNOWN_CODES)[0]
    assert "Annual licence" in error.message and "never takes a missing price for 0" in error.solution


def test_a_row_without_a_quantity_is_a_data_error_naming_the_row():
    rows = [row("Hours", 1, quantity=None), row("ProjectFees", 2)]
    assert codes(rows) == [("MISSING_QUANTITY", "sales invoice 10002", "invoiceRows[0].quantity")]
    without = row("Hours", 1)
    del without["quantity"]
    assert codes([without]) == [("MISSING_QUANTITY", "sales invoice 10002", "invoiceRows[0].quantity")]


def test_a_free_row_is_0_when_severa_says_0():
    assert body([row("ProjectFees", 1, unitPrice={"amount": 0, "currencyCode": "EUR"})])["invoiceRows"][0][
        "unitPrice"] == 0  # fmt: skip


amounts = st.decimals(min_value=Decimal("-99999999.9999"), max_value=Decimal("99999999.9999"), places=4,
                      allow_nan=False, allow_infinity=False)  # fmt: skip


@given(price=amounts, quantity=st.decimals(min_value=Decimal("-9999.999"), max_value=Decimal("9999.999"),
                                           places=3, allow_nan=False, allow_infinity=False))  # fmt: skip
def test_severa_json_amounts_reach_procountors_body_digit_for_digit(price, quantity):
    # As the transfer does it: Severa's answer read by the client, mapped, written by the Procountor client.
    severa_text = json.dumps({"quantity": "Q", "unitPrice": {"amount": "P", "currencyCode": "EUR"}})
    severa_text = severa_text.replace('"Q"', str(quantity)).replace('"P"', str(price))
    severa_row = row("Hours", 1) | loads(severa_text)
    mapped = body([severa_row])["invoiceRows"][0]
    assert mapped["unitPrice"] == price and mapped["quantity"] == quantity
    written = loads(dumps(mapped))
    assert str(written["unitPrice"]) == str(price) and str(written["quantity"]) == str(quantity)


def test_a_binary_float_would_change_the_amount():
    # Why: 0.1 + 0.2 as floats is not 0.3; the rows' sum decides a credit note's sign.
    rows = [row("Hours", i, quantity=1, unitPrice={"amount": Decimal(p), "currencyCode": "EUR"})
            for i, p in enumerate(["0.1", "0.2", "-0.3"], 1)]  # fmt: skip
    credit = body(rows, isCreditNote=True)
    # The exact sum is 0: not positive, so no row's sign is flipped (with floats it is 5.6e-17 > 0).
    assert [r["quantity"] for r in credit["invoiceRows"]] == [1, 1, 1]


def test_row_discount_stays_0_because_severas_invoice_row_has_none():
    reference = REFERENCE / "severa" / "severa-api-surface.derived.json"
    if not reference.exists():
        pytest.skip(f"Severa reference not found at {reference}")
    models = json.loads(reference.read_text())["models"]
    fields = [f["name"] for f in models["InvoiceRowOutputModel"]["fields"]]
    # If Severa's row model gains a discount, the mapping must carry it: this fails to say so.
    assert not [name for name in fields if "discount" in name.casefold()], fields
    mapped = body([row("Hours", 1), row("TravelExpenses", 2)])
    for severa_row, procountor_row in zip(
        [row("Hours", 1), row("TravelExpenses", 2)], mapped["invoiceRows"], strict=True
    ):
        net = (
            procountor_row["quantity"]
            * procountor_row["unitPrice"]
            * (1 - Decimal(procountor_row["discountPercent"]) / 100)
        )
        assert net == Decimal(str(severa_row["quantity"])) * Decimal(str(severa_row["unitPrice"]["amount"]))
