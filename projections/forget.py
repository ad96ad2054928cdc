"""`sevpro forget`: erase a person (a Severa user) from what the integration keeps.

The read models forget at once (projections.apply.forget_person); the tombstone (key tenant/<user guid>, no
value) on the compacted topic severa.user.observed makes Kafka drop the person's snapshots at its next
compaction, and tells every projector, and any later replay, to forget them too.
"""

from __future__ import annotations

from foundation.kafka import admin_client, idempotent_producer
from projections.store import person_topic
from schemas import topics


async def publish_tombstone(bootstrap: str, tenant: str, severa_id: str) -> None:
    producer = idempotent_producer(bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(person_topic(), None, key=topics.key(tenant, severa_id))
    finally:
        await producer.stop()


async def person_topic_compacted(bootstrap: str) -> bool | None:
    """Whether severa.user.observed is compacted (None: it could not be asked): a topic created before it
    was made compacted keeps the person's old versions until it is altered (README, "Personal data")."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = admin_client(bootstrap)
    await admin.start()
    try:
        answers = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, person_topic())])
        for answer in answers:
            for resource in answer.resources:
                for entry in resource[4]:  # (name, value, read_only, is_default, is_sensitive, ...)
                    if entry[0] == "cleanup.policy":
                        return "compact" in str(entry[1])
        return None
    except Exception:  # noqa: BLE001 - only a warning depends on it
        return None
    finally:
        await admin.close()
