"""Both sandboxes over real sockets, the two clients, and the travel-reimbursement transfer wired to them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from connectors.procountor.client import ProcountorClient
from connectors.severa.client import SeveraClient
from foundation.company import CompanySettings, demo_companies_path, load_companies
from sandbox.procountor.app import create_app as procountor_app
from sandbox.procountor.demo import DEMO_CLIENT_ID as P_ID
from sandbox.procountor.demo import DEMO_CLIENT_SECRET as P_SECRET
from sandbox.procountor.demo import DEMO_FI_API_KEY, DEMO_SE_API_KEY
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.demo import DEMO_CLIENT_ID as S_ID
from sandbox.severa.demo import DEMO_CLIENT_SECRET as S_SECRET
from streams.sales_invoice import CompanyDirectory
from streams.travel_reimbursement import TravelDirectory, TravelReimbursementTransfer, travel_request


def _writes(calls: Counter[str]) -> Counter[str]:
    return Counter({route: n for route, n in calls.items()
                    if route.split(" ")[0] in ("POST", "PUT", "PATCH", "DELETE") and "token" not in route})


@dataclass
class TravelStack:
    severa_server: SandboxServer
    procountor_server: SandboxServer
    severa: SeveraClient
    procountor: dict[str, ProcountorClient]
    directory: TravelDirectory
    companies: dict[str, CompanySettings]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def severa_store(self) -> Any:
        return self.severa_server.app.state.store

    @property
    def procountor_store(self) -> Any:
        return self.procountor_server.app.state.store

    def writes(self) -> Counter[str]:
        """API writes so far, per route, in both sandboxes (logins left out)."""
        return _writes(self.severa_server.app.state.sandbox.stats.calls) + _writes(
            self.procountor_server.app.state.sandbox.stats.calls)

    def set_travel(self, **changes: Any) -> None:
        """Change the FI company's travel settings (e.g. update_persons=True)."""
        fi = self.companies["FI"]
        travel = fi.travel_reimbursements.model_copy(update=changes)
        self.companies["FI"] = fi.model_copy(update={"travel_reimbursements": travel})

    def transfer(self, **kwargs: Any) -> TravelReimbursementTransfer:
        async def emit(name: str, record: dict[str, Any]) -> None:
            self.events.append((name, record))

        return TravelReimbursementTransfer(self.severa, self.procountor, self.companies, emit,
                                           directory=self.directory, **kwargs)

    def reimbursement(self, number: int) -> dict[str, Any]:
        return next(r for r in self.severa_store.all("travelreimbursements") if r["number"] == number)

    def observed(self, number: int) -> dict[str, Any]:
        item = self.reimbursement(number)
        return {"tenant": "demo", "entity_id": item["guid"], "source_version": item["lastUpdatedDateTime"],
                "event_id": f"severa:travel_reimbursement:{item['guid']}:{item['lastUpdatedDateTime']}",
                "snapshot": json.dumps(item)}

    async def request(self, number: int) -> dict[str, Any]:
        self.directory.companies.companies = self.companies
        request = await travel_request(self.observed(number), self.directory)
        assert request is not None, f"travel reimbursement {number} is not in its company's status_before"
        return request

    def travel_invoices(self, number: int, company: str = "FI") -> list[dict[str, Any]]:
        invoices = self.procountor_store.company(company).invoices.values()
        return [i for i in invoices if i["type"] == "TRAVEL_INVOICE" and i.get("originalInvoiceNumber") == str(number)]

    def outcomes(self, request_id: str) -> list[dict[str, Any]]:
        return [r for name, r in self.events if name == "TransferOutcome" and r["request_id"] == request_id]


@pytest.fixture
async def travel() -> AsyncIterator[TravelStack]:
    with SandboxServer(severa_app(seed="demo", rate_limit_per_second=None)) as s_server, \
            SandboxServer(procountor_app(seed="demo", rate_limit_per_second=None)) as p_server:
        companies = load_companies(demo_companies_path())
        fast = {"requests_per_second": 500.0, "backoff_initial": 0.01, "backoff_max": 0.05, "max_retries": 2}
        async with SeveraClient(f"{s_server.url}/rest-api", S_ID, S_SECRET, **fast) as severa, \
                ProcountorClient(f"{p_server.url}/api", P_ID, P_SECRET, DEMO_FI_API_KEY, **fast) as fi, \
                ProcountorClient(f"{p_server.url}/api", P_ID, P_SECRET, DEMO_SE_API_KEY, **fast) as se:
            directory = await TravelDirectory.load(await CompanyDirectory.load(companies, severa), severa)
            yield TravelStack(s_server, p_server, severa, {"FI": fi, "SE": se}, directory, companies)
