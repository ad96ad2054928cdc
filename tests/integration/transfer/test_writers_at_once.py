"""A backlog's transfers past their create, bounded (streams/writers.py): at most the tenant's writer slots write
at once, so that those writing when the worker group rebalances finish within faust's rebalance timeout; a
transfer that waits for a slot when the rebalance starts ends with nothing written, and is written once after.
Both sandboxes over real sockets; what was written read from their stores, the order from the transfer's own
outcome events (what the transfer log is built from)."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.registers import REBALANCING
from streams.writers import Writers

NUMBERS = (10002, 10003, 10004, 10009, 10010)  # the FI demo invoices that transfer
FINAL = ("succeeded", "failed_data", "failed_transient", "failed_config", "skipped")


def _most_writing_at_once(events: list[tuple[str, dict[str, Any]]]) -> int:
    """From the outcomes in the order they were published: the most attempts at once between their invoice step
    (right after the create) and their end."""
    writing: set[str] = set()
    most = 0
    for name, outcome in events:
        if name != "TransferOutcome":
            continue
        if outcome["state"] == "step" and outcome.get("step") == "invoice":
            writing.add(outcome["source_id"])
            most = max(most, len(writing))
        elif outcome["state"] in FINAL:
            writing.discard(outcome["source_id"])
    return most


async def test_a_backlog_writes_at_most_the_slots_at_once_and_each_invoice_once(stack) -> None:
    # Latency keeps each transfer's writes (create, receipt, attachment, PATCH) in flight long enough to overlap.
    stack.procountor_server.app.state.sandbox.config.latency_ms = 50
    transfer = stack.transfer(writers=Writers(limit=2))

    results = await asyncio.gather(*(transfer.handle(stack.request(n)) for n in NUMBERS))

    assert [r.state for r in results] == ["succeeded"] * len(NUMBERS), [r.error for r in results]
    assert [len(stack.procountor_invoices("FI", n)) for n in NUMBERS] == [1] * len(NUMBERS)
    # Two at once, never more (without the slots, more of the five write together).
    assert _most_writing_at_once(stack.events) == 2
    assert transfer.writers.writing == 0


async def test_a_transfer_waiting_for_a_slot_when_the_group_rebalances_writes_nothing_and_once_after(stack) -> None:
    stack.procountor_server.app.state.sandbox.config.latency_ms = 50
    transfer = stack.transfer(writers=Writers(limit=1))
    rebalancing = False
    transfer._held = lambda: REBALANCING if rebalancing else None  # type: ignore[method-assign]
    first, *others = NUMBERS[:3]

    # The first holds the one slot past its create, until the rebalance starts.
    go_on, row_dimensions = asyncio.Event(), transfer._row_dimensions

    async def held_up(*args: Any, **kwargs: Any) -> None:
        await go_on.wait()
        await row_dimensions(*args, **kwargs)

    transfer._row_dimensions = held_up  # type: ignore[method-assign]
    writing = asyncio.create_task(transfer.handle(stack.request(first)))
    for _ in range(400):
        if any(o.get("step") == "invoice" for _, o in stack.events):
            break
        await asyncio.sleep(0.025)
    waiting = [asyncio.create_task(transfer.handle(stack.request(n))) for n in others]
    for _ in range(400):  # both have come to the slot (read Severa, found no duplicate) and wait there
        if len(transfer.writers._waiting) == 2:
            break
        await asyncio.sleep(0.025)
    assert len(transfer.writers._waiting) == 2 and not writing.done()

    rebalancing = True  # the worker group starts to rebalance: the one writing finishes, the waiting end
    go_on.set()
    done = await asyncio.wait_for(asyncio.gather(writing, *waiting), 30)
    assert [r.state for r in done] == ["succeeded", "failed_transient", "failed_transient"], [r.error for r in done]
    assert [len(stack.procountor_invoices("FI", n)) for n in NUMBERS[:3]] == [1, 0, 0]

    rebalancing = False  # the worker has its partitions again: the retries write each once
    retried = await asyncio.gather(*(transfer.handle(stack.request(n), 2) for n in others))
    assert [r.state for r in retried] == ["succeeded", "succeeded"], [r.error for r in retried]
    assert [len(stack.procountor_invoices("FI", n)) for n in NUMBERS[:3]] == [1, 1, 1]
