"""A replay never switches the read models to a version with fewer events than the current one.

Topics truncated by retention, or a command pointed at the wrong (or an empty) broker, would otherwise replace a
complete transfer log with a shorter one. `--since` says that older events are meant to be left out.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import RecordsToDelete

from foundation.kafka import admin_client, ensure_topics, idempotent_producer
from projections import testing as ev
from projections import versions
from projections.replay import ReplayRefused, replay
from projections.store import ProjectionStore
from schemas import topics
from schemas.codec import encode

pytestmark = pytest.mark.integration


async def _publish(bootstrap: str, events: list[tuple]) -> None:
    producer = idempotent_producer(bootstrap)
    await producer.start()
    try:
        for topic, key, name, record in events:
            await producer.send_and_wait(topic, encode(name, record), key=key, partition=0)
    finally:
        await producer.stop()


async def test_a_truncated_topic_is_not_replayed_over_a_complete_log(kafka, unique, own_topics, tmp_path) -> None:
    root = tmp_path / "proj"
    await ensure_topics(kafka.bootstrap, partitions=1)
    requests = [ev.requested("t1", f"inv-{i}", number=str(1000 + i)) for i in range(6)]
    await _publish(kafka.bootstrap, requests)
    first = await replay(kafka.bootstrap, root)
    with ProjectionStore(root) as store:
        assert len(store.transfers(tenant="t1")) == 6

    # Retention (or an operator) deletes the oldest three requests from the topic.
    admin = admin_client(kafka.bootstrap)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topics.transfer_requested("sales-invoice"), 0): RecordsToDelete(3)})
    finally:
        await admin.close()

    with pytest.raises(ReplayRefused) as refused:
        await replay(kafka.bootstrap, root)
    message = str(refused.value)
    assert "3" in message and "6" in message and "--since" in message
    assert versions.current_version(root) == first.version  # nothing switched
    assert versions.versions(root) == [first.version]  # and the shorter version is not left lying around
    with ProjectionStore(root) as store:
        assert len(store.transfers(tenant="t1")) == 6

    # The command line says the same in one line, and switches nothing either.
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "sevpro.cli", "replay", "--db", str(root), "--bootstrap",
                         kafka.bootstrap], capture_output=True, text=True, timeout=120,
        env={**os.environ, "SEVPRO_TOPIC_PREFIX": topics.prefix(), "COLUMNS": "300"})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "fewer events" in output and "--since" in output and "Traceback" not in output
    assert versions.current_version(root) == first.version

    # --since: leaving out what came before is what the operator means.
    since = await replay(kafka.bootstrap, root, since=datetime(2000, 1, 1, tzinfo=UTC))
    assert versions.current_version(root) == since.version != first.version
    with ProjectionStore(root) as store:
        assert len(store.transfers(tenant="t1")) == 3


async def test_an_empty_broker_is_not_replayed_over_a_complete_log(kafka, unique, own_topics, tmp_path) -> None:
    root = tmp_path / "proj"
    await ensure_topics(kafka.bootstrap, partitions=1)
    await _publish(kafka.bootstrap, [ev.requested("t1", "inv-1", number="1001")])
    first = await replay(kafka.bootstrap, root)
    topics.configure(f"elsewhere-{unique}.")  # the same commands against a cluster without these events
    await ensure_topics(kafka.bootstrap, partitions=1)
    with pytest.raises(ReplayRefused):
        await replay(kafka.bootstrap, root)
    assert versions.current_version(root) == first.version


async def test_a_replay_over_a_store_of_schema_version_2(kafka, unique, own_topics, tmp_path) -> None:
    """The read models of schema version 2 (each event and request with its own copy of the snapshot) are read as
    they are; a replay builds version 3 (each snapshot once) beside them and switches to it, answering the same."""
    from tests.unit.projections.test_snapshot_storage import as_schema_version_2

    root = tmp_path / "proj"
    await ensure_topics(kafka.bootstrap, partitions=1)
    events = []
    for i in range(4):
        snapshot = {"guid": f"inv-{i}", "number": 5000 + i, "notes": "x" * 2000}
        _, _, _, request = req = ev.requested("t2", f"inv-{i}", number=str(5000 + i), snapshot=snapshot, seconds=i)
        events += [ev.observed("t2", "severa", "invoice", f"inv-{i}", snapshot, seconds=i), req,
                   ev.outcome(request, "succeeded", seconds=i + 0.5, target_id=str(900 + i))]
    await _publish(kafka.bootstrap, events)
    first = await replay(kafka.bootstrap, root)
    as_schema_version_2(versions.version_path(root, first.version))

    def reads() -> dict:
        with ProjectionStore(root) as store:
            return {"history": [store.history(f"inv-{i}", tenant="t2") for i in range(4)],
                    "requests": [store.requests_of("t2", "sales-invoice", f"inv-{i}") for i in range(4)],
                    "log": store.transfers(tenant="t2"), "events": store.events(tenant="t2")}

    before = reads()
    assert len(before["events"]) == 12 and all(e["payload"].get("snapshot") for e in before["events"][:2])
    second = await replay(kafka.bootstrap, root)
    assert versions.current_version(root) == second.version != first.version
    assert reads() == before
    with ProjectionStore(root) as store:
        assert store.meta()["schema_version"] == "3"
        assert store.db.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 4  # once each, not three times
