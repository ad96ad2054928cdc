"""`sevpro forget` on the real broker: the person leaves the read models at once, a tombstone lands on the
compacted user topic, and a projector built later from the topics (a replay) forgets them too."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from connectors.polling import behind
from foundation.kafka import ensure_topics
from projections import testing as ev
from projections.forget import person_topic_compacted
from projections.projector import Projector
from projections.store import ProjectionStore, person_topic
from schemas import topics
from schemas.codec import encode

pytestmark = pytest.mark.integration

USER = {"guid": "user-guid-1", "firstName": "Maija", "lastName": "Meikäläinen", "code": "E042",
        "email": "maija@kumpula.example", "lastUpdatedDateTime": "2026-11-20T10:00:00Z",
        "socialSecurityNumber": "131052-308T", "bankAccountNumber": "FI2112345600000785"}


async def _publish(bootstrap: str, *events: tuple) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, key, name, record in events:
            await producer.send_and_wait(topic, encode(name, record), key=key)
    finally:
        await producer.stop()


async def _values_of(bootstrap: str, key: bytes) -> list[bytes | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - every partition (other tests made 4)
        tps = [TopicPartition(person_topic(), p) for p in consumer.partitions_for_topic(person_topic()) or {0}]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        values: list[bytes | None] = []
        while await behind(consumer, end):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values += [r.value for r in records if r.key == key]
        return values
    finally:
        await consumer.stop()


def test_forget_a_person(kafka, unique, tmp_path: Path) -> None:
    tenant = f"gdpr{unique}"
    asyncio.run(ensure_topics(kafka.bootstrap, partitions=1))
    guid = f"user-{unique}"
    user = USER | {"guid": guid}
    link = ev.linked(tenant, "person", "E042", "701", severa_id=guid, created=True)
    asyncio.run(_publish(kafka.bootstrap, ev.observed(tenant, "severa", "user", guid, user), link))
    live = tmp_path / "live"

    async def project(root: Path) -> None:
        async with Projector(kafka.bootstrap, root) as projector:
            await projector.catch_up()

    asyncio.run(project(live))
    with ProjectionStore(live) as store:
        assert sorted(e["type"] for e in store.history(guid, tenant)) == ["EntityObserved", "IdLinked"]
        assert "131052-308T" not in json.dumps(store.dump(tenant))  # minimised when applied

    env = {**os.environ, "COLUMNS": "300"}
    forgot = subprocess.run([sys.executable, "-m", "sevpro.cli", "forget", guid, "--tenant", tenant, "--db",
                             str(live), "--bootstrap", kafka.bootstrap], capture_output=True, text=True, timeout=120,
                            env=env)
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert f"forgot {guid} of tenant {tenant}: 2 of their events and 1 ID map link(s) removed" in forgot.stdout
    with ProjectionStore(live) as store:
        assert store.history(guid, tenant) == [] and store.id_map(tenant=tenant) == []

    # On the topic: the person's version, then the tombstone that compaction keeps in its place.
    values = asyncio.run(_values_of(kafka.bootstrap, topics.key(tenant, guid)))
    assert len(values) == 2 and values[-1] is None
    assert asyncio.run(person_topic_compacted(kafka.bootstrap)) is True

    # A projector built later from the topics (a replay) forgets the person too.
    rebuilt = tmp_path / "rebuilt"
    asyncio.run(project(rebuilt))
    with ProjectionStore(rebuilt) as store:
        assert store.history(guid, tenant) == [] and store.id_map(tenant=tenant) == []
        assert (tenant, guid) in store.forgotten()
