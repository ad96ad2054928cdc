"""How far the projector is behind the topics: Kafka's end offsets against the offsets stored with the models.

Asked on demand (a page view or a scrape), with a short timeout: the console must still answer when the
broker is away, and then says so instead of showing a lag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

EndOffsets = dict[tuple[str, int], int]
EndOffsetsFetcher = Callable[[str], Awaitable[EndOffsets]]


@dataclass
class Lag:
    """Per partition: the end offset, the last applied offset and the records not applied yet.

    With read_committed the end offset is the last stable offset; it still counts transaction markers, so a
    partition written by a transactional producer can show a lag of 1 when everything has been applied."""

    bootstrap: str
    error: str | None = None
    partitions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(p["lag"] for p in self.partitions)

    def as_json(self) -> dict[str, Any]:
        return {"bootstrap": self.bootstrap, "error": self.error, "total": self.total if not self.error else None,
                "partitions": self.partitions}


# Seconds a page or a scrape waits for the broker before it shows "Kafka unreachable".
END_OFFSETS_TIMEOUT = 3.0


async def kafka_end_offsets(bootstrap: str) -> EndOffsets:
    """The end offset of every partition of the projection topics that exist."""
    from aiokafka import TopicPartition

    from foundation.kafka import read_committed_consumer
    from projections.projector import projection_topics

    consumer = read_committed_consumer(bootstrap, client_id="sevpro-console",
                                request_timeout_ms=int(END_OFFSETS_TIMEOUT * 1000))

    async def fetch() -> EndOffsets:
        await consumer.start()
        # consumer.topics() does not update the cluster view partitions_for_topic() reads; the fetched
        # metadata itself has the partitions (the projector asks the same way).
        metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001
        partitions = [TopicPartition(topic, p) for topic in projection_topics()
                      for p in sorted(metadata.partitions_for_topic(topic) or ())]
        if not partitions:
            return {}
        # Assigned partitions are in the client's metadata; without this, end_offsets() waits out metadata
        # retries (seconds instead of milliseconds).
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    try:
        async with asyncio.timeout(END_OFFSETS_TIMEOUT):
            return await fetch()
    finally:
        await consumer.stop()


def compute_lag(bootstrap: str, ends: EndOffsets, applied: dict[tuple[str, int], int]) -> Lag:
    """Records after the last applied offset of each partition (all of them when nothing was applied yet)."""
    lag = Lag(bootstrap)
    for (topic, partition), end in sorted(ends.items()):
        done = applied.get((topic, partition))
        behind = max(0, end - (done + 1 if done is not None else 0))
        lag.partitions.append({"topic": topic, "partition": partition, "end_offset": end, "applied_offset": done,
                               "lag": behind})
    return lag


async def measure_lag(bootstrap: str, applied: dict[tuple[str, int], int],
                      fetch: EndOffsetsFetcher = kafka_end_offsets) -> Lag:
    try:
        ends = await fetch(bootstrap)
    except Exception as exc:  # noqa: BLE001 (the broker's error is shown to the operator, not raised)
        return Lag(bootstrap, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return compute_lag(bootstrap, ends, applied)
