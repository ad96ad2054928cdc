"""The deployment's configuration on Kafka: the directory that reads it, and the writer that changes it.

`SettingsDirectory` consumes the two compacted topics (config.tenants, config.company-settings) and keeps the
latest record per key: the tenants and the company settings in force. A command reads it to the end once; the
worker keeps following it and applies each change as it arrives (streams/live_settings.py).

`SettingsWriter` publishes changes, validated before they are sent (foundation/settings_events.py), each on its
compacted topic and on config.history (the audit), both in one Kafka transaction. Every writer of a deployment
uses the same transactional id: starting a transaction fences any other writer, and the writer reads the
current settings only after that, so two people changing settings at the same moment never overwrite each
other's change unseen (the one fenced out is told to run again, and nothing of it is published).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced
from pydantic import ValidationError

from foundation.company import CompanySettings
from foundation.kafka import ensure_topics, from_the_beginning, transactional_producer
from foundation.logs import get_logger
from foundation.settings import get_settings
from foundation.settings_events import (
    SettingsRefused,
    TenantConfig,
    change_company,
    company_settings_changed,
    describe,
    fingerprint,
    tenant_configured,
)
from foundation.types import Json
from schemas import topics
from schemas.codec import CodecError, decode, encode, now

log = get_logger(__name__)


class SettingsConflict(RuntimeError):
    """Another change of the deployment's settings was made at the same moment; nothing of this one was published."""


class SettingsDirectory:
    """The latest TenantConfigured per tenant and CompanySettingsChanged per tenant/company."""

    def __init__(self, bootstrap: str, *, security: Mapping[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.tenants: dict[str, Json] = {}  # tenant → its latest TenantConfigured
        self.companies: dict[str, dict[str, Json]] = {}  # tenant → company → its latest CompanySettingsChanged
        # tenant → the partition of config.tenants its records are on: a pool worker polls the tenants of the
        # partitions its group gives it (streams/pool.py)
        self.tenant_partitions: dict[str, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Assign every partition of the two topics and read them from the beginning (no consumer group: each
        reader needs the whole configuration)."""
        self._consumer, self._partitions = await from_the_beginning(
            self.bootstrap, [topics.tenants_configured(), topics.company_settings()], security=self.security)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def catch_up(self) -> list[Json]:
        """Read up to the end each partition has now; the records that changed something, in order."""
        assert self._consumer is not None, "start() first"
        if not self._partitions:
            return []
        end = await self._consumer.end_offsets(self._partitions)
        changed: list[Json] = []
        while True:
            behind = [tp for tp in self._partitions if await self._consumer.position(tp) < end[tp]]
            if not behind:
                return changed
            changed += await self.poll(wait_seconds=1.0)

    async def poll(self, wait_seconds: float = 1.0) -> list[Json]:
        """Apply what arrives within `wait_seconds`; the records that changed something."""
        assert self._consumer is not None, "start() first"
        if not self._partitions:
            return []
        batches = await self._consumer.getmany(*self._partitions, timeout_ms=int(wait_seconds * 1000))
        changed = []
        for messages in batches.values():
            for message in messages:
                if message.topic == topics.tenants_configured() and message.key is not None:
                    self.tenant_partitions[message.key.decode(errors="replace")] = message.partition
                if (record := self._apply(message.key, message.value)) is not None:
                    changed.append(record)
        return changed

    def _apply(self, key: bytes | None, value: bytes | None) -> Json | None:
        if value is None:  # a tombstone: the configuration of that key is gone
            tenant, _, company = (key or b"").decode().partition("/")
            (self.companies.get(tenant, {}).pop(company, None) if company else self.tenants.pop(tenant, None))
            return None
        try:
            name, record = decode(value)
        except CodecError as error:  # only validated records are published: say so, and keep what is in force
            log.error("configuration record cannot be read, ignored", key=(key or b"").decode(errors="replace"),
                      error=str(error))
            return None
        if name == "TenantConfigured":
            self.tenants[record["tenant"]] = record
        elif name == "CompanySettingsChanged":
            self.companies.setdefault(record["tenant"], {})[record["company"]] = record
        else:
            return None
        return record

    def tenant(self, tenant: str) -> TenantConfig | None:
        record = self.tenants.get(tenant)
        return TenantConfig.model_validate_json(record["config"]) if record else None

    def company_settings(self, tenant: str) -> dict[str, CompanySettings]:
        """The tenant's companies as the current model reads them; SettingsRefused names every company and field
        the model no longer accepts (settings written before a change of the model)."""
        companies, problems = {}, []
        for name, record in sorted(self.companies.get(tenant, {}).items()):
            try:
                companies[name] = CompanySettings.model_validate_json(record["settings"])
            except ValidationError as error:
                problems += describe(f"tenant {tenant!r} company {name!r} (revision {record['revision']})", error)
        if problems:
            raise SettingsRefused(problems)
        return companies


async def read_directory(bootstrap: str) -> SettingsDirectory:
    """The configuration in force now (read to the end, then closed)."""
    directory = SettingsDirectory(bootstrap)
    async with directory:
        await directory.catch_up()
    return directory


async def read_history(bootstrap: str, tenant: str, company: str | None = None) -> list[tuple[str, Json]]:
    """Every change of the tenant's configuration (and of its companies' settings), oldest first; with `company`,
    that company's only."""
    consumer, partitions = await from_the_beginning(bootstrap, [topics.settings_history()])
    found: list[tuple[str, Json]] = []
    try:
        if not partitions:
            return []
        end = await consumer.end_offsets(partitions)
        wanted = tenant.encode()
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for messages in (await consumer.getmany(*partitions, timeout_ms=1000)).values():
                for message in messages:
                    if message.key != wanted or message.value is None:  # another tenant's (keys are the tenant)
                        continue
                    name, record = decode(message.value)
                    if company is None or record.get("company") == company:
                        found.append((name, record))
    finally:
        await consumer.stop()
    return sorted(found, key=lambda item: item[1]["changed_at"])


Edit = Callable[[dict[str, CompanySettings]], Mapping[str, CompanySettings]]
TenantEdit = Callable[[TenantConfig | None], TenantConfig]
Planned = list[tuple[str, str, bytes, Json]]  # (record name, topic, key, record)


class SettingsWriter:
    """Publishes validated changes of the deployment's configuration (see the module's docstring)."""

    def __init__(self, bootstrap: str, *, changed_by: str, origin: str) -> None:
        self.bootstrap, self.changed_by, self.origin = bootstrap, changed_by, origin

    async def change_companies(self, tenant: str, edit: Edit) -> list[Json]:
        """Apply `edit` (current settings by company → the companies to change, already validated) and publish a
        CompanySettingsChanged per company that changed; the events published (none: nothing changed)."""

        def events(directory: SettingsDirectory, at: datetime) -> Planned:
            current = directory.company_settings(tenant)
            out = []
            for name, settings in edit(dict(current)).items():
                if not isinstance(settings, CompanySettings) or settings.name != name:
                    raise SettingsRefused([f"company {name!r}: name: the settings are another company's"])
                previous = directory.companies.get(tenant, {}).get(name)
                record = company_settings_changed(tenant, settings, previous, changed_by=self.changed_by,
                                                  origin=self.origin, at=at)
                if record is not None:
                    out.append(("CompanySettingsChanged", topics.company_settings(), topics.key(tenant, name), record))
            return out

        return await self._publish(tenant, events)

    async def change_tenant(self, tenant: str, edit: TenantEdit) -> list[Json]:
        """Apply `edit` (the tenant's current configuration or None → the new one) and publish TenantConfigured if
        it changed; the events published."""

        def events(directory: SettingsDirectory, at: datetime) -> Planned:
            config = edit(directory.tenant(tenant))
            if config.name != tenant:
                raise SettingsRefused([f"tenant {tenant!r}: name: the configuration is another tenant's"])
            record = tenant_configured(config, directory.tenants.get(tenant), changed_by=self.changed_by,
                                       origin=self.origin, at=at)
            return [] if record is None else [("TenantConfigured", topics.tenants_configured(),
                                               topics.key(tenant), record)]

        return await self._publish(tenant, events)

    async def _publish(self, tenant: str, events: Callable[[SettingsDirectory, datetime], Planned]) -> list[Json]:
        producer = transactional_producer(self.bootstrap, topics.named("settings-writer"))
        await producer.start()
        try:
            await producer.begin_transaction()  # fences any other writer before the current settings are read
            directory = await read_directory(self.bootstrap)
            try:
                planned = events(directory, now())
            except BaseException:
                await producer.abort_transaction()
                raise
            for name, topic, key, record in planned:
                value = encode(name, record)
                # Each send waited for: a writer fenced out hears it here, not from a future left unread.
                await producer.send_and_wait(topic, key=key, value=value)
                await producer.send_and_wait(topics.settings_history(), key=topics.key(tenant), value=value)
            await producer.commit_transaction()
        except ProducerFenced:
            raise SettingsConflict("another change of the settings was being made at the same moment; nothing of "
                                   "this one was published: run it again (it starts from the other change)") from None
        except KafkaError as error:
            if "fenced" in str(error).lower() or "epoch" in str(error).lower():
                raise SettingsConflict("another change of the settings was being made at the same moment; nothing "
                                       "of this one was published: run it again") from None
            raise
        finally:
            await producer.stop()
        return [record for *_, record in planned]


class SettingsChangedMeanwhile(SettingsConflict):
    """The settings a form showed were changed by someone else before it was sent; nothing was published."""


async def ensure_config_topics(bootstrap: str) -> None:
    """The deployment's topics, made as a worker makes them (compacted where meant) before the first write."""
    settings = get_settings()
    await ensure_topics(bootstrap, partitions=settings.topic_partitions, retention_ms=settings.topic_retention_ms,
                        replication=settings.topic_replication_factor, min_insync=settings.topic_min_insync_replicas)


async def set_company(bootstrap: str, tenant: str, company: str, values: Mapping[str, Any],
                      unset: tuple[str, ...] | list[str] = (), *, changed_by: str, origin: str,
                      based_on: str | None = None) -> list[Json]:
    """Change fields of one company's settings on the topic (`sevpro settings set` and the console both): dotted
    `values` set, `unset` back to their defaults, validated whole, published as a CompanySettingsChanged by
    `changed_by`; the events published (none: nothing changed). With `based_on` (the `fingerprint` of the settings
    a form showed), a change made by someone else in between refuses this one (SettingsChangedMeanwhile), checked
    inside the fenced transaction."""

    def edit(current: dict[str, CompanySettings]) -> dict[str, CompanySettings]:
        if based_on is not None and fingerprint(current.get(company)) != based_on:
            raise SettingsChangedMeanwhile(f"company {company!r}: its settings were changed by someone else after "
                                           "the form was opened; nothing was published: reload and change again")
        return {company: change_company(current.get(company), company, values, unset)}

    await ensure_config_topics(bootstrap)
    return await SettingsWriter(bootstrap, changed_by=changed_by, origin=origin).change_companies(tenant, edit)
