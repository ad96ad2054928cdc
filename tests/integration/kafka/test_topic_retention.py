"""Nothing lost with time: event topics are the system of record (audit, replay), so they are created to keep
events forever, with replication from the settings; topics that delete events with time are reported."""

from __future__ import annotations

import pytest
from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from foundation.kafka import KafkaTopicsError, admin_client, ensure_topics, finite_retention
from schemas import topics

pytestmark = pytest.mark.integration
WEEK_MS = 7 * 24 * 3600 * 1000


async def _configs(bootstrap: str, name: str) -> dict[str, str]:
    admin = admin_client(bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    return {entry[0]: entry[1] for entry in described[0].resources[0][4]}


async def _create_with_a_week(bootstrap: str, name: str) -> None:
    """A topic as a cluster's defaults would make it: events deleted after seven days."""
    admin = admin_client(bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs={"retention.ms": str(WEEK_MS)})])
    finally:
        await admin.close()


async def test_event_topics_keep_events_forever_and_replicas_come_from_settings(kafka, own_topics) -> None:
    created = await ensure_topics(kafka.bootstrap, partitions=1, retention_ms=-1, replication=1, min_insync=1)
    assert set(topics.all_topics()) <= set(created)
    requests = await _configs(kafka.bootstrap, topics.transfer_requested("sales-invoice"))
    assert requests["retention.ms"] == "-1" and requests["cleanup.policy"] == "delete"
    assert requests["min.insync.replicas"] == "1"
    watermarks = await _configs(kafka.bootstrap, topics.poller_watermarks())
    assert watermarks["cleanup.policy"] == "compact"  # compacted as before: the latest per key is what matters
    assert await finite_retention(kafka.bootstrap) == {}


async def test_a_replication_factor_the_cluster_cannot_give_is_one_clear_error(kafka, own_topics) -> None:
    with pytest.raises(KafkaTopicsError) as refused:
        await ensure_topics(kafka.bootstrap, partitions=1, replication=3, min_insync=2)
    assert "InvalidReplicationFactor" in str(refused.value)


async def test_a_topic_that_deletes_events_with_time_is_reported(kafka, own_topics) -> None:
    short = topics.transfer_outcome("sales-invoice")
    await _create_with_a_week(kafka.bootstrap, short)
    await ensure_topics(kafka.bootstrap, partitions=1)  # the others are created to keep everything
    assert await finite_retention(kafka.bootstrap) == {short: f"retention.ms={WEEK_MS}"}
