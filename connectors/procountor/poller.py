"""Procountor change poller: `procountor.<entity>.observed` events, one per new version, per company.

Purchase invoices are read with `versionStartDate`: the search answers basic info with the version, so only
new versions are read in full, with their ledger receipts (where the project dimensions live), in batches of
up to 200 ids; the snapshot embeds the ledger receipt. Dimensions and their items have no change filter: read
in full and compared. Business partners (full records, fetched in batches) and products are read with `versionStartDate`
too. The tenant of a Procountor poller is `<tenant>/<company>`, one Procountor environment each.

Sales invoices, for payments back to Severa, only while the company's `payments.enabled` (asked each round, so a
settings change applies at once): the versions in a payment status (PARTLY_PAID, PAID, MARKED_PAID), read with
`versionStartDate` and the `status` filter, in full and with their payment events (`paymentEvents` in the
snapshot: amounts, dates, types).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from connectors.polling import EntitySource, Poller, TenantProducer, WatermarkReader
from connectors.procountor.client import ProcountorClient
from foundation.types import Json

BATCH = 200
PAYMENT_STATUSES = ("PARTLY_PAID", "PAID", "MARKED_PAID")  # a sales invoice paid in part or in full


def purchase_invoices(client: ProcountorClient) -> EntitySource:
    def fetch(since: datetime | None) -> AsyncIterator[Json]:
        return client.iter_invoices_changed_since(since, types="PURCHASE_INVOICE")  # basic info, with version

    async def complete(summaries: AsyncIterator[Json]) -> AsyncIterator[Json]:
        ids: list[int] = []
        async for basic in summaries:
            ids.append(int(basic["id"]))
            if len(ids) == BATCH:
                async for full in _with_ledger_receipts(client, ids):
                    yield full
                ids = []
        if ids:
            async for full in _with_ledger_receipts(client, ids):
                yield full

    return EntitySource("purchase_invoice", fetch, "id", "version", complete=complete)


async def _with_ledger_receipts(client: ProcountorClient, ids: list[int]) -> AsyncIterator[Json]:
    invoices = await client.get_invoices(ids)
    receipt_ids = [int(i["ledgerReceiptId"]) for i in invoices if i.get("ledgerReceiptId")]
    receipts = {int(r["id"]): r for r in await client.get_ledger_receipts(receipt_ids)} if receipt_ids else {}
    for invoice in invoices:
        receipt_id = invoice.get("ledgerReceiptId")
        yield {**invoice, "ledgerReceipt": receipts.get(int(receipt_id)) if receipt_id else None}


def sales_invoice_payments(client: ProcountorClient, wanted: Callable[[], bool]) -> EntitySource:
    async def fetch(since: datetime | None) -> AsyncIterator[Json]:
        if not wanted():
            return  # payments are off for the company: no call, and the watermark stays where it was
        async for basic in client.iter_invoices_changed_since(since, types="SALES_INVOICE", status=PAYMENT_STATUSES):
            yield basic

    async def complete(summaries: AsyncIterator[Json]) -> AsyncIterator[Json]:
        ids = [int(basic["id"]) async for basic in summaries]
        for start in range(0, len(ids), BATCH):
            for invoice in await client.get_invoices(ids[start:start + BATCH]):
                yield {**invoice, "paymentEvents": await client.get_payment_events(int(invoice["id"]))}

    return EntitySource("sales_invoice", fetch, "id", "version", complete=complete)


def business_partners(client: ProcountorClient) -> EntitySource:
    async def fetch(since: datetime | None) -> AsyncIterator[Json]:
        ids = [int(basic["id"]) async for basic in client.iter_business_partners_changed_since(since)]
        for start in range(0, len(ids), BATCH):
            for partner in await client.get_business_partners(ids[start:start + BATCH]):
                yield partner

    return EntitySource("business_partner", fetch, "id", "version")


def products(client: ProcountorClient) -> EntitySource:
    def fetch(since: datetime | None) -> AsyncIterator[Json]:
        return client.iter_products_changed_since(since)

    # The public `Product` model has no `version` (procountor-api.md §8): without one, a product's version is a
    # hash of its content, and with no dated version the watermark stays empty: every read is a full read.
    return EntitySource("product", fetch, "id", "version", hash_unversioned=True)


def dimensions(client: ProcountorClient) -> EntitySource:
    async def fetch(_: datetime | None) -> AsyncIterator[Json]:
        for dimension in await client.get_dimensions():
            yield dimension

    return EntitySource("dimension", fetch, "id", None, incremental=False)


def procountor_poller(bootstrap: str, tenant: str, company: str, client: ProcountorClient, *,
                      overlap: timedelta = timedelta(seconds=30), interval: float = 10.0,
                      registry_interval: float | None = None,
                      payments: Callable[[], bool] = lambda: False, payments_interval: float = 1.0,
                      watermarks: WatermarkReader | None = None, producer: TenantProducer | None = None) -> Poller:
    """Purchase invoices every `interval` seconds; the registries (business partners, products, dimensions)
    every `registry_interval` (SEVPRO_REGISTRY_POLL_SECONDS, as Severa's: they change rarely, no transfer waits
    for their events, and products and dimensions are read in full each time); None: `interval`. `payments`
    says, each round, whether the company writes payments back to Severa (its sales invoices are read every
    `payments_interval` seconds then: within seconds of a payment). `watermarks`: the worker's reader of the
    watermark topic, shared by its pollers (None: the poller's own). `producer`: the tenant's transactional
    producer, shared by its pollers (None: the poller's own)."""
    sources = [purchase_invoices(client), business_partners(client), products(client), dimensions(client)]
    for source in sources:
        source.interval = interval if source.entity == "purchase_invoice" or registry_interval is None \
            else registry_interval
    sources.insert(0, sales_invoice_payments(client, payments))
    sources[0].interval = payments_interval
    for source in sources:
        source.company_of = lambda _item, company=company: company  # type: ignore[misc]
    return Poller(bootstrap, "procountor", f"{tenant}/{company}", sources, overlap=overlap, watermarks=watermarks,
                  producer=producer)
