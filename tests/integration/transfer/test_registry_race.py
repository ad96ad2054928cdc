"""Many transfers of one worker at once, all needing the same new customer and products: each is created once
(the worker's transfers share one `Registers`; across workers, see the two-worker test in tests/e2e)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from tests.integration.transfer.race_data import race_invoices

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
