"""Severa change poller: one `severa.<entity>.observed` event per new entity version, per tenant.

Entity types with `changedSince` are read incrementally (>= semantics, with the shared poller's overlap);
invoice and travel reimbursement statuses have no change filter and are read in full and compared.

A version is `lastUpdatedDateTime`; the public models allow it to be null, and then it is `createdDateTime`, and
without either a hash of the record's content (connectors/polling.py). A date-time without an offset is the
organisation's local time (`time_zone`, SEVPRO_SEVERA_TIME_ZONE, default Europe/Helsinki): the reference does not
say which zone Severa's naive date-times are in, and read as UTC they would move the next read hours past edits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from connectors.polling import EntitySource, FetchChanged, Poller, TenantProducer, WatermarkReader
from connectors.severa.client import PAGE_SIZE, SeveraClient
from connectors.severa.customer_cards import CustomerCards
from connectors.severa.errors import SeveraValidationError
from connectors.severa.invoice_reads import InvoiceReads
from foundation.privacy import minimal_user
from foundation.settings import DEFAULT_SEVERA_TIME_ZONE
from foundation.types import Json


def _listed(call: Callable[..., Awaitable[list[Json]]]) -> Callable[[datetime | None], AsyncIterator[Json]]:
    """Adapt a `list_*` method (one awaited list) to the poller's async iterator."""

    async def fetch(since: datetime | None) -> AsyncIterator[Json]:
        for item in await call(changed_since=since):
            yield item

    return fetch


def _full(call: Callable[[], Awaitable[list[Json]]]) -> Callable[[datetime | None], AsyncIterator[Json]]:
    async def fetch(_: datetime | None) -> AsyncIterator[Json]:
        for item in await call():
            yield item

    return fetch


def _iterated(call: Callable[..., AsyncIterator[Json]]) -> Callable[[datetime | None], AsyncIterator[Json]]:
    def fetch(since: datetime | None) -> AsyncIterator[Json]:
        return call(changed_since=since)

    return fetch


# The invoice poll's page: `GET /v1/invoices` states no maximum for `rowCount` (where most lists say 100), a
# client (S3) asks up to 1000 and Severa's support (S7) says 1000 (severa-api.md §3.2, §5.1). Under a backlog
# each read rereads the 30 s overlap's changes, the drain's own status PATCHes among them: more than 100.
INVOICE_ROW_COUNT = 1000


def _invoice_pages(client: SeveraClient) -> Callable[[datetime | None], AsyncIterator[Json]]:
    """The invoices changed since, `INVOICE_ROW_COUNT` a page; where Severa gives fewer, token paging goes on.
    Should Severa refuse the count (a 400 on the first page), pages of `PAGE_SIZE` from then on."""
    row_count = [INVOICE_ROW_COUNT]

    async def fetch(since: datetime | None) -> AsyncIterator[Json]:
        read = 0
        try:
            async for invoice in client.iter_invoices(changed_since=since, row_count=row_count[0]):
                read += 1
                yield invoice
        except SeveraValidationError:
            if read or row_count[0] == PAGE_SIZE:
                raise
            row_count[0] = PAGE_SIZE
            async for invoice in client.iter_invoices(changed_since=since, row_count=PAGE_SIZE):
                yield invoice

    return fetch


def _minimised_users(fetch: Callable[[datetime | None], AsyncIterator[Json]]
                     ) -> Callable[[datetime | None], AsyncIterator[Json]]:
    """Only the fields the integration uses of a user go into events (never the identity number or the bank
    account: the travel transfer reads those from Severa when it writes the person)."""

    async def minimised(since: datetime | None) -> AsyncIterator[Json]:
        async for user in fetch(since):
            yield minimal_user(user) if isinstance(user, dict) else user

    return minimised


def severa_source(entity: str, fetch: FetchChanged, *, time_zone: tzinfo | str = DEFAULT_SEVERA_TIME_ZONE,
                  **options: Any) -> EntitySource:
    """One Severa entity type read by `changedSince`: versioned by `lastUpdatedDateTime`, else `createdDateTime`,
    else a content hash; naive date-times in the organisation's `time_zone`."""
    zone = ZoneInfo(time_zone) if isinstance(time_zone, str) else time_zone
    return EntitySource(entity, fetch, "guid", "lastUpdatedDateTime", fallback_version_fields=("createdDateTime",),
                        hash_unversioned=True, zone=zone, **options)


def severa_sources(client: SeveraClient, time_zone: tzinfo | str = DEFAULT_SEVERA_TIME_ZONE) -> list[EntitySource]:
    """Every Severa entity type the integration reads: invoices and travel reimbursements first (what users
    wait for; a transfer reads what else it needs itself), then the registries a transfer uses."""

    def source(entity: str, fetch: FetchChanged, **options: Any) -> EntitySource:
        return severa_source(entity, fetch, time_zone=time_zone, **options)

    return [
        source("invoice", _invoice_pages(client),
               company_of=lambda invoice: invoice.get("invoiceNumberBusinessUnitGuid")),
        source("travel_reimbursement", _iterated(client.iter_travel_reimbursements)),
        source("business_unit", _listed(client.list_business_units)),
        source("cost_center", _listed(client.list_cost_centers)),
        source("product", _listed(client.list_products)),
        source("work_type", _listed(client.list_work_types)),
        source("travel_expense_type", _listed(client.list_travel_expense_types)),
        source("project", _iterated(client.iter_projects)),
        source("user", _minimised_users(_iterated(client.iter_users))),
        source("customer", _iterated(client.iter_customers)),
        EntitySource("invoice_status", _full(client.list_invoice_statuses), "guid", None, incremental=False),
        EntitySource("travel_reimbursement_status", _full(client.list_travel_reimbursement_statuses), "guid",
                     None, incremental=False),
    ]


FAST_ENTITIES = ("invoice", "travel_reimbursement")
# While the Severa budget is saturated (a backlog of transfers queues at the client's pacer): invoices every 2 s
# (the transfers' checks wait for these reads, see invoice_reads.py; each rereads the overlap's changes, one or
# two pages under a backlog, and goes ahead of the queue, see client.py), travel reimbursements every 10 s, and the
# registries but customers every 5 minutes (a transfer reads what it needs of them itself; the customers' reads
# keep the transfers' customer cards current, see customer_cards.py). A record that arrives then waits behind the
# backlog's calls anyway.
BUSY_INTERVALS = {"invoice": 2.0, "travel_reimbursement": 10.0}
REGISTRY_BUSY_INTERVAL = 300.0
# ... and at a backlog's start, when every invoice read rereads the whole backlog's status changes (the 30 s
# overlap: five pages of 100 for 500 invoices), a second per 100 invoices the last read showed (a page where
# Severa gives 100 rows, see INVOICE_ROW_COUNT), at most `MAX_BUSY_INVOICE_INTERVAL` (the checks wait up to
# invoice_reads.PAGE_WAIT for a read that starts after them): under 1 call a second.
SECONDS_PER_PAGE = 1.0
MAX_BUSY_INVOICE_INTERVAL = 4.0


def _paced_by_pages(source: EntitySource) -> None:
    """After each read of `source`, its busy interval: a second per page read, within [its own, the maximum]."""
    fetch, least = source.fetch, source.busy_interval or 0.0

    async def counted(since: datetime | None) -> AsyncIterator[Json]:
        items = 0
        async for item in fetch(since):
            items += 1
            yield item
        pages = -(-items // PAGE_SIZE)
        source.busy_interval = max(least, min(MAX_BUSY_INVOICE_INTERVAL, SECONDS_PER_PAGE * pages))

    source.fetch = counted


def severa_poller(bootstrap: str, tenant: str, client: SeveraClient, *, entities: list[str] | None = None,
                  overlap: timedelta = timedelta(seconds=30), fast_interval: float = 1.0,
                  slow_interval: float = 60.0, time_zone: tzinfo | str = DEFAULT_SEVERA_TIME_ZONE,
                  invoice_reads: InvoiceReads | None = None, customer_cards: CustomerCards | None = None,
                  watermarks: WatermarkReader | None = None, producer: TenantProducer | None = None) -> Poller:
    """A poller over all (or the named) Severa entity types of one tenant.

    Invoices and travel reimbursements are read every `fast_interval` seconds (the transfer latency), the
    registries every `slow_interval` (they change rarely, and the API allows 10 requests a second in all); while
    the client's pacer is saturated, invoices and travel reimbursements at `BUSY_INTERVALS` (never faster than
    `fast_interval`; invoices a second per page their last read took, up to `MAX_BUSY_INVOICE_INTERVAL`), the
    registries but customers every `REGISTRY_BUSY_INTERVAL` (never faster than
    `slow_interval`). `invoice_reads` (the worker's) is told of every invoice read, to answer transfers from it;
    `customer_cards` (the worker's) of every customer read, to keep the cards no change shows in it.
    `watermarks`: the worker's reader of the watermark topic, shared by its pollers (None: the poller's own).
    `producer`: the tenant's transactional producer, shared by its pollers (None: the poller's own).
    """
    sources = severa_sources(client, time_zone)
    if entities is not None:
        sources = [s for s in sources if s.entity in entities]
    for source in sources:
        source.interval = fast_interval if source.entity in FAST_ENTITIES else slow_interval
        if source.entity in BUSY_INTERVALS:
            source.busy_interval = max(fast_interval, BUSY_INTERVALS[source.entity])
        elif source.entity != "customer":
            source.busy_interval = max(slow_interval, REGISTRY_BUSY_INTERVAL)
        if source.entity == "invoice" and invoice_reads is not None:
            source.fetch = invoice_reads.watching(source.fetch)
        if source.entity == "invoice":
            _paced_by_pages(source)
        if source.entity == "customer" and customer_cards is not None:
            source.fetch = customer_cards.watching(source.fetch)
    return Poller(bootstrap, "severa", tenant, sources, overlap=overlap, busy=client.saturated, watermarks=watermarks,
                  producer=producer)
