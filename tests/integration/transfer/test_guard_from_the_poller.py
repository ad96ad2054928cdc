"""The reads before a transfer's first write and before its status PATCH, answered by the invoice poller's own
changed-since read under a backlog (issue 16): no call of their own, and never stale: an invoice a user moves
back to draft after its check asked is not moved. Both sandboxes over real sockets; the poller's read is the
leader's `GET /v1/invoices?changedSince=` as `Poller.poll_due` runs it (here without Kafka)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.severa.invoice_reads import InvoiceReads
from connectors.severa.row_mirror import InvoiceRowMirror

pytestmark = pytest.mark.integration
WAITING = "Waiting for transfer to Procountor"
TRANSFERRED = "Transferred to Procountor"


def _status(stack, number: int) -> str:
    return stack.invoice(number)["status"]["name"]


@contextlib.asynccontextmanager
async def _polling(stack, reads: InvoiceReads, since: Callable[[], datetime | None]) -> AsyncIterator[None]:
    """The invoice poller reading every 50 ms (each read from `since()`), its reads watched by `reads`."""
    read = reads.watching(lambda start: stack.severa.iter_invoices(changed_since=start))
    first = asyncio.Event()

    async def poll() -> None:
        while True:
            async for _ in read(since()):
                pass
            first.set()
            await asyncio.sleep(0.05)

    task = asyncio.create_task(poll())
    await asyncio.wait_for(first.wait(), 10)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _numbered_reads(stack) -> list[dict[str, Any]]:
    """The `GET /v1/invoices?numbers=` reads of the transfers' own (the poller's reads go through iter_invoices)."""
    real, made = stack.severa.list_invoices, []

    async def counted(**filters: Any) -> list[dict[str, Any]]:
        made.append(filters)
        return await real(**filters)

    stack.severa.list_invoices = counted
    return made


async def test_under_a_backlog_the_pollers_read_answers_and_a_draft_is_not_moved(stack) -> None:
    """Three invoices transferred while the budget is saturated: every check is answered by the poller's reads
    (the unchanged invoices are absent from them: their snapshots are current), none reads for itself; 10003,
    moved back to Draft before its PATCH's check asked, shows in the next read as a draft and is not moved."""
    reads = InvoiceReads(stack.severa, busy=lambda: True, page_wait=60.0)  # a stalled machine never times it out
    numbered = _numbered_reads(stack)
    store = stack.severa_store
    since: list[datetime | None] = [None]  # the first read is a full read: the poller has seen every version

    async def emit(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))
        if name == "TransferOutcome" and record.get("source_number") == "10003" and record.get("step") == (
                "target_status"):
            store.set_invoice_status(stack.invoice(10003)["guid"], store.status_by_name("invoicestatuses",
                                                                                         "Draft")["guid"])

    transfer = stack.transfer(invoice_reads=reads)
    transfer.emit = emit
    async with _polling(stack, reads, lambda: since[0]):
        since[0] = datetime.now(UTC)  # later reads: changed since now, where the seeded invoices are not
        results = await asyncio.gather(*(transfer.handle(stack.request(n)) for n in (10002, 10003, 10004)))

    assert all(r.state == "succeeded" for r in results), [r.error for r in results]
    assert [_status(stack, n) for n in (10002, 10004)] == [TRANSFERRED] * 2
    assert _status(stack, 10003) == "Draft"
    assert numbered == []
    assert reads.answered_by_pages == 6  # the check before the first write and the guard, of each


async def test_a_version_the_poller_never_saw_is_read_by_number(stack) -> None:
    """The poller started after the invoices' last change (it never saw their versions): an invoice absent
    from its read is not vouched for, so the checks read it themselves, and the transfer is still right."""
    reads = InvoiceReads(stack.severa, busy=lambda: True)
    numbered = _numbered_reads(stack)
    started = datetime.now(UTC)

    async with _polling(stack, reads, lambda: started):
        result = await stack.transfer(invoice_reads=reads).handle(stack.request(10002))

    assert result.state == "succeeded", result.error
    assert _status(stack, 10002) == TRANSFERRED
    assert len(numbered) == 2  # before the first write, and before the PATCH
    assert reads.answered_by_pages == 0



@pytest.mark.parametrize("attachments", ["none", "pdf"])
async def test_an_invoice_deleted_while_waiting_is_not_written(stack, attachments: str) -> None:
    """A user deletes an invoice that waits for transfer, under a backlog, with its rows in the row mirror:
    Severa's changed-since reads never list deleted invoices, so the poller's read vouches for its snapshot.
    What stops the write is the per-invoice read every transfer makes before its first write: the PDF
    (`pdf`), or the invoice's files and invoice settings, which decide whether a PDF goes along (`none`).
    Nothing is written to Procountor, and the transfer does not claim success."""
    chosen = {code: company.model_copy(update={"sales_invoices": company.sales_invoices.model_copy(
        update={"attachments": attachments})}) for code, company in stack.companies.items()}
    stack.companies.clear()
    stack.companies.update(chosen)
    reads = InvoiceReads(stack.severa, busy=lambda: True, page_wait=60.0)
    mirror = InvoiceRowMirror(stack.severa, lag=timedelta(seconds=0.5), horizon=timedelta(days=3650))
    await asyncio.sleep(0.6)  # the seeded status changes are older than the mirror's lag
    await mirror.refresh()
    since: list[datetime | None] = [None]
    request = stack.request(10002)

    async with _polling(stack, reads, lambda: since[0]):
        since[0] = datetime.now(UTC)
        stack.severa_store.delete("invoices", stack.invoice(10002)["guid"])
        result = await stack.transfer(invoice_reads=reads, row_mirror=mirror).handle(request)

    assert result.state == "failed_data", result
    assert result.error is not None and result.error.record == "sales invoice 10002"
    assert stack.procountor_invoices("FI", 10002) == []
