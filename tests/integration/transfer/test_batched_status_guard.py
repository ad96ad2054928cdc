"""The guard before the Severa status PATCH, batched (issue 16): the transfers that reach their last step
together are checked by one `GET /v1/invoices?numbers=...`, and an invoice a user moves back to draft after
a batch read, before its own PATCH, is not moved. Both sandboxes over real sockets; calls counted at Severa."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.severa.invoice_reads import InvoiceReads

pytestmark = pytest.mark.integration
ONE = "GET /v1/invoices/{guid}"
LIST = "GET /v1/invoices"
WAITING = "Waiting for transfer to Procountor"
TRANSFERRED = "Transferred to Procountor"


def _calls(stack) -> dict[str, int]:
    return stack.severa_server.app.state.sandbox.stats.calls


def _status(stack, number: int) -> str:
    return stack.invoice(number)["status"]["name"]


async def test_guards_asking_together_share_one_read(stack) -> None:
    reads = InvoiceReads(stack.severa)
    numbers = (10002, 10003, 10004, 10005, 10006)
    before_one, before_list = _calls(stack)[ONE], _calls(stack)[LIST]

    found = await asyncio.gather(*(reads.current(stack.invoice(n)["guid"], n) for n in numbers))

    assert [f["number"] for f in found] == list(numbers)
    assert [f["status"]["name"] for f in found] == [WAITING] * len(numbers)
    assert _calls(stack)[LIST] == before_list + 1
    assert _calls(stack)[ONE] == before_one


async def test_invoice_moved_back_to_draft_after_the_batch_read_is_not_moved(stack) -> None:
    """Three invoices transferred together with one shared guard; a user moves 10003 back to Draft once the
    others' batch read is done and before 10003's own PATCH. The others are moved, 10003 stays a draft."""
    stack.severa_server.app.state.sandbox.config.latency_ms = 30
    reads = InvoiceReads(stack.severa)
    others = (10002, 10004)
    store = stack.severa_store

    async def emit(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))
        if name == "TransferOutcome" and record.get("source_number") == "10003" and record.get("step") == (
                "target_status"):
            for _ in range(500):  # until their guard read and PATCHes are done
                if all(_status(stack, n) == TRANSFERRED for n in others):
                    break
                await asyncio.sleep(0.01)
            store.set_invoice_status(stack.invoice(10003)["guid"],
                                     store.status_by_name("invoicestatuses", "Draft")["guid"])

    requests = [stack.request(n) for n in (10002, 10003, 10004)]
    transfer = stack.transfer(invoice_reads=reads)
    transfer.emit = emit
    before_one, before_list = _calls(stack)[ONE], _calls(stack)[LIST]
    results = await asyncio.gather(*(transfer.handle(r) for r in requests))

    assert all(r.state == "succeeded" for r in results), [r.error for r in results]
    assert [_status(stack, n) for n in others] == [TRANSFERRED] * 2
    assert _status(stack, 10003) == "Draft"
    # The guards and the pre-write checks were batched reads: no per-guid read at all.
    assert _calls(stack)[ONE] == before_one
    assert 2 <= _calls(stack)[LIST] - before_list <= 2 * len(requests)
