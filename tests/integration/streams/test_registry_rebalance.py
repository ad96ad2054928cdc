"""A rebalance of the worker group while the worker holds transfers that need a new customer: what the worker
holds ends at once, with nothing written, and the retry after the rebalance writes everything once.

The worst moment, found in the two-worker end-to-end test: faust calls the app's `on_rebalance_start` in its
consumer thread, then waits for every event the worker holds (a batch of up to 64 sales-invoice requests)
before the worker may rejoin; nobody owns a registry request partition until the group is stable again. A
transfer of that batch that asked for a registry record waited out the answer timeout (60 s) before it ended,
the next one the same; the worker rejoined too late, the broker dropped it from the group, and the other worker
carried out the same requests while this one still wrote them: invoices written twice, rebalance after
rebalance. The real worker runtime here (real broker, both sandboxes over sockets), its faust app wired as the
worker wires it; faust's own calls at a rebalance are made as faust makes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import TopicPartition

from foundation.company import load_companies
from foundation.kafka import ensure_topics, idempotent_producer, read_committed_consumer
from foundation.settings import Settings
from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from schemas import topics
from schemas.codec import CodecError, decode, encode, now
from sevpro.demo import worker_environment
from streams.agents import register
from streams.app import create_app
from streams.registers import Answers
from streams.runtime import Runtime, RuntimeStarter
from streams.sales_invoice import transfer_request
from tests.integration.transfer.race_data import race_invoices

pytestmark = pytest.mark.integration
WAITING = "Waiting for transfer to Procountor"
CUSTOMER = 3401  # new: no business partner in Procountor yet
WRITES = ("POST", "PUT", "PATCH", "DELETE")


async def test_a_rebalance_ends_held_transfers_at_once_with_nothing_written_then_each_invoice_once(
        kafka, unique, tmp_path, monkeypatch) -> None:
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"rebalance-{unique}")
        env.update(SEVPRO_TENANT=f"rebalance{unique}", SEVPRO_HOME=str(tmp_path / "home"))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        await ensure_topics(kafka.bootstrap)
        starter = RuntimeStarter(settings, load_companies(env["SEVPRO_COMPANIES_FILE"]), kafka.bootstrap)
        app = create_app(settings, kafka.bootstrap)
        register(app, starter)  # the worker's agents and rebalance listeners, as `sevpro worker` wires them
        try:
            runtime = await starter.get()
            invoices = race_invoices(severa.app.state.store, 6, (CUSTOMER,))
            waiting = severa.app.state.store.status_by_name("invoicestatuses", WAITING)["guid"]
            for invoice in invoices:
                severa.app.state.store.set_invoice_status(invoice["guid"], waiting)
            requests = [_request(runtime, severa, settings.tenant, invoice["guid"]) for invoice in invoices]
            outcomes = _outcomes_of(runtime)

            async with _requests_seen(kafka.bootstrap, settings.tenant, runtime.producer.partitions_for) as asked:
                # The first transfer asks for the new customer; the owner of its partition does not answer.
                first = asyncio.create_task(runtime.transfer.handle(requests[0]))
                await _until(lambda: len(asked) == 1 or first.done())
                assert not first.done(), first.result()
                # The group starts to rebalance: faust calls the app from its consumer thread, then waits for
                # what the worker holds (the first transfer, and the rest of its batch).
                before = _calls(severa, procountor)
                thread = threading.Thread(target=app.on_rebalance_start)
                thread.start()
                thread.join()
                held = await asyncio.wait_for(
                    asyncio.gather(first, *(runtime.transfer.handle(r) for r in requests[1:])), timeout=30)
                assert [r.state for r in held] == ["failed_transient"] * 6, [r.error for r in held]
                told = [o["error"]["message"] for o in outcomes if o["state"] == "failed_transient"]
                assert len(told) == 6 and all("rebalancing" in message for message in told), told
                # The owner of the request, had it taken it in hand, finds no partner and creates none: the
                # request's partition may be the other worker's by now.
                answer = await runtime.registers.carry_out(runtime.emit, asked[0], runtime.contexts)
                assert (answer["error"] or {}).get("kind") == "transient" and not answer["created"], answer
                # Nothing written, by the transfers or for them, and no registry request sent: nobody owns one.
                assert _calls(severa, procountor) - before == Counter(), _calls(severa, procountor) - before
                assert len(asked) == 1, asked

                # The worker has its partitions again: the owner answers (the request before the rebalance too),
                # and the retry cycle requests the six again.
                await app.on_partitions_assigned.send(set())
                async with _owner(kafka.bootstrap, f"owner-{unique}", settings.tenant, runtime):
                    retried = await asyncio.wait_for(asyncio.gather(
                        *(runtime.transfer.handle({**r, "event_id": f"{r['event_id']}:reprocess:1"}, 2)
                          for r in requests)), timeout=120)
            assert [r.state for r in retried] == ["succeeded"] * 6, [r.error for r in retried]
        finally:
            await starter.close()
        fi = procountor.app.state.store.company("FI")
        partners = Counter((p.get("invoicingInfo") or {}).get("customerNumber") for p in fi.partners.values())
        per_invoice = Counter(i["originalInvoiceNumber"] for i in fi.invoices.values())
    assert partners[str(CUSTOMER)] == 1, partners
    assert [per_invoice[str(i["number"])] for i in invoices] == [1] * 6, per_invoice


async def test_an_ask_while_the_group_rebalances_is_refused_at_once_and_answered_after(kafka, unique) -> None:
    """The asking side alone: an ask in flight when the rebalance starts ends (even though the call comes from
    another thread, as faust's does); one made during the rebalance is refused without being sent; after it,
    asks are sent again. Nothing waits out the answer timeout."""
    await ensure_topics(kafka.bootstrap)
    producer = idempotent_producer(kafka.bootstrap)
    await producer.start()
    sent: list[dict[str, Any]] = []

    async def send(name: str, record: dict[str, Any]) -> None:
        sent.append(record)
        await producer.send_and_wait(topics.registry_create_requested(), encode(name, record),
                                     key=topics.key(record["tenant"], record["key"]))

    answers = Answers(kafka.bootstrap, send, producer.partitions_for, timeout=600)
    await answers.start()
    try:
        in_flight = asyncio.create_task(answers.ask(_asked(unique, 1)))
        await _until(lambda: len(sent) == 1)
        thread = threading.Thread(target=answers.rebalance_started)
        thread.start()
        thread.join()
        with pytest.raises(Exception, match="rebalancing"):
            await asyncio.wait_for(in_flight, timeout=30)
        with pytest.raises(Exception, match="rebalancing"):
            await asyncio.wait_for(answers.ask(_asked(unique, 2)), timeout=30)
        assert len(sent) == 1, sent
        answers.rebalance_ended()
        after = asyncio.create_task(answers.ask(_asked(unique, 3)))
        await _until(lambda: len(sent) == 2)
        after.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await after
    finally:
        await answers.aclose()
        await producer.stop()


def _asked(unique: str, n: int) -> dict[str, Any]:
    return {"event_id": f"ask-{unique}-{n}", "correlation_id": unique, "causation_id": f"request-{unique}-{n}",
            "tenant": f"ask{unique}", "company": "FI", "registry": "customer", "key": str(n), "severa_id": None,
            "record": f"customer {n}", "requested_at": now(), "body": "{}"}


def _request(runtime: Runtime, severa: SandboxServer, tenant: str, guid: str) -> dict[str, Any]:
    invoice = severa.app.state.store.get("invoices", guid)
    observed = {"tenant": tenant, "entity_id": guid, "source_version": invoice["lastUpdatedDateTime"],
                "event_id": f"severa:invoice:{guid}:{invoice['lastUpdatedDateTime']}", "snapshot": json.dumps(invoice)}
    request = transfer_request(observed, runtime.directory)
    assert request is not None
    return request


def _outcomes_of(runtime: Runtime) -> list[dict[str, Any]]:
    """The transfer outcomes the runtime's sales-invoice transfer publishes, as it publishes them."""
    outcomes: list[dict[str, Any]] = []
    publish = runtime.transfer.emit

    async def emit(name: str, record: dict[str, Any]) -> None:
        if name == "TransferOutcome":
            outcomes.append(record)
        await publish(name, record)

    runtime.transfer.emit = emit
    return outcomes


def _calls(*servers: SandboxServer) -> Counter[str]:
    """The writes the sandboxes were asked for (logins left out)."""
    return Counter({f"{n} {route}": count for n, server in enumerate(servers)
                    for route, count in server.app.state.sandbox.stats.calls.items()
                    if route.split(" ")[0] in WRITES and "token" not in route})


async def _until(condition: Any, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _requests_seen(bootstrap: str, tenant: str, partitions_for: Any) -> AsyncIterator[list[dict[str, Any]]]:
    """The registry requests of `tenant` that reach the broker from now on, as they arrive."""
    seen: list[dict[str, Any]] = []
    topic = topics.registry_create_requested()
    partitions = [TopicPartition(topic, p) for p in sorted(await partitions_for(topic))]
    consumer = read_committed_consumer(bootstrap)
    await consumer.start()
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:  # the end is fixed now, before anything is asked
        await consumer.position(partition)

    async def read() -> None:
        while True:
            for records in (await consumer.getmany(*partitions, timeout_ms=200)).values():
                for message in records:
                    with contextlib.suppress(CodecError):
                        _, asked = decode(message.value)
                        if asked["tenant"] == tenant:
                            seen.append(asked)

    reading = asyncio.create_task(read())
    try:
        yield seen
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await consumer.stop()


@contextlib.asynccontextmanager
async def _owner(bootstrap: str, group: str, tenant: str, runtime: Runtime) -> AsyncIterator[None]:
    """The worker that owns the request partitions again: it carries out `tenant`'s requests, waiting ones
    first, as the registry_create agent does."""
    consumer = read_committed_consumer(bootstrap, group_id=group, auto_offset_reset="earliest")
    consumer.subscribe([topics.registry_create_requested()])
    await consumer.start()

    async def own() -> None:
        async for message in consumer:
            with contextlib.suppress(CodecError):
                _, asked = decode(message.value)
                if asked["tenant"] == tenant:
                    answer = await runtime.registers.carry_out(runtime.emit, asked, runtime.contexts)
                    await runtime.emit("RegistryCreateAnswered", answer)

    owning = asyncio.create_task(own())
    try:
        yield
    finally:
        owning.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await owning
        await consumer.stop()
