"""Everything a worker holds while it runs: API clients, the transfers, the pollers and the producer.

A `Runtime` is built whole, in one step, inside the worker's event loop (httpx and aiokafka clients belong to a
loop): every field is set once it exists. `RuntimeStarter` builds it on first use, once, and keeps trying while
an API cannot be reached, so that the worker stays up and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiolimiter import AsyncLimiter

from connectors.errors import ApiAuthError, TransientApiError
from connectors.polling import Poller, TenantProducer, WatermarkReader
from connectors.procountor.client import ProcountorClient
from connectors.procountor.poller import procountor_poller
from connectors.severa.client import SeveraClient, severa_pacer
from connectors.severa.customer_cards import CustomerCards
from connectors.severa.invoice_reads import InvoiceReads
from connectors.severa.poller import severa_poller
from connectors.severa.row_mirror import InvoiceRowMirror
from foundation.company import CompanySettings, CompanySettingsError, procountor_api_keys
from foundation.kafka import idempotent_producer
from foundation.logs import get_logger
from foundation.settings import Settings
from foundation.types import Json
from projections.store import ProjectionStore
from schemas import topics
from schemas.codec import encode
from streams.dimension_item import DimensionItemTransfer
from streams.payment import SalesInvoicePaymentTransfer
from streams.purchase_invoice import ProjectDimensions, PurchaseInvoiceTransfer, PurchaseInvoiceTrigger
from streams.registers import Answers, Registers
from streams.sales_invoice import KIND, CompanyDirectory, SalesInvoiceTransfer
from streams.transfer import CompanyContext, company_contexts
from streams.travel_reimbursement import TravelDirectory, TravelReimbursementTransfer
from streams.writers import Writers, writers_within

log = get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    companies: dict[str, CompanySettings]
    bootstrap: str
    severa: SeveraClient
    procountor: dict[str, ProcountorClient]
    producer: AIOKafkaProducer
    store: ProjectionStore
    directory: CompanyDirectory
    transfer: SalesInvoiceTransfer
    travel_directory: TravelDirectory
    travel: TravelReimbursementTransfer
    dimension_items: DimensionItemTransfer
    purchase_trigger: PurchaseInvoiceTrigger
    purchase_transfer: PurchaseInvoiceTransfer
    payments: SalesInvoicePaymentTransfer
    contexts: dict[str, CompanyContext]
    registers: Registers
    writers: Writers  # the tenant's transfers past their create, at most what the paces finish in a rebalance
    answers: Answers
    pollers: list[Poller] = field(default_factory=list)
    stopped: bool = False  # the worker is shutting down: timers do nothing more
    procountor_pace: Any = None  # the one pacer of the Procountor API client, shared by every company's client
    api_keys: dict[str, str] = field(default_factory=dict, repr=False)  # company → the key its client uses
    company_pollers: dict[str, Poller] = field(default_factory=dict)  # company → its Procountor poller
    retired: list[Any] = field(default_factory=list)  # clients replaced by a settings change, closed at stop
    shared: bool = False  # the producer and the registry answers are the pool's (SharedKafka), not closed here
    severa_pace: Any = None  # the one pacer of the Severa API client
    pace_share: float = 1.0  # of the settings' paces, this worker's (a pool's workers share each client's limit)
    watermarks: WatermarkReader | None = None  # a pool worker's reader of the pollers' watermarks (SharedKafka)
    poll_producer: TenantProducer | None = None  # the pollers' transactional producer (while they run)

    @classmethod
    async def start(cls, settings: Settings, companies: dict[str, CompanySettings], bootstrap: str,
                    shared: SharedKafka | None = None) -> Runtime:
        """Open the clients and the producer, load the directories, and wire the transfers. What was opened is
        closed again when a later step fails (an API that cannot be reached yet). With `shared` (a pool worker's
        tenants) the producer and the registry answers are the worker's, one for all its tenants."""
        severa_pace = Pace(settings.severa_requests_per_second,
                           burst=int(severa_pacer(settings.severa_requests_per_second).max_rate))
        severa = SeveraClient(settings.severa_url, settings.severa_client_id,
                              settings.severa_client_secret.get_secret_value(), limiter=severa_pace,
                              timeout=settings.http_timeout_seconds)
        # Procountor's rate limit is per API client, and the companies' clients share one client id.
        shared_pace = Pace(settings.procountor_requests_per_second)
        api_keys = procountor_api_keys(companies, os.environ)
        procountor = {name: _procountor_client(settings, api_key, shared_pace) for name, api_key in api_keys.items()}
        opened: list[Any] = [severa, *procountor.values()]
        try:
            if shared is None:
                producer = idempotent_producer(bootstrap)
                answers = Answers(bootstrap, _Emitter(producer).emit, producer.partitions_for)
                await producer.start()
                opened.append(producer)
                await answers.start()
                opened.append(answers)
            else:
                producer, answers = shared.producer, shared.answers
            directory = await CompanyDirectory.load(companies, severa)
            travel_directory = await TravelDirectory.load(directory, severa)
        except BaseException:
            await _close_all(opened)
            raise
        store = ProjectionStore()
        emit = _Emitter(producer).emit
        contexts = company_contexts(companies, procountor)  # shared by the transfers to Procountor
        registers = Registers(answers, severa)  # and so is every creation of a registry record
        writers = Writers(writers_within(settings.severa_requests_per_second, settings.procountor_requests_per_second))
        dimensions = ProjectDimensions(procountor, companies)
        return cls(
            settings=settings, companies=companies, bootstrap=bootstrap, severa=severa, procountor=procountor,
            producer=producer, store=store, directory=directory, travel_directory=travel_directory,
            transfer=SalesInvoiceTransfer(severa, procountor, companies, emit, transfer_log=store, directory=directory,
                                          customer_cards=CustomerCards(
                                              severa, ttl=settings.registry_poll_seconds,
                                              stale_after=3 * settings.registry_poll_seconds),
                                          contexts=contexts,
                                          row_mirror=InvoiceRowMirror(severa, time_zone=settings.severa_time_zone),
                                          invoice_reads=InvoiceReads(severa, time_zone=settings.severa_time_zone),
                                          registers=registers, writers=writers),
            travel=TravelReimbursementTransfer(severa, procountor, companies, emit, transfer_log=store,
                                               directory=travel_directory, contexts=contexts, registers=registers,
                                               writers=writers),
            dimension_items=DimensionItemTransfer(severa, procountor, companies, emit, transfer_log=store,
                                                  contexts=contexts, registers=registers, directory=directory),
            purchase_trigger=PurchaseInvoiceTrigger(companies, dimensions),
            purchase_transfer=PurchaseInvoiceTransfer(severa, companies, dimensions, emit, transfer_log=store),
            payments=SalesInvoicePaymentTransfer(severa, companies, directory, emit, store, registers),
            contexts=contexts, registers=registers, writers=writers, answers=answers, procountor_pace=shared_pace,
            api_keys=api_keys, shared=shared is not None, severa_pace=severa_pace,
            watermarks=None if shared is None else shared.watermarks,
        )

    async def start_pollers(self) -> None:
        """The tenant's pollers, with one transactional producer for all of them (`TenantProducer`: starting it
        fences the tenant's pollers on any other worker)."""
        if self.poll_producer is None:
            producer = TenantProducer(self.bootstrap, self.settings.tenant)
            await producer.start()
            self.poll_producer = producer
        poller = severa_poller(self.bootstrap, self.settings.tenant, self.severa,
                               fast_interval=self.settings.invoice_poll_seconds,
                               slow_interval=self.settings.registry_poll_seconds,
                               time_zone=self.settings.severa_time_zone,
                               invoice_reads=self.transfer.invoice_reads,
                               customer_cards=self.transfer.customer_cards, watermarks=self.watermarks,
                               producer=self.poll_producer)
        await poller.start()
        self.pollers.append(poller)
        await self._company_pollers()

    async def _company_pollers(self) -> None:
        """A Procountor poller per company that imports purchase invoices or writes payments back, and none for any
        other (after a settings change too). The list is replaced, not changed in place: a poll round may be going
        through it."""
        wanted = {name for name, client in self.procountor.items()
                  if name in self.companies and self.companies[name].enabled
                  and (self.companies[name].purchase_invoices.enabled or self.companies[name].payments.enabled)}
        for name in sorted(set(self.company_pollers) - wanted):
            old = self.company_pollers.pop(name)
            self.pollers = [p for p in self.pollers if p is not old]
            await old.stop()
        for name in sorted(wanted - set(self.company_pollers)):
            company_poller = procountor_poller(self.bootstrap, self.settings.tenant, name, self.procountor[name],
                                               interval=self.settings.purchase_invoice_poll_seconds,
                                               registry_interval=self.settings.registry_poll_seconds,
                                               payments=lambda name=name: self._pays(name),  # type: ignore[misc]
                                               payments_interval=self.settings.invoice_poll_seconds,
                                               watermarks=self.watermarks, producer=self.poll_producer)
            await company_poller.start()
            self.company_pollers[name] = company_poller
            self.pollers = [*self.pollers, company_poller]

    def _pays(self, name: str) -> bool:
        company = self.companies.get(name)
        return bool(company and company.enabled and company.payments.enabled)

    async def apply_settings(self, companies: Mapping[str, CompanySettings]) -> None:
        """Run with `companies` from the next request on (a settings change, applied live): the shared settings
        are changed in place (every transfer holds the same dict), a company with a new or first API key gets
        its Procountor client, and the business units and status names the settings refer to are read again."""
        for name, company in companies.items():
            if not company.enabled:
                continue
            try:
                key = company.procountor_api_key(os.environ)
            except CompanySettingsError as error:  # its transfers fail naming the company until the key is set
                log.error("company has no Procountor API key on this worker", company=name, error=str(error))
                continue
            if self.api_keys.get(name) != key or name not in self.procountor:
                if name in self.procountor:
                    self.retired.append(self.procountor[name])  # a request may still be using it
                client = _procountor_client(self.settings, key, self.procountor_pace)
                self.procountor[name], self.api_keys[name] = client, key
                self.contexts[name] = CompanyContext(company, client)
        for name in set(self.companies) - set(companies):
            del self.companies[name]
            self.contexts.pop(name, None)
        self.companies.update(companies)
        for name, context in self.contexts.items():
            context.settings = self.companies[name]
        fresh = await CompanyDirectory.load(self.companies, self.severa)
        self.directory.business_unit_guids, self.directory.invoice_statuses, self.directory.unit_parents = (
            fresh.business_unit_guids, fresh.invoice_statuses, fresh.unit_parents)
        travel = await TravelDirectory.load(self.directory, self.severa)
        self.travel_directory.statuses = travel.statuses
        if self.pollers:
            await self._company_pollers()

    async def emit(self, name: str, record: Json) -> None:
        await _Emitter(self.producer).emit(name, record)

    def attempt_number(self, request: Json) -> int:
        """1 + the attempts of this request the transfer log has seen (the log may lag: a hint, not a key)."""
        entry = self.store.transfer(request["tenant"], request["kind"], request["source_id"]) or {}
        return 1 + sum(1 for a in entry.get("attempts", []) if a["request_id"] == request["event_id"])

    def set_pace_share(self, share: float) -> None:
        """Pace the API clients at `share` of the settings' paces from the next request on: a pool worker's share
        of each client's limit (streams/pool.py). A share below 1 has no idle burst: the workers' bursts together
        could pass Severa's quota."""
        severa = self.settings.severa_requests_per_second
        burst = int(severa_pacer(severa).max_rate) if share >= 1 else 1
        self.severa_pace.set_rate(severa * share, burst=burst)
        procountor = self.settings.procountor_requests_per_second
        self.procountor_pace.set_rate(procountor * share)
        self.writers.set_limit(writers_within(severa * share, procountor * share))
        self.pace_share = share

    async def stop_pollers(self) -> None:
        """Stop polling (a pool worker hands the tenant's polling to another): their producers closed, an open
        poll transaction aborted. `start_pollers` starts them again."""
        pollers, self.pollers, self.company_pollers = self.pollers, [], {}
        producer, self.poll_producer = self.poll_producer, None
        for poller in pollers:
            with contextlib.suppress(Exception):
                await poller.stop()
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def stop(self) -> None:
        self.stopped = True
        await self.stop_pollers()
        kafka = [] if self.shared else [self.answers, self.producer]
        await _close_all([*kafka, self.severa, *self.procountor.values(), *self.retired])


class Pace(AsyncLimiter):
    """A token bucket filled at `requests_per_second` holding up to `burst` tokens (1: never a burst, as
    procountor_pacer; Severa's: severa_pacer's burst), whose rate can be changed while it runs: a pool worker's
    share of an API client's limit follows the number of workers (streams/pool.py).

    A request that the event loop wakes late (its other work, a few milliseconds each time) does not push every
    later request back by as much: the bucket may run `CATCH_UP` of a token below empty, so the next request goes
    on its time. AsyncLimiter stops at empty, and a 9.5/s pace sent 8.8 a second with 5 ms of other work per
    wake-up. A second holds at most burst + catch-up + the rate requests, rounded down, which the catch-up
    keeps at what the bucket alone allows (burst + rate, rounded down): 10 at 9.5/s (Severa's quota), 8 at
    severa_pacer's 5/s with its burst of 3, 19 at Procountor's 18/s (of its 20)."""

    CATCH_UP = 0.4  # at most, of a request

    def __init__(self, requests_per_second: float, burst: int = 1) -> None:
        super().__init__(burst, burst / requests_per_second)

    @property
    def catch_up(self) -> float:
        """How far below empty the bucket may run: never so far that a second holds one request more."""
        most = self.max_rate + self.rate
        return max(0.0, min(self.CATCH_UP, math.floor(most) + 1 - most - 0.05))

    def _leak(self) -> None:
        now = self._loop.time()
        self._level = max(self._level - (now - self._last_check) * self._rate_per_sec, -self.catch_up)
        self._last_check = now

    @property
    def rate(self) -> float:
        return self.max_rate / self.time_period

    def set_rate(self, requests_per_second: float, burst: int = 1) -> None:
        if requests_per_second <= 0 or burst < 1:
            raise ValueError("requests_per_second must be positive, burst at least 1")
        self.max_rate, self.time_period = burst, burst / requests_per_second
        self._rate_per_sec = requests_per_second  # what AsyncLimiter leaks by (aiolimiter 1.x)


@dataclass
class SharedKafka:
    """A pool worker's producer, registry answers and reader of the pollers' watermarks, shared by its tenants'
    runtimes (a client each per tenant would cost a thousand tenants thousands of connections, and each poller's
    start would read the whole watermark topic again)."""

    producer: AIOKafkaProducer
    answers: Answers
    watermarks: WatermarkReader

    @classmethod
    async def start(cls, bootstrap: str) -> SharedKafka:
        producer = idempotent_producer(bootstrap)
        answers = Answers(bootstrap, _Emitter(producer).emit, producer.partitions_for)
        await producer.start()
        try:
            await answers.start()
        except BaseException:
            await _close_all([producer])
            raise
        return cls(producer, answers, WatermarkReader(bootstrap))

    async def stop(self) -> None:
        await _close_all([self.answers, self.producer])
        with contextlib.suppress(Exception):
            await self.watermarks.stop()


def _procountor_client(settings: Settings, api_key: str, pace: Any) -> ProcountorClient:
    # Procountor's rate limit is per API client, and the companies' clients share one client id: one pacer.
    return ProcountorClient(settings.procountor_url, settings.procountor_client_id,
                            settings.procountor_client_secret.get_secret_value(), api_key, limiter=pace,
                            timeout=settings.http_timeout_seconds)


@dataclass
class _Emitter:
    producer: AIOKafkaProducer

    async def emit(self, name: str, record: Json) -> None:
        """Publish one event and wait for the broker's ack: the record exists before the next side effect."""
        if name == "TransferOutcome":
            topic, key = topics.transfer_outcome(record["kind"]), topics.key(record["tenant"], record["source_id"])
        elif name == "IdLinked":
            topic = topics.registry_links()
            key = topics.key(record["tenant"], record["company"], record["kind"], record["severa_key"])
        elif name == "TransferRequested":
            topic, key = topics.transfer_requested(record["kind"]), topics.key(record["tenant"], record["source_id"])
        elif name in ("RegistryCreateRequested", "RegistryCreateAnswered"):
            # Keyed by the registry key: one partition, so one worker, finds or creates each record.
            topic = {"RegistryCreateRequested": topics.registry_create_requested(),
                     "RegistryCreateAnswered": topics.registry_create_answered()}[name]
            key = topics.key(record["tenant"], record["company"], record["registry"], record["key"])
        else:
            raise ValueError(f"no topic for {name}")
        await self.producer.send_and_wait(topic, key=key, value=encode(name, record))


async def _close_all(resources: list[Any]) -> None:
    for resource in resources:
        with contextlib.suppress(Exception):
            await (resource.stop() if isinstance(resource, AIOKafkaProducer) else resource.aclose())


START_RETRY_MAX_SECONDS = 30.0


def _start_problem(error: Exception) -> str:
    if isinstance(error, TransientApiError):
        return "an API is unavailable"
    if isinstance(error, ApiAuthError):
        return "an API refused the credentials or their scopes"
    return "unexpected error"


class RuntimeStarter:
    """The worker's runtime, started once, on first use. Until it starts (an API unavailable, credentials
    refused, anything else) the start is retried with backoff and the log says why: the worker stays up and its
    events wait in Kafka. A fix on the API's side (the client enabled again, a scope granted) is picked up
    without a restart; new credentials of ours are settings, read at start."""

    def __init__(self, settings: Settings, companies: dict[str, CompanySettings], bootstrap: str,
                 shared: Callable[[], Awaitable[SharedKafka]] | None = None) -> None:
        self.settings, self.companies, self.bootstrap = settings, companies, bootstrap
        self.shared = shared  # a pool worker's: its producer and registry answers, for every tenant
        self.runtime: Runtime | None = None
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self._apply_lock = asyncio.Lock()
        self._changes = 0  # settings changes applied so far: one during a start is applied to what it started
        self._unfinished = False  # the last change did not reach the runtime whole (an API was down): again

    async def get(self) -> Runtime:
        async with self._lock:
            failures = 0
            while self.runtime is None:
                if self._stopping.is_set():
                    raise asyncio.CancelledError("the worker is stopping")
                try:
                    await self._start()
                except Exception as error:  # noqa: BLE001 - every agent waits on this: none may crash with it
                    failures += 1
                    delay = min(START_RETRY_MAX_SECONDS, 2.0 ** failures)
                    log.error(f"runtime cannot start yet: {_start_problem(error)}, retrying",
                              tenant=self.settings.tenant, failures=failures,
                              retry_in_s=delay, error=f"{type(error).__name__}: {error}")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), delay)
            return self.runtime

    async def start_once(self) -> Runtime:
        """The runtime, started now if it is not running: one attempt, its error raised (a pool worker parks the
        tenant's event rather than hold the partition that other tenants' events share, streams/pool.py)."""
        async with self._lock:
            if self._stopping.is_set():
                raise asyncio.CancelledError("the worker is stopping")
            if self.runtime is None:
                await self._start()
            assert self.runtime is not None
            return self.runtime

    async def _start(self) -> None:
        changes = self._changes
        shared = None if self.shared is None else await self.shared()
        runtime = await Runtime.start(self.settings, self.companies, self.bootstrap, shared)
        if self._changes != changes:  # the settings changed while it started: bring it up to date
            await runtime.apply_settings(dict(self.companies))
        self.runtime = runtime
        log.info("runtime started", tenant=self.settings.tenant, companies=sorted(runtime.procountor), kind=KIND)

    async def apply(self, companies: Mapping[str, CompanySettings]) -> list[str]:
        """Run with `companies` from now on (streams/live_settings.py); the names of the companies that changed.
        Before the runtime exists, its start uses them; once it runs, it is changed in place."""
        async with self._apply_lock:
            changed = sorted(name for name in set(companies) | set(self.companies)
                             if companies.get(name) != self.companies.get(name))
            if not changed and not self._unfinished:
                return []
            if self.runtime is None:
                self.companies.clear()
                self.companies.update(companies)
                self._changes += 1
            else:
                self._unfinished = True
                await self.runtime.apply_settings(companies)
                self._unfinished = False
            return changed

    async def close(self) -> None:
        """Stop the pollers and close the producer and the API clients (the worker is shutting down)."""
        self._stopping.set()  # a start still waiting for an API gives up, and frees the lock
        async with self._lock:
            if self.runtime is not None and not self.runtime.stopped:
                await self.runtime.stop()
