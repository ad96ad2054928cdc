"""The shared poller on the real broker: one event per version, across restarts and a crash mid-transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.polling import EntitySource, Poller, parse_version
from schemas import topics

from .kafka_read import read_events

pytestmark = pytest.mark.integration


class FakeSystem:
    """An in-memory source with `lastUpdatedDateTime` versions and >= changedSince semantics."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.clock = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

    def write(self, guid: str, **fields: Any) -> None:
        self.clock += timedelta(seconds=1)
        self.items[guid] = {**self.items.get(guid, {}), "guid": guid, **fields,
                            "lastUpdatedDateTime": self.clock.isoformat()}

    async def changed(self, since: datetime | None) -> AsyncIterator[dict[str, Any]]:
        for item in list(self.items.values()):
            if since is None or parse_version(item["lastUpdatedDateTime"]) >= since:
                yield dict(item)


def _source(system: FakeSystem, entity: str) -> EntitySource:
    return EntitySource(entity, system.changed, "guid", "lastUpdatedDateTime")


async def _versions(bootstrap: str, topic: str, tenant: str) -> list[str]:
    return [e["event_id"] for e in await read_events(bootstrap, topic) if e["tenant"] == tenant]


async def test_one_event_per_version_across_restarts(kafka, unique) -> None:
    system, entity, tenant = FakeSystem(), f"thing{unique}", f"t{unique}"
    topic = topics.observed("fake", entity)
    system.write("a", name="A")
    system.write("b", name="B")
    async with Poller(kafka.bootstrap, "fake", tenant, [_source(system, entity)]) as poller:
        first = await poller.poll_once()
        again = await poller.poll_once()  # nothing changed: the overlap re-reads both, both are skipped
    assert first[entity].published == 2 and again[entity].published == 0 and again[entity].skipped == 2

    system.write("a", name="A2")
    async with Poller(kafka.bootstrap, "fake", tenant, [_source(system, entity)]) as restarted:
        await restarted.poll_once()
        await restarted.poll_once()
    ids = await _versions(kafka.bootstrap, topic, tenant)
    assert len(ids) == len(set(ids)) == 3
    assert sorted(i.split(":")[2] for i in ids) == ["a", "a", "b"]


async def test_bad_entity_becomes_an_error_event_and_the_rest_go_on(kafka, unique) -> None:
    system, entity, tenant = FakeSystem(), f"bad{unique}", f"t{unique}"
    system.write("ok", name="fine")
    system.items["broken"] = {"guid": "broken", "lastUpdatedDateTime": "yesterday-ish"}
    system.items["noid"] = {"name": "no guid", "lastUpdatedDateTime": system.clock.isoformat()}
    async with Poller(kafka.bootstrap, "fake", tenant, [_source(system, entity)]) as poller:
        stats = await poller.poll_once()
    assert stats[entity].published == 1 and stats[entity].errors == 2
    errors = [e for e in await read_events(kafka.bootstrap, topics.observation_errors("fake"))
              if e["tenant"] == tenant]
    messages = sorted(e["error"] for e in errors)
    assert any("'lastUpdatedDateTime' is not a date-time" in m and "broken" in m for m in messages)
    assert any("'guid' is missing" in m for m in messages)


async def test_crash_mid_transaction_loses_nothing_and_repeats_nothing(kafka, unique) -> None:
    system, entity, tenant = FakeSystem(), f"crash{unique}", f"t{unique}"
    topic = topics.observed("fake", entity)
    for n in range(5):
        system.write(f"g{n}", n=n)

    crashed = Poller(kafka.bootstrap, "fake", tenant, [_source(system, entity)])
    await crashed.start()
    producer = crashed._producer
    assert producer is not None
    hang = asyncio.Event()

    async def die_before_commit() -> None:  # the process "dies": the commit never reaches the broker
        await hang.wait()

    producer.commit_transaction = die_before_commit  # type: ignore[method-assign]
    producer.abort_transaction = die_before_commit  # type: ignore[method-assign]
    task = asyncio.create_task(crashed.poll_once())
    await asyncio.sleep(1.0)
    assert await _versions(kafka.bootstrap, topic, tenant) == []  # written but not committed: invisible

    # The replacement poller fences the dead one (same transactional id); its open transaction is aborted.
    async with Poller(kafka.bootstrap, "fake", tenant, [_source(system, entity)]) as replacement:
        await replacement.poll_once()
    task.cancel()
    ids = await _versions(kafka.bootstrap, topic, tenant)
    assert sorted(ids) == sorted(f"fake:{entity}:g{n}:{system.items[f'g{n}']['lastUpdatedDateTime']}" for n in range(5))
