"""One tenant's Severa that does not answer holds no other tenant's triggers (issue 14). The travel trigger reads
a reimbursement's user from Severa (its business unit decides the company) and waits for the API while it is
down, rather than lose the event; in a pool it took every tenant's observed reimbursements one after the other,
so one tenant's hanging user read held every other tenant's travel transfers. Real pool worker, real broker,
each tenant's own sandboxes over sockets."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from schemas import topics
from tests.integration.pollers.kafka_read import read_events
from tests.integration.pool.deployment import Pool, Tenant, add_tenant, no_polling, publish_observed, sevpro

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


def _copies(bootstrap: str, event_id: str) -> int:
    """How many times the observed event is on its topic."""
    return sum(1 for record in asyncio.run(read_events(bootstrap, topics.observed("severa", "travel_reimbursement")))
               if record.get("event_id") == event_id)


def _with_travel(stack: ExitStack, pool: Pool, unique: str, tmp_path: Path) -> tuple[Tenant, Tenant]:
    """Tenants a and b on the pool, travel reimbursements on; the demo's first reimbursement waits for transfer."""
    a = add_tenant(stack, f"a{unique}", tmp_path, status="UNFINISHED", own_clients=False)
    b = add_tenant(stack, f"b{unique}", tmp_path, status="UNFINISHED", own_clients=True)
    pool.tenants += [a, b]
    for tenant in (a, b):
        sevpro("settings", "set", "--tenant", tenant.name, "--company", "FI",
               "travel_reimbursements.enabled=true", f"travel_reimbursements.status_before={WAITING}",
               f"travel_reimbursements.status_after={TRANSFERRED}", "--by", "test")
        assert _status(tenant) == WAITING
    pool.settings.update(no_polling())  # the events are these, in this order
    return a, b


def _hold_user_reads(stack: ExitStack, tenant: Tenant) -> Callable[[], None]:
    """The tenant's Severa takes user reads and answers only once released (its sandbox waits; the other
    tenant's are its own): a Severa that does not answer, for as long as the test needs. Returns the release."""
    config = tenant.severa.app.state.sandbox.config
    config.slow_paths[HELD] = 600_000
    release = functools.partial(config.slow_paths.pop, HELD, None)
    stack.callback(release)  # before the sandboxes stop
    return release


def test_a_tenants_severa_not_answering_the_travel_triggers_user_read_holds_no_other_tenants_travel(
        pool: Pool, unique: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        a, b = _with_travel(stack, pool, unique, tmp_path)
        release = _hold_user_reads(stack, a)
        pool.start_worker(SEVPRO_HTTP_TIMEOUT_SECONDS="900", SEVPRO_TRANSIENT_RETRY_SECONDS="10")
        publish_observed(pool.bootstrap, a, "travel_reimbursement", _reimbursement(a))
        pool.wait_until("a's user read under way in a's Severa", lambda: _user_reads(a) > 0)
        # while a's trigger waits for a's Severa:
        publish_observed(pool.bootstrap, b, "travel_reimbursement", _reimbursement(b))
        pool.wait_until("b's reimbursement transferred while a's user read hangs",
                        lambda: _status(b) == TRANSFERRED)
        assert len(_travel_invoices(b)) == 1
        assert _status(a) == WAITING and _travel_invoices(a) == []

        release()  # a's Severa answers again: a's reimbursement goes through, once
        pool.wait_until("a's reimbursement transferred", lambda: _status(a) == TRANSFERRED)
        assert len(_travel_invoices(a)) == 1 and len(_travel_invoices(b)) == 1


def _user_reads(tenant: Tenant) -> int:
    """How many reads of one user the tenant's Severa has received (answered or not)."""
    return int(tenant.severa.app.state.sandbox.stats.calls["GET /v1/users/{guid}"])


def test_a_trigger_waiting_for_its_tenants_api_hands_its_event_on_when_the_pool_rebalances(
        pool: Pool, unique: str, tmp_path: Path) -> None:
    """faust lets a worker rejoin its group only once every event it has taken is acknowledged, and drops a
    worker that takes longer than the broker's rebalance timeout: a trigger that kept waiting for a tenant's API
    (down for an hour, say) held every rebalance of the pool. It hands its event on instead: the record is
    published again for the partition's next owner, and the wait ends."""
    with ExitStack() as stack:
        a, b = _with_travel(stack, pool, unique, tmp_path)
        release = _hold_user_reads(stack, a)
        # Each user read gives up after 2 s (transient): the trigger waits with its back-off.
        settings = {"SEVPRO_HTTP_TIMEOUT_SECONDS": "2", "SEVPRO_TRANSIENT_RETRY_SECONDS": "10"}
        first, _ = pool.start_worker(**settings)
        event_id = publish_observed(pool.bootstrap, a, "travel_reimbursement", _reimbursement(a))
        pool.wait_until("a's trigger waiting for a's Severa (a user read given up)", lambda: _user_reads(a) >= 2)
        copies = _copies(pool.bootstrap, event_id)  # 1, or more if the worker's own start rebalanced meanwhile

        second, _ = pool.start_worker(**settings)  # the group rebalances
        pool.wait_until("a's observed reimbursement handed on",
                        lambda: _copies(pool.bootstrap, event_id) > copies)
        publish_observed(pool.bootstrap, b, "travel_reimbursement", _reimbursement(b))
        pool.wait_until("b's reimbursement transferred", lambda: _status(b) == TRANSFERRED)

        release()  # a's Severa answers again: a's reimbursement goes through, once
        pool.wait_until("a's reimbursement transferred", lambda: _status(a) == TRANSFERRED)
        assert len(_travel_invoices(a)) == 1 and len(_travel_invoices(b)) == 1
        assert first.poll() is None and second.poll() is None
