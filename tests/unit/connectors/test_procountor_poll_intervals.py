"""The Procountor poller reads purchase invoices at their own pace and the registries (business partners,
products, dimensions: no transfer waits for their events; products and dimensions are read in full) at the
registry pace, as the Severa poller does (issue 14: a pool worker's calls and CPU per tenant poll)."""

from __future__ import annotations

from connectors.procountor.client import ProcountorClient
from connectors.procountor.poller import procountor_poller


def test_registries_are_read_at_the_registry_pace() -> None:
    client = ProcountorClient("http://127.0.0.1:1/api", "id", "secret", "key")
    poller = procountor_poller("unused:9092", "t", "FI", client, interval=10.0, registry_interval=60.0,
                               payments_interval=10.0)
    paces = {source.entity: source.interval for source in poller.sources}
    assert paces == {"sales_invoice": 10.0, "purchase_invoice": 10.0, "business_partner": 60.0, "product": 60.0,
                     "dimension": 60.0}
