"""Many transfers of one worker at once, all needing the same new customer and products: each is created once
(the worker's transfers share one `Registers`; across workers, see the two-worker test in tests/e2e)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from streams.registers import Registers
from streams.transfer import company_contexts
from tests.integration.transfer.race_data import race_invoices, routed

pytestmark = pytest.mark.integration
WAITING = "Waiting for transfer to Procountor"


async def test_twenty_invoices_of_one_new_customer_at_once_make_one_partner_and_one_product_per_code(stack) -> None:
    stack.procountor_server.app.state.sandbox.config.latency_ms = 20  # each find and create takes a while
    store = stack.severa_store
    invoices = race_invoices(store, 20, (3101,))
    waiting = store.status_by_name("invoicestatuses", WAITING)["guid"]
    for invoice in invoices:
        store.set_invoice_status(invoice["guid"], waiting)
    requests = [stack.request(invoice["number"]) for invoice in invoices]
    transfer = stack.transfer()  # one worker: its transfers share the company caches and registers
    results = await asyncio.gather(*(transfer.handle(request) for request in requests))

    assert [r.state for r in results] == ["succeeded"] * 20, [r.error for r in results if r.error]
    fi = stack.procountor_store.company("FI")
    partners = [p for p in fi.partners.values() if (p.get("invoicingInfo") or {}).get("customerNumber") == "3101"]
    assert len(partners) == 1, partners
    products = Counter(p["code"] for p in fi.products.values() if p["code"].startswith("RACE-"))
    assert products == dict.fromkeys(("RACE-W0", "RACE-W1", "RACE-P0", "RACE-P1", "RACE-P2", "RACE-P3"), 1)
    assert all(len(stack.procountor_invoices("FI", i["number"])) == 1 for i in invoices)
    created = Counter((r["kind"], r["severa_key"]) for name, r in stack.events if name == "IdLinked" and r["created"])
    assert created[("customer", "3101")] == 1 and created[("product", "RACE-P0")] == 1, created
    assert json.loads(requests[0]["snapshot"])["customer"]["number"] == 3101


async def test_two_workers_ask_the_owner_over_the_broker_and_get_each_record_once(kafka, unique, stack) -> None:
    """The routed path end to end: two workers (two transfers, each with its own company caches and locks) take
    twenty invoices of two new customers at once and ask the worker that owns each key, over the real broker;
    the owner's answers complete every invoice, and each record is made once. (It proves the routing works, not
    the race: here creating in place happened not to collide either; the two-worker e2e test is the race.)"""
    stack.procountor_server.app.state.sandbox.config.latency_ms = 20
    store = stack.severa_store
    invoices = race_invoices(store, 20, (3201, 3202))
    waiting = store.status_by_name("invoicestatuses", WAITING)["guid"]
    for invoice in invoices:
        store.set_invoice_status(invoice["guid"], waiting)
    tenant = f"pair{unique}"
    requests = [{**stack.request(invoice["number"]), "tenant": tenant} for invoice in invoices]
    owner = Registers()
    async with routed(kafka.bootstrap, f"owner-{unique}", tenant, owner,
                      company_contexts(stack.companies, stack.procountor), stack.events) as answers:
        workers = [stack.transfer(registers=Registers(answers)) for _ in range(2)]  # own caches, own locks
        results = await asyncio.gather(*(workers[n % 2].handle(request) for n, request in enumerate(requests)))

    assert [r.state for r in results] == ["succeeded"] * 20, [r.error for r in results if r.error]
    fi = stack.procountor_store.company("FI")
    partners = Counter((p.get("invoicingInfo") or {}).get("customerNumber") for p in fi.partners.values())
    assert (partners["3201"], partners["3202"]) == (1, 1), partners
    products = Counter(p["code"] for p in fi.products.values() if p["code"].startswith("RACE-"))
    assert products == dict.fromkeys(("RACE-W0", "RACE-W1", "RACE-P0", "RACE-P1", "RACE-P2", "RACE-P3"), 1)
