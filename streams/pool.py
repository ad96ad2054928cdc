"""Whom a worker serves: one tenant (`SingleTenant`, SEVPRO_TENANT), or every enabled tenant of the deployment
(`TenantPool`, SEVPRO_POOL), as Kafka Connect's workers serve the connectors of their config topic.

The agents (streams/agents.py) ask the same three questions of either: is this tenant's event mine to act on
(`refusal`), the tenant's runtime for the time of one piece of work (`use`), and which tenants this worker polls
(`poll_duty`). A pool worker:

- knows the tenants from the compacted `config.tenants` topic, and their company settings from
  `config.company-settings` (one SettingsDirectory, followed for the life of the worker);
- builds a tenant's runtime (API clients with their pacers, caches, directory) when it first has work for it,
  with the API credentials its TenantConfigured refers to (env:, file:), and closes it after
  SEVPRO_POOL_IDLE_SECONDS without work; a tenant whose references do not resolve, or whose runtime does not
  start within START_WAIT_SECONDS (an API down: its start is retried with back-off meanwhile), is named in the
  log and its events are parked on the dead-letter topic with the reason, never acted on with someone else's
  credentials, and never holding the partitions other tenants' events share;
- re-drives those parked events (streams/dead_letters.py) once the tenant is served again: registered, enabled,
  its configuration fixed (at once on the change) or its runtime started (retried with back-off), by the worker
  that polls the tenant;
- polls the tenants whose TenantConfigured lies on a partition of `config.tenants` that the group gave it (an
  agent of the worker consumes that topic: the rebalance spreads the partitions, so adding a worker spreads the
  polling, and a lost worker's partitions, with their tenants' polling, move within the session timeout);
- applies a change of a tenant's company settings to its runtime at once, and closes the runtime of a tenant
  whose configuration changed (rebuilt with the new credentials at its next work) or that was disabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import SecretStr

from connectors.polling import PollerFenced, next_round, poll_each_due
from foundation.company import CompanySettings, CompanySettingsError, procountor_api_keys
from foundation.kafka import admin_client
from foundation.logs import get_logger
from foundation.schedule import Schedule
from foundation.settings import Settings, SettingsError
from foundation.settings_directory import SettingsDirectory
from foundation.settings_events import SettingsRefused, TenantConfig, resolve_credentials
from foundation.types import Json
from schemas import topics
from streams.dead_letters import NOT_SERVED, DeadLetterIndex, redrive
from streams.live_settings import effective_companies, retried_for_ever
from streams.runtime import Runtime, RuntimeStarter, SharedKafka
from streams.writers import writers_within

log = get_logger(__name__)
RETRY_MAX_SECONDS = 30.0
#: How long an event waits for its tenant's runtime to start before it is parked (to be re-driven once it has
#: started): other tenants' events on the same partitions wait behind it meanwhile. A start takes a few seconds
#: (it reads business units and statuses at the API's pace), longer on a busy host: one that takes longer than
#: this is taken for an API down or hanging.
START_WAIT_SECONDS = 20.0
#: The longest wait between two re-drives of a tenant's parked events while they come back parked (a host that
#: cannot serve the tenant parks them again).
REDRIVE_BACKOFF_MAX_SECONDS = 300.0
#: How often the worker asks whether a tenant with parked events is served again.
REDRIVE_CHECK_SECONDS = 2.0


class TenantUnavailable(RuntimeError):
    """The tenant's runtime cannot be built from its configuration (a credential reference that does not resolve,
    company settings that do not validate, an API key variable not set): the message names the tenant and field."""


def tenant_of(record_tenant: str) -> str:
    """Some records name `tenant/company`: the tenant is the first part."""
    return record_tenant.partition("/")[0]


class Serving:
    """What the agents need to know of the tenants a worker serves (see the module's docstring)."""

    settings: Settings
    bootstrap: str
    workers = 1  # in the worker's group, as last counted
    share = 1.0  # of each API client's pace, this worker's: 1 / workers

    async def ready(self) -> None:
        """Wait until the worker knows whom it serves."""

    def refusal(self, record_tenant: str) -> str | None:
        """None: the worker acts on this tenant's events. "": another worker's, ignored quietly. Else the reason
        the event is not acted on (it is logged and parked on the dead-letter topic)."""
        raise NotImplementedError

    async def refused(self, record_tenant: str) -> str | None:
        """`refusal`, confirmed against the latest configuration before an event is refused."""
        return self.refusal(record_tenant)

    def use(self, record_tenant: str) -> contextlib.AbstractAsyncContextManager[Runtime]:
        raise NotImplementedError

    def running(self) -> list[Runtime]:
        raise NotImplementedError

    def companies(self, record_tenant: str) -> dict[str, CompanySettings]:
        raise NotImplementedError

    def tenants(self) -> list[str]:
        """The tenants this worker's group serves (the leader's retries cover them)."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    # -- the API clients' limits, shared by the workers ---------------------------------------------------------

    async def count_workers(self, group: str) -> None:
        """After a rebalance: count the workers of the group, and pace each tenant's API clients here at
        1/workers of the deployment's pace, so that the workers together stay within each client's limit (a
        pool's workers share every tenant's clients; a tenant's own workers, SEVPRO_TENANT, share its clients)."""
        for _ in range(20):
            try:
                state, members = await group_state(self.bootstrap, group)
            except Exception as error:  # noqa: BLE001 - the paces stay as they are; the next rebalance counts again
                log.warning("workers cannot be counted", error=f"{type(error).__name__}: {error}"[:300])
                return
            if state == "Stable" and members:
                break
            await asyncio.sleep(1.0)
        else:
            return
        if members == self.workers:
            return
        self.workers, self.share = members, 1.0 / members
        severa, procountor = (self.settings.severa_requests_per_second * self.share,
                              self.settings.procountor_requests_per_second * self.share)
        log.info("workers counted: each paces its tenants' API clients at its share", workers=members,
                 severa_per_second=round(severa, 3), procountor_per_second=round(procountor, 3),
                 writers_per_tenant=writers_within(severa, procountor))
        for runtime in self.running():
            runtime.set_pace_share(self.share)


class SingleTenant(Serving):
    """SEVPRO_TENANT: one tenant, one consumer group of its own; other tenants' events are not its business."""

    def __init__(self, starter: RuntimeStarter) -> None:
        self.starter, self.settings, self.bootstrap = starter, starter.settings, starter.bootstrap
        self.tenant = starter.settings.tenant

    def refusal(self, record_tenant: str) -> str | None:
        return None if tenant_of(record_tenant) == self.tenant else ""

    @contextlib.asynccontextmanager
    async def use(self, record_tenant: str) -> AsyncIterator[Runtime]:
        runtime = await self.starter.get()
        if runtime.pace_share != self.share:  # new, or the number of workers changed since
            runtime.set_pace_share(self.share)
        yield runtime

    def running(self) -> list[Runtime]:
        return [self.starter.runtime] if self.starter.runtime is not None else []

    def companies(self, record_tenant: str) -> dict[str, CompanySettings]:
        return self.starter.companies

    def tenants(self) -> list[str]:
        return [self.tenant]

    async def close(self) -> None:
        await self.starter.close()


@dataclass
class _Tenant:
    """One tenant's runtime on this worker, and how much it is in use."""

    starter: RuntimeStarter
    config: TenantConfig
    leases: int = 0
    last_used: float = field(default_factory=time.monotonic)
    closed: bool = False
    starting: asyncio.Task[None] | None = None  # its runtime's start, under way
    start_failures: int = 0
    start_problem: str = ""  # why the last start failed
    start_retry_at: float = 0.0  # monotonic time before which no start is tried again


@dataclass
class _Redrive:
    """When the worker may next re-drive a tenant's parked events (back-off: another host may park them again)."""

    next_at: float = 0.0
    delay: float = REDRIVE_CHECK_SECONDS


@dataclass
class _Polling:
    last_sync: datetime | None = None
    round: asyncio.Task[None] | None = None
    failures: dict[int, tuple[int, float]] = field(default_factory=dict)


async def group_state(bootstrap: str, group: str) -> tuple[str, int]:
    """The consumer group's state (Stable, PreparingRebalance, ...) and its number of members."""
    admin = admin_client(bootstrap)
    await admin.start()
    try:
        for response in await admin.describe_consumer_groups([group]):
            for described in response.groups:  # (error_code, group_id, state, protocol_type, protocol, members...)
                if described[1] == group:
                    return str(described[2]), len(described[5])
        return "Unknown", 0
    finally:
        await admin.close()


def tenant_settings(deployment: Settings, config: TenantConfig) -> Settings:
    """The deployment's settings with the tenant's name, API clients and (when it has its own) API URLs.
    SettingsError names the tenant and the field of a credential reference that does not resolve here."""
    secrets = resolve_credentials(config, os.environ)
    return deployment.model_copy(update={
        "tenant": config.name,
        "severa_client_id": config.severa_client_id,
        "severa_client_secret": SecretStr(secrets["severa_client_secret"]),
        "procountor_client_id": config.procountor_client_id,
        "procountor_client_secret": SecretStr(secrets["procountor_client_secret"]),
        "severa_url": config.severa_url or deployment.severa_url,
        "procountor_url": config.procountor_url or deployment.procountor_url,
    })


class TenantPool(Serving):
    """SEVPRO_POOL: every enabled tenant of the deployment, runtimes built on demand (module docstring)."""

    def __init__(self, settings: Settings, bootstrap: str) -> None:
        self.settings, self.bootstrap = settings, bootstrap
        self.directory = SettingsDirectory(bootstrap)
        self.live: dict[str, _Tenant] = {}
        self.polling: dict[str, _Polling] = {}
        self.schedule = Schedule.parse(settings.sync_schedule)
        self.idle_seconds = settings.pool_idle_seconds
        self._ready = asyncio.Event()
        self._configs: dict[str, tuple[int, TenantConfig]] = {}  # tenant → (revision, parsed config)
        self._shared: SharedKafka | None = None
        self._shared_lock = asyncio.Lock()
        self._stopping = False
        self._settle: list[asyncio.Future[None]] = []  # who waits for the directory to be read to its end
        #: The partitions of config.tenants the group gives this worker now (set by streams/bootstrap.py).
        self.assigned: Callable[[], set[int]] = set
        self.letters: DeadLetterIndex | None = None  # the dead-letter topic, read on the first re-drive tick
        self.redrives: dict[str, _Redrive] = {}

    # -- whom it serves ------------------------------------------------------------------------------------

    async def ready(self) -> None:
        await self._ready.wait()

    def config(self, tenant: str) -> TenantConfig | None:
        record = self.directory.tenants.get(tenant)
        if record is None:
            return None
        cached = self._configs.get(tenant)
        if cached is None or cached[0] != record["revision"]:
            cached = (record["revision"], TenantConfig.model_validate_json(record["config"]))
            self._configs[tenant] = cached
        return cached[1]

    def refusal(self, record_tenant: str) -> str | None:
        tenant = tenant_of(record_tenant)
        config = self.config(tenant)
        if config is None:
            return f"tenant {tenant!r} is not registered in {topics.tenants_configured()} (sevpro tenants add)"
        if not config.enabled:
            return f"tenant {tenant!r} is disabled (sevpro tenants disable)"
        return None

    async def refused(self, record_tenant: str) -> str | None:
        """A tenant registered or enabled a moment ago may not have reached this worker's directory yet: before
        refusing, read the config topics to their end once more."""
        if self.refusal(record_tenant) is None:
            return None
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._settle.append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, RETRY_MAX_SECONDS)
        return self.refusal(record_tenant)

    def tenants(self) -> list[str]:
        return sorted(name for name in self.directory.tenants if self.refusal(name) is None)

    def companies(self, record_tenant: str) -> dict[str, CompanySettings]:
        entry = self.live.get(tenant_of(record_tenant))
        if entry is not None:
            return entry.starter.companies
        try:
            return effective_companies(self.directory, tenant_of(record_tenant))
        except SettingsRefused:
            return {}

    def running(self) -> list[Runtime]:
        return [entry.starter.runtime for entry in self.live.values() if entry.starter.runtime is not None]

    # -- runtimes ------------------------------------------------------------------------------------------

    async def _shared_kafka(self) -> SharedKafka:
        async with self._shared_lock:
            if self._shared is None:
                self._shared = await SharedKafka.start(self.bootstrap)
            return self._shared

    def _entry(self, tenant: str) -> _Tenant:
        """The tenant's runtime holder, made from its configuration now (the runtime itself starts on first use).
        TenantUnavailable when the configuration cannot give one."""
        entry = self.live.get(tenant)
        if entry is not None:
            return entry
        if (reason := self.refusal(tenant)) is not None:
            raise TenantUnavailable(reason)
        config = self.config(tenant)
        assert config is not None
        try:
            settings = tenant_settings(self.settings, config)
            companies = effective_companies(self.directory, tenant)
            procountor_api_keys(companies, os.environ)
        except SettingsError as error:
            raise TenantUnavailable(str(error)) from None
        except SettingsRefused as refused:
            raise TenantUnavailable("; ".join(refused.problems)) from None
        except CompanySettingsError as error:
            raise TenantUnavailable(f"tenant {tenant!r}: {error}") from None
        entry = _Tenant(RuntimeStarter(settings, dict(companies), self.bootstrap, shared=self._shared_kafka), config)
        self.live[tenant] = entry
        log.info("tenant runtime opened", tenant=tenant, companies=sorted(companies))
        return entry

    @contextlib.asynccontextmanager
    async def use(self, record_tenant: str, *, patient: bool = False) -> AsyncIterator[Runtime]:
        """The tenant's runtime for one piece of work; it is not closed while in use. TenantUnavailable when its
        configuration cannot give one, or it does not start (within START_WAIT_SECONDS, unless `patient`: a
        task of its own, holding no partition, waits for the start to end)."""
        tenant = tenant_of(record_tenant)
        await self.ready()
        entry = self._entry(tenant)
        entry.leases += 1
        try:
            runtime = await self._runtime(tenant, entry, patient)
            if runtime.pace_share != self.share:  # new, or the number of workers changed since
                runtime.set_pace_share(self.share)
            yield runtime
        finally:
            entry.leases -= 1
            entry.last_used = time.monotonic()
            if entry.closed and entry.leases == 0:
                await entry.starter.close()

    async def _runtime(self, tenant: str, entry: _Tenant, patient: bool = False) -> Runtime:
        """The tenant's runtime, started if need be. One that does not start within START_WAIT_SECONDS (an API
        down or slow) is TenantUnavailable: the event is parked (re-driven once the runtime has started) rather
        than hold its partition; the start goes on meanwhile, and a failed one is tried again after a back-off."""
        if entry.starter.runtime is not None:
            return entry.starter.runtime
        if entry.starting is None:
            if (wait := entry.start_retry_at - time.monotonic()) > 0:
                raise TenantUnavailable(f"tenant {tenant!r}: its runtime cannot start: {entry.start_problem} "
                                        f"(tried again in {wait:.0f} s)")
            entry.starting = asyncio.get_running_loop().create_task(self._start(tenant, entry),
                                                                    name=f"start-runtime:{tenant}")
        await asyncio.wait({entry.starting}, timeout=None if patient else START_WAIT_SECONDS)  # never cancelled
        if entry.starter.runtime is not None:
            return entry.starter.runtime
        raise TenantUnavailable(f"tenant {tenant!r}: its runtime cannot start: "
                                f"{entry.start_problem or f'not started within {START_WAIT_SECONDS:g} s'}")

    async def _start(self, tenant: str, entry: _Tenant) -> None:
        try:
            await entry.starter.start_once()
            entry.start_failures, entry.start_problem = 0, ""
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - said, and tried again after the back-off
            entry.start_failures += 1
            delay = min(RETRY_MAX_SECONDS, 2.0 ** entry.start_failures)
            entry.start_problem = f"{type(error).__name__}: {error}"[:300]
            entry.start_retry_at = time.monotonic() + delay
            log.error("tenant runtime cannot start yet: its events are parked, and re-driven once it starts",
                      tenant=tenant, failures=entry.start_failures, retry_in_s=delay, error=entry.start_problem)
        finally:
            entry.starting = None

    async def drop(self, tenant: str, why: str) -> None:
        """Close the tenant's runtime (now, or when its last piece of work ends); the next work builds it anew."""
        polling = self.polling.pop(tenant, None)
        if polling is not None and polling.round is not None and not polling.round.done():
            polling.round.cancel()  # a poll cancelled mid-transaction aborts it: nothing half-published
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await polling.round
        entry = self.live.pop(tenant, None)
        if entry is None:
            return
        entry.closed = True
        log.info("tenant runtime closed", tenant=tenant, why=why)
        if entry.leases == 0:
            await entry.starter.close()

    async def sweep(self) -> None:
        """Close the runtimes of tenants without work here for SEVPRO_POOL_IDLE_SECONDS (polled ones are in use)."""
        now = time.monotonic()
        for tenant, entry in list(self.live.items()):
            if entry.leases == 0 and tenant not in self.polling and now - entry.last_used >= self.idle_seconds:
                await self.drop(tenant, f"idle for {self.idle_seconds:g} s")

    # -- polling -------------------------------------------------------------------------------------------

    def poll_duty(self) -> set[str]:
        """The enabled tenants whose TenantConfigured lies on a partition of config.tenants this worker owns."""
        owned = self.assigned()
        return {tenant for tenant, partition in self.directory.tenant_partitions.items()
                if partition in owned and self.refusal(tenant) is None}

    async def poll_tick(self) -> None:
        """Take and hand over polling as the assignment says, and start each polled tenant's round when due."""
        if self._stopping or not self._ready.is_set():
            return
        duty = self.poll_duty()
        for tenant in sorted(set(self.polling) - duty):
            await self._hand_over(tenant)
        now_utc = datetime.now(UTC)
        for tenant in sorted(duty):
            polling = self.polling.get(tenant)
            if polling is None:
                polling = self.polling[tenant] = _Polling()
                log.info("tenant polling taken", tenant=tenant, partition=self.directory.tenant_partitions[tenant])
            if polling.round is not None and not polling.round.done():
                continue
            if asyncio.get_running_loop().time() < self._next_round(tenant, polling):
                continue  # none of its pollers has a source due yet
            if not self.schedule.is_due(polling.last_sync, now_utc):
                continue
            polling.last_sync = now_utc
            polling.round = asyncio.get_running_loop().create_task(self._poll_round(tenant, polling),
                                                                   name=f"poll-round:{tenant}")

    def _next_round(self, tenant: str, polling: _Polling) -> float:
        entry = self.live.get(tenant)
        runtime = None if entry is None else entry.starter.runtime
        if runtime is None or not runtime.pollers:
            return float("-inf")  # its pollers start with its next round
        return next_round(runtime.pollers, polling.failures)

    async def _hand_over(self, tenant: str) -> None:
        polling = self.polling.pop(tenant)
        if polling.round is not None and not polling.round.done():
            polling.round.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await polling.round
        entry = self.live.get(tenant)
        if entry is not None and entry.starter.runtime is not None:
            await entry.starter.runtime.stop_pollers()
        log.info("tenant polling handed over", tenant=tenant)

    async def _poll_round(self, tenant: str, polling: _Polling) -> None:
        """One round of the tenant's pollers (each source at its own pace), as a single-tenant worker's."""
        try:
            async with self.use(tenant, patient=True) as runtime:
                if runtime.stopped:
                    return
                if not runtime.pollers:
                    await runtime.start_pollers()
                try:
                    await poll_each_due(runtime.pollers, polling.failures)
                except PollerFenced as exc:
                    log.warning("tenant's poll producer was fenced (another worker polled it for a moment): its "
                                "pollers start anew at its next round", tenant=tenant, error=str(exc)[:300])
                    await runtime.stop_pollers()
        except TenantUnavailable as exc:
            log.error("tenant cannot be polled", tenant=tenant, error=str(exc), retry_in_s=RETRY_MAX_SECONDS)
            # Its round stays open meanwhile: not a line every tick (a fixed configuration is taken then; a
            # changed one ends the round at once, as a hand-over does).
            await asyncio.sleep(RETRY_MAX_SECONDS)
        except Exception as exc:  # the next round tries again
            log.error("pollers could not start", tenant=tenant, error=f"{type(exc).__name__}: {exc}")

    # -- the configuration, followed -----------------------------------------------------------------------

    async def run(self) -> None:
        """Until cancelled: follow the config topics, and apply each change to the runtimes here."""
        while True:
            await retried_for_ever(self._follow, "config topics cannot be followed, retrying")

    async def _follow(self) -> None:
        directory = SettingsDirectory(self.bootstrap)
        await directory.start()
        try:
            await directory.catch_up()
            self.directory = directory
            if not self._ready.is_set():
                log.info("pool serves", pool=self.settings.pool, tenants=self.tenants())
            self._ready.set()
            for tenant in list(self.live):  # changes made while the directory was being read again
                await self._changed(tenant, [])
            while True:
                settle, self._settle = self._settle, []
                records = await (directory.catch_up() if settle else directory.poll(wait_seconds=0.5))
                for waiter in settle:
                    if not waiter.done():
                        waiter.set_result(None)
                by_tenant: dict[str, list[Json]] = {}
                for record in records:
                    by_tenant.setdefault(record["tenant"], []).append(record)
                for tenant, records in by_tenant.items():
                    await self._changed(tenant, records)
        finally:
            with contextlib.suppress(Exception):
                await directory.stop()

    async def _changed(self, tenant: str, records: list[Json]) -> None:
        entry = self.live.get(tenant)
        if records:  # someone changed its configuration: its runtime start and its parked events, tried at once
            self.redrives.pop(tenant, None)
            if entry is not None:
                entry.start_retry_at = 0.0
        for record in records:
            if "config" in record:
                log.info("tenant configuration changed", tenant=tenant, revision=record["revision"],
                         changed_by=record["changed_by"], fields=[c["field"] for c in record["changes"]])
                polling = self.polling.get(tenant)
                if entry is None and polling is not None and polling.round is not None:
                    polling.round.cancel()  # one waiting out a configuration that gave no runtime: try the new one
        if entry is None:
            return
        config = self.config(tenant)
        if config is None or not config.enabled or config.model_copy(update={"display_name": None}) != \
                entry.config.model_copy(update={"display_name": None}):
            await self.drop(tenant, "its configuration changed" if config and config.enabled else "disabled")
            return
        try:
            companies = effective_companies(self.directory, tenant)
        except SettingsRefused as refused:
            log.error("company settings on the topic no longer validate; the tenant keeps the settings it runs with",
                      tenant=tenant, problems=refused.problems)
            return
        applied = await retried_for_ever(lambda: entry.starter.apply(companies),
                                         "company settings not applied yet, retrying", tenant=tenant)
        for record in records:
            if "settings" in record:
                log.info("company settings applied", tenant=tenant, company=record["company"],
                         revision=record["revision"], changed_by=record["changed_by"],
                         fields=[change["field"] for change in record["changes"]])
        if applied and not records:
            log.info("company settings applied", tenant=tenant, companies=applied)

    # -- parked events, re-driven ---------------------------------------------------------------------------

    async def redrive_tick(self) -> None:
        """The events parked because their tenant was not served, re-driven once it is (streams/dead_letters.py):
        by the worker that polls the tenant, one at a time. Their agents check the tenant again; a tenant parked
        again (a host without its credentials) is re-driven with a back-off, and a changed configuration of it
        ends the back-off."""
        if self._stopping or not self._ready.is_set():
            return
        try:
            if self.letters is None:
                letters = DeadLetterIndex(self.bootstrap, still_parked_of=NOT_SERVED)
                await letters.start()
                await letters.catch_up()
                self.letters = letters
            else:
                await self.letters.poll()
            for tenant in sorted(self.poll_duty()):
                waiting = self.letters.parked(tenant=tenant, cause=NOT_SERVED)
                state = self.redrives.setdefault(tenant, _Redrive())
                if not waiting and time.monotonic() >= state.next_at:
                    self.redrives.pop(tenant)  # none parked again since the last re-drive: the back-off ends
                if not waiting or time.monotonic() < state.next_at:
                    continue
                try:
                    async with self.use(tenant):
                        pass  # served now: registered, enabled, its configuration resolves and its runtime runs
                except TenantUnavailable:  # its runtime start has a back-off of its own
                    state.next_at = time.monotonic() + REDRIVE_CHECK_SECONDS
                    continue
                state.next_at = time.monotonic() + state.delay
                state.delay = min(REDRIVE_BACKOFF_MAX_SECONDS, state.delay * 2)
                log.info("tenant served again: its parked events are re-driven", tenant=tenant, events=len(waiting))
                written = await redrive(self.bootstrap, waiting, by=f"pool {self.settings.pool}",
                                        why="its tenant is served again")
                for parked, record in zip(waiting, written, strict=True):
                    self.letters.redriven(parked, record)  # before the index reads it back: not re-driven twice
        except Exception as error:  # noqa: BLE001 - the next tick tries again (the topic read afresh)
            log.error("parked events cannot be re-driven now", error=f"{type(error).__name__}: {error}"[:300])
            if self.letters is not None:
                with contextlib.suppress(Exception):
                    await self.letters.stop()
                self.letters = None

    async def close(self) -> None:
        self._stopping = True
        if self.letters is not None:
            with contextlib.suppress(Exception):
                await self.letters.stop()
        for tenant in list(self.polling):
            await self._hand_over(tenant)
        for tenant in list(self.live):
            await self.drop(tenant, "the worker stops")
        if self._shared is not None:
            await self._shared.stop()
