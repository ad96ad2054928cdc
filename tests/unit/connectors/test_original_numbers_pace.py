"""The duplicate search's shared listing under a backlog (connectors/procountor/original_numbers.py): one listing
answers every ask made before it starts, and listings follow each other at most every 2 seconds, so
that a backlog's asks (two per invoice) gather into few listings instead of one every half second. Procountor's
calls are stubbed: this is about when the listings start, not what they read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from connectors.procountor.original_numbers import OriginalNumbers


class Procountor:
    def __init__(self) -> None:
        self.listings: list[float] = []  # loop time each listing started
        self.searches = 0

    async def find_invoices_by_original_number(self, number: str, invoice_type: str) -> list[dict[str, Any]]:
        self.searches += 1
        await asyncio.sleep(0.05)
        return []

    async def iter_invoices_changed_since(self, since: Any, *, types: str) -> AsyncIterator[dict[str, Any]]:
        self.listings.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.05)
        return
        yield


async def test_a_backlogs_listings_start_at_least_two_seconds_apart() -> None:
    procountor = Procountor()
    numbers = OriginalNumbers(procountor, "SALES_INVOICE")  # type: ignore[arg-type]
    for burst in range(2):  # three asks at once, twice: the second burst right after the first one's listing
        answers = await asyncio.gather(*(numbers.find(f"{burst}-{n}") for n in range(3)))
        assert answers == [[], [], []]
    assert procountor.searches == 2  # each burst's first ask, alone, searched for itself
    first, second = procountor.listings
    assert second - first >= 2.0 - 0.01, procountor.listings
