"""Every aiokafka client of the project is made here, so delivery settings are written once.

Producers are idempotent with acks=all (no duplicate from a producer retry); consumers read committed records
only (never act on an aborted transaction) and commit their offsets themselves. The faust app's own clients get
the same settings through `streams/transport.py`.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas import topics


def idempotent_producer(bootstrap: str, **options: Any) -> AIOKafkaProducer:
    """A producer whose retries never duplicate a record."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", **options)


def transactional_producer(bootstrap: str, transactional_id: str, **options: Any) -> AIOKafkaProducer:
    """An idempotent producer whose records become visible together, or not at all."""
    return idempotent_producer(bootstrap, transactional_id=transactional_id, **options)


def read_committed_consumer(bootstrap: str, **options: Any) -> AIOKafkaConsumer:
    """A consumer that sees committed records only and commits its offsets itself (or not at all)."""
    options.setdefault("enable_auto_commit", False)
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed", **options)


def admin_client(bootstrap: str, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)


async def ensure_topics(bootstrap: str, partitions: int = 4, app_id: str | None = None) -> list[str]:
    """Create every topic that does not exist yet (compacted where it must be); returns those created.

    Done before the worker starts: faust ignores a source topic that is missing when it subscribes, and then
    never consumes it (for its leader topic: no worker is ever leader, so no poller runs); a topic auto-created
    by a producer would not be compacted.
    """
    admin = admin_client(bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        leader = [topics.leader_topic(app_id)] if app_id else []
        wanted = [*topics.all_topics(), topics.SMOKE_IN, topics.SMOKE_OUT, *leader]
        missing = [name for name in wanted if name not in existing]
        single = topics.COMPACTED | set(leader)
        if missing:
            new = [NewTopic(name, 1 if name in single else partitions, 1,
                            topic_configs={"cleanup.policy": "compact"} if name in topics.COMPACTED else {})
                   for name in missing]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another worker created them at the same moment
        return missing
    finally:
        await admin.close()
