"""A transferred sales invoice paid in Procountor is recorded on its Severa invoice, exactly once (README
"Payments back to Severa"): real broker, both sandboxes over sockets, a real transfer log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console import testing as sample_log
from console.app import create_app
from sevpro.cli import app
from tests.integration.console.console_signin import signed_in

from .conftest import PAID, PARTLY, Stack, total

pytestmark = pytest.mark.integration
FI_INVOICE = 10002  # an FI invoice of the demo that transfers without a data error


async def test_a_fully_paid_invoice_moves_its_severa_invoice_once(stack: Stack, tmp_path: Path) -> None:
    invoice = await stack.transferred(FI_INVOICE)
    before = stack.severa_patches()
    # The bank pays it in full: Procountor shows it PAID (reference payment), never settable over the API.
    paid_on = stack.procountor_store.today().isoformat()
    stack.procountor_store.record_payment("FI", invoice["id"], total(invoice))

    results = await stack.poll_and_handle()

    assert [r.state for r in results] == ["succeeded"]
    severa = stack.severa_invoice(FI_INVOICE)
    assert severa["status"]["name"] == PAID
    assert severa["paymentDate"] == paid_on
    assert stack.severa_patches() == before + 1  # status and payment date in one PATCH
    entry = stack.store.transfer(f"{stack.tenant}/FI", "sales-invoice-payment", str(invoice["id"]))
    assert entry is not None and entry["state"] == "succeeded"
    # An entry's target is in its "procountor_" fields whatever the direction (as for purchase invoices).
    assert entry["procountor_id"] == severa["guid"] and entry["procountor_number"] == str(FI_INVOICE)
    assert "paid in full" in entry["note"] and paid_on in entry["note"]

    # A redelivery of the request, and a replay of every observed event from offset zero: nothing twice.
    again = await stack.poll_and_handle(again=True)
    assert [r.state for r in again] == ["skipped"]
    assert stack.severa_patches() == before + 1

    # The projections show it under its own kind: `sevpro log --kind`, and the Severa invoice's history.
    runner = CliRunner()
    shown = runner.invoke(app, ["log", "--kind", "sales-invoice-payment", "--db", str(stack.store.root),
                                "--json"])
    assert shown.exit_code == 0, shown.output
    [logged] = json.loads(shown.output)
    assert logged["kind"] == "sales-invoice-payment" and logged["state"] == "succeeded"
    history = runner.invoke(app, ["show", str(FI_INVOICE), "--db", str(stack.store.root)])
    assert history.exit_code == 0, history.output
    assert "sales-invoice-payment" in history.output
    with signed_in(create_app(stack.store.root, auth=sample_log.auth())) as http:  # the console's transfer list
        page = http.get("/transfers", params={"kind": "sales-invoice-payment"})
        assert page.status_code == 200
        assert "sales-invoice-payment" in page.text and stack.severa_invoice(FI_INVOICE)["guid"] in page.text


async def test_a_partial_payment_moves_it_to_the_partly_paid_status_then_the_rest_to_paid(stack: Stack) -> None:
    stack.add_severa_status(PARTLY)
    stack.set_payments(partly_paid_status=PARTLY)
    invoice = await stack.transferred(FI_INVOICE)
    before = stack.severa_patches()

    await stack.mark_paid(invoice["id"], 100.0)
    assert [r.state for r in await stack.poll_and_handle()] == ["succeeded"]
    severa = stack.severa_invoice(FI_INVOICE)
    assert severa["status"]["name"] == PARTLY
    assert severa.get("paymentDate") is None  # Severa's payment date is the date it was paid in full
    [partly] = [o for o in stack.outcomes() if o["state"] == "succeeded"]
    assert "partly paid: 100.00 of" in partly["note"]

    await stack.mark_paid(invoice["id"], total(invoice) - 100.0)
    assert [r.state for r in await stack.poll_and_handle()] == ["succeeded"]
    severa = stack.severa_invoice(FI_INVOICE)
    assert severa["status"]["name"] == PAID
    assert severa["paymentDate"] == stack.procountor_store.today().isoformat()
    assert stack.severa_patches() == before + 2


async def test_a_partial_payment_without_a_partly_paid_status_writes_nothing_and_says_so(stack: Stack) -> None:
    invoice = await stack.transferred(FI_INVOICE)
    before = stack.severa_patches()
    await stack.mark_paid(invoice["id"], 100.0)

    assert [r.state for r in await stack.poll_and_handle()] == ["skipped"]
    assert stack.severa_patches() == before
    entry = stack.store.transfer(f"{stack.tenant}/FI", "sales-invoice-payment", str(invoice["id"]))
    assert entry is not None and entry["state"] == "succeeded"
    assert "partly paid: 100.00 of" in entry["note"] and "partly_paid_status is not set" in entry["note"]


async def test_a_credit_note_settles_it(stack: Stack) -> None:
    invoice = await stack.transferred(FI_INVOICE)
    before = stack.severa_patches()
    event = await stack.mark_paid(invoice["id"], total(invoice), method="CREDIT_NOTE")
    assert event["status"] == "MARKED_PAID"

    assert [r.state for r in await stack.poll_and_handle()] == ["succeeded"]
    assert stack.severa_invoice(FI_INVOICE)["status"]["name"] == PAID
    assert stack.severa_patches() == before + 1
    [done] = [o for o in stack.outcomes() if o["state"] == "succeeded"]
    assert "settled by a credit note" in done["note"]


async def test_a_severa_invoice_that_shows_the_payment_already_is_adopted(stack: Stack) -> None:
    invoice = await stack.transferred(FI_INVOICE)
    paid = next(s for s in stack.severa_store.all("invoicestatuses") if s["name"] == PAID)
    guid = stack.severa_invoice(FI_INVOICE)["guid"]
    today = stack.procountor_store.today().isoformat()
    stack.severa_store.update("invoices", guid, {"status": {"guid": paid["guid"], "name": PAID},
                                                 "paymentDate": today})  # a user recorded it by hand
    before = stack.severa_patches()
    stack.procountor_store.record_payment("FI", invoice["id"], total(invoice))

    assert [r.state for r in await stack.poll_and_handle()] == ["skipped"]
    assert stack.severa_patches() == before
    [skipped] = [o for o in stack.outcomes() if o["state"] == "skipped"]
    assert "Severa shows it already" in skipped["note"] and skipped["target_id"] == guid


async def test_payments_off_write_nothing(stack: Stack) -> None:
    stack.set_payments(enabled=False)
    invoice = await stack.transferred(FI_INVOICE)
    before = stack.severa_patches()
    stack.procountor_store.record_payment("FI", invoice["id"], total(invoice))

    assert await stack.poll_and_handle() == []
    assert await stack.observed() == []  # the poller reads no sales invoices while the setting is off
    assert stack.severa_patches() == before
    assert stack.severa_invoice(FI_INVOICE)["status"]["name"] != PAID


async def test_an_unknown_paid_status_is_a_configuration_error_naming_the_setting(stack: Stack) -> None:
    stack.set_payments(paid_status="Maksettu")
    invoice = await stack.transferred(FI_INVOICE)
    before = stack.severa_patches()
    stack.procountor_store.record_payment("FI", invoice["id"], total(invoice))

    assert [r.state for r in await stack.poll_and_handle()] == ["failed_config"]
    [failed] = [o for o in stack.outcomes() if o["state"] == "failed_config"]
    assert failed["error"]["code"] == "PAYMENT_STATUS_NOT_FOUND"
    assert failed["error"]["field"] == "payments.paid_status" and "'Maksettu'" in failed["error"]["message"]
    assert stack.severa_patches() == before

    stack.add_severa_status("Maksettu", isPaid=True)  # fixed in Severa: the retry writes it, once
    assert [r.state for r in await stack.poll_and_handle(again=True)] == ["succeeded"]
    assert stack.severa_invoice(FI_INVOICE)["status"]["name"] == "Maksettu"
    assert stack.severa_patches() == before + 1


async def test_a_paid_invoice_the_integration_did_not_transfer_is_left_alone(stack: Stack) -> None:
    from sandbox.procountor.demo import example_sales_invoice

    client = stack.procountor["FI"]
    # Entered in Procountor by hand with the number of a Severa invoice that was never transferred.
    made = await client.create_invoice(example_sales_invoice(originalInvoiceNumber=str(FI_INVOICE + 1)))
    await client.approve_invoice(int(made["id"]))
    before = stack.severa_patches()
    stack.procountor_store.record_payment("FI", int(made["id"]), total(made))

    assert [r.state for r in await stack.poll_and_handle()] == ["skipped"]
    assert stack.severa_patches() == before
    [skipped] = [o for o in stack.outcomes() if o["state"] == "skipped"]
    assert "was not transferred by this integration" in skipped["note"]


class _LogWithoutLinks:
    """The transfer log as a worker reads it while the projector has not reached the sales transfer's IdLinked."""

    def __init__(self, store: object) -> None:
        self._store = store

    def succeeded_request(self, request_id: str) -> bool:
        return self._store.succeeded_request(request_id)  # type: ignore[attr-defined, no-any-return]

    def transfer(self, tenant: str, kind: str, source_id: str) -> dict | None:
        return self._store.transfer(tenant, kind, source_id)  # type: ignore[attr-defined, no-any-return]

    def request(self, request_id: str) -> dict | None:
        return self._store.request(request_id)  # type: ignore[attr-defined, no-any-return]


async def test_while_the_id_map_link_lags_the_transfer_log_finds_the_severa_invoice(stack: Stack) -> None:
    from streams.payment import SalesInvoicePaymentTransfer, payment_request

    invoice = await stack.transferred(FI_INVOICE)
    stack.procountor_store.record_payment("FI", invoice["id"], total(invoice))
    await stack.poller.poll_once()
    [observed] = await stack.observed()
    request = payment_request(observed, stack.companies)
    assert request is not None
    transfer = SalesInvoicePaymentTransfer(stack.severa, stack.companies, stack.directory, stack.emit,
                                           transfer_log=_LogWithoutLinks(stack.store))
    result = await transfer.handle(request)
    assert result.state == "succeeded" and result.target_id == stack.severa_invoice(FI_INVOICE)["guid"]
    assert stack.severa_invoice(FI_INVOICE)["status"]["name"] == PAID
