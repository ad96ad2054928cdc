"""The Procountor poller against the Procountor sandbox over a real socket, publishing to the real broker."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from connectors.procountor.client import ProcountorClient
from connectors.procountor.poller import procountor_poller
from sandbox.procountor.app import create_app
from sandbox.procountor.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_FI_API_KEY
from sandbox.runner import SandboxServer
from schemas import topics

from .kafka_read import read_events

pytestmark = pytest.mark.integration


async def test_purchase_invoice_statuses_one_event_per_version_across_restart(kafka, unique) -> None:
    tenant = f"pro{unique}"
    with SandboxServer(create_app(seed="demo", rate_limit_per_second=None)) as server:
        store = server.app.state.store
        purchases = [i for i in store.company("FI").invoices.values() if i["type"] == "PURCHASE_INVOICE"]
        moving = next(i for i in purchases if i["status"] == "APPROVED")
        async with ProcountorClient(f"{server.url}/api", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_FI_API_KEY,
                                    requests_per_second=200.0) as client:
            async with procountor_poller(kafka.bootstrap, tenant, "FI", client,
                                         overlap=timedelta(seconds=5)) as poller:
                await poller.poll_once()
                store.set_invoice_status("FI", moving["id"], "PAYMENT_QUEUED")
                await poller.poll_once()
            # A restarted poller (new process) picks up from the watermark in Kafka.
            store.set_invoice_status("FI", moving["id"], "PAID")
            async with procountor_poller(kafka.bootstrap, tenant, "FI", client,
                                         overlap=timedelta(seconds=5)) as restarted:
                await restarted.poll_once()
                await restarted.poll_once()
        events = [e for e in await read_events(kafka.bootstrap, topics.observed("procountor", "purchase_invoice"))
                  if e["tenant"] == f"{tenant}/FI"]
    per_invoice = Counter(e["entity_id"] for e in events)
    assert set(per_invoice) == {str(i["id"]) for i in purchases}
    assert per_invoice[str(moving["id"])] == 3
    assert all(n == 1 for key, n in per_invoice.items() if key != str(moving["id"]))
    statuses = [json.loads(e["snapshot"])["status"] for e in events if e["entity_id"] == str(moving["id"])]
    assert statuses == ["APPROVED", "PAYMENT_QUEUED", "PAID"]
    snapshot = json.loads(events[0]["snapshot"])
    assert snapshot["ledgerReceipt"]["transactions"], "the snapshot carries the ledger receipt with dimensions"
    # Persons are business partners of type PERSON: the search lists them and GET /businesspartners/{ids} knows them.
    partners = {**store.company("FI").partners, **store.company("FI").persons}
    for entity, expected in (("business_partner", partners),
                             ("product", store.company("FI").products), ("dimension", store.company("FI").dimensions)):
        published = [e for e in await read_events(kafka.bootstrap, topics.observed("procountor", entity))
                     if e["tenant"] == f"{tenant}/FI"]
        assert sorted(e["entity_id"] for e in published) == sorted(str(k) for k in expected), entity


async def test_only_new_versions_are_read_in_full(kafka, unique) -> None:
    """The search answers each purchase invoice's version: versions already published cost no further call."""
    with SandboxServer(create_app(seed="demo", rate_limit_per_second=None)) as server:
        store = server.app.state.store
        moving = next(i for i in store.company("FI").invoices.values()
                      if i["type"] == "PURCHASE_INVOICE" and i["status"] == "APPROVED")
        async with ProcountorClient(f"{server.url}/api", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_FI_API_KEY,
                                    requests_per_second=200.0) as client:
            async with procountor_poller(kafka.bootstrap, f"full{unique}", "FI", client,
                                         overlap=timedelta(minutes=10)) as poller:
                first = await poller.poll_once()
                full_reads = client.calls["GET /invoices/{ids}"]
                assert first["purchase_invoice"].published > 0 and full_reads > 0
                again = await poller.poll_once()  # every version is inside the overlap: all known
                assert again["purchase_invoice"].published == 0
                assert again["purchase_invoice"].skipped == first["purchase_invoice"].published
                assert client.calls["GET /invoices/{ids}"] == full_reads
                store.set_invoice_status("FI", moving["id"], "PAYMENT_QUEUED")
                changed = await poller.poll_once()
                assert changed["purchase_invoice"].published == 1
                assert client.calls["GET /invoices/{ids}"] == full_reads + 1
