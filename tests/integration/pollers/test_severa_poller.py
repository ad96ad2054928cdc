"""The Severa poller against the Severa sandbox over a real socket, publishing to the real broker."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from connectors.severa.client import SeveraClient
from connectors.severa.poller import severa_poller
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app
from sandbox.severa.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from schemas import topics

from .kafka_read import read_events

pytestmark = pytest.mark.integration


@pytest.fixture
def severa():
    with SandboxServer(create_app(seed="demo", rate_limit_per_second=None)) as server:
        yield server


def _client(server: SandboxServer) -> SeveraClient:
    return SeveraClient(f"{server.url}/rest-api", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, requests_per_second=200.0)


async def _invoice_events(bootstrap: str, tenant: str) -> list[dict]:
    return [e for e in await read_events(bootstrap, topics.observed("severa", "invoice")) if e["tenant"] == tenant]


async def test_each_invoice_version_is_published_exactly_once(kafka, unique, severa) -> None:
    tenant = f"sev{unique}"
    store = severa.app.state.store
    invoices = store.all("invoices")
    async with _client(severa) as client:
        async with severa_poller(kafka.bootstrap, tenant, client, entities=["invoice", "invoice_status"],
                                 overlap=timedelta(seconds=5)) as poller:
            await poller.poll_once()
            await poller.poll_once()
        events = await _invoice_events(kafka.bootstrap, tenant)
        assert sorted(e["entity_id"] for e in events) == sorted(i["guid"] for i in invoices)
        assert all(e["source_version"] == store.get("invoices", e["entity_id"])["lastUpdatedDateTime"]
                   for e in events)

        # A status change through the API is one new version; a restarted poller publishes it once.
        transferred = store.status_by_name("invoicestatuses", "Transferred to Procountor")
        changed = invoices[0]["guid"]
        await client.set_invoice_status(changed, transferred["guid"])
        async with severa_poller(kafka.bootstrap, tenant, client, entities=["invoice", "invoice_status"],
                                 overlap=timedelta(seconds=5)) as restarted:
            await restarted.poll_once()
            await restarted.poll_once()
    events = await _invoice_events(kafka.bootstrap, tenant)
    per_invoice = Counter(e["entity_id"] for e in events)
    assert per_invoice[changed] == 2
    assert all(count == 1 for guid, count in per_invoice.items() if guid != changed)
    assert len({e["event_id"] for e in events}) == len(events)
    statuses = [e for e in await read_events(kafka.bootstrap, topics.observed("severa", "invoice_status"))
                if e["tenant"] == tenant]
    assert len(statuses) == len(store.all("invoicestatuses"))


async def test_every_entity_type_is_published(kafka, unique, severa) -> None:
    tenant = f"all{unique}"
    async with _client(severa) as client:
        async with severa_poller(kafka.bootstrap, tenant, client) as poller:
            stats = await poller.poll_once()
    assert all(s.errors == 0 for s in stats.values()), stats
    assert stats["customer"].published == len(severa.app.state.store.all("customers"))
    assert stats["invoice"].published == len(severa.app.state.store.all("invoices"))
    assert stats["business_unit"].published >= 3


async def test_users_are_published_with_only_the_fields_the_integration_uses(kafka, unique, severa) -> None:
    """Severa's user has an identity number, a bank account, an address...: none of it goes into an event."""
    tenant = f"usr{unique}"
    store = severa.app.state.store
    user = store.all("users")[0]
    store.update("users", user["guid"], {"socialSecurityNumber": "131052-308T", "address": "Kotikatu 1",
                                         "phone": "+358 40 123 4567"})
    full = store.get("users", user["guid"])
    assert full["bankAccountNumber"] and full["socialSecurityNumber"] == "131052-308T"
    async with _client(severa) as client:
        async with severa_poller(kafka.bootstrap, tenant, client, entities=["user"]) as poller:
            await poller.poll_once()
    events = [e for e in await read_events(kafka.bootstrap, topics.observed("severa", "user"))
              if e["tenant"] == tenant]
    assert len(events) == len(store.all("users"))
    mine = next(json.loads(e["snapshot"]) for e in events if e["entity_id"] == user["guid"])
    assert set(mine) <= {"guid", "lastUpdatedDateTime", "isActive", "code", "firstName", "lastName", "email",
                         "businessUnit"}
    assert mine["code"] == full["code"] and mine["businessUnit"]["guid"] == full["businessUnit"]["guid"]
    text = json.dumps(events, default=str)
    for secret in ("131052-308T", full["bankAccountNumber"], "Kotikatu", "+358 40"):
        assert secret not in text
