"""The duplicate search before the Procountor create, batched (issue 16): the first attempts of a backlog that
reach their create together are searched with one `GET /invoices` listing, not one search each, and an
invoice somebody else makes in Procountor after an earlier listing, before this transfer's create, is still
found (a data error, nothing written, never a second invoice). Both sandboxes over real sockets; calls
counted at the Procountor sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from projections.store import ProjectionStore
from sandbox.procountor.demo import example_sales_invoice
from streams.sales_invoice import SalesInvoiceTransfer
from tests.integration.transfer.test_corrections_and_adoption import _logged

pytestmark = pytest.mark.integration
SEARCH = "GET /invoices"  # the search by originalInvoiceNumber and the listing alike
NUMBERS = (10002, 10003, 10004, 10009, 10010)  # the FI demo invoices that transfer


def _searches(stack) -> int:
    return stack.procountor_server.app.state.sandbox.stats.calls[SEARCH]


@pytest.fixture
def transfer_log(tmp_path: Path) -> Iterator[ProjectionStore]:
    store = ProjectionStore(tmp_path / "projections")
    try:
        yield store
    finally:
        store.close()


def _together(transfer: SalesInvoiceTransfer, parties: int) -> None:
    """The transfers leave their last Severa read (just before the create) together, as a backlog's do when one
    batched read answers them all: a barrier after `_still_requested`, so the test does not depend on timing."""
    barrier = asyncio.Barrier(parties)
    still_requested = transfer._still_requested

    async def then_wait(*args: Any, **kwargs: Any) -> None:
        await still_requested(*args, **kwargs)
        await barrier.wait()

    transfer._still_requested = then_wait  # type: ignore[method-assign]


async def test_a_backlog_is_searched_with_one_listing_not_once_per_invoice(stack, transfer_log) -> None:
    """As in the worker, each request and its `attempting` are in the transfer log when the transfer searches:
    neither makes it a retry (which searches per invoice)."""
    stack.procountor_server.app.state.sandbox.config.latency_ms = 100  # the first ask's own search is under way
    transfer = _logged(stack, transfer_log)
    _together(transfer, len(NUMBERS))
    requests = [stack.request(n) for n in NUMBERS]
    for request in requests:
        await transfer.emit("TransferRequested", request)
    before = _searches(stack)

    results = await asyncio.gather(*(transfer.handle(r) for r in requests))

    assert [r.state for r in results] == ["succeeded"] * len(NUMBERS), [r.error for r in results]
    assert [len(stack.procountor_invoices("FI", n)) for n in NUMBERS] == [1] * len(NUMBERS)
    # Before the first write: the first ask is alone (its own search), the four asking meanwhile share one listing
    # (one page). The last look right before each create (another attempt's invoice?) shares listings too when
    # they come together: at most one call each. Per invoice, as before, would be two each.
    numbers = transfer.contexts["FI"].original_numbers("SALES_INVOICE")
    assert numbers.listings >= 1
    assert _searches(stack) - before <= 2 + len(NUMBERS) < 2 * len(NUMBERS)


async def test_an_invoice_made_by_someone_else_after_the_listing_is_not_doubled(stack) -> None:
    """A listing has answered a backlog's asks; then somebody enters invoice 10010 by hand in Procountor (while
    the transfer downloads its PDF), before the transfer's create. The next listing (incremental: only what
    changed since the last one) finds it: 10010 fails as DUPLICATE_ORIGINAL_NUMBER with nothing written; the
    others are in Procountor once each."""
    stack.procountor_server.app.state.sandbox.config.latency_ms = 30
    first, late = NUMBERS[:-1], NUMBERS[-1]
    transfer = stack.transfer()
    _together(transfer, len(first))
    results = await asyncio.gather(*(transfer.handle(stack.request(n)) for n in first))
    assert [r.state for r in results] == ["succeeded"] * len(first), [r.error for r in results]
    numbers = transfer.contexts["FI"].original_numbers("SALES_INVOICE")
    assert numbers.listings >= 1, "the backlog's asks were answered by a listing"

    # Another ask stays under way meanwhile (its own search held), so 10010's ask is answered by a listing.
    search, held = numbers.client.find_invoices_by_original_number, asyncio.Event()

    async def held_search(number: str, types: Any = "SALES_INVOICE") -> list[dict[str, Any]]:
        if number == "held":
            await held.wait()
        return await search(number, types)

    numbers.client.find_invoices_by_original_number = held_search  # type: ignore[method-assign]
    holder = asyncio.create_task(numbers.find("held"))
    late_guid = stack.invoice(late)["guid"]
    download = stack.severa.get_invoice_pdf
    by_hand: dict[str, Any] = {}

    async def someone_enters_it_meanwhile(guid: str, **kwargs: Any) -> bytes:
        if guid == late_guid and not by_hand:
            by_hand.update(await stack.procountor["FI"].create_invoice(
                example_sales_invoice(originalInvoiceNumber=str(late))))
        return await download(guid, **kwargs)

    stack.severa.get_invoice_pdf = someone_enters_it_meanwhile  # type: ignore[method-assign]
    before, writes = _searches(stack), stack.writes()
    result = await stack.transfer(contexts=transfer.contexts).handle(stack.request(late))  # no barrier
    held.set()
    assert await holder == []

    assert by_hand, "the invoice was entered during the transfer"
    assert result.state == "failed_data" and result.error is not None
    assert result.error.code == "DUPLICATE_ORIGINAL_NUMBER", result.error
    assert [i["id"] for i in stack.procountor_invoices("FI", late)] == [by_hand["id"]]
    assert stack.writes() == writes + 1, "only the invoice entered by hand is written"
    assert _searches(stack) - before == 1 + 1, "a listing for 10010 (and the held search)"
    assert [len(stack.procountor_invoices("FI", n)) for n in first] == [1] * len(first)
    assert stack.severa_store.get("invoices", late_guid)["status"]["name"] == "Waiting for transfer to Procountor"
