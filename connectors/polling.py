"""The change poller both systems share: read what changed, publish one event per new entity version.

Exactly one event per version, across crashes and restarts:
- The events of one entity type and the new watermark are written in ONE Kafka transaction. A crash before
  the commit leaves nothing visible (consumers read_committed); the next run reads the same changes again.
  A read that finds nothing new, and leaves the watermark as it was, writes nothing (most reads of most
  tenants: a transaction each would cost a pool worker more than the read).
- The next read starts `overlap` before the watermark (clocks and commits on the source side are not
  instantaneous), and versions already published within that window are skipped: the watermark record keeps
  them.
- The transactional id is per tenant, so a second poller for the same tenant fences the first: at most one
  poller per tenant can publish, whatever the deployment does. A worker's pollers of one tenant (its Severa
  poller and its companies' Procountor pollers) share one transactional producer (`TenantProducer`: one
  transaction at a time), so the worker that takes a tenant over fences all of them at once by starting its own.
  A poller without one has its own, per system and tenant.

Entity types without a change filter are read in full and compared with the versions published before.

A record whose version field is empty takes the first of `fallback_version_fields` that is set (Severa:
`createdDateTime` when `lastUpdatedDateTime` is null) and, with none set and `hash_unversioned`, a hash of its
content (Procountor's `Product` has no version at all). A hashed version is kept in the watermark record until the
same id shows another version: a changed record is seen, an unchanged one is not published again.

Date-times without an offset are read in the source's time zone (`EntitySource.zone`). Where the zone's clocks go
back (the autumn hour that comes twice), a naive time can mean two instants: the next read starts from the
earlier one, less the length of the repeated hour when that start falls in the hour's first pass, and a version
is kept in the watermark record while the later one is within reach of that read. So no edit in that hour is
missed (whether the source compares instants or local clock times) and none is published twice.

Nothing one record or one entity type does holds the rest: a version that cannot be published (over
`MAX_EVENT_BYTES`, or not encodable) becomes an `ObservationFailed` naming it, and is not reported again; an
entity type whose read or transaction fails is tried again after a backoff of its own while `poll_due` goes on
with the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced

from foundation.exact_json import dumps
from foundation.kafka import from_the_beginning, transactional_producer
from foundation.logs import get_logger
from schemas import topics
from schemas.codec import CodecError, decode, encode, now

log = get_logger(__name__)

FetchChanged = Callable[[datetime | None], AsyncIterator[dict[str, Any]]]
# An event's encoded size may not pass the producer's max_request_size nor the broker's message.max.bytes
# (both about 1 MiB by default); kept under both, with room for the record's key and headers.
MAX_EVENT_BYTES = 1_000_000
MAX_BACKOFF_S = 300.0
# A source is due again this much before its interval has passed: the worker's poll rounds start on a timer tick
# (every 0.5 s), and a tick that comes a few milliseconds early would otherwise put a 1 s source's next read at
# 1.5 s (half the idle invoices waited that much longer for the poll).
TICK_SLACK = 0.25


class PollerFenced(KafkaError):
    """The tenant's poll producer was fenced: another worker started `poller-<tenant>` (both polled the tenant
    for a moment around a rebalance). It never works again; the caller starts the tenant's pollers anew if the
    tenant is still its own (starting them fences the other in turn)."""


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
    # Seconds between reads while the poller's `busy` says the API budget is saturated (a backlog whose calls
    # the source's reads would take from); None: `interval` always.
    busy_interval: float | None = None
    # Set when `fetch` answers summaries (id and version) and the full records cost more calls: the poller
    # drops the versions it has published, and `complete` reads only the rest in full.
    complete: Callable[[AsyncIterator[dict[str, Any]]], AsyncIterator[dict[str, Any]]] | None = None
    # Read in order when `version_field` is empty; with none of them set either, a content hash when
    # `hash_unversioned`, else the record is an error naming `version_field`.
    fallback_version_fields: tuple[str, ...] = ()
    hash_unversioned: bool = False
    zone: tzinfo = UTC  # the time zone of versions without an offset

    def identity(self, item: dict[str, Any]) -> tuple[str, str]:
        """(id, version) of one entity, or EntityDataError naming the missing field."""
        if not isinstance(item, dict):
            raise EntityDataError(f"{self.entity}: expected an object, got {type(item).__name__}")
        entity_id = item.get(self.id_field)
        if entity_id in (None, ""):
            raise EntityDataError(f"{self.entity}: field '{self.id_field}' is missing")
        if self.version_field is None:
            return str(entity_id), content_version(item)
        for name in (self.version_field, *self.fallback_version_fields):
            version = item.get(name)
            if version:
                break
        else:
            if self.hash_unversioned:
                return str(entity_id), content_version(item)
            raise EntityDataError(f"{self.entity} {entity_id}: field '{self.version_field}' is missing")
        try:
            parse_version(str(version), self.zone)
        except ValueError:
            raise EntityDataError(
                f"{self.entity} {entity_id}: field '{name}' is not a date-time: {version!r}"
            ) from None
        return str(entity_id), str(version)


async def behind(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    """True while the consumer has not reached `end` on some partition."""
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return True
    return False


HASHED = "sha256:"


def content_version(item: dict[str, Any]) -> str:
    """The version of a record that has none: a hash of its content (its exact JSON, keys sorted)."""
    return HASHED + hashlib.sha256(_content_text(item).encode()).hexdigest()[:16]


class _HasDecimal(Exception):
    pass


def _plain(value: Any) -> str:
    if isinstance(value, Decimal):
        raise _HasDecimal
    return str(value)


def _content_text(item: dict[str, Any]) -> str:
    """`exact_json.dumps(item, sort_keys=True, default=str)`: the standard library's encoder writes the same text
    for a record without decimals (most registry records, read in full every minute) at a seventh of the cost;
    a record with a decimal number, or a key it refuses, is written by `exact_json`."""
    try:
        return json.dumps(item, sort_keys=True, default=_plain)
    except (_HasDecimal, TypeError):
        return dumps(item, sort_keys=True, default=str)


def parse_version(version: str, zone: tzinfo = UTC) -> datetime:
    """Source versions are date-times (Severa lastUpdatedDateTime, Procountor version), in UTC. A naive one is in
    `zone`; of the two instants a naive time in a repeated (or skipped) hour can mean, the earlier."""
    return _readings(version, zone)[0]


def latest_reading(version: str, zone: tzinfo = UTC) -> datetime:
    """The later of the instants a naive version can mean (the same as `parse_version` outside a DST change)."""
    return _readings(version, zone)[1]


def _readings(version: str, zone: tzinfo) -> tuple[datetime, datetime]:
    parsed = datetime.fromisoformat(version.replace("Z", "+00:00"))
    if parsed.tzinfo:
        moment = parsed.astimezone(UTC)
        return moment, moment
    # In UTC at once: datetimes sharing one tzinfo compare and subtract without regard to `fold`.
    first, second = (parsed.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    return min(first, second), max(first, second)


def repeated_hour_margin(instant: datetime, zone: tzinfo) -> timedelta:
    """How far to start a read earlier than `instant` so that a source comparing local clock times misses
    nothing: the length of the repeated hour when `instant` falls in its first pass, else nothing."""
    local = instant.astimezone(zone)
    if local.fold:
        return timedelta(0)
    first, second = (local.replace(fold=fold).utcoffset() or timedelta(0) for fold in (0, 1))
    repeated = first - second
    return max(repeated, timedelta(0))


class WatermarkReader:
    """The compacted watermark topic, read for many pollers: `read` catches up to the topic's end (what any
    worker committed until now: a tenant's polling may have been handed over from another) and answers the last
    record of each key asked. A pool worker shares one for its tenants' pollers, so that a poller's start
    reads only what is new on the topic, not the whole topic again (its thousand tenants' pollers did, each)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._latest: dict[bytes, bytes] = {}  # key → the last value (a tombstone removes the key)
        self._lock = asyncio.Lock()

    async def read(self, keys: set[bytes]) -> dict[bytes, bytes]:
        async with self._lock:  # pollers starting together: one catch-up at a time, each from where it ended
            await self._catch_up()
            return {key: self._latest[key] for key in keys if key in self._latest}

    async def _catch_up(self) -> None:
        if self._consumer is None:
            consumer, partitions = await from_the_beginning(self.bootstrap, [topics.poller_watermarks()])
            if not partitions:
                await consumer.stop()
                return  # no topic yet: no watermark either
            self._consumer, self._partitions = consumer, partitions
        end = await self._consumer.end_offsets(self._partitions)
        while await behind(self._consumer, end):
            for records in (await self._consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.key is None:
                        continue
                    if record.value is None:
                        self._latest.pop(record.key, None)
                    else:
                        self._latest[record.key] = record.value

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class TenantProducer:
    """The transactional producer of one tenant's pollers on this worker (`poller-<tenant>`), shared by them.

    One per tenant, not one per poller: a pool worker of a thousand tenants had two thousand producers, each
    with its connections and its copy of the cluster's metadata (read at start and every 5 minutes). Not one per
    worker: the transactional id is what fences a zombie, and it must be the tenant's: the worker that takes a
    tenant over starts `poller-<tenant>` and so fences the tenant's pollers on the worker that had it (their
    open transaction is aborted, their next one refused), and no other tenant's. The pollers take turns: one
    transaction (one entity type's events and its watermark) at a time."""

    def __init__(self, bootstrap: str, tenant: str) -> None:
        self.tenant = tenant
        self.producer = transactional_producer(bootstrap, topics.named(f"poller-{tenant}"))
        self.turn = asyncio.Lock()

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()


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
                 overlap: timedelta = timedelta(seconds=30), busy: Callable[[], bool] | None = None,
                 watermarks: WatermarkReader | None = None, producer: TenantProducer | None = None) -> None:
        self.bootstrap = bootstrap
        self.system = system
        self.tenant = tenant
        self.sources = sources
        self.overlap = overlap
        self.watermarks: dict[str, Watermark] = {}
        self._producer: AIOKafkaProducer | None = None
        self.shared_producer = producer  # the tenant's, started and stopped by its owner; None: one of its own
        self._turn = producer.turn if producer is not None else asyncio.Lock()
        self._next_read: dict[str, float] = {}  # entity → loop time of its next read
        self._last_read: dict[str, float] = {}  # entity → loop time its last read started
        self.busy = busy  # the API budget is saturated: sources with a `busy_interval` read less often
        self._failures: dict[str, int] = {}  # entity → reads failed in a row
        self.watermark_reader = watermarks  # the worker's, shared by its pollers; None: one of its own at start
        self._due = float("-inf")  # loop time at which a source is next due (as the last `poll_due` left it)

    def _watermark_key(self, entity: str) -> bytes:
        return f"{self.system}/{self.tenant}/{entity}".encode()

    async def start(self) -> None:
        # The producer first: its start fences any other poller of the tenant and completes the transaction that
        # poller committed last (its records are marked committed only after its commit returned). Only then is
        # the watermark read, so that a poller taking a tenant over reads the latest one. A shared producer was
        # started by its owner before the pollers.
        if self.shared_producer is not None:
            self._producer = self.shared_producer.producer
        else:
            self._producer = transactional_producer(self.bootstrap,
                                                    topics.named(f"poller-{self.system}-{self.tenant}"))
            await self._producer.start()
        try:
            self.watermarks = await self._load_watermarks()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._producer is not None and self.shared_producer is None:
            await self._producer.stop()
        self._producer = None

    async def __aenter__(self) -> Poller:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _load_watermarks(self) -> dict[str, Watermark]:
        """The last watermark record of each source on the compacted topic (read to its end)."""
        reader = self.watermark_reader or WatermarkReader(self.bootstrap)
        wanted = {self._watermark_key(s.entity): s.entity for s in self.sources}
        try:
            found = await reader.read(set(wanted))
        finally:
            if reader is not self.watermark_reader:
                await reader.stop()
        watermarks: dict[str, Watermark] = {}
        for key, raw in found.items():
            try:
                _, value = decode(raw)
            except CodecError as exc:
                log.warning("watermark undecodable", key=key, error=str(exc))
                continue
            watermarks[wanted[key]] = Watermark(value["watermark"], set(value["published"]))
        return watermarks

    async def poll_once(self) -> dict[str, PollStats]:
        """One pass over every source; returns per-entity counts."""
        return {source.entity: await self._poll_source(source) for source in self.sources}

    async def poll_due(self) -> dict[str, PollStats]:
        """Read the sources that are due (each source its own pace, its `busy_interval` while `busy`), in their
        order; a source that fails is logged and backs off on its own (2, 4 ... 300 s) while the others go on.
        Stats of the sources read."""
        clock = asyncio.get_running_loop().time()
        busy = self.busy is not None and self.busy()
        stats = {}
        for source in self.sources:
            if clock < self._next_read.get(source.entity, float("-inf")):
                continue
            if busy and source.busy_interval and clock < (self._last_read.get(source.entity, float("-inf"))
                                                          + source.busy_interval - TICK_SLACK):
                continue
            self._last_read[source.entity] = clock
            try:
                stats[source.entity] = await self._poll_source(source)
            except PollerFenced:
                raise  # no back-off helps: a new producer does (the round's caller)
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
            self._next_read[source.entity] = clock + max(0.0, source.interval - TICK_SLACK)
        self._due = min((self._next_read.get(s.entity, float("-inf")) for s in self.sources), default=float("-inf"))
        return stats

    def next_due(self) -> float:
        """The loop time at which `poll_due` next has a source to read (-inf: now). While `busy`, a source with a
        `busy_interval` may still wait then: a round that reads nothing, as before."""
        return self._due

    async def _poll_source(self, source: EntitySource) -> PollStats:
        assert self._producer is not None, "start() the poller first"
        state = self.watermarks.get(source.entity, Watermark())
        since = None
        if source.incremental and state.watermark:
            since = self._read_from(source, state.watermark)
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
        if not fresh and not errors and new_state == state:
            return stats  # nothing new: no transaction (the watermark on the topic says the same already)
        events = self._publishable(source, fresh, errors)
        topic = topics.observed(self.system, source.entity)
        watermark = encode("PollerWatermark", {
            "tenant": self.tenant, "source_system": self.system, "entity": source.entity,
            "watermark": new_state.watermark, "published": sorted(new_state.published), "updated_at": now()})
        async with self._turn:  # the tenant's other pollers may share the producer: one transaction at a time
            try:
                await self._producer.begin_transaction()
            except AssertionError as exc:  # aiokafka asserts: the producer is in a fatal state (fenced, refused)
                raise PollerFenced(f"the {self.system} poller of {self.tenant} can begin no transaction: its "
                                   f"producer was fenced (another worker polls the tenant now) or refused ({exc})"
                                   ) from None
            try:
                for entity_id, value in events:
                    await self._producer.send(topic, key=topics.key(self.tenant, entity_id), value=value)
                for failed_id, message, raw in errors:
                    failure = self._failed(source, failed_id, message, raw)
                    await self._producer.send(topics.observation_errors(self.system),
                                              key=topics.key(self.tenant, source.entity),
                                              value=encode("ObservationFailed", failure))
                await self._producer.send(topics.poller_watermarks(), key=self._watermark_key(source.entity),
                                          value=watermark)
                await self._producer.commit_transaction()
            except ProducerFenced as exc:  # this transaction was aborted by the producer that fenced this one
                raise PollerFenced(f"the {self.system} poller of {self.tenant}: {exc}") from None
            except BaseException:
                # A fenced producer cannot abort (aiokafka asserts): the newer one has aborted its transaction
                # already. The error that stopped the transaction is the one to raise.
                with contextlib.suppress(Exception):
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

    def _read_from(self, source: EntitySource, watermark: str) -> datetime:
        """Where the read after `watermark` starts: the overlap before it, and the repeated hour's margin."""
        start = parse_version(watermark, source.zone) - self.overlap
        return start - repeated_hour_margin(start, source.zone)

    def _next_watermark(self, source: EntitySource, state: Watermark,
                        fresh: list[tuple[str, str, dict[str, Any]]], seen_now: set[str]) -> Watermark:
        if not source.incremental or source.version_field is None:
            # Full read: everything seen now is the new baseline (a version reappearing later is not new).
            return Watermark(None, seen_now | {f"{i}@{v}" for i, v, _ in fresh})
        markers = state.published | {f"{i}@{v}" for i, v, _ in fresh}
        # Hashed versions (records without a date): the latest one per id, kept until the id shows another.
        shown_now = {m.rsplit("@", 1)[0] for m in seen_now}
        hashed = {m for m in markers if _hashed(m) and (m in seen_now or m.rsplit("@", 1)[0] not in shown_now)}
        versions = [v for _, v, _ in fresh if not v.startswith(HASHED)] + ([state.watermark] if state.watermark else [])
        if not versions:
            return Watermark(state.watermark, {m for m in markers if not _hashed(m)} | hashed)
        newest = max(versions, key=lambda v: parse_version(v, source.zone))
        horizon = self._read_from(source, newest)
        # Keep what a read from `horizon` can return again, and what this read returned whatever its date (a record
        # whose lastUpdatedDateTime is null goes by its old createdDateTime, and a source may list it every time).
        keep = {m for m in markers if not _hashed(m)
                and (m in seen_now or latest_reading(m.rsplit("@", 1)[1], source.zone) >= horizon)}
        return Watermark(newest, keep | hashed)

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


def _hashed(marker: str) -> bool:
    return marker.rsplit("@", 1)[1].startswith(HASHED)


def next_round(pollers: list[Poller], backoff: dict[int, tuple[int, float]]) -> float:
    """The loop time at which a round of `poll_each_due` has something to read: the earliest of the pollers'
    next due source, a poller in back-off not before its end (-inf: now). A pool worker starts a tenant's round
    then, not on every tick (most rounds of a thousand tenants read nothing, and cost more than the reads)."""
    return min((max(poller.next_due(), backoff.get(id(poller), (0, float("-inf")))[1]) for poller in pollers),
               default=float("-inf"))


async def poll_each_due(pollers: list[Poller], backoff: dict[int, tuple[int, float]]) -> None:
    """One round of a tenant's pollers, each reading its due sources. A poller whose round fails (its client
    retried already) backs off on its own (2, 4 ... 300 s) and says so; the others are read on time. `backoff`
    (poller id → failures, loop time before which it is not read) is the caller's, kept between rounds."""
    now = asyncio.get_running_loop().time()
    for poller in pollers:
        failures, not_before = backoff.get(id(poller), (0, 0.0))
        if now < not_before:
            continue
        try:
            await poller.poll_due()
            backoff.pop(id(poller), None)
        except PollerFenced:
            raise  # the tenant's pollers are started anew by the caller: each of them shares the fenced producer
        except Exception as exc:  # noqa: BLE001 - one system down must not stop the other's polling
            delay = min(300.0, 2.0 ** (failures + 1))
            backoff[id(poller)] = (failures + 1, now + delay)
            log.error("poll failed, backing off", system=poller.system, tenant=poller.tenant,
                      failures=failures + 1, retry_in_s=delay, error=f"{type(exc).__name__}: {exc}")
