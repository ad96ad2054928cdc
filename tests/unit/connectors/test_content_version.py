"""A record without a version is versioned by a hash of its content (connectors/polling.py). The hash is kept in
the watermark record: the same content must give the same hash as before, whichever way the text is written,
or every such record would be published again as a new version."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from connectors.polling import HASHED, content_version
from foundation.exact_json import dumps


def exact_hash(item: dict[str, Any]) -> str:
    return HASHED + hashlib.sha256(dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:16]


def test_a_registry_record_keeps_the_hash_it_had() -> None:
    status = {"guid": "5b0a6c8e-1111-4222-8333-944455556666", "name": "Odottaa siirtoa Procountoriin",
              "isActive": True, "sortOrder": 3, "lastUpdatedDateTime": None, "rate": Decimal("24.00"),
              "nested": [{"b": 1, "a": [1.5, "ä"]}], "validFrom": date(2026, 1, 1)}
    assert content_version(status) == exact_hash(status)
    assert content_version({"b": 1, "a": "x"}) == HASHED + "385820f0096fd558"  # the hash a watermark holds today


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False) | st.dates(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_the_hash_is_that_of_the_exact_json_text(item: dict[str, Any]) -> None:
    assert content_version(item) == exact_hash(item)
