"""A user withdraws or changes an invoice after it was requested: the transfer reads it again before its first
write to Procountor and writes nothing from the stale snapshot. Outcomes go to the real broker and are read
back from it; both sandboxes over real sockets, the Procountor one slowed down so the user's change lands
while the transfer is still reading."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from foundation.kafka import ensure_topics, idempotent_producer
from schemas import topics
from schemas.codec import encode
from streams.sales_invoice import KIND
from tests.integration.pollers.kafka_read import read_events

pytestmark = pytest.mark.integration
WAITING = "Waiting for transfer to Procountor"


@pytest.fixture
async def broker_emit(kafka, stack):
    """The transfer's emit, as the worker's runtime wires it: each event acked by the real broker."""
    await ensure_topics(kafka.bootstrap)
    producer = idempotent_producer(kafka.bootstrap)
    await producer.start()

    async def emit(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))
        if name == "TransferOutcome":
            topic, key = topics.transfer_outcome(record["kind"]), topics.key(record["tenant"], record["source_id"])
        else:
            topic, key = topics.registry_links(), topics.key(record["tenant"], record["company"], record["kind"],
                                                            record["severa_key"])
        await producer.send_and_wait(topic, key=key, value=encode(name, record))

    yield emit
    await producer.stop()


def _request(stack, number: int, tenant: str) -> dict[str, Any]:
    return {**stack.request(number), "tenant": tenant}


async def _outcomes_on_the_broker(kafka, request: dict[str, Any]) -> list[dict[str, Any]]:
    events = await read_events(kafka.bootstrap, topics.transfer_outcome(KIND))
    return [e for e in events if e["request_id"] == request["event_id"] and e["tenant"] == request["tenant"]]


def _move(stack, request: dict[str, Any], status: str) -> None:
    """What a user does in Severa's UI: the invoice goes to another status."""
    stack.severa_store.set_invoice_status(request["source_id"],
                                          stack.severa_store.status_by_name("invoicestatuses", status)["guid"])


async def _when_attempting(stack, request: dict[str, Any], task: asyncio.Task[Any]) -> None:
    """Until the transfer has said `attempting` (its reads of Procountor, slowed down, are still to come)."""
    while not any(name == "TransferOutcome" and r["request_id"] == request["event_id"] and r["state"] == "attempting"
                  for name, r in stack.events):
        assert not task.done(), task.result()
        await asyncio.sleep(0.01)


def _procountor_writes(stack) -> int:
    calls = stack.procountor_server.app.state.sandbox.stats.calls
    return sum(n for route, n in calls.items() if route.split(" ")[0] in ("POST", "PUT", "PATCH", "DELETE")
               and "token" not in route)


async def test_invoice_moved_back_to_draft_during_the_transfer_is_skipped_with_nothing_written(
        kafka, unique, stack, broker_emit) -> None:
    stack.procountor_server.app.state.sandbox.config.latency_ms = 250  # every Procountor call takes 0.25 s
    request = _request(stack, 10002, f"withdrawn{unique}")
    transfer = stack.transfer()
    transfer.emit = broker_emit
    task = asyncio.create_task(transfer.handle(request))
    await _when_attempting(stack, request, task)
    _move(stack, request, "Draft")
    result = await task

    assert result.state == "skipped"
    assert stack.procountor_invoices("FI", 10002) == []
    assert _procountor_writes(stack) == 0, "not even the customer, a product or an item"
    assert stack.invoice(10002)["status"]["name"] == "Draft", "the user's status is kept"
    on_broker = await _outcomes_on_the_broker(kafka, request)
    assert [o["state"] for o in on_broker] == ["attempting", "skipped"]
    note = on_broker[-1]["note"]
    assert note.startswith("moved to Draft at ") and note.endswith("; nothing was written"), note


async def test_transient_retry_checks_again_and_never_writes_the_stale_snapshot(
        kafka, unique, stack, broker_emit) -> None:
    config = stack.procountor_server.app.state.sandbox.config
    request = _request(stack, 10002, f"retry{unique}")
    transfer = stack.transfer()
    transfer.emit = broker_emit
    config.error_rate = 1.0  # Procountor is down: the first attempt fails transiently, before any write
    assert (await transfer.handle(request)).state == "failed_transient"
    _move(stack, request, "Draft")
    config.error_rate = 0.0
    retried = await transfer.handle(request, attempt_number=2)  # what the retry timer does a minute later

    assert retried.state == "skipped"
    assert stack.procountor_invoices("FI", 10002) == []
    on_broker = await _outcomes_on_the_broker(kafka, request)
    assert [o["state"] for o in on_broker] == ["attempting", "failed_transient", "attempting", "skipped"]
    assert on_broker[-1]["note"].startswith("moved to Draft at ")


class Crash(BaseException):
    """The worker dies right after Procountor created the invoice."""


async def test_invoice_withdrawn_after_a_crash_is_neither_approved_nor_sent(kafka, unique, stack,
                                                                             broker_emit) -> None:
    fi = stack.companies["FI"]
    stack.companies["FI"] = fi.model_copy(update={"sales_invoices": fi.sales_invoices.model_copy(
        update={"procountor_status": "SENT"})})
    request = _request(stack, 10002, f"crash{unique}")

    async def die_after_create(name: str, record: dict[str, Any]) -> None:
        await broker_emit(name, record)
        if name == "TransferOutcome" and record["step"] == "invoice":
            raise Crash

    crashing = stack.transfer()
    crashing.emit = die_after_create
    with pytest.raises(Crash):
        await crashing.handle(request)
    [made] = stack.procountor_invoices("FI", 10002)
    _move(stack, request, "Draft")
    retry = stack.transfer()
    retry.emit = broker_emit
    result = await retry.handle(request, attempt_number=2)

    assert result.state == "skipped"
    [still] = stack.procountor_invoices("FI", 10002)
    assert still["id"] == made["id"] and still["status"] == "UNFINISHED", "a withdrawn invoice is never sent"
    assert stack.invoice(10002)["status"]["name"] == "Draft"
    note = (await _outcomes_on_the_broker(kafka, request))[-1]["note"]
    assert note.startswith("moved to Draft at ") and "made by an earlier attempt, was left as it is" in note, note


async def test_a_newer_version_with_the_same_content_is_transferred(stack) -> None:
    request = stack.request(10002)
    stack.severa_store.update("invoices", request["source_id"], {})  # saved again, nothing changed
    assert stack.invoice(10002)["lastUpdatedDateTime"] != request["source_version"]
    result = await stack.transfer().handle(request)
    assert result.state == "succeeded", result.error
    assert len(stack.procountor_invoices("FI", 10002)) == 1


async def test_a_newer_version_that_changed_is_left_to_its_own_request(stack) -> None:
    request = stack.request(10002)
    stack.severa_store.update("invoices", request["source_id"], {"yourReference": "PO 4711"})
    result = await stack.transfer().handle(request)
    assert result.state == "skipped"
    assert stack.procountor_invoices("FI", 10002) == []
    note = [r for name, r in stack.events if name == "TransferOutcome"][-1]["note"]
    assert note.startswith("changed at ") and note.endswith("nothing was written"), note
    newer = stack.request(10002)  # the poller's next version: a request of its own, transferred
    assert (await stack.transfer().handle(newer)).state == "succeeded"
    assert "PO 4711" in stack.procountor_invoices("FI", 10002)[0]["additionalInformation"]
