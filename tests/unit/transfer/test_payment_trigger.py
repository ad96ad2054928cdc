"""Which observed Procountor sales invoice versions become payment requests, and what the log says of them."""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from typing import Any

from foundation.company import demo_companies_path, parse_companies
from streams.payment import payment_of, payment_request


def _companies(**payments: Any) -> dict[str, Any]:
    document = tomllib.loads(demo_companies_path().read_text())
    document["company"]["FI"]["payments"] = payments
    return parse_companies(document)


ON = {"enabled": True, "paid_status": "Paid"}


def _observed(**invoice: Any) -> dict[str, Any]:
    snapshot = {"id": 104, "type": "SALES_INVOICE", "status": "PAID", "invoiceNumber": 7,
                "originalInvoiceNumber": "10002", "paymentDate": "2026-11-30",
                "paymentInfo": {"currency": "EUR"}, "invoiceSumInfo": [{"invoiceSumTotal": 1240.0}],
                "paymentEvents": [{"type": "REFERENCEPAYMENT", "paidAmount": 1240.0, "amount": 1240.0}], **invoice}
    return {"event_id": "procountor:sales_invoice:104:v1", "tenant": "acme/FI", "company": "FI",
            "entity_id": "104", "source_version": "2026-11-30T10:00:00.000", "snapshot": json.dumps(snapshot)}


def test_a_paid_sales_invoice_of_severa_becomes_a_request_keyed_by_its_version() -> None:
    request = payment_request(_observed(), _companies(**ON))
    assert request is not None
    assert request["kind"] == "sales-invoice-payment" and request["source_id"] == "104"
    assert request["event_id"] == "acme/FI:sales-invoice-payment:104:2026-11-30T10:00:00.000"
    assert request["source_number"] == "7" and request["company"] == "FI"


def test_nothing_is_requested_when_off_unpaid_not_a_sales_invoice_or_not_from_severa() -> None:
    assert payment_request(_observed(), _companies()) is None  # payments off (the default)
    assert payment_request(_observed(status="SENT"), _companies(**ON)) is None
    assert payment_request(_observed(type="PURCHASE_INVOICE"), _companies(**ON)) is None
    assert payment_request(_observed(originalInvoiceNumber=""), _companies(**ON)) is None
    other = {**_observed(), "tenant": "acme/SE", "company": "SE"}
    assert payment_request(other, _companies(**ON)) is None  # SE has payments off


def test_the_payment_as_the_log_tells_it() -> None:
    paid = payment_of(json.loads(_observed()["snapshot"]))
    assert paid.settled and paid.paid == Decimal("1240.0")
    assert paid.describe() == "paid in full (1240.00 EUR) on 2026-11-30"
    partly = payment_of(json.loads(_observed(status="PARTLY_PAID", paymentEvents=[
        {"type": "BANKTRANSFERELSEWHERE", "paidAmount": 400, "amount": 400}])["snapshot"]))
    assert not partly.settled
    assert partly.describe() == "partly paid: 400.00 of 1240.00 EUR, the latest payment on 2026-11-30"
    credited = payment_of(json.loads(_observed(status="MARKED_PAID", paymentEvents=[
        {"type": "COMPENSATIONINVOICE", "paidAmount": 1240.0}])["snapshot"]))
    assert credited.describe() == "settled by a credit note (1240.00 EUR) on 2026-11-30"
