"""A backlog on a cold cache (a worker that starts, or joins its group, while invoices wait): the transfers in
flight miss the company's cache together, and each used to read the same VAT statuses, product and business
partner for itself (a worker joining a drain of 500 read `GET /vats/default` 128 times). Now a read under way
answers every transfer that asks for the same while it runs (`CompanyContext.shared_read`). Both sandboxes over
real sockets; the reads counted at the Procountor sandbox and, by their arguments, as the client sends them."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from streams.transfer import CompanyContext

NUMBERS = (10002, 10003, 10004, 10009, 10010)  # the FI demo invoices that transfer


def _calls(stack, route: str) -> int:
    return stack.procountor_server.app.state.sandbox.stats.calls[route]


def _count_arguments(client: Any, method: str, into: Counter) -> None:
    """Note each call of the client's `method` by its arguments (the real call is made)."""
    real = getattr(client, method)

    async def noted(*args: Any, **kwargs: Any) -> Any:
        into[(args, tuple(sorted(kwargs.items())))] += 1
        return await real(*args, **kwargs)

    setattr(client, method, noted)


async def test_a_cold_backlog_reads_each_vat_product_and_partner_once(stack) -> None:
    stack.procountor_server.app.state.sandbox.config.latency_ms = 50  # the first read is under way as others ask
    transfer = stack.transfer()  # its own company contexts: nothing cached yet
    fi: CompanyContext = transfer.contexts["FI"]
    products, partners = Counter(), Counter()
    _count_arguments(fi.client, "search_products", products)
    _count_arguments(fi.client, "find_business_partner", partners)
    vat_reads = _calls(stack, "GET /vats/default")
    company = stack.procountor_store.company("FI")
    existing_codes = {p.get("code") for p in company.products.values()}
    existing_customers = {(p.get("invoicingInfo") or {}).get("customerNumber") for p in company.partners.values()}

    results = await asyncio.gather(*(transfer.handle(stack.request(n)) for n in NUMBERS))

    assert [r.state for r in results] == ["succeeded"] * len(NUMBERS), [r.error for r in results]
    assert [len(stack.procountor_invoices("FI", n)) for n in NUMBERS] == [1] * len(NUMBERS)
    assert _calls(stack, "GET /vats/default") - vat_reads == 1  # three in the runs checked without the sharing
    # What exists is searched once (up to five times before). A code or customer not found is searched again by the
    # next transfer to ask after the search (the user may add it meanwhile), unless a transfer created it.
    found_codes = Counter({key: n for key, n in products.items() if dict(key[1])["code"] in existing_codes})
    found_customers = Counter({key: n for key, n in partners.items() if key[0][0] in existing_customers})
    assert found_codes and max(found_codes.values()) == 1, products
    assert found_customers and max(found_customers.values()) == 1, partners
    assert fi._reads == {}  # nothing left under way


async def test_a_shared_reads_error_is_each_callers_and_the_next_read_is_new(stack) -> None:
    transfer = stack.transfer()
    fi: CompanyContext = transfer.contexts["FI"]
    reads = 0

    async def failing() -> dict:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)
        raise ConnectionError("Procountor unreachable")

    outcomes = await asyncio.gather(*(fi.shared_read("k", failing) for _ in range(3)), return_exceptions=True)
    assert reads == 1 and all(isinstance(o, ConnectionError) for o in outcomes), outcomes
    # Nothing is kept: the next ask reads again (a cache is the caller's, of answers, never of errors).
    answer = await fi.shared_read("k", fi.client.get_vat_percentages)
    assert "vatStatuses" in answer
