"""Both sandboxes over real sockets, the two clients, and the sales-invoice transfer wired to them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from connectors.procountor.client import ProcountorClient
from connectors.severa.client import SeveraClient
from foundation.company import demo_companies_path, load_companies
from sandbox.procountor.app import create_app as procountor_app
from sandbox.procountor.demo import DEMO_CLIENT_ID as P_ID
from sandbox.procountor.demo import DEMO_CLIENT_SECRET as P_SECRET
from sandbox.procountor.demo import DEMO_FI_API_KEY, DEMO_SE_API_KEY
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.demo import DEMO_CLIENT_ID as S_ID
from sandbox.severa.demo import DEMO_CLIENT_SECRET as S_SECRET
from streams.sales_invoice import CompanyDirectory, SalesInvoiceTransfer, transfer_request

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def writes(calls: Counter[str]) -> int:
    """API writes in a sandbox's per-route counter, leaving out logins."""
    return sum(n for route, n in calls.items() if route.split(" ")[0] in WRITE_METHODS and "token" not in route)


@dataclass
class Stack:
    severa_server: SandboxServer
    procountor_server: SandboxServer
    severa: SeveraClient
    procountor: dict[str, ProcountorClient]
    directory: CompanyDirectory
    companies: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def severa_store(self) -> Any:
        return self.severa_server.app.state.store

    @property
    def procountor_store(self) -> Any:
        return self.procountor_server.app.state.store

    def writes(self) -> int:
        return writes(self.severa_server.app.state.sandbox.stats.calls) + writes(
            self.procountor_server.app.state.sandbox.stats.calls)

    def transfer(self, **kwargs: Any) -> SalesInvoiceTransfer:
        async def emit(name: str, record: dict[str, Any]) -> None:
            self.events.append((name, record))

        return SalesInvoiceTransfer(self.severa, self.procountor, self.companies, emit, directory=self.directory,
                                    **kwargs)

    def invoice(self, number: int) -> dict[str, Any]:
        return next(i for i in self.severa_store.all("invoices") if i["number"] == number)

    def request(self, number: int) -> dict[str, Any]:
        invoice = self.invoice(number)
        observed = {"tenant": "demo", "entity_id": invoice["guid"], "source_version": invoice["lastUpdatedDateTime"],
                    "event_id": f"severa:invoice:{invoice['guid']}:{invoice['lastUpdatedDateTime']}",
                    "snapshot": json.dumps(invoice)}
        request = transfer_request(observed, self.directory)
        assert request is not None, f"invoice {number} is not in its company's transfer status"
        return request

    def procountor_invoices(self, company: str, number: int) -> list[dict[str, Any]]:
        invoices = self.procountor_store.company(company).invoices.values()
        return [i for i in invoices if i.get("originalInvoiceNumber") == str(number)]


@pytest.fixture
async def stack(monkeypatch) -> AsyncIterator[Stack]:
    with SandboxServer(severa_app(seed="demo", rate_limit_per_second=None)) as s_server, \
            SandboxServer(procountor_app(seed="demo", rate_limit_per_second=None)) as p_server:
        companies = load_companies(demo_companies_path())
        fast = {"requests_per_second": 500.0, "backoff_initial": 0.01, "backoff_max": 0.05, "max_retries": 2}
        async with SeveraClient(f"{s_server.url}/rest-api", S_ID, S_SECRET, **fast) as severa, \
                ProcountorClient(f"{p_server.url}/api", P_ID, P_SECRET, DEMO_FI_API_KEY, **fast) as fi, \
                ProcountorClient(f"{p_server.url}/api", P_ID, P_SECRET, DEMO_SE_API_KEY, **fast) as se:
            directory = await CompanyDirectory.load(companies, severa)
            yield Stack(s_server, p_server, severa, {"FI": fi, "SE": se}, directory, companies)
