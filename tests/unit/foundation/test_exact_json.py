"""foundation.exact_json: money read and written digit for digit, everything else as the standard library."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from foundation.exact_json import dumps, loads

plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: "e" not in repr(f)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)
exact = st.decimals(allow_nan=False, allow_infinity=False)


@given(plain, st.booleans(), st.booleans())
def test_without_decimals_the_text_is_the_standard_librarys(value, sort_keys, ensure_ascii):
    assert dumps(value, sort_keys=sort_keys, ensure_ascii=ensure_ascii) == json.dumps(
        value, sort_keys=sort_keys, ensure_ascii=ensure_ascii
    )


@given(plain)
def test_a_snapshot_read_exactly_is_written_back_unchanged(value):
    # What the poller hashes and publishes: Severa's JSON read with decimals, written again.
    text = json.dumps(value, sort_keys=True)
    assert dumps(loads(text), sort_keys=True) == text


@given(exact)
def test_a_decimal_keeps_its_digits(amount):
    back = loads(dumps({"amount": amount}))["amount"]
    assert back == amount
    if amount.as_tuple().exponent < 0:  # has a fraction: read back as a Decimal with the same digits
        assert isinstance(back, Decimal) and str(back) == str(amount)


def test_money_is_never_a_float():
    body = loads('{"unitPrice": 0.1, "quantity": 3, "rows": [{"amount": 1234567890.123456789}]}')
    assert body["unitPrice"] == Decimal("0.1") and body["quantity"] == 3
    assert body["rows"][0]["amount"] == Decimal("1234567890.123456789")
    assert dumps(body) == '{"unitPrice": 0.1, "quantity": 3, "rows": [{"amount": 1234567890.123456789}]}'


def test_not_a_number_is_refused():
    with pytest.raises(ValueError):
        dumps({"amount": Decimal("NaN")})
    with pytest.raises(TypeError):
        dumps({"when": object()})
    assert dumps({"when": object()}, default=lambda _: "x") == '{"when": "x"}'


@pytest.mark.parametrize("text", ['{"amount": NaN}', '[Infinity]', '[-Infinity]'])
def test_nan_and_infinity_are_not_json_numbers(text):
    # The standard library reads them; an amount that is not a number must not get past the client.
    with pytest.raises(ValueError, match="is not a JSON number"):
        loads(text)
