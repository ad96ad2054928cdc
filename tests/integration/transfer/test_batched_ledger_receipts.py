"""The ledger receipt read before the row dimensions are written, batched (issue 16, drain): the transfers of a
backlog that reach the dimensions step together read their receipts with one `GET /ledgerreceipts/{ids}` (the
batch GET, procountor-api.md §3: up to 200 ids), not one read each; each receipt still gets its own rows'
dimension items (the PUT per invoice stays). An invoice alone reads its own receipt, as before. Both sandboxes
over real sockets; calls counted at the Procountor sandbox."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.sales_invoice import SalesInvoiceTransfer

pytestmark = pytest.mark.integration
RECEIPT_READS = "GET /ledgerreceipts/{ids}"  # one receipt or many: the same route
NUMBERS = (10002, 10003, 10004, 10009, 10010)  # the FI demo invoices that transfer


def _receipt_reads(stack) -> int:
    return stack.procountor_server.app.state.sandbox.stats.calls[RECEIPT_READS]


def _together_at_the_dimensions(transfer: SalesInvoiceTransfer, parties: int) -> None:
    """The transfers reach the row dimensions (right after their creates) together, as a backlog's do: a barrier
    before `_row_dimensions`, so that the test does not depend on timing."""
    barrier = asyncio.Barrier(parties)
    row_dimensions = transfer._row_dimensions

    async def together(*args: Any, **kwargs: Any) -> None:
        await barrier.wait()
        await row_dimensions(*args, **kwargs)

    transfer._row_dimensions = together  # type: ignore[method-assign]


def _dimensioned(stack, number: int) -> bool:
    """Every ledger entry of the invoice's receipt carries the three dimensions the demo's rows have."""
    company = stack.procountor_store.company("FI")
    [target] = stack.procountor_invoices("FI", number)
    names = {d["id"]: d["name"] for d in company.dimensions.values()}
    entries = [t for t in company.ledger_receipts[target["ledgerReceiptId"]]["transactions"]
               if t["transactionType"] == "ENTRY"]
    wanted = {"Projects", "Cost centers", "Business units"}
    return bool(entries) and all(
        {names[v["dimensionId"]] for v in entry["dimensionItemValues"]} == wanted
        and all(v["value"] == entry["accountingValue"] for v in entry["dimensionItemValues"])
        for entry in entries)


async def test_a_backlogs_receipts_are_read_in_one_batch(stack) -> None:
    stack.procountor_server.app.state.sandbox.config.latency_ms = 50  # the first receipt's own read is under way
    transfer = stack.transfer()
    _together_at_the_dimensions(transfer, len(NUMBERS))
    before = _receipt_reads(stack)

    results = await asyncio.gather(*(transfer.handle(stack.request(n)) for n in NUMBERS))

    assert [r.state for r in results] == ["succeeded"] * len(NUMBERS), [r.error for r in results]
    assert [len(stack.procountor_invoices("FI", n)) for n in NUMBERS] == [1] * len(NUMBERS)
    assert all(_dimensioned(stack, n) for n in NUMBERS)
    # The first alone reads its own receipt; the four asking meanwhile share one batch read (before: five reads).
    assert _receipt_reads(stack) - before == 2


async def test_an_invoice_alone_reads_its_own_receipt(stack) -> None:
    before = _receipt_reads(stack)
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    assert _dimensioned(stack, 10002)
    assert _receipt_reads(stack) - before == 1
