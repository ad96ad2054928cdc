"""`sevpro check` with payments back to Severa on: the paid (and partly paid) statuses exist in Severa and are
active, before the first payment needs them (pure rules, no network)."""

from __future__ import annotations

from foundation.company import demo_companies_path, load_companies
from registry.checks import status_checks

FI = load_companies(demo_companies_path())["FI"]
WAITING, TRANSFERRED = "Waiting for transfer to Procountor", "Transferred to Procountor"


def invoice_status(name: str, **flags: bool) -> dict:
    return {"guid": f"g-{name}", "name": name, "isActive": True, "isReadOnly": True, "hasInvoiceNumber": True,
            "isSent": True} | flags


def _paying(**payments: object):  # type: ignore[no-untyped-def]
    return FI.model_copy(update={"payments": FI.payments.model_copy(update={"enabled": True, **payments})})


def test_the_payment_statuses_are_checked_only_when_payments_are_on() -> None:
    statuses = [invoice_status(WAITING), invoice_status(TRANSFERRED)]
    assert {c.field for c in status_checks(FI, statuses, [])} == {"sales_invoices.transfer_status",
                                                                   "sales_invoices.after_transfer_status",
                                                                   "travel_reimbursements.status_before",
                                                                   "travel_reimbursements.status_after"}
    checks = status_checks(_paying(paid_status="Maksettu", partly_paid_status="Osittain maksettu"),
                           [*statuses, invoice_status("Maksettu", isPaid=True)], [])
    by_field = {c.field: c for c in checks}
    assert by_field["payments.paid_status"].status == "ok"
    missing = by_field["payments.partly_paid_status"]
    assert missing.status == "error" and "Severa has no invoice status 'Osittain maksettu'" in missing.message


def test_an_inactive_paid_status_is_an_error() -> None:
    checks = status_checks(_paying(paid_status="Paid"),
                           [invoice_status(WAITING), invoice_status(TRANSFERRED),
                            invoice_status("Paid", isActive=False)], [])
    [paid] = [c for c in checks if c.field == "payments.paid_status"]
    assert paid.status == "error" and "not active" in paid.message
