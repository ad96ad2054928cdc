"""The worker's invoice row mirror (issue 16): rows of many invoices in one `GET /v1/invoicerows` page instead
of one `GET /v1/invoices/{guid}/invoicerows` per invoice, and the per-invoice read whenever the mirror cannot
answer for an invoice's rows. Both sandboxes over real sockets; calls counted at the Severa sandbox."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

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


async def test_a_backlogs_fresh_invoices_share_one_listing_that_starts_after_they_ask(stack) -> None:
    """At a backlog's start every invoice's status change is younger than the mirror's lag. The first invoice
    alone reads its rows per invoice, as an idle one does; the invoices asking meanwhile share one listing that
    starts after they ask, so a row edited after the mirror's last read is written as edited (never the
    mirror's older copy)."""
    mirror = InvoiceRowMirror(stack.severa)  # lag 10 s: the seeded status changes are too fresh for it
    await mirror.refresh()  # the mirror holds the rows as they are now
    store = stack.severa_store
    _move(stack, 10003, "Draft")
    row = min(store.find("invoicerows", invoiceGuid=stack.invoice(10003)["guid"]), key=lambda r: r["sortOrder"])
    store.update("invoicerows", row["guid"], {"description": "Edited while the backlog waited"})
    _move(stack, 10003, WAITING)
    before = dict(_calls(stack))
    real_read, real_listing, real_rows = stack.severa.get_invoice_rows, stack.severa.iter_invoice_rows, mirror.rows
    numbers = (10002, 10003, 10004)
    listed, all_asked = asyncio.Event(), asyncio.Event()
    asked: list[str] = []

    def listing(**how: Any) -> Any:
        listed.set()
        return real_listing(**how)

    async def rows(invoice: dict, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(invoice.get("guid")))
        if len(asked) == len(numbers):
            all_asked.set()
        return await real_rows(invoice, *args, **kwargs)

    async def read_once_a_listing_is_under_way(invoice_guid: str) -> list[dict]:
        # Holds a per-invoice read until every invoice has asked and the others' listing has begun (at most
        # 30 s each: without a shared listing every invoice reads its own rows, which the count below shows).
        # Under load the transfers reach their rows seconds apart: an ask after the first read had ended would
        # be alone again, and read per invoice, as the idle invoice does.
        for event in (all_asked, listed):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), 30)
        return await real_read(invoice_guid)

    stack.severa.iter_invoice_rows = listing  # type: ignore[method-assign]
    stack.severa.get_invoice_rows = read_once_a_listing_is_under_way  # type: ignore[method-assign]
    mirror.rows = rows  # type: ignore[method-assign]
    requests = {number: stack.request(number) for number in numbers}
    results = await asyncio.gather(*(stack.transfer(row_mirror=mirror).handle(requests[n]) for n in numbers))

    assert [r.state for r in results] == ["succeeded"] * 3, [r.error for r in results]
    assert _calls(stack)[PER_INVOICE] == before.get(PER_INVOICE, 0) + 1
    # One listing, or two when the second invoice asked after the first one's listing had begun.
    assert 1 <= _calls(stack)[LISTING] - before.get(LISTING, 0) <= 2
    descriptions = [r.get("product") for r in _procountor_rows(stack, requests[10003]["company"], 10003)]
    assert "Edited while the backlog waited" in descriptions, descriptions
    for number in numbers:
        severa_rows = store.find("invoicerows", invoiceGuid=stack.invoice(number)["guid"])
        assert len(_procountor_rows(stack, requests[number]["company"], number)) == len(severa_rows)
