"""One tenant's Severa that does not answer holds no other tenant's triggers (issue 14). The travel trigger reads
a reimbursement's user from Severa (its business unit decides the company) and waits for the API while it is
down, rather than lose the event; in a pool it took every tenant's observed reimbursements one after the other,
so one tenant's hanging user read held every other tenant's travel transfers. Real pool worker, real broker,
each tenant's own sandboxes over sockets."""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from foundation.kafka import ensure_topics
from schemas import topics
from schemas.codec import encode, now
from tests.integration.pool.deployment import Pool, Tenant, add_tenant, no_polling, sevpro

pytestmark = pytest.mark.integration
WAITING, TRANSFERRED = "Waiting for transfer to Procountor", "Transferred to Procountor"
HELD = "/v1/users/"  # GET /v1/users/{guid}: the trigger's read of the reimbursement's user
NUMBER = 1  # the demo's first travel reimbursement


def _reimbursement(tenant: Tenant) -> dict[str, Any]:
    return next(r for r in tenant.severa.app.state.store.all("travelreimbursements") if r["number"] == NUMBER)


def _status(tenant: Tenant) -> str:
    return str(_reimbursement(tenant)["travelReimbursementStatus"]["name"])


def _travel_invoices(tenant: Tenant) -> list[dict[str, Any]]:
    invoices = tenant.procountor.app.state.store.company("FI").invoices.values()
    return [i for i in invoices if i["type"] == "TRAVEL_INVOICE" and i.get("originalInvoiceNumber") == str(NUMBER)]


def _publish_observed(bootstrap: str, tenant: Tenant) -> None:
    """The reimbursement's version on the observed topic, as the tenant's poller publishes it."""
    item = _reimbursement(tenant)
    entity_id, version = item["guid"], item["lastUpdatedDateTime"]
    record = {"event_id": f"severa:travel_reimbursement:{entity_id}:{version}",
              "correlation_id": f"severa:travel_reimbursement:{entity_id}", "causation_id": None,
              "tenant": tenant.name, "source_system": "severa", "entity": "travel_reimbursement",
              "entity_id": entity_id, "source_version": version, "observed_at": now(),
              "snapshot": json.dumps(item, sort_keys=True), "company": None}

    async def send() -> None:
        await ensure_topics(bootstrap)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topics.observed("severa", "travel_reimbursement"),
                                         key=topics.key(tenant.name, entity_id),
                                         value=encode("EntityObserved", record))
        finally:
            await producer.stop()

    asyncio.run(send())


def test_a_tenants_severa_not_answering_the_travel_triggers_user_read_holds_no_other_tenants_travel(
        pool: Pool, unique: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        a = add_tenant(stack, f"a{unique}", tmp_path, status="UNFINISHED", own_clients=False)
        b = add_tenant(stack, f"b{unique}", tmp_path, status="UNFINISHED", own_clients=True)
        pool.tenants += [a, b]
        for tenant in (a, b):
            sevpro("settings", "set", "--tenant", tenant.name, "--company", "FI",
                   "travel_reimbursements.enabled=true", f"travel_reimbursements.status_before={WAITING}",
                   f"travel_reimbursements.status_after={TRANSFERRED}", "--by", "test")
            assert _status(tenant) == WAITING
        # a's Severa takes the user read and answers only once the test lets it (its sandbox waits; b's are its
        # own): a Severa that does not answer, for as long as the test needs.
        a_config = a.severa.app.state.sandbox.config
        a_config.slow_paths[HELD] = 600_000
        stack.callback(a_config.slow_paths.pop, HELD, None)  # before the sandboxes stop
        pool.settings.update(no_polling())  # the events are these, in this order
        pool.start_worker(SEVPRO_HTTP_TIMEOUT_SECONDS="900", SEVPRO_TRANSIENT_RETRY_SECONDS="10")
        _publish_observed(pool.bootstrap, a)
        pool.wait_until("a's user read under way in a's Severa", lambda: _user_reads(a) > 0)
        _publish_observed(pool.bootstrap, b)  # while a's trigger waits for a's Severa
        pool.wait_until("b's reimbursement transferred while a's user read hangs",
                        lambda: _status(b) == TRANSFERRED)
        assert len(_travel_invoices(b)) == 1
        assert _status(a) == WAITING and _travel_invoices(a) == []

        a_config.slow_paths.pop(HELD)  # a's Severa answers again: a's reimbursement goes through, once
        pool.wait_until("a's reimbursement transferred", lambda: _status(a) == TRANSFERRED)
        assert len(_travel_invoices(a)) == 1 and len(_travel_invoices(b)) == 1


def _user_reads(tenant: Tenant) -> int:
    """How many reads of one user the tenant's Severa has received (answered or not)."""
    return int(tenant.severa.app.state.sandbox.stats.calls["GET /v1/users/{guid}"])
