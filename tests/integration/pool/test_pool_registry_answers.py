"""One tenant's registry create that hangs holds no other tenant's (issue 14). A pool worker answers the registry
requests of every tenant whose request partitions it owns; it took them one after the other, so a create that
hung in one tenant's Procountor (or a slow tenant's queue of them) held every other tenant's answers: in the
100-tenant benchmark no invoice of the trickle finished ("no answer within 60 s from the worker that creates
dimension_item ..."). Real pool worker, real broker, each tenant's own sandboxes over sockets."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import sandbox.procountor.app as procountor_sandbox
from tests.integration.pool.deployment import TRANSFERRED, WAITING, Pool, add_tenant
from tests.integration.transfer.race_data import race_invoices

pytestmark = pytest.mark.integration
NEW_CUSTOMER = 3401  # no business partner in either tenant's Procountor yet: its invoice asks for one


def test_a_registry_create_hanging_in_one_tenants_procountor_holds_no_other_tenants_answers(
        pool: Pool, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    released, hanging = threading.Event(), threading.Event()
    with ExitStack() as stack:
        stack.callback(released.set)  # before the sandboxes stop
        a = add_tenant(stack, f"a{unique}", tmp_path, status="UNFINISHED", own_clients=False)
        b = add_tenant(stack, f"b{unique}", tmp_path, status="UNFINISHED", own_clients=False)
        pool.tenants += [a, b]
        numbers = {}
        for tenant in (a, b):
            tenant.only_ready()
            [invoice] = race_invoices(tenant.severa.app.state.store, 1, (NEW_CUSTOMER,))
            numbers[tenant.name] = invoice["number"]
        # a's Procountor takes the new business partner's POST and answers only once released (a's sandbox
        # thread waits; b's sandboxes are their own).
        a_company, validate = a.procountor.app.state.store.company("FI"), procountor_sandbox.validate_partner

        def held(company: Any, body: Any) -> Any:
            if company is a_company:
                hanging.set()
                released.wait(600)
            return validate(company, body)

        monkeypatch.setattr(procountor_sandbox, "validate_partner", held)
        # The hanging request is not given up by the worker's client either while this test waits.
        pool.start_worker(SEVPRO_HTTP_TIMEOUT_SECONDS="900", SEVPRO_TRANSIENT_RETRY_SECONDS="10")
        a.set_status(numbers[a.name], WAITING)
        pool.wait_until("a's partner create hanging in a's Procountor", hanging.is_set)
        b.set_status(numbers[b.name], WAITING)
        pool.wait_until("b's invoice transferred while a's partner create hangs",
                        lambda: b.severa_status(numbers[b.name]) == TRANSFERRED)
        assert not released.is_set() and a.severa_status(numbers[a.name]) == WAITING
        assert b.in_procountor() == {str(numbers[b.name]): ["UNFINISHED"]}

        released.set()  # a's Procountor answers again: a's invoice goes through, with one partner
        pool.wait_until("a's invoice transferred", lambda: a.severa_status(numbers[a.name]) == TRANSFERRED)
        assert a.in_procountor() == {str(numbers[a.name]): ["UNFINISHED"]}
        for tenant in (a, b):
            partners = Counter((p.get("invoicingInfo") or {}).get("customerNumber")
                               for p in tenant.procountor.app.state.store.company("FI").partners.values())
            assert partners[str(NEW_CUSTOMER)] == 1, (tenant.name, partners)
