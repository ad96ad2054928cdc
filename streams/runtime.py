"""Everything a worker holds while it runs: API clients, company settings, pollers, the transfer service.

Built once, lazily, inside the worker's event loop (httpx and aiokafka clients belong to a loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiolimiter import AsyncLimiter

from connectors.errors import TransientApiError
from connectors.polling import Poller
from connectors.procountor.client import ProcountorClient
from connectors.procountor.poller import procountor_poller
from connectors.severa.client import SeveraClient
from connectors.severa.poller import severa_poller
from foundation.company import CompanySettings, demo_companies_path, load_companies, procountor_api_keys
from foundation.kafka import idempotent_producer
from foundation.logs import get_logger
from foundation.settings import Settings, get_settings
from projections.store import ProjectionStore
from schemas import topics
from schemas.codec import encode
from streams.dimension_item import DimensionItemTransfer
from streams.purchase_invoice import ProjectDimensions, PurchaseInvoiceTransfer, PurchaseInvoiceTrigger
from streams.sales_invoice import KIND, CompanyDirectory, SalesInvoiceTransfer
from streams.transfer import company_contexts
from streams.travel_reimbursement import TravelDirectory, TravelReimbursementTransfer

log = get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    companies: dict[str, CompanySettings]
    bootstrap: str
    severa: SeveraClient | None = None
    procountor: dict[str, ProcountorClient] = field(default_factory=dict)
    producer: AIOKafkaProducer | None = None
    directory: CompanyDirectory | None = None
    transfer: SalesInvoiceTransfer | None = None
    pollers: list[Poller] = field(default_factory=list)
    store: ProjectionStore | None = None
    stopped: bool = False  # the worker is shutting down: timers do nothing more
    purchase_trigger: PurchaseInvoiceTrigger | None = None
    purchase_transfer: PurchaseInvoiceTransfer | None = None
    travel_directory: TravelDirectory | None = None
    travel: TravelReimbursementTransfer | None = None
    dimension_items: DimensionItemTransfer | None = None

    async def start(self) -> None:
        settings = self.settings
        self.severa = SeveraClient(settings.severa_url, settings.severa_client_id,
                                   settings.severa_client_secret.get_secret_value(),
                                   requests_per_second=settings.severa_requests_per_second,
                                   timeout=settings.http_timeout_seconds)
        # Procountor's rate limit is per API client, and the companies' clients share one client id.
        shared_pace = AsyncLimiter(settings.procountor_requests_per_second, 1.0)
        for name, api_key in procountor_api_keys(self.companies, os.environ).items():
            self.procountor[name] = ProcountorClient(
                settings.procountor_url, settings.procountor_client_id,
                settings.procountor_client_secret.get_secret_value(), api_key, limiter=shared_pace,
                timeout=settings.http_timeout_seconds)
        self.producer = idempotent_producer(self.bootstrap)
        await self.producer.start()
        self.directory = await CompanyDirectory.load(self.companies, self.severa)
        self.store = ProjectionStore()
        contexts = company_contexts(self.companies, self.procountor)  # shared by the transfers to Procountor
        self.transfer = SalesInvoiceTransfer(self.severa, self.procountor, self.companies, self.emit,
                                             transfer_log=self.store, directory=self.directory,
                                             customer_ttl=settings.registry_poll_seconds, contexts=contexts)
        self.travel_directory = await TravelDirectory.load(self.directory, self.severa)
        self.travel = TravelReimbursementTransfer(self.severa, self.procountor, self.companies, self.emit,
                                                  transfer_log=self.store, directory=self.travel_directory,
                                                  contexts=contexts)
        self.dimension_items = DimensionItemTransfer(self.severa, self.procountor, self.companies, self.emit,
                                                     transfer_log=self.store, contexts=contexts,
                                                     directory=self.directory)
        dimensions = ProjectDimensions(self.procountor, self.companies)
        self.purchase_trigger = PurchaseInvoiceTrigger(self.companies, dimensions)
        self.purchase_transfer = PurchaseInvoiceTransfer(self.severa, self.companies, dimensions, self.emit,
                                                         transfer_log=self.store)

    async def start_pollers(self) -> None:
        assert self.severa is not None
        poller = severa_poller(self.bootstrap, self.settings.tenant, self.severa,
                               fast_interval=self.settings.invoice_poll_seconds,
                               slow_interval=self.settings.registry_poll_seconds)
        await poller.start()
        self.pollers.append(poller)
        for name, client in self.procountor.items():
            if self.companies[name].purchase_invoices.enabled:
                company_poller = procountor_poller(self.bootstrap, self.settings.tenant, name, client,
                                                   interval=self.settings.purchase_invoice_poll_seconds)
                await company_poller.start()
                self.pollers.append(company_poller)

    async def emit(self, name: str, record: dict[str, Any]) -> None:
        """Publish one event and wait for the broker's ack: the record exists before the next side effect."""
        assert self.producer is not None
        if name == "TransferOutcome":
            topic, key = topics.transfer_outcome(record["kind"]), topics.key(record["tenant"], record["source_id"])
        elif name == "IdLinked":
            topic = topics.REGISTRY_LINKS
            key = topics.key(record["tenant"], record["company"], record["kind"], record["severa_key"])
        elif name == "TransferRequested":
            topic, key = topics.transfer_requested(record["kind"]), topics.key(record["tenant"], record["source_id"])
        else:
            raise ValueError(f"no topic for {name}")
        await self.producer.send_and_wait(topic, key=key, value=encode(name, record))

    def attempt_number(self, request: dict[str, Any]) -> int:
        """1 + the attempts of this request the transfer log has seen (the log may lag: a hint, not a key)."""
        if self.store is None:
            return 1
        entry = self.store.transfer(request["tenant"], request["kind"], request["source_id"]) or {}
        return 1 + sum(1 for a in entry.get("attempts", []) if a["request_id"] == request["event_id"])

    async def stop(self) -> None:
        self.stopped = True
        for poller in self.pollers:
            await poller.stop()
        if self.producer is not None:
            await self.producer.stop()
        for client in [self.severa, *self.procountor.values()]:
            if client is not None:
                await client.aclose()


_runtime: Runtime | None = None
START_RETRY_MAX_SECONDS = 30.0
_stopping = asyncio.Event()
_lock = asyncio.Lock()


async def close_runtime() -> None:
    """Stop the pollers and close the producer and the API clients (the worker is shutting down)."""
    _stopping.set()  # a start still waiting for an API gives up, and frees the lock
    async with _lock:
        if _runtime is not None and not _runtime.stopped:
            await _runtime.stop()


async def get_runtime(bootstrap: str) -> Runtime:
    """The worker's runtime, started on first use. While an API cannot be reached the start is retried with
    backoff (the worker stays up and says so) instead of crashing the worker; other errors are raised."""
    global _runtime
    async with _lock:
        failures = 0
        while _runtime is None:
            if _stopping.is_set():
                raise asyncio.CancelledError("the worker is stopping")
            settings = get_settings()
            companies = load_companies(settings.companies_file or demo_companies_path())
            runtime = Runtime(settings, companies, bootstrap)
            try:
                await runtime.start()
            except TransientApiError as error:
                await runtime.stop()
                failures += 1
                delay = min(START_RETRY_MAX_SECONDS, 2.0 ** failures)
                log.error("runtime cannot start yet: an API is unavailable, retrying", failures=failures,
                          retry_in_s=delay, error=f"{type(error).__name__}: {error}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_stopping.wait(), delay)
                continue
            _runtime = runtime
            log.info("runtime started", tenant=settings.tenant, companies=sorted(runtime.procountor),
                     kind=KIND)
    return _runtime
