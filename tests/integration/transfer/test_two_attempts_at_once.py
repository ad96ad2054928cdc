"""Two attempts at one request at the same time: a worker that lost its partition in a rebalance (or stalled past
its session timeout while its calls were in flight) and the partition's new owner, which starts the request
again. Procountor has no idempotency keys, so the invoice must be written by one of them only. Both sandboxes
over real sockets."""

from __future__ import annotations

from typing import Any

import pytest

from streams.transfer import owner_check

pytestmark = pytest.mark.integration


class Paused(BaseException):
    """Stops a transfer right after a step, as if its worker were slow there."""


def _invoice_posts(stack) -> int:
    return stack.procountor_server.app.state.sandbox.stats.calls["POST /invoices"]


async def test_an_invoice_created_by_the_other_attempt_after_the_first_search_is_not_created_again(stack) -> None:
    request = stack.request(10002)
    new_owner = stack.transfer()

    async def still_at_work(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))
        if name == "TransferOutcome" and record["step"] == "invoice":
            raise Paused  # the new owner has created the invoice; its later steps are still to come

    new_owner.emit = still_at_work
    with pytest.raises(Paused):
        await new_owner.handle(request)
    [made] = stack.procountor_invoices("FI", 10002)

    # The old owner searched before the new owner's create, and reaches its own create only now.
    old_owner = stack.transfer()
    real_search = old_owner._existing_invoice
    searches = []

    async def searched_too_early(context: Any, invoice: Any, **how: Any) -> Any:
        searches.append(invoice["number"])
        return None if len(searches) == 1 else await real_search(context, invoice, **how)

    old_owner._existing_invoice = searched_too_early  # type: ignore[method-assign]
    result = await old_owner.handle(request)

    assert result.state == "failed_transient", result
    assert "appeared during the transfer" in str(stack.events[-1][1]["error"]["message"])
    assert [i["id"] for i in stack.procountor_invoices("FI", 10002)] == [made["id"]], "written twice"
    assert _invoice_posts(stack) == 1

    # Its retry (the normal path: the search finds it) checks the invoice and adopts it, still once.
    retried = await stack.transfer().handle(request, attempt_number=2)
    assert retried.state in ("succeeded", "skipped"), retried
    assert [i["id"] for i in stack.procountor_invoices("FI", 10002)] == [made["id"]]


async def test_a_worker_that_no_longer_owns_the_request_writes_no_invoice(stack) -> None:
    request = stack.request(10002)
    owner_check.set(lambda: False)  # a rebalance is taking the request's partition away
    try:
        result = await stack.transfer().handle(request)
    finally:
        owner_check.set(None)

    assert result.state == "failed_transient", result
    assert "rebalancing" in stack.events[-1][1]["error"]["message"]
    assert stack.procountor_invoices("FI", 10002) == []
    assert _invoice_posts(stack) == 0

    # The partition's owner carries it out, once.
    assert (await stack.transfer().handle(request)).state == "succeeded"
    assert len(stack.procountor_invoices("FI", 10002)) == 1
