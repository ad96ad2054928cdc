"""`sevpro check`: the configured statuses exist in Severa with the flags the seed names, and the seed's manual
items are listed as reminders (pure rules, no network)."""

from __future__ import annotations

from foundation.company import demo_companies_path, load_companies
from registry.checks import ITEMS, exit_code, manual_reminders, status_checks

COMPANIES = load_companies(demo_companies_path())
WAITING, TRANSFERRED = "Waiting for transfer to Procountor", "Transferred to Procountor"


def invoice_status(name: str, **flags: bool) -> dict:
    return {"guid": f"g-{name}", "name": name, "isActive": True, "isReadOnly": True, "hasInvoiceNumber": True,
            "isSent": True} | flags


def travel_status(name: str, **flags: bool) -> dict:
    return {"guid": f"t-{name}", "name": name, "isActive": True, "isLocked": True, "isApproved": True} | flags


def test_statuses_as_the_seed_sets_them_up_are_ok() -> None:
    checks = status_checks(COMPANIES["FI"], [invoice_status(WAITING), invoice_status(TRANSFERRED)],
                           [travel_status(WAITING), travel_status(TRANSFERRED)])
    assert [c.status for c in checks] == ["ok"] * 4 and {c.item for c in checks} == {"statuses"}
    assert exit_code(checks) == 0


def test_the_transfer_status_needs_not_editable_invoice_number_and_sent() -> None:
    waiting = invoice_status(WAITING, isReadOnly=False, isSent=False)
    checks = status_checks(COMPANIES["FI"], [waiting, invoice_status(TRANSFERRED)], [])
    [bad] = [c for c in checks if c.status == "error" and c.field.startswith("sales")]
    assert bad.record == f"invoice status {WAITING}" and bad.field == "sales_invoices.transfer_status"
    assert bad.message.startswith("the invoice status lacks the settings Not editable, Sent (the seed: ")
    assert bad.fix and "Billing > Invoice statuses" in bad.fix


def test_a_status_missing_or_inactive_in_severa_is_an_error_naming_the_setting() -> None:
    checks = status_checks(COMPANIES["FI"], [invoice_status(WAITING), invoice_status(TRANSFERRED, isActive=False)],
                           [travel_status(WAITING)])
    errors = {(c.field, c.message) for c in checks if c.status == "error"}
    assert ("sales_invoices.after_transfer_status", f"Severa's invoice status {TRANSFERRED!r} is not active") in errors
    assert ("travel_reimbursements.status_after",
            f"Severa has no travel reimbursement status {TRANSFERRED!r}") in errors


def test_travel_statuses_need_locked_and_approved_and_only_when_travel_is_on() -> None:
    checks = status_checks(COMPANIES["FI"], [invoice_status(WAITING), invoice_status(TRANSFERRED)],
                           [travel_status(WAITING, isLocked=False), travel_status(TRANSFERRED, isApproved=False)])
    errors = {c.field: c.message for c in checks if c.status == "error"}
    assert "Locked" in errors["travel_reimbursements.status_before"]
    assert "Approved" in errors["travel_reimbursements.status_after"]
    off = COMPANIES["FI"].model_copy(update={"travel_reimbursements": COMPANIES["FI"].travel_reimbursements.model_copy(
        update={"enabled": False})})
    assert all(c.field.startswith("sales_invoices") for c in status_checks(
        off, [invoice_status(WAITING), invoice_status(TRANSFERRED)], []) if c.field)


def test_statuses_are_found_by_name_in_any_case_or_by_guid() -> None:
    fi = COMPANIES["FI"]
    by_guid = fi.model_copy(update={"sales_invoices": fi.sales_invoices.model_copy(
        update={"transfer_status": "g-Ready", "after_transfer_status": "transferred to procountor"})})
    checks = status_checks(by_guid, [invoice_status("Ready"), invoice_status(TRANSFERRED)],
                           [travel_status(WAITING), travel_status(TRANSFERRED)])
    assert [c.status for c in checks] == ["ok"] * 4


def test_the_seeds_manual_items_are_reminders_that_never_fail_the_check() -> None:
    reminders = manual_reminders(COMPANIES["FI"])
    assert [c.item for c in reminders] == ["agreement", "old_interface"]
    assert all(c.status == "reminder" and c.item in ITEMS for c in reminders)
    assert "agreement with Procountor" in reminders[0].message
    assert "customer service" in (reminders[1].fix or "")
    assert exit_code(reminders) == 0
