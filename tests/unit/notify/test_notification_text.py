"""Which outcomes deserve an email, and what it says (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.notification_text import (
    Failure,
    compose,
    failure_from_outcome,
    message_id,
    notification_key,
    subject,
)


def outcome(state: str, **overrides: Any) -> dict[str, Any]:
    base = {"event_id": "e1", "tenant": "demo", "company": "FI", "kind": "sales-invoice", "request_id": "r1",
            "source_id": "guid-1", "source_number": "10007", "source_version": "v1", "attempt": 1, "state": state,
            "error": {"code": "ERROR_BRN_CODE", "kind": "data", "record": "sales invoice 10007",
                      "field": "counterParty.identifier", "value": "1234567-8", "message": "bad business ID",
                      "solution": "Correct the business ID."},
            "occurred_at": datetime(2025, 6, 10, 9, 30, tzinfo=UTC)}
    return {**base, **overrides}


def failure(number: str, kind: str = "sales-invoice", **overrides: Any) -> Failure:
    return failure_from_outcome(outcome("failed_data", source_number=number, kind=kind, request_id=f"r{number}",
                                        error=None, **overrides),
                                f"data:r{number}", company_name="Kumpula Consulting Oy",
                                recipient="billing@kumpula.example", attempts=1)


@pytest.mark.parametrize(("state", "failures", "attempt", "expected"), [
    ("failed_data", 0, 1, "data:r1"),
    ("failed_transient", 2, 1, None),
    ("failed_transient", 3, 1, "transient:demo:sales-invoice:guid-1:v1"),
    ("failed_transient", 1, 3, "transient:demo:sales-invoice:guid-1:v1"),  # one request's own attempts count too
    ("succeeded", 9, 1, None),
    ("attempting", 0, 1, None),
    ("step", 0, 1, None),
])
def test_notification_key(state: str, failures: int, attempt: int, expected: str | None) -> None:
    assert notification_key(outcome(state, attempt=attempt), failures, 3) == expected


def test_failure_carries_the_error_and_where_to_look() -> None:
    made = failure_from_outcome(outcome("failed_data"), "data:r1", company_name="Kumpula Consulting Oy",
                                recipient="billing@kumpula.example", attempts=1)
    assert (made.record, made.code, made.field, made.value, made.lookup) == (
        "sales invoice 10007", "ERROR_BRN_CODE", "counterParty.identifier", "1234567-8", "10007")
    assert made.occurred_at == "2025-06-10T09:30:00+00:00"
    assert Failure.from_json(made.to_json()) == made
    # Without an error record or number: the kind and the guid name the record.
    bare = failure_from_outcome(outcome("failed_data", error=None, source_number=None, occurred_at=1749547800000),
                                "k", company_name="C", recipient="a@b.example", attempts=1)
    assert (bare.record, bare.lookup, bare.code) == ("sales invoice guid-1", "guid-1", "UNKNOWN")
    assert bare.occurred_at == "2025-06-10T09:30:00+00:00"


def test_subject_names_company_direction_and_records() -> None:
    assert subject([failure("1")]) == "[Kumpula Consulting Oy] Severa → Procountor: sales invoice 1 was not transferred"
    assert subject([failure("1"), failure("2")]) == (
        "[Kumpula Consulting Oy] Severa → Procountor: 2 records were not transferred: sales invoice 1, sales invoice 2")
    mixed = subject([failure("1"), failure("7", kind="purchase-invoice")])
    assert mixed == "[Kumpula Consulting Oy] 2 records were not transferred: sales invoice 1, purchase invoice 7"
    assert "Procountor → Severa: purchase invoice 7" in subject([failure("7", kind="purchase-invoice")])


def test_compose_one_company_one_address() -> None:
    one, two = failure("1"), failure("2")
    message = compose([one, two], sender="sevpro@kumpula.example")
    assert message["Message-ID"] == compose([two, one], sender="sevpro@kumpula.example")["Message-ID"]
    assert message["Message-ID"] == message_id([one, two], "sevpro@kumpula.example")
    assert message["Message-ID"].endswith("@kumpula.example>")
    assert message["Message-ID"] != compose([one], sender="sevpro@kumpula.example")["Message-ID"]
    with pytest.raises(ValueError):
        compose([], sender="x@y.example")
    other = failure_from_outcome(outcome("failed_data", company="SE"), "k", company_name="Kumpula AB",
                                 recipient="ekonomi@kumpula.example", attempts=1)
    with pytest.raises(ValueError, match="one company"):
        compose([one, other], sender="x@y.example")


def test_body_says_what_happens_next_per_kind_of_error() -> None:
    data = compose([failure("1")], sender="x@y.example").get_content()
    assert "sevpro log --state failed-data" in data and "failed-transient" not in data
    transient = failure_from_outcome(outcome("failed_transient"), "t", company_name="C",
                                     recipient="billing@kumpula.example", attempts=3)
    text = compose([transient], sender="x@y.example").get_content()
    assert "retried automatically" in text and "failed-data" not in text
    assert "could not be transferred after 3 attempts" in text



def test_a_transfer_with_a_warning_is_emailed_as_something_to_check() -> None:
    warned = outcome("succeeded", error=None, warning="Procountor's totals differ: VAT Severa 0.13, Procountor 0.15")
    key = notification_key(warned, 0, 3)
    assert key == "warning:r1"
    made = failure_from_outcome(warned, key, company_name="Kumpula Consulting Oy",
                                recipient="billing@kumpula.example", attempts=1)
    assert (made.code, made.warning, made.message) == ("TOTALS_DIFFER", True, warned["warning"])
    assert Failure.from_json(made.to_json()) == made
    assert subject([made]) == ("[Kumpula Consulting Oy] Severa → Procountor: sales invoice 10007 was transferred, and "
                               "needs checking")
    assert "2 records need attention" in subject([made, failure("1")])
    text = compose([made], sender="x@y.example").get_content()
    assert "VAT Severa 0.13, Procountor 0.15" in text and "credit note in Severa" in text
    assert "nothing is retried" in text and "failed-data" not in text
