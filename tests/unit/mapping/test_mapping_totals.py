"""After an invoice is created: Procountor's totals against Severa's, one cent of rounding allowed per VAT rate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.mapping.money import totals_warning


def severa(net: str, vat: str, gross: str, **extra: Any) -> dict[str, Any]:
    return {"totalExcludingTax": {"amount": Decimal(net), "currencyCode": "EUR"},
            "totalTax": {"amount": Decimal(vat), "currencyCode": "EUR"},
            "totalIncludingTax": {"amount": Decimal(gross), "currencyCode": "EUR"}, **extra}  # fmt: skip


def procountor(net: float, vat: float, gross: float, currency: str = "EUR", *others: dict[str, Any]) -> dict[str, Any]:
    # As Procountor answers: JSON floats (the Procountor client does not read decimals).
    own = {"currency": currency, "inAccountingCurrency": currency == "EUR", "excludingVatTotal": net,
           "vatSumTotal": vat, "invoiceSumTotal": gross}  # fmt: skip
    return {"paymentInfo": {"currency": currency}, "invoiceSumInfo": [*others, own]}


ONE_RATE = [{"vatRate": Decimal("25.5")}, {"vatRate": Decimal("25.5")}]
TWO_RATES = [{"vatRate": Decimal("25.5")}, {"vatRate": Decimal("14")}]


def test_equal_totals_need_no_warning():
    assert totals_warning(severa("100.00", "25.50", "125.50"), ONE_RATE, procountor(100.0, 25.5, 125.5)) is None


def test_one_cent_per_rate_is_rounding_more_is_reported_with_both_figures():
    assert totals_warning(severa("0.50", "0.12", "0.62"), ONE_RATE, procountor(0.5, 0.11, 0.61)) is None
    warning = totals_warning(severa("0.50", "0.12", "0.62"), ONE_RATE, procountor(0.5, 0.1, 0.6))
    assert warning is not None
    assert "VAT Severa 0.12, Procountor 0.10" in warning and "gross Severa 0.62, Procountor 0.60" in warning
    assert "net" not in warning.split(":", 1)[1] and "(1 rate)" in warning


def test_two_rates_allow_two_cents():
    assert totals_warning(severa("10.00", "2.02", "12.02"), TWO_RATES, procountor(10.0, 2.0, 12.0)) is None
    warning = totals_warning(severa("10.00", "2.03", "12.03"), TWO_RATES, procountor(10.0, 2.0, 12.0))
    assert warning is not None and "(2 rates)" in warning and "VAT Severa 2.03, Procountor 2.00" in warning


def test_nothing_to_compare_is_no_warning():
    assert totals_warning({}, ONE_RATE, procountor(1.0, 0.26, 1.26)) is None
    assert totals_warning(severa("1.00", "0.26", "1.26"), ONE_RATE, {"paymentInfo": {"currency": "EUR"}}) is None


def test_a_foreign_currency_invoice_is_compared_in_its_own_currency():
    accounting = {"currency": "EUR", "inAccountingCurrency": True, "excludingVatTotal": 9.0, "vatSumTotal": 2.3,
                  "invoiceSumTotal": 11.3}  # fmt: skip
    invoice = severa("10.00", "2.55", "12.55")
    assert totals_warning(invoice, ONE_RATE, procountor(10.0, 2.55, 12.55, "USD", accounting)) is None


def test_a_credit_note_the_mapping_turned_negative_is_compared_with_its_sign():
    credit = severa("100.00", "25.50", "125.50", isCreditNote=True)
    assert totals_warning(credit, ONE_RATE, procountor(-100.0, -25.5, -125.5)) is None
    assert totals_warning(severa("-100.00", "-25.50", "-125.50", isCreditNote=True), ONE_RATE,
                          procountor(-100.0, -25.5, -125.5)) is None  # fmt: skip
    assert totals_warning(severa("-100.00", "-25.50", "-125.50"), ONE_RATE, procountor(-100.0, -25.4, -125.4))


cents = st.integers(min_value=-(10**9), max_value=10**9)


@given(st.tuples(cents, cents, cents),
       st.tuples(st.integers(-5, 5), st.integers(-5, 5), st.integers(-5, 5)),
       st.lists(st.sampled_from(["0", "10", "14", "24", "25.5"]), min_size=1, max_size=6))  # fmt: skip
def test_warned_exactly_when_a_total_is_off_by_more_than_a_cent_per_rate(figures, offsets, rates):
    rows = [{"vatRate": Decimal(r)} for r in rates]
    ours = [Decimal(f) / 100 for f in figures]
    theirs = [float(o + Decimal(d) / 100) for o, d in zip(ours, offsets, strict=True)]
    warning = totals_warning(severa(*map(str, ours)), rows, procountor(*theirs))
    allowed = len(set(rates))
    assert (warning is not None) == any(abs(d) > allowed for d in offsets)
