"""Read a topic to its end on the real broker (read_committed), for assertions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from connectors.polling import behind
from schemas.codec import CodecError, decode


def _decodable(value: bytes | None) -> bool:
    """Not a tombstone, nor another test's deliberately undecodable record (the projector's rejects)."""
    if value is None:
        return False
    try:
        decode(value)
    except CodecError:
        return False
    return True


async def read_events(bootstrap: str, topic: str, settle: float = 0.0) -> list[dict[str, Any]]:
    """Every decodable event on `topic`, in partition order; waits `settle` seconds for late writes."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + settle
        out: list[dict[str, Any]] = []
        while True:
            end = await consumer.end_offsets(tps)
            while await behind(consumer, end):
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    out += [decode(r.value)[1] for r in records if _decodable(r.value)]
            if time.monotonic() >= deadline:
                return out
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
