"""A poll round that finds nothing new writes nothing to Kafka (issue 14: the CPU of a pool worker's poll). Most of
a thousand tenants' rounds find nothing; each used to commit a Kafka transaction holding only the same watermark
again. Exactly-once holds: a round that publishes commits its events with its watermark, and a restarted poller
publishes nothing the skipped rounds had seen."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.polling import EntitySource, Poller
from schemas import topics

from .kafka_read import read_events
from .test_poller_exactly_once import FakeSystem

pytestmark = pytest.mark.integration


async def _watermarks(bootstrap: str, tenant: str, entity: str) -> list[dict[str, Any]]:
    return [w for w in await read_events(bootstrap, topics.poller_watermarks())
            if w["tenant"] == tenant and w["entity"] == entity]


async def _events(bootstrap: str, entity: str, tenant: str) -> list[str]:
    return [e["event_id"] for e in await read_events(bootstrap, topics.observed("fake", entity))
            if e["tenant"] == tenant]


async def test_rounds_with_nothing_new_write_no_watermark_and_a_change_is_published_once(kafka, unique) -> None:
    system, entity, tenant = FakeSystem(), f"quiet{unique}", f"q{unique}"
    system.write("a", name="A")
    async with Poller(kafka.bootstrap, "fake", tenant, [EntitySource(entity, system.changed, "guid",
                                                                     "lastUpdatedDateTime")]) as poller:
        assert (await poller.poll_once())[entity].published == 1
        for _ in range(3):  # the overlap reads "a" again each time: skipped, and nothing to write
            assert (await poller.poll_once())[entity].skipped == 1
        assert len(await _watermarks(kafka.bootstrap, tenant, entity)) == 1

        system.write("a", name="A2")
        assert (await poller.poll_once())[entity].published == 1
    marks = await _watermarks(kafka.bootstrap, tenant, entity)
    assert len(marks) == 2 and marks[-1]["watermark"] == system.items["a"]["lastUpdatedDateTime"]

    async with Poller(kafka.bootstrap, "fake", tenant, [EntitySource(entity, system.changed, "guid",
                                                                     "lastUpdatedDateTime")]) as restarted:
        assert (await restarted.poll_once())[entity].published == 0  # the watermark of its events was committed
    assert len(await _events(kafka.bootstrap, entity, tenant)) == 2


async def test_a_full_read_source_and_an_empty_one_write_only_when_something_changed(kafka, unique) -> None:
    """A source without a change filter (read in full and compared), and one that answers nothing (a company's
    payments switched off): their quiet rounds write nothing either."""
    system, tenant = FakeSystem(), f"f{unique}"
    full, empty = f"full{unique}", f"empty{unique}"
    system.write("s1", name="Open")

    async def nothing(_: Any):  # type: ignore[no-untyped-def]
        return
        yield

    sources = [EntitySource(full, system.changed, "guid", None, incremental=False),
               EntitySource(empty, nothing, "guid", "lastUpdatedDateTime")]
    async with Poller(kafka.bootstrap, "fake", tenant, sources) as poller:
        for _ in range(3):
            await poller.poll_once()
        system.write("s1", name="Closed")
        assert (await poller.poll_once())[full].published == 1
        await poller.poll_once()
    assert len(await _watermarks(kafka.bootstrap, tenant, full)) == 2  # the first read, and the change
    assert await _watermarks(kafka.bootstrap, tenant, empty) == []
    assert len(await _events(kafka.bootstrap, full, tenant)) == 2
