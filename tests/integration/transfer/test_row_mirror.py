"""The worker's invoice row mirror (issue 16): rows of many invoices in one `GET /v1/invoicerows` page instead
of one `GET /v1/invoices/{guid}/invoicerows` per invoice, and the per-invoice read whenever the mirror cannot
answer for an invoice's rows. Both sandboxes over real sockets; calls counted at the Severa sandbox."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from connectors.severa.row_mirror import InvoiceRowMirror

pytestmark = pytest.mark.integration
PER_INVOICE = "GET /v1/invoices/{invoiceGuid}/invoicerows"
LISTING = "GET /v1/invoicerows"
WAITING = "Waiting for transfer to Procountor"


def _calls(stack) -> dict[str, int]:
    return stack.severa_server.app.state.sandbox.stats.calls


def _move(stack, number: int, status: str) -> None:
    store = stack.severa_store
    store.set_invoice_status(stack.invoice(number)["guid"], store.status_by_name("invoicestatuses", status)["guid"])


def _procountor_rows(stack, company: str, number: int) -> list[dict]:
    [invoice] = stack.procountor_invoices(company, number)
    return invoice["invoiceRows"]


async def test_rows_edited_after_the_mirror_read_are_read_per_invoice(stack) -> None:
    """A user edits a row of a draft after the mirror's last read and moves the invoice to the transfer status:
    the mirror has not seen the edit, so the transfer reads the rows per invoice and writes the edited row."""
    mirror = InvoiceRowMirror(stack.severa)
    _move(stack, 10002, "Draft")
    await mirror.refresh()  # the mirror has read the rows as they were
    invoice = stack.invoice(10002)
    row = min(stack.severa_store.find("invoicerows", invoiceGuid=invoice["guid"]), key=lambda r: r["sortOrder"])
    stack.severa_store.update("invoicerows", row["guid"], {"description": "Edited just before the transfer"})
    _move(stack, 10002, WAITING)
    before = _calls(stack)[PER_INVOICE]

    result = await stack.transfer(row_mirror=mirror).handle(stack.request(10002))

    assert result.state == "succeeded", result.error
    assert _calls(stack)[PER_INVOICE] == before + 1
    descriptions = [r.get("product") for r in _procountor_rows(stack, "FI", 10002)]
    assert "Edited just before the transfer" in descriptions, descriptions


async def test_rows_the_mirror_has_are_not_read_per_invoice(stack) -> None:
    """Invoices whose status change the mirror's read has passed are transferred from the mirror: one listing
    for both, no per-invoice row read, and the same rows in Procountor as a per-invoice read gives."""
    mirror = InvoiceRowMirror(stack.severa, lag=timedelta(seconds=0.5))
    await asyncio.sleep(0.6)  # the seeded status changes are older than the mirror's lag
    before = _calls(stack)[PER_INVOICE]

    companies = {}
    for number in (10002, 10003):
        request = stack.request(number)
        companies[number] = request["company"]
        result = await stack.transfer(row_mirror=mirror).handle(request)
        assert result.state == "succeeded", (number, result.error)

    assert _calls(stack)[PER_INVOICE] == before
    assert _calls(stack)[LISTING] == 1
    # Every row of each invoice was written, as the per-invoice read gives them.
    for number in (10002, 10003):
        severa_rows = stack.severa_store.find("invoicerows", invoiceGuid=stack.invoice(number)["guid"])
        written = _procountor_rows(stack, companies[number], number)
        assert len(written) == len(severa_rows)
        assert sorted(str(r.get("quantity")) for r in written) == sorted(str(float(r["quantity"]))
                                                                         for r in severa_rows)
