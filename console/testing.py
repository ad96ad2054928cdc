"""A small, realistic event log for the console's tests and screenshots (no Kafka: the store is fed directly).

Two companies, two kinds, every state: succeeded (one after a transient retry, one adopted), failed-data with
the seed's kind of message and solution, failed-transient, pending, a dead letter, links in the ID map.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx

from console.auth import ConsoleAuth, hash_password
from projections import testing as ev
from projections.store import ProjectionStore
from streams.mapping.errors import solution_for

TENANT = "acme"
BAD_BUSINESS_ID = "1234567-8"
SOLUTION = "Correct the customer's business ID in Severa (Customers > Acme Oy > Business ID); the invoice is" \
           " transferred again when it changes."


@dataclass
class Sample:
    """The ids the tests look for."""

    succeeded: str = "inv-ok-1"
    retried: str = "inv-retry-1"
    failed_data: str = "inv-bad-1"
    failed_number: str = "1003"
    transient: str = "inv-503-1"
    pending: str = "inv-wait-1"
    travel: str = "tr-ok-1"
    procountor_id: str = "9001"
    requests: int = 6
    events: int = 0


LONG_ROW_TEXT = ("Consulting services for the migration of the accounting system, including workshops, data conversion"
                 " and user training, 11-12/2026")  # 130 characters: longer than Procountor allows for a row text


def fill(root: Path, long_row_text: bool = False) -> Sample:
    """Write the sample log into the projection folder `root`; returns what was written. `long_row_text` adds a
    second failed-data record whose value is a 130-character row text (the overview's table must keep its columns)."""
    sample = Sample()
    _, _, _, ok = r_ok = ev.requested(TENANT, sample.succeeded, number="1001", seconds=0)
    _, _, _, retry = r_retry = ev.requested(TENANT, sample.retried, number="1002", seconds=5)
    _, _, _, bad = r_bad = ev.requested(TENANT, sample.failed_data, number=sample.failed_number, seconds=10)
    _, _, _, slow = r_slow = ev.requested(TENANT, sample.transient, number="1004", seconds=20, company="acme-se")
    r_wait = ev.requested(TENANT, sample.pending, number="1005", seconds=3000)
    _, _, _, travel = r_travel = ev.requested(TENANT, sample.travel, number="77", seconds=30,
                                              kind="travel-reimbursement")
    events = [
        ev.observed(TENANT, "severa", "invoice", sample.succeeded, {"guid": sample.succeeded, "number": 1001},
                    seconds=-1),
        r_ok, ev.outcome(ok, "attempting", seconds=1),
        ev.linked(TENANT, "customer", "C-100", "501", severa_id="cust-guid-1", created=True, seconds=1.5,
                  correlation_id=ok["correlation_id"]),
        ev.outcome(ok, "step", seconds=2, step="invoice", target_id=sample.procountor_id, target_number="5001"),
        ev.outcome(ok, "succeeded", seconds=2.5, target_id=sample.procountor_id, target_number="5001"),
        ev.linked(TENANT, "invoice", "1001", sample.procountor_id, severa_id=sample.succeeded, created=True,
                  seconds=2.5, correlation_id=ok["correlation_id"]),
        r_retry, ev.outcome(retry, "attempting", seconds=6),
        ev.outcome(retry, "failed_transient", seconds=7, error=ev.transient_error()),
        ev.outcome(retry, "attempting", attempt=2, seconds=65),
        ev.outcome(retry, "succeeded", attempt=2, seconds=70, target_id="9002", target_number="5002", adopted=True),
        r_bad, ev.outcome(bad, "attempting", seconds=11),
        ev.outcome(bad, "failed_data", seconds=12, error=ev.data_error(
            code="V001", field="customer.businessId", value=BAD_BUSINESS_ID,
            message="Business ID 1234567-8 is not valid (check digit)", solution=SOLUTION)),
        r_slow, ev.outcome(slow, "attempting", seconds=21),
        ev.outcome(slow, "failed_transient", seconds=22, error=ev.transient_error("Procountor answered 503 <retry>")),
        r_wait,
        r_travel, ev.outcome(travel, "succeeded", seconds=40, target_id="9100"),
        ev.linked(TENANT, "product", "P-1", "601", severa_id="prod-guid-1", seconds=3),
        ev.linked(TENANT, "person", "jane@example.com", "701", severa_id="user-guid-1", seconds=3,
                  company="acme-se"),
    ]
    if long_row_text:
        _, _, _, long = r_long = ev.requested(TENANT, "inv-long-1", number="1006", seconds=50)
        events += [r_long, ev.outcome(long, "attempting", seconds=51), ev.outcome(long, "failed_data", seconds=52,
                   error=ev.data_error(code="SIZE_MUST_BE_BETWEEN_0_AND_100", field="invoiceRows[0].product",
                                       value=LONG_ROW_TEXT, message="SIZE_MUST_BE_BETWEEN_0_AND_100 "
                                       "(invoiceRows[0].product): 130 characters, at most 100 allowed",
                                       solution=solution_for("SIZE_MUST_BE_BETWEEN_0_AND_100")))]
    with ProjectionStore(root) as store:
        result = store.apply_records(ev.Feed()(*events))
    sample.events = result.applied
    return sample


USER = "operator"
PASSWORD = "correct horse battery staple"


@cache
def _user_hash() -> str:
    return hash_password(PASSWORD)


def auth(**overrides: object) -> ConsoleAuth:
    """The tests' console users: USER with PASSWORD (plain HTTP on loopback: cookies without Secure)."""
    return ConsoleAuth(**{"users": {USER: _user_hash()}, "secure_cookies": False, **overrides})  # type: ignore[arg-type]


def login(http: httpx.Client, user: str = USER, password: str = PASSWORD) -> httpx.Response:
    """Sign in as a browser does: fetch the form (its CSRF token), post it; the client keeps the cookie."""
    form = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "the login form has no CSRF token"
    return http.post("/login", data={"username": user, "password": password, "csrf_token": token.group(1),
                                     "next": "/"})
