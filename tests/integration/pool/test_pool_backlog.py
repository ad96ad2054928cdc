"""One tenant's backlog holds no other tenant's invoice (issue 14). A pool worker's agents share one Kafka
consumer, and faust's consumer waits while an agent's buffer is full: a tenant whose first poll publishes
hundreds of projects (each a dimension-item transfer, one after the other for that tenant) while its Procountor
answers slowly filled the dimension-item agent's buffer, and every other agent's events, other tenants' invoices
too, waited behind it. Seen in benchmarks/tenants.py: at 300 tenants none of the trickle's invoices was even
requested while the tenants' first polls were taken in. Real pool worker, real broker, each tenant's own
sandboxes over sockets; a small stream buffer (SEVPRO_STREAM_BUFFER) so that a few dozen events fill it."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from schemas import topics
from tests.integration.pollers.kafka_read import read_events
from tests.integration.pool.deployment import (
    TRANSFERRED,
    WAITING,
    Pool,
    Tenant,
    add_tenant,
    no_polling,
    publish_all_observed,
    publish_observed,
    sevpro,
)

pytestmark = pytest.mark.integration
PROJECTS = 80  # a's new projects: several times what the dimension-item agent's window and buffer hold
BUFFER, CONCURRENCY = "16", "2"  # the workers' stream buffer, and transfers at once (the window holds twice that)


def _projects_of_the_company(tenant: Tenant) -> list[dict[str, Any]]:
    """New projects of the FI company's business unit (each gets a dimension item in Procountor), numbered apart
    from the demo's."""
    store = tenant.severa.app.state.store
    unit = next(u["guid"] for u in store.all("businessunits") if u["name"] == "Kumpula Consulting Oy")
    model = next(p for p in store.all("projects") if (p.get("businessUnit") or {}).get("guid") == unit)
    return [{**model, "guid": str(uuid.uuid4()), "number": 90_000 + n, "name": f"Onboarded project {n}"}
            for n in range(PROJECTS)]


def _requested_items(bootstrap: str, tenant: Tenant) -> int:
    return sum(1 for record in asyncio.run(read_events(bootstrap, topics.transfer_requested("dimension-item")))
               if record.get("tenant") == tenant.name)


def _invoice(tenant: Tenant, number: int) -> dict[str, Any]:
    return next(i for i in tenant.severa.app.state.store.all("invoices") if i["number"] == number)


def test_a_tenants_backlog_of_dimension_items_holds_no_other_tenants_invoice(pool: Pool, unique: str,
                                                                             tmp_path: Path) -> None:
    with ExitStack() as stack:
        a = add_tenant(stack, f"a{unique}", tmp_path, status="UNFINISHED", own_clients=False)
        b = add_tenant(stack, f"b{unique}", tmp_path, status="UNFINISHED", own_clients=True)
        pool.tenants += [a, b]
        sevpro("settings", "set", "--tenant", a.name, "--company", "FI", "project_dimension=Projects",
               "sales_invoices.transfer_project_dimension=true", "--by", "test")
        # a's Procountor answers every call only after ten minutes: its dimension items wait, one after the other.
        config = a.procountor.app.state.sandbox.config
        config.timeout_delay_s, config.timeout_rate = 600.0, 1.0
        stack.callback(setattr, config, "timeout_rate", 0.0)
        pool.settings.update(no_polling())  # the events are these, in this order
        pool.start_worker(SEVPRO_STREAM_BUFFER=BUFFER, SEVPRO_TRANSFER_CONCURRENCY=CONCURRENCY,
                          SEVPRO_HTTP_TIMEOUT_SECONDS="900")
        publish_all_observed(pool.bootstrap, a, "project", _projects_of_the_company(a))
        pool.wait_until("a's dimension items requested", lambda: _requested_items(pool.bootstrap, a) >= PROJECTS)
        pool.wait_until("a's first dimension item waiting for a's Procountor",
                        lambda: a.procountor.app.state.sandbox.stats.injected_timeouts > 0)
        # while a's dimension items wait for a's Procountor, a user of b moves an invoice to transfer:
        b.set_status(10004, WAITING)
        publish_observed(pool.bootstrap, b, "invoice", _invoice(b, 10004))
        pool.wait_until("b's 10004 transferred", lambda: b.severa_status(10004) == TRANSFERRED, timeout=120)
        assert b.in_procountor()["10004"] == ["UNFINISHED"]
        assert _requested_items(pool.bootstrap, b) == 0
