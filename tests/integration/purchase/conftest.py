"""Both sandboxes over real sockets, the two clients, the purchase invoice import wired to them, and a real
projection (SQLite) fed with every event the import emits, as the projector would."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from connectors.procountor.client import ProcountorClient
from connectors.severa.client import SeveraClient
from foundation.company import demo_companies_path, load_companies
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
from streams.mapping.purchase_invoice import marked_invoice_id
from streams.purchase_invoice import ProjectDimensions, PurchaseInvoiceTransfer, PurchaseInvoiceTrigger

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
TENANT = "demo"


def writes(calls: Counter[str]) -> int:
    """API writes in a sandbox's per-route counter, leaving out logins."""
    return sum(n for route, n in calls.items() if route.split(" ")[0] in WRITE_METHODS and "token" not in route)


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
    companies: dict[str, Any]
    dimensions: ProjectDimensions
    store: ProjectionStore
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    offset: int = 0

    @property
    def severa_store(self) -> Any:
        return self.severa_server.app.state.store

    @property
    def procountor_store(self) -> Any:
        return self.procountor_server.app.state.store

    def severa_writes(self) -> int:
        return writes(self.severa_server.app.state.sandbox.stats.calls)

    def writes(self) -> int:
        return self.severa_writes() + writes(self.procountor_server.app.state.sandbox.stats.calls)

    def project(self, name: str, record: dict[str, Any]) -> None:
        """What the projector does with an event the worker published."""
        topic = {"TransferRequested": topics.transfer_requested(record.get("kind", "")),
                 "TransferOutcome": topics.transfer_outcome(record.get("kind", "")),
                 "IdLinked": topics.registry_links()}[name]
        self.offset += 1
        self.store.apply_records([Raw(topic, 0, self.offset, encode(name, record))])

    async def emit(self, name: str, record: dict[str, Any]) -> None:
        self.events.append((name, record))
        self.project(name, record)

    def transfer(self, *, with_log: bool = True) -> PurchaseInvoiceTransfer:
        return PurchaseInvoiceTransfer(self.severa, self.companies, self.dimensions, self.emit,
                                       transfer_log=self.store if with_log else None)

    def trigger(self) -> PurchaseInvoiceTrigger:
        return PurchaseInvoiceTrigger(self.companies, self.dimensions)

    def purchase(self, supplier: str, company: str = "FI") -> dict[str, Any]:
        invoices = self.procountor_store.company(company).invoices.values()
        return next(i for i in invoices if i["type"] == "PURCHASE_INVOICE"
                    and i["counterParty"]["counterPartyAddress"]["name"] == supplier)

    async def observed(self, invoice_id: int, company: str = "FI") -> dict[str, Any]:
        """The EntityObserved the Procountor poller publishes: the invoice read over the API, receipt embedded."""
        client = self.procountor[company]
        invoice = await client.get_invoice(invoice_id)
        invoice["ledgerReceipt"] = await client.get_ledger_receipt(int(invoice["ledgerReceiptId"]))
        return {"event_id": f"procountor:purchase_invoice:{invoice_id}:{invoice['version']}",
                "correlation_id": f"procountor:purchase_invoice:{invoice_id}", "tenant": f"{TENANT}/{company}",
                "source_system": "procountor", "entity": "purchase_invoice", "entity_id": str(invoice_id),
                "source_version": invoice["version"], "snapshot": json.dumps(invoice), "company": company}

    async def request(self, invoice_id: int, company: str = "FI") -> dict[str, Any] | None:
        """The trigger's request for the invoice's current version, published (projected) as the runtime does."""
        request = await self.trigger().request(await self.observed(invoice_id, company))
        if request is not None:
            await self.emit("TransferRequested", request)
        return request

    def fees(self, invoice_id: int | str) -> list[dict[str, Any]]:
        return [f for f in self.severa_store.all("projectfees") if marked_invoice_id(f) == str(invoice_id)]

    def outcomes(self, request_id: str) -> list[dict[str, Any]]:
        return [r for name, r in self.events if name == "TransferOutcome" and r["request_id"] == request_id]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    with SandboxServer(severa_app(seed="demo", rate_limit_per_second=None)) as s_server, \
            SandboxServer(procountor_app(seed="demo", rate_limit_per_second=None)) as p_server:
        companies = load_companies(demo_companies_path())
        fast = {"requests_per_second": 500.0, "backoff_initial": 0.01, "backoff_max": 0.05, "max_retries": 2}
        async with SeveraClient(f"{s_server.url}/rest-api", S_ID, S_SECRET, **fast) as severa, \
                ProcountorClient(f"{p_server.url}/api", P_ID, P_SECRET, DEMO_FI_API_KEY, **fast) as fi, \
                ProcountorClient(f"{p_server.url}/api", P_ID, P_SECRET, DEMO_SE_API_KEY, **fast) as se:
            procountor = {"FI": fi, "SE": se}
            store = ProjectionStore(tmp_path / "projections")
            try:
                yield Stack(s_server, p_server, severa, procountor, companies,
                            ProjectDimensions(procountor, companies), store)
            finally:
                store.close()
