"""One record, or one entity type, that cannot be published holds nothing else: a record over about 1 MB used to
stop invoice polling for the tenant (an entity type is one Kafka transaction, a failing source stopped the
whole round, and invoices were polled after projects, users and customers)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
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


class Refusing(httpx.AsyncBaseTransport):
    """The real sandbox over a socket, but one path answers 500 (one of Severa's lists is broken)."""

    def __init__(self, refused: Callable[[str], bool]) -> None:
        self.inner, self.refused = httpx.AsyncHTTPTransport(), refused

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refused(request.url.path):
            return httpx.Response(500, json={"error": {"httpStatusCode": 500, "type": "InternalSystemError",
                                                       "message": "broken list"}})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _client(server: SandboxServer, transport: httpx.AsyncBaseTransport | None = None) -> SeveraClient:
    return SeveraClient(f"{server.url}/rest-api", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, requests_per_second=200.0,
                        max_retries=1, backoff_initial=0.01, backoff_max=0.02, transport=transport)


async def _tenant_events(bootstrap: str, topic: str, tenant: str) -> list[dict]:
    return [e for e in await read_events(bootstrap, topic) if e["tenant"] == tenant]


async def test_an_invoice_over_1_mb_becomes_an_observation_failure_and_the_others_are_published(
        kafka, unique, severa) -> None:
    tenant = f"big{unique}"
    store = severa.app.state.store
    huge = store.all("invoices")[0]["guid"]
    store.update("invoices", huge, {"notes": "x" * 1_500_000})  # pasted into the invoice notes
    async with _client(severa) as client, severa_poller(kafka.bootstrap, tenant, client) as poller:
        await poller.poll_due()
        await poller.poll_due()  # the next round does not report the same version again
    published = await _tenant_events(kafka.bootstrap, topics.observed("severa", "invoice"), tenant)
    assert sorted(e["entity_id"] for e in published) == sorted(i["guid"] for i in store.all("invoices")
                                                               if i["guid"] != huge)
    failures = [e for e in await _tenant_events(kafka.bootstrap, topics.observation_errors("severa"), tenant)
                if e["entity"] == "invoice"]
    assert [f["entity_id"] for f in failures] == [huge]
    assert "bytes" in failures[0]["error"] and huge in failures[0]["error"]


async def test_a_failing_entity_type_does_not_hold_the_others(kafka, unique, severa) -> None:
    tenant = f"held{unique}"
    broken = Refusing(lambda path: path.endswith("/v1/customers"))
    async with _client(severa, broken) as client, severa_poller(kafka.bootstrap, tenant, client) as poller:
        stats = await poller.poll_due()  # the customers cannot be read: the round goes on without them
    assert "customer" not in stats
    invoices = await _tenant_events(kafka.bootstrap, topics.observed("severa", "invoice"), tenant)
    assert len(invoices) == len(severa.app.state.store.all("invoices"))
    projects = await _tenant_events(kafka.bootstrap, topics.observed("severa", "project"), tenant)
    assert len(projects) == len(severa.app.state.store.all("projects"))


def test_invoices_and_travel_reimbursements_are_polled_first(kafka) -> None:
    poller = severa_poller(kafka.bootstrap, "order", SeveraClient("http://127.0.0.1:9/rest-api", "id", "secret"))
    assert [s.entity for s in poller.sources][:2] == ["invoice", "travel_reimbursement"]
