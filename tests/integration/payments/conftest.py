"""Payments back to Severa against the real broker and both sandboxes over sockets.

The Procountor poller publishes the paid sales invoices to the real broker; each observed event read back from
the topic goes through the trigger and the payment transfer, whose events are projected into a real transfer log
(SQLite), as the worker's agents and projector do. A sales invoice is first transferred by the sales-invoice
transfer, so that the ID map links it as in production.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.polling import Poller
from connectors.procountor.client import ProcountorClient
from connectors.procountor.poller import procountor_poller
from connectors.severa.client import SeveraClient
from foundation.company import CompanySettings, demo_companies_path, load_companies
from projections.store import ProjectionStore
from sandbox.procountor.app import create_app as procountor_app
from sandbox.procountor.demo import DEMO_CLIENT_ID as P_ID
from sandbox.procountor.demo import DEMO_CLIENT_SECRET as P_SECRET
from sandbox.procountor.demo import DEMO_FI_API_KEY, DEMO_SE_API_KEY
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.demo import DEMO_CLIENT_ID as S_ID
from sandbox.severa.demo import DEMO_CLIENT_SECRET as S_SECRET
from schemas import topics
from schemas.codec import encode
from streams.payment import SalesInvoicePaymentTransfer, payment_request
from streams.sales_invoice import CompanyDirectory, SalesInvoiceTransfer, transfer_request
from tests.integration.pollers.kafka_read import read_events

PAID, PARTLY = "Paid", "Partly paid"


@dataclass
class Raw:
    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass
class Stack:
    severa_server: SandboxServer
    procountor_server: SandboxServer
    severa: SeveraClient
    procountor: dict[str, ProcountorClient]
    companies: dict[str, CompanySettings]
    directory: CompanyDirectory
    store: ProjectionStore
    bootstrap: str
    tenant: str
    poller: Poller
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    handled: set[str] = field(default_factory=set)  # observed event ids already carried through
    offset: int = 0

    # -------------------------------------------------------------------- the two systems
    @property
    def severa_store(self) -> Any:
        return self.severa_server.app.state.store

    @property
    def procountor_store(self) -> Any:
        return self.procountor_server.app.state.store

    def severa_invoice(self, number: int) -> dict[str, Any]:
        return next(i for i in self.severa_store.all("invoices") if i["number"] == number)

    def severa_patches(self) -> int:
        """PATCHes of Severa invoices so far (the sales transfer's status write-back included)."""
        calls: Counter[str] = self.severa_server.app.state.sandbox.stats.calls
        return sum(n for route, n in calls.items() if route.startswith("PATCH /v1/invoices/"))

    def set_payments(self, company: str = "FI", **settings: Any) -> None:
        """Change the company's payment settings, as a live settings change does (one shared dict)."""
        current = self.companies[company]
        self.companies[company] = current.model_copy(
            update={"payments": current.payments.model_copy(update=settings)})

    def add_severa_status(self, name: str, **flags: Any) -> None:
        """As an administrator does in Severa's settings."""
        self.severa_store.insert("invoicestatuses", {
            "name": name, "isActive": True, "isDefault": False, "isReadOnly": True, "hasInvoiceNumber": True,
            "isSent": True, "isWaitingPayment": False, "isPaid": False, "isDefaultForCreditNote": False,
            "sortOrder": 99, **flags})

    # -------------------------------------------------------------------- projection and emit
    def project(self, name: str, record: dict[str, Any]) -> None:
        topic = {"TransferRequested": topics.transfer_requested(record.get("kind", "")),
                 "TransferOutcome": topics.transfer_outcome(record.get("kind", "")),
                 "IdLinked": topics.registry_links()}[name]
        self.offset += 1
        self.store.apply_records([Raw(topic, 0, self.offset, encode(name, record))])

    async def emit(self, name: str, record: dict[str, Any]) -> None:
        self.events.append((name, record))
        self.project(name, record)

    def outcomes(self, kind: str = "sales-invoice-payment") -> list[dict[str, Any]]:
        return [r for name, r in self.events if name == "TransferOutcome" and r["kind"] == kind]

    # -------------------------------------------------------------------- the flow
    async def transferred(self, number: int) -> dict[str, Any]:
        """Transfer Severa invoice `number` to Procountor (the sales-invoice transfer), approve it there so that
        it can be paid, and answer the Procountor invoice."""
        invoice = self.severa_invoice(number)
        observed = {"tenant": self.tenant, "entity_id": invoice["guid"],
                    "source_version": invoice["lastUpdatedDateTime"],
                    "event_id": f"severa:invoice:{invoice['guid']}:{invoice['lastUpdatedDateTime']}",
                    "snapshot": json.dumps(invoice)}
        request = transfer_request(observed, self.directory)
        assert request is not None
        await self.emit("TransferRequested", request)
        sales = SalesInvoiceTransfer(self.severa, self.procountor, self.companies, self.emit,
                                     transfer_log=self.store, directory=self.directory)
        result = await sales.handle(request)
        assert result.state == "succeeded", self.events[-1]
        company = request["company"]
        target = int(result.target_id or 0)
        await self.procountor[company].approve_invoice(target)
        return dict(self.procountor_store.company(company).invoices[target])

    def payment_transfer(self) -> SalesInvoicePaymentTransfer:
        return SalesInvoicePaymentTransfer(self.severa, self.companies, self.directory, self.emit,
                                           transfer_log=self.store)

    async def observed(self) -> list[dict[str, Any]]:
        """Every sales invoice version the poller published for this tenant, from the broker."""
        return [e for e in await read_events(self.bootstrap, topics.observed("procountor", "sales_invoice"))
                if e["tenant"].startswith(f"{self.tenant}/")]

    async def poll_and_handle(self, *, again: bool = False) -> list[Any]:
        """One poll, then every observed event not handled yet (all of them: `again`, a replay) through the
        trigger and the payment transfer, in order; the results of the transfers."""
        await self.poller.poll_once()
        results = []
        transfer = self.payment_transfer()
        for observed in await self.observed():
            if observed["event_id"] in self.handled and not again:
                continue
            self.handled.add(observed["event_id"])
            request = payment_request(observed, self.companies)
            if request is None:
                continue
            if not again:
                await self.emit("TransferRequested", request)
            results.append(await transfer.handle(request))
        return results

    async def mark_paid(self, invoice_id: int, amount: float, *, company: str = "FI",
                        method: str | None = None) -> dict[str, Any]:
        """PUT /invoices/{id}/paymentevents/markpaid over HTTP, as a Procountor user's tool would."""
        today = self.procountor_store.today().isoformat()
        body: dict[str, Any] = {"paymentDate": today, "amount": amount, "currency": "EUR"}
        if method:
            body["paymentMethodType"] = method
        url = self.procountor_server.url
        key = DEMO_FI_API_KEY if company == "FI" else DEMO_SE_API_KEY
        async with httpx.AsyncClient(base_url=f"{url}/api") as http:
            token = (await http.post("/oauth/token", data={
                "grant_type": "client_credentials", "client_id": P_ID, "client_secret": P_SECRET,
                "api_key": key})).json()["access_token"]
            answer = await http.put(f"/invoices/{invoice_id}/paymentevents/markpaid", json=body,
                                    headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def total(invoice: dict[str, Any]) -> float:
    return float(invoice["invoiceSumInfo"][0]["invoiceSumTotal"])


@pytest.fixture
async def stack(kafka: Any, unique: str, tmp_path: Path) -> AsyncIterator[Stack]:
    with SandboxServer(severa_app(seed="demo", rate_limit_per_second=None)) as s_server, \
            SandboxServer(procountor_app(seed="demo", rate_limit_per_second=None)) as p_server:
        companies = load_companies(demo_companies_path())
        fast = {"requests_per_second": 500.0, "backoff_initial": 0.01, "backoff_max": 0.05, "max_retries": 2}
        tenant = f"pay{unique}"
        async with SeveraClient(f"{s_server.url}/rest-api", S_ID, S_SECRET, **fast) as severa, \
                ProcountorClient(f"{p_server.url}/api", P_ID, P_SECRET, DEMO_FI_API_KEY, **fast) as fi, \
                ProcountorClient(f"{p_server.url}/api", P_ID, P_SECRET, DEMO_SE_API_KEY, **fast) as se:
            procountor = {"FI": fi, "SE": se}
            directory = await CompanyDirectory.load(companies, severa)
            store = ProjectionStore(tmp_path / "projections")
            holder: dict[str, Stack] = {}

            def pays() -> bool:  # the company's setting, asked each round as the worker's poller does
                return holder["stack"].companies["FI"].payments.enabled

            poller = procountor_poller(kafka.bootstrap, tenant, "FI", fi, overlap=timedelta(seconds=5), payments=pays)
            stack = Stack(s_server, p_server, severa, procountor, companies, directory, store, kafka.bootstrap,
                          tenant, poller)
            holder["stack"] = stack
            stack.set_payments(enabled=True, paid_status=PAID)
            await poller.start()
            try:
                yield stack
            finally:
                await poller.stop()
                store.close()
