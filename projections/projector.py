"""The projector: reads every partition of the event topics and applies them to the read models.

Not a consumer group: one projector sees everything, so it `assign()`s every partition itself and keeps its
position in SQLite, in the same transaction as the state built from those records (Kafka's committed offsets
are not used). After a crash or a kill it seeks to the stored offset + 1: nothing is skipped, nothing is
applied twice (and events delivered twice by the producers are deduplicated by event_id anyway).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from foundation.kafka import read_committed_consumer
from foundation.logs import get_logger
from projections.apply import millis
from projections.store import BatchResult, ProjectionStore, default_db_path, read_models_at
from schemas import topics as topic_names

log = get_logger(__name__)

__all__ = ["Projector", "default_db_path", "projection_topics"]


def projection_topics() -> list[str]:
    """Every topic with events for the read models (the pollers' watermarks and the registry-creation
    requests and answers are bookkeeping, not events: what was created is on registry.links)."""
    bookkeeping = {topic_names.poller_watermarks(), topic_names.registry_create_requested(),
                   topic_names.registry_create_answered()}
    return [t for t in topic_names.all_topics() if t not in bookkeeping]


class Projector:
    """Applies the topics to one ProjectionStore.

    `version=None`: the live projector, which writes into the current version and follows a replay's switch.
    `version=N`: a replay's builder, which writes into version N only (and completes it with
    `store.finish_build()` before anyone reads it). `since` (builders only): partitions not
    read before start at the first offset at or after that time instead of the beginning.
    """

    def __init__(self, bootstrap: str, root: Path | str | None = None, *, version: int | None = None,
                 topics: Iterable[str] | None = None, batch_size: int = 500, since: datetime | None = None,
                 metadata_interval: float = 2.0,
                 on_batch: Callable[[BatchResult], None] | None = None) -> None:
        self.bootstrap = bootstrap
        self.root = read_models_at(root)
        self.fixed_version = version
        self.topics = sorted(topics) if topics is not None else projection_topics()
        self.batch_size = batch_size
        self.since = since
        self.metadata_interval = metadata_interval
        self.on_batch = on_batch
        self.store: ProjectionStore | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self.assigned: set[TopicPartition] = set()
        self.totals = BatchResult()
        self._last_metadata = 0.0
        self.catch_up_limit = 120.0

    # -- life cycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.store = ProjectionStore(self.root, version=self.fixed_version, follow=False,
                                     building=self.fixed_version is not None)
        self.consumer = read_committed_consumer(self.bootstrap, auto_offset_reset="earliest",
                                                max_poll_records=self.batch_size, client_id="sevpro-projector")
        try:
            await self.consumer.start()
            await self.refresh_assignment()
        except BaseException:
            await self.stop()  # a broker that cannot be reached leaves no open consumer or database behind
            raise

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None
        if self.store is not None:
            self.store.close()
            self.store = None

    async def __aenter__(self) -> Projector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- partitions ----------------------------------------------------------------------------------------
    async def refresh_assignment(self) -> bool:
        """Pick up topics (and partitions) created since the last look; True when the assignment grew."""
        assert self.consumer is not None
        self._last_metadata = time.monotonic()
        metadata = await self.consumer._client.fetch_all_metadata()  # noqa: SLF001 (no public "all topics")
        found = {TopicPartition(topic, p) for topic in self.topics
                 for p in (metadata.partitions_for_topic(topic) or ())}
        if found <= self.assigned:
            return False
        self.assigned |= found
        # assign() forgets the positions of partitions already held: every partition is seeked again from
        # the store, which holds exactly what has been applied.
        self.consumer.assign(sorted(self.assigned))
        await self._seek_all()
        log.info("projector.assigned", partitions=len(self.assigned), version=self.store.version)  # type: ignore
        return True

    async def _seek_all(self) -> None:
        assert self.consumer is not None and self.store is not None
        stored = self.store.offsets()
        fresh = [tp for tp in self.assigned if (tp.topic, tp.partition) not in stored]
        for tp in self.assigned:
            if (tp.topic, tp.partition) in stored:
                self.consumer.seek(tp, stored[(tp.topic, tp.partition)] + 1)
        if not fresh:
            return
        if self.since is None:
            await self.consumer.seek_to_beginning(*fresh)
            return
        found = await self.consumer.offsets_for_times({tp: millis(self.since) for tp in fresh})
        ends = await self.consumer.end_offsets(fresh)
        for tp in fresh:
            at = found.get(tp)
            self.consumer.seek(tp, at.offset if at is not None else ends[tp])

    async def _follow_switch(self) -> None:
        """A replay made another version current: continue in it, from its own offsets."""
        assert self.store is not None
        if self.fixed_version is None and self.store.reopen_current():
            log.info("projector.switched", version=self.store.version)
            await self._seek_all()

    # -- applying ------------------------------------------------------------------------------------------
    async def poll_once(self, timeout_ms: int = 500) -> int:
        """Fetch one batch and apply it in one transaction; returns the number of records handled."""
        assert self.consumer is not None and self.store is not None
        await self._follow_switch()
        fetched = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.batch_size)
        records = [r for batch in fetched.values() for r in batch]
        if not records:
            return 0
        result = self.store.apply_records(records)
        for name in ("records", "applied", "duplicates", "undecodable"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(result, name))
        if result.undecodable:
            log.warning("projector.undecodable", count=result.undecodable)
        if self.on_batch:
            self.on_batch(result)
        return result.records

    async def end_offsets(self) -> dict[TopicPartition, int]:
        assert self.consumer is not None
        return await self.consumer.end_offsets(sorted(self.assigned)) if self.assigned else {}

    async def behind(self, end: dict[TopicPartition, int]) -> bool:
        assert self.consumer is not None
        for tp, offset in end.items():
            if await self.consumer.position(tp) < offset:
                return True
        return False

    async def catch_up(self) -> int:
        """Apply everything up to the end offsets seen now; returns the number of records handled.

        Gives up with TimeoutError after `catch_up_limit` seconds (a broker that stopped answering)."""
        limit = self.catch_up_limit
        await self.refresh_assignment()
        await self._follow_switch()
        end = await self.end_offsets()
        handled, deadline = 0, time.monotonic() + limit
        while await self.behind(end):
            if time.monotonic() > deadline:
                raise TimeoutError(f"projector did not reach the end offsets within {limit} s")
            handled += await self.poll_once(timeout_ms=200)
        return handled

    async def run(self, stop_event: asyncio.Event) -> None:
        """Apply new events until `stop_event` is set; new topics are picked up every `metadata_interval`."""
        if self.consumer is None:
            await self.start()
        while not stop_event.is_set():
            try:
                if time.monotonic() - self._last_metadata > self.metadata_interval:
                    await self.refresh_assignment()
                if not self.assigned:
                    await asyncio.sleep(min(0.5, self.metadata_interval))
                    continue
                await self.poll_once(timeout_ms=300)
            except KafkaError as exc:  # broker away for a while: the stored offsets make retrying safe
                log.warning("projector.kafka_error", error=str(exc))
                await asyncio.sleep(1.0)
