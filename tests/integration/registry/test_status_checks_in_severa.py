"""`sevpro check` against the demo sandboxes: the configured statuses exist in Severa with the seed's flags (Not
editable / Invoice number / Sent for invoices; Locked / Approved for travel), and the seed's manual items are
reminders on every company's checklist."""

from __future__ import annotations

import json
from datetime import date

from typer.testing import CliRunner

from registry.checks import exit_code, run_checks
from sandbox.severa.store import demo_guid
from sevpro.registry_cli import app

TODAY = date(2026, 11, 25)
WAITING, TRANSFERRED = "Waiting for transfer to Procountor", "Transferred to Procountor"


async def test_statuses_unticked_in_severa_are_errors_naming_the_setting(sandboxes, severa, companies) -> None:
    async with sandboxes.procountor("FI") as procountor:
        before = await run_checks(severa, procountor, companies["FI"], today=TODAY)
        statuses = [c for c in before if c.item == "statuses"]
        assert [c.status for c in statuses] == ["ok"] * 4  # two invoice, two travel statuses, as the seed sets them
        # A user unticks "Sent" on the transfer status and "Locked" on the travel status after transfer.
        store = sandboxes.severa_store
        store.update("invoicestatuses", demo_guid("invoicestatus", WAITING), {"isSent": False})
        store.update("travelreimbursementstatuses", demo_guid("travelreimbursementstatus", TRANSFERRED),
                     {"isLocked": False})
        after = await run_checks(severa, procountor, companies["FI"], today=TODAY)
    errors = {c.field: c for c in after if c.item == "statuses" and c.status == "error"}
    assert set(errors) == {"sales_invoices.transfer_status", "travel_reimbursements.status_after"}
    sent = errors["sales_invoices.transfer_status"]
    assert sent.record == f"invoice status {WAITING}" and "lacks the setting Sent" in sent.message and sent.fix
    assert "lacks the setting Locked" in errors["travel_reimbursements.status_after"].message
    assert exit_code(after) == 1


def test_check_lists_the_manual_items_as_reminders(demo) -> None:
    result = CliRunner().invoke(app, ["check", "--json"], env=demo.env())
    document = json.loads(result.output)
    reminders = {(c["company"], c["item"]) for c in document["checks"] if c["status"] == "reminder"}
    assert reminders == {(company, item) for company in ("FI", "SE") for item in ("agreement", "old_interface")}
    assert document["reminder"] == 4
    assert all(c["status"] == "ok" for c in document["checks"] if c["item"] == "statuses")
    shown = CliRunner().invoke(app, ["check", "--company", "SE"], env=demo.env() | {"COLUMNS": "200"}).output
    assert "Agreement with Procountor" in shown and "Old integration interface terminated" in shown
    assert "2 reminders to confirm by hand" in shown
