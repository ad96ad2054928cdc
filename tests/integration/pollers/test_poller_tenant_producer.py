"""A tenant's pollers share one transactional producer (`poller-<tenant>`) on the real broker: they take turns,
and the worker that takes the tenant over fences every one of them, also one it does not run itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import KafkaError

from connectors.polling import EntitySource, Poller, TenantProducer, parse_version
from schemas import topics

from .kafka_read import read_events

pytestmark = pytest.mark.integration


class SlowSystem:
    """An in-memory source with `lastUpdatedDateTime` versions that answers item by item (other tasks run in
    between, as between the pages of a real answer)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.clock = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

    def write(self, guid: str) -> None:
        self.clock += timedelta(seconds=1)
        self.items[guid] = {"guid": guid, "lastUpdatedDateTime": self.clock.isoformat()}

    async def changed(self, since: datetime | None) -> AsyncIterator[dict[str, Any]]:
        for item in list(self.items.values()):
            await asyncio.sleep(0.01)
            if since is None or parse_version(item["lastUpdatedDateTime"]) >= since:
                yield dict(item)


def _poller(bootstrap: str, system: str, tenant: str, source: SlowSystem, entity: str,
            producer: TenantProducer) -> Poller:
    return Poller(bootstrap, system, tenant, [EntitySource(entity, source.changed, "guid", "lastUpdatedDateTime")],
                  producer=producer)


async def _ids(bootstrap: str, topic: str, tenant: str) -> list[str]:
    return sorted(e["entity_id"] for e in await read_events(bootstrap, topic) if e["tenant"] == tenant)


async def test_a_tenants_pollers_polling_at_once_publish_every_version_once(kafka, unique) -> None:
    tenant, entity = f"t{unique}", f"shared{unique}"
    severa, procountor = SlowSystem(), SlowSystem()
    for n in range(5):
        severa.write(f"s{n}")
        procountor.write(f"p{n}")
    producer = TenantProducer(kafka.bootstrap, tenant)
    await producer.start()
    try:
        pollers = [_poller(kafka.bootstrap, "fakesev", tenant, severa, entity, producer),
                   _poller(kafka.bootstrap, "fakepro", tenant, procountor, entity, producer)]
        for poller in pollers:
            await poller.start()
        first = await asyncio.gather(*(poller.poll_once() for poller in pollers))  # both transactions at once
        severa.write("s5")
        procountor.write("p5")
        second = await asyncio.gather(*(poller.poll_once() for poller in pollers))
        for poller in pollers:
            await poller.stop()
    finally:
        await producer.stop()
    assert [stats[entity].published for stats in first] == [5, 5]
    assert [stats[entity].published for stats in second] == [1, 1]
    assert await _ids(kafka.bootstrap, topics.observed("fakesev", entity), tenant) == [f"s{n}" for n in range(6)]
    assert await _ids(kafka.bootstrap, topics.observed("fakepro", entity), tenant) == [f"p{n}" for n in range(6)]


async def test_the_worker_taking_a_tenant_over_fences_all_its_pollers_on_the_old_worker(kafka, unique) -> None:
    """The old worker polled Severa and a company's Procountor; the company stopped importing, so the worker that
    takes the tenant over polls only Severa. The old worker's Procountor poller must not publish either."""
    tenant, entity = f"t{unique}", f"fenced{unique}"
    severa, procountor = SlowSystem(), SlowSystem()
    severa.write("s0")
    procountor.write("p0")
    old = TenantProducer(kafka.bootstrap, tenant)
    await old.start()
    old_pollers = [_poller(kafka.bootstrap, "fakesev", tenant, severa, entity, old),
                   _poller(kafka.bootstrap, "fakepro", tenant, procountor, entity, old)]
    for poller in old_pollers:
        await poller.start()
        await poller.poll_once()

    new = TenantProducer(kafka.bootstrap, tenant)
    await new.start()  # the takeover
    try:
        takeover = _poller(kafka.bootstrap, "fakesev", tenant, severa, entity, new)
        await takeover.start()
        severa.write("s1")
        procountor.write("p1")
        for poller in old_pollers:  # the zombie's next transactions are refused
            with pytest.raises(KafkaError):
                await poller.poll_once()
        assert (await takeover.poll_once())[entity].published == 1
        await takeover.stop()
    finally:
        await new.stop()
        for poller in old_pollers:
            await poller.stop()
        await old.stop()
    assert await _ids(kafka.bootstrap, topics.observed("fakesev", entity), tenant) == ["s0", "s1"]
    assert await _ids(kafka.bootstrap, topics.observed("fakepro", entity), tenant) == ["p0"]
