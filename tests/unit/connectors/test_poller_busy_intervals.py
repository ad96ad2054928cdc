"""A source's `busy_interval` (issue 16): while the API budget is saturated by a backlog of transfers, the
poller reads that source less often, and at its own pace again as soon as the backlog is gone. The reads
themselves are stubbed: this is about when `poll_due` reads, not what."""

from __future__ import annotations

import asyncio
from typing import Any

from connectors.polling import TICK_SLACK, EntitySource, Poller, PollStats
from connectors.severa.client import SeveraClient
from connectors.severa.poller import severa_poller


async def _nothing(_: Any):  # type: ignore[no-untyped-def]
    return
    yield


def _poller(busy: list[bool]) -> tuple[Poller, list[str]]:
    sources = [EntitySource("invoice", _nothing, "guid", "lastUpdatedDateTime", interval=0.01, busy_interval=1.0),
               EntitySource("customer", _nothing, "guid", "lastUpdatedDateTime", interval=0.01)]
    poller = Poller("unused:9092", "severa", "t", sources, busy=lambda: busy[0])
    read: list[str] = []

    async def poll_source(source: EntitySource) -> PollStats:
        read.append(source.entity)
        return PollStats()

    poller._poll_source = poll_source  # type: ignore[method-assign]  # noqa: SLF001
    return poller, read


async def _rounds_until(poller: Poller, done, limit: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    """Poll rounds until `done()` (bounded by `limit` seconds); the seconds they took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not done() and loop.time() - start < limit:
        await poller.poll_due()
        await asyncio.sleep(0.01)
    return loop.time() - start


async def test_a_busy_budget_slows_the_source_with_a_busy_interval_only() -> None:
    busy = [True]
    poller, read = _poller(busy)
    took = await _rounds_until(poller, lambda: read.count("customer") >= 30)  # its own pace: no busy interval
    assert read.count("customer") >= 30
    # Every 1 s at most (less the slack for the round timer's ticks), not every round.
    assert read.count("invoice") <= int(took / (1.0 - TICK_SLACK)) + 1, (read.count("invoice"), took)

    busy[0] = False  # the backlog is gone: the next rounds read it at its own pace again
    read.clear()
    await _rounds_until(poller, lambda: read.count("invoice") >= 5, limit=10.0)
    assert read.count("invoice") >= 5


async def test_a_busy_budget_reads_severas_invoices_every_2_s_and_registries_but_customers_every_5_minutes(
) -> None:
    """Under a backlog the invoices are read every 2 s (their reads answer the transfers' checks, and each
    rereads the overlap's changes: one or two pages), the registries (projects, users, products...) wait: a
    transfer reads what it needs of them itself. Customers keep their pace: their reads keep the transfers'
    customer cards current."""
    busy = [True]
    async with SeveraClient("http://127.0.0.1:9/rest-api", "id", "secret") as client:
        client.saturated = lambda: busy[0]  # type: ignore[method-assign]
        poller = severa_poller("unused:9092", "t", client, fast_interval=0.01, slow_interval=0.01)
        read: list[str] = []

        async def poll_source(source: EntitySource) -> PollStats:
            read.append(source.entity)
            return PollStats()

        poller._poll_source = poll_source  # type: ignore[method-assign]  # noqa: SLF001
        took = await _rounds_until(poller, lambda: read.count("customer") >= 300)
        assert read.count("customer") >= 300
        assert read.count("invoice") <= int(took / (2.0 - TICK_SLACK)) + 1, (read.count("invoice"), took)
        assert {entity: read.count(entity) for entity in ("project", "user", "product", "invoice_status")} == {
            "project": 1, "user": 1, "product": 1, "invoice_status": 1}

        busy[0] = False
        read.clear()
        await _rounds_until(poller, lambda: read.count("project") >= 5, limit=10.0)
        assert read.count("project") >= 5


async def test_a_busy_invoice_poll_waits_a_second_per_page_its_last_read_took() -> None:
    """At a backlog's start every read of the invoices rereads the whole backlog's status changes (the overlap):
    five or six pages every 2 s, a third of Severa's pace. While busy, the next read waits a second per page the
    last one took (at least 2 s, at most 4: the transfers' checks wait for these reads, up to 6 s)."""
    async with SeveraClient("http://127.0.0.1:9/rest-api", "id", "secret") as client:
        listed: list[int] = [0]

        async def invoices(**_: Any):  # type: ignore[no-untyped-def]
            for n in range(listed[0]):
                yield {"guid": f"g{n}", "lastUpdatedDateTime": "2026-11-30T12:00:00"}

        client.iter_invoices = invoices  # type: ignore[method-assign]
        poller = severa_poller("unused:9092", "t", client, entities=["invoice"])
        [source] = poller.sources
        intervals = []
        for count in (530, 350, 150, 0, 301):
            listed[0] = count
            assert len([item async for item in source.fetch(None)]) == count
            intervals.append(source.busy_interval)
        assert intervals == [4.0, 4.0, 2.0, 2.0, 4.0]
