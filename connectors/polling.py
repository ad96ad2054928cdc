"""The change poller both systems share: read what changed, publish one event per new entity version.

Exactly one event per version, across crashes and restarts:
- The events of one entity type and the new watermark are written in ONE Kafka transaction. A crash before
  the commit leaves nothing visible (consumers read_committed); the next run reads the same changes again.
- The next read starts `overlap` before the watermark (clocks and commits on the source side are not
  instantaneous), and versions already published within that window are skipped: the watermark record keeps
  them.
- The transactional id is per system and tenant, so a second poller for the same tenant fences the first:
  at most one poller per tenant can publish, whatever the deployment does.

Entity types without a change filter are read in full and compared with the versions published before.

Nothing one record or one entity type does holds the rest: a version that cannot be published (over
`MAX_EVENT_BYTES`, or not encodable) becomes an `ObservationFailed` naming it, and is not reported again; an
entity type whose read or transaction fails is tried again after a backoff of its own while `poll_due` goes on
with the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from foundation.exact_json import dumps
from foundation.kafka import read_committed_consumer, transactional_producer
from foundation.logs import get_logger
from schemas import topics
from schemas.codec import CodecError, decode, encode, now

log = get_logger(__name__)

FetchChanged = Callable[[datetime | None], AsyncIterator[dict[str, Any]]]
# An event's encoded size may not pass the producer's max_request_size nor the broker's message.max.bytes
# (both about 1 MiB by default); kept under both, with room for the record's key and headers.
MAX_EVENT_BYTES = 1_000_000
MAX_BACKOFF_S = 300.0


class EntityDataError(Exception):
    """An entity in the source's answer lacks a field we need, or has a value we do not understand."""


@dataclass
class EntitySource:
    """How to read one entity type from one system."""

    entity: str
    fetch: FetchChanged  # `since` is None for a full read, or for a source without a change filter
    id_field: str
    version_field: str | None  # None: the version is a hash of the snapshot (full read and compare)
    incremental: bool = True
    company_of: Callable[[dict[str, Any]], str | None] = lambda _: None
    interval: float = 60.0  # seconds between reads, for `Poller.poll_due`
    # Set when `fetch` answers summaries (id and version) and the full records cost more calls: the poller
    # drops the versions it has published, and `complete` reads only the rest in full.
    complete: Callable[[AsyncIterator[dict[str, Any]]], AsyncIterator[dict[str, Any]]] | None = None

    def identity(self, item: dict[str, Any]) -> tuple[str, str]:
        """(id, version) of one entity, or EntityDataError naming the missing field."""
        if not isinstance(item, dict):
            raise EntityDataError(f"{self.entity}: expected an object, got {type(item).__name__}")
        entity_id = item.get(self.id_field)
        if entity_id in (None, ""):
            raise EntityDataError(f"{self.entity}: field '{self.id_field}' is missing")
        if self.version_field is None:
            digest = hashlib.sha256(dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:16]
            return str(entity_id), f"sha256:{digest}"
        version = item.get(self.version_field)
        if not version:
            raise EntityDataError(f"{self.entity} {entity_id}: field '{self.version_field}' is missing")
        try:
            parse_version(str(version))
        except ValueError:
            raise EntityDataError(
                f"{self.entity} {entity_id}: field '{self.version_field}' is not a date-time: {version!r}"
            ) from None
        return str(entity_id), str(version)


async def behind(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    """True while the consumer has not reached `end` on some partition."""
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return True
    return False


def parse_version(version: str) -> datetime:
    """Source versions are date-times (Severa lastUpdatedDateTime, Procountor version); naive means UTC."""
    parsed = datetime.fromisoformat(version.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Watermark:
    watermark: str | None = None
    published: set[str] = field(default_factory=set)  # "id@version"


@dataclass
class PollStats:
    published: int = 0
    skipped: int = 0
    errors: int = 0


class Poller:
    """Polls the given sources of one tenant of one system and publishes `<system>.<entity>.observed`."""

    def __init__(self, bootstrap: str, system: str, tenant: str, sources: list[EntitySource], *,
                 overlap: timedelta = timedelta(seconds=30)) -> None:
        self.bootstrap = bootstrap
        self.system = system
        self.tenant = tenant
        self.sources = sources
        self.overlap = overlap
        self.watermarks: dict[str, Watermark] = {}
        self._producer: AIOKafkaProducer | None = None
        self._next_read: dict[str, float] = {}  # entity → loop time of its next read
        self._failures: dict[str, int] = {}  # entity → reads failed in a row

    def _watermark_key(self, entity: str) -> bytes:
        return f"{self.system}/{self.tenant}/{entity}".encode()

    async def start(self) -> None:
        self.watermarks = await self._load_watermarks()
        self._producer = transactional_producer(self.bootstrap, topics.named(f"poller-{self.system}-{self.tenant}"))
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def __aenter__(self) -> Poller:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _load_watermarks(self) -> dict[str, Watermark]:
        """Read the compacted watermark topic to its end; the last record per key wins."""
        consumer = read_committed_consumer(self.bootstrap)
        await consumer.start()
        found: dict[str, Watermark] = {}
        try:
            partitions = consumer.partitions_for_topic(topics.poller_watermarks())
            if not partitions:
                await consumer._client.force_metadata_update()  # noqa: SLF001 - fresh metadata for a new topic
                partitions = consumer.partitions_for_topic(topics.poller_watermarks())
            if not partitions:
                return found
            tps = [TopicPartition(topics.poller_watermarks(), p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            wanted = {self._watermark_key(s.entity): s.entity for s in self.sources}
            while await behind(consumer, end):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        if record.key not in wanted or record.value is None:
                            continue
                        try:
                            _, value = decode(record.value)
                        except CodecError as exc:
                            log.warning("watermark undecodable", key=record.key, error=str(exc))
                            continue
                        found[wanted[record.key]] = Watermark(value["watermark"], set(value["published"]))
        finally:
            await consumer.stop()
        return found

    async def poll_once(self) -> dict[str, PollStats]:
        """One pass over every source; returns per-entity counts."""
        return {source.entity: await self._poll_source(source) for source in self.sources}

    async def poll_due(self) -> dict[str, PollStats]:
        """Read the sources that are due (each source its own pace), in their order; a source that fails is
        logged and backs off on its own (2, 4 ... 300 s) while the others go on. Stats of the sources read."""
        clock = asyncio.get_running_loop().time()
        stats = {}
        for source in self.sources:
            if clock < self._next_read.get(source.entity, float("-inf")):
                continue
            try:
                stats[source.entity] = await self._poll_source(source)
            except Exception as exc:  # noqa: BLE001 - one entity type's failure holds no other
                failures = self._failures.get(source.entity, 0) + 1
                self._failures[source.entity] = failures
                delay = min(MAX_BACKOFF_S, max(source.interval, 2.0 ** failures))
                self._next_read[source.entity] = clock + delay
                log.error("poll of an entity type failed, backing off; the others go on", system=self.system,
                          tenant=self.tenant, entity=source.entity, failures=failures, retry_in_s=delay,
                          error=f"{type(exc).__name__}: {exc}"[:500])
                continue
            self._failures.pop(source.entity, None)
            self._next_read[source.entity] = clock + source.interval
        return stats

    async def _poll_source(self, source: EntitySource) -> PollStats:
        assert self._producer is not None, "start() the poller first"
        state = self.watermarks.get(source.entity, Watermark())
        since = None
        if source.incremental and state.watermark:
            since = parse_version(state.watermark) - self.overlap
        stats = PollStats()
        fresh: list[tuple[str, str, dict[str, Any]]] = []
        fresh_markers: set[str] = set()
        seen_now: set[str] = set()
        errors: list[tuple[str | None, str, dict[str, Any] | None]] = []
        items = source.fetch(since)
        if source.complete is not None:
            items = source.complete(self._unpublished(source, items, state.published, stats))
        async for item in items:
            try:
                entity_id, version = source.identity(item)
            except EntityDataError as exc:
                errors.append((item.get(source.id_field) if isinstance(item, dict) else None, str(exc), item))
                continue
            marker = f"{entity_id}@{version}"
            seen_now.add(marker)
            if marker in state.published or marker in fresh_markers:
                stats.skipped += 1
                continue
            fresh_markers.add(marker)
            fresh.append((entity_id, version, item))

        new_state = self._next_watermark(source, state, fresh, seen_now)
        events = self._publishable(source, fresh, errors)
        topic = topics.observed(self.system, source.entity)
        await self._producer.begin_transaction()
        try:
            for entity_id, value in events:
                await self._producer.send(topic, key=topics.key(self.tenant, entity_id), value=value)
            for failed_id, message, raw in errors:
                failure = self._failed(source, failed_id, message, raw)
                await self._producer.send(topics.observation_errors(self.system),
                                          key=topics.key(self.tenant, source.entity),
                                          value=encode("ObservationFailed", failure))
            await self._producer.send(topics.poller_watermarks(), key=self._watermark_key(source.entity),
                                      value=encode("PollerWatermark", {
                                          "tenant": self.tenant, "source_system": self.system,
                                          "entity": source.entity, "watermark": new_state.watermark,
                                          "published": sorted(new_state.published), "updated_at": now()}))
            await self._producer.commit_transaction()
        except BaseException:
            await self._producer.abort_transaction()
            raise
        self.watermarks[source.entity] = new_state
        stats.published = len(events)
        stats.errors = len(errors)
        for failed_id, message, _ in errors:
            log.warning("entity not understood", system=self.system, tenant=self.tenant, entity=source.entity,
                        entity_id=failed_id, error=message)
        if fresh or errors:
            log.info("published", system=self.system, tenant=self.tenant, entity=source.entity,
                     published=stats.published, skipped=stats.skipped, errors=stats.errors)
        return stats

    def _publishable(self, source: EntitySource, fresh: list[tuple[str, str, dict[str, Any]]],
                     errors: list[tuple[str | None, str, dict[str, Any] | None]]) -> list[tuple[str, bytes]]:
        """The encoded events of `fresh`; a version that cannot be encoded, or is too big for Kafka, goes to
        `errors` instead (its marker is in the watermark all the same: it is reported once, not every round)."""
        events = []
        for entity_id, version, item in fresh:
            name = f"{source.entity} {entity_id} (version {version})"
            try:
                value = encode("EntityObserved", self._observed(source, entity_id, version, item))
            except Exception as exc:  # noqa: BLE001 - e.g. text that is no valid Unicode
                errors.append((entity_id, f"{name} cannot be published: {type(exc).__name__}: {exc}"[:1000], item))
                continue
            if len(value) > MAX_EVENT_BYTES:
                errors.append((entity_id, f"{name} is {len(value)} bytes as an event, over the {MAX_EVENT_BYTES} "
                                          "bytes Kafka takes: shorten its longest texts in the source system", item))
                continue
            events.append((entity_id, value))
        return events

    @staticmethod
    async def _unpublished(source: EntitySource, summaries: AsyncIterator[dict[str, Any]], published: set[str],
                           stats: PollStats) -> AsyncIterator[dict[str, Any]]:
        """The summaries whose version is not published yet (one that cannot be read is passed on: the full
        record then says what is wrong with it)."""
        async for summary in summaries:
            try:
                marker = "@".join(source.identity(summary))
            except EntityDataError:
                marker = None
            if marker is not None and marker in published:
                stats.skipped += 1
                continue
            yield summary

    def _next_watermark(self, source: EntitySource, state: Watermark,
                        fresh: list[tuple[str, str, dict[str, Any]]], seen_now: set[str]) -> Watermark:
        if not source.incremental or source.version_field is None:
            # Full read: everything seen now is the new baseline (a version reappearing later is not new).
            return Watermark(None, seen_now | {f"{i}@{v}" for i, v, _ in fresh})
        versions = [v for _, v, _ in fresh] + ([state.watermark] if state.watermark else [])
        if not versions:
            return state
        newest = max(versions, key=parse_version)
        horizon = parse_version(newest) - self.overlap
        # Keep only what a re-read from `horizon` can return again.
        keep = {m for m in state.published | {f"{i}@{v}" for i, v, _ in fresh}
                if parse_version(m.rsplit("@", 1)[1]) >= horizon}
        return Watermark(newest, keep)

    def _observed(self, source: EntitySource, entity_id: str, version: str, item: dict[str, Any]) -> dict[str, Any]:
        event_id = f"{self.system}:{source.entity}:{entity_id}:{version}"
        return {
            "event_id": event_id,
            "correlation_id": f"{self.system}:{source.entity}:{entity_id}",
            "causation_id": None,
            "tenant": self.tenant,
            "source_system": self.system,
            "entity": source.entity,
            "entity_id": entity_id,
            "source_version": version,
            "observed_at": now(),
            "snapshot": dumps(item, ensure_ascii=False, sort_keys=True),
            "company": source.company_of(item),
        }

    def _failed(self, source: EntitySource, entity_id: str | None, message: str,
                raw: dict[str, Any] | None) -> dict[str, Any]:
        digest = hashlib.sha256(message.encode()).hexdigest()[:12]
        return {
            "event_id": f"{self.system}:{source.entity}:error:{entity_id}:{digest}",
            "tenant": self.tenant,
            "source_system": self.system,
            "entity": source.entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "error": message,
            "raw": None if raw is None else json.dumps(raw, default=str)[:4000],
            "occurred_at": now(),
        }
