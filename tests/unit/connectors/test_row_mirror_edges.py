"""Edge cases of the invoice row mirror that the sandboxes cannot stage: a row deleted from a draft (the
listing never shows a deletion), an invoice older than the mirror's reach, a listing that fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.severa.row_mirror import InvoiceRowMirror

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _row(guid: str, amount: float, quantity: float = 1.0) -> dict[str, Any]:
    return {"guid": guid, "invoiceGuid": "inv", "quantity": quantity, "unitPrice": {"amount": amount},
            "sortOrder": int(guid[-1]), "lastUpdatedDateTime": (NOW - timedelta(hours=1)).isoformat()}


class Listing:
    def __init__(self, rows: list[dict[str, Any]], fail: bool = False) -> None:
        self.rows, self.fail, self.reads = rows, fail, 0

    async def iter_invoice_rows(self, *, changed_since: Any = None) -> AsyncIterator[dict[str, Any]]:
        self.reads += 1
        if self.fail:
            raise RuntimeError("Severa is down")
        for row in self.rows:
            yield row


def _invoice(total: float, created: datetime = NOW - timedelta(hours=2)) -> dict[str, Any]:
    return {"guid": "inv", "createdDateTime": created.isoformat(), "totalExcludingTax": {"amount": total}}


def _mirror(listing: Listing) -> InvoiceRowMirror:
    return InvoiceRowMirror(listing, clock=lambda: NOW)  # type: ignore[arg-type]


VERSION = (NOW - timedelta(minutes=5)).isoformat()


async def test_rows_that_add_up_are_answered_in_order() -> None:
    listing = Listing([_row("r2", 30.0), _row("r1", 10.0, 2.0)])
    rows = await _mirror(listing).rows(_invoice(50.0), VERSION)
    assert [r["guid"] for r in rows or []] == ["r1", "r2"]


async def test_a_row_deleted_from_the_draft_sends_the_caller_to_the_per_invoice_read() -> None:
    # r2 was deleted in Severa (the invoice's total fell to 20), but the listing showed it before.
    assert await _mirror(Listing([_row("r1", 20.0), _row("r2", 30.0)])).rows(_invoice(20.0), VERSION) is None


async def test_an_invoice_older_than_the_mirror_reach_is_not_answered() -> None:
    invoice = _invoice(20.0, created=NOW - timedelta(days=3))
    assert await _mirror(Listing([_row("r1", 20.0)])).rows(invoice, VERSION) is None


async def test_a_fresh_status_change_is_not_waited_for() -> None:
    listing = Listing([_row("r1", 20.0)])
    assert await _mirror(listing).rows(_invoice(20.0), (NOW - timedelta(seconds=1)).isoformat()) is None
    assert listing.reads == 0


async def test_a_failed_listing_sends_the_caller_to_the_per_invoice_read() -> None:
    assert await _mirror(Listing([], fail=True)).rows(_invoice(20.0), VERSION) is None


async def test_a_fresh_invoice_alone_is_read_per_invoice_and_its_read_errors_are_the_callers() -> None:
    listing = Listing([_row("r1", 20.0)])
    fresh = (NOW - timedelta(seconds=1)).isoformat()

    async def read_alone() -> list[dict[str, Any]]:
        return [_row("r9", 20.0)]

    rows = await _mirror(listing).rows(_invoice(20.0), fresh, read_alone=read_alone)
    assert [r["guid"] for r in rows or []] == ["r9"]
    assert listing.reads == 0  # alone: no listing

    async def gone() -> list[dict[str, Any]]:
        raise LookupError("invoice deleted")

    with pytest.raises(LookupError, match="invoice deleted"):  # not swallowed: the caller reads again
        await _mirror(listing).rows(_invoice(20.0), fresh, read_alone=gone)
