"""Invoices of new customers on new product codes, for the find-or-create races (one partner, one product),
and registry creation routed over the real broker to an owner, as between workers."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any

from foundation.kafka import ensure_topics, idempotent_producer, read_committed_consumer
from sandbox.severa.demo import fi_business_id
from sandbox.severa.store import finnish_reference
from schemas import topics
from schemas.codec import CodecError, decode, encode
from streams.registers import Answers, Registers

AUDIT = ("guid", "createdDateTime", "createdBy", "lastUpdatedDateTime", "lastUpdatedBy")


def race_codes(index: int) -> tuple[str, str]:
    """The codes of invoice `index`'s two rows: six codes in all, each on invoices of every customer (so a
    product races across customers, hence across partitions and workers too)."""
    return f"RACE-W{index % 2}", f"RACE-P{index % 4}"


def race_invoices(store: Any, count: int, customer_numbers: tuple[int, ...]) -> list[dict[str, Any]]:
    """`count` Draft invoices of new customers (`customer_numbers`, in turn), in the FI company: copies of demo
    invoice 10003 (an hours row and a fee row) whose rows carry the codes of `race_codes`."""
    template = next(i for i in store.all("invoices") if i["number"] == 10003)
    model = store.get("customers", template["customer"]["guid"])
    customers = []
    for n, number in enumerate(customer_numbers):
        body = {k: copy.deepcopy(v) for k, v in model.items() if k not in AUDIT}
        customer = store.insert("customers", body | {"number": number, "name": f"Kilpa {number} Oy",
                                                     "vatNumber": fi_business_id(3100000 + 100 * n)})
        for address in store.all("addresses"):
            if (address.get("customer") or {}).get("guid") == model["guid"]:
                store.insert("addresses", {k: copy.deepcopy(v) for k, v in address.items() if k not in AUDIT}
                             | {"customer": {"name": customer["name"], "guid": customer["guid"], "number": number}})
        customers.append(customer)
    draft = store.invoice_status_sub(store.status_by_name("invoicestatuses", "Draft")["guid"])
    rows = sorted(store.find("invoicerows", invoiceGuid=template["guid"]), key=lambda r: r["sortOrder"])
    invoices = []
    for i in range(count):
        customer = customers[i % len(customers)]
        sub = {"name": customer["name"], "guid": customer["guid"], "number": customer["number"]}
        number = store.next_number("invoice")
        body = {k: copy.deepcopy(v) for k, v in template.items() if k not in AUDIT}
        body |= {"number": number, "referenceNumber": finnish_reference(number), "status": draft, "customer": sub,
                 "billingCustomer": sub, "receiverCustomerName": customer["name"],
                 "receiverVatNumber": customer["vatNumber"]}
        invoice = store.insert("invoices", body)
        for row, code in zip(rows, race_codes(i), strict=True):
            store.insert("invoicerows", {k: copy.deepcopy(v) for k, v in row.items() if k not in AUDIT}
                         | {"invoiceGuid": invoice["guid"], "code": [code], "description": f"Kilpa {code}"})
        invoices.append(invoice)
    return invoices


@contextlib.asynccontextmanager
async def routed(bootstrap: str, group: str, tenant: str, owner: Registers,
                 contexts: dict[str, Any], events: list[tuple[str, dict[str, Any]]]) -> AsyncIterator[Answers]:
    """Registry creation routed over the real broker as the worker routes it: `owner` answers every request of
    `tenant` (as the registry_create agent of the worker that owns the partitions would); yields the `Answers`
    an asking worker's `Registers` takes. Every event published is also appended to `events`."""
    await ensure_topics(bootstrap)
    producer = idempotent_producer(bootstrap)
    await producer.start()

    async def emit(name: str, record: dict[str, Any]) -> None:
        events.append((name, record))
        if name in ("RegistryCreateRequested", "RegistryCreateAnswered"):
            topic = {"RegistryCreateRequested": topics.registry_create_requested(),
                     "RegistryCreateAnswered": topics.registry_create_answered()}[name]
            key = topics.key(record["tenant"], record["company"], record["registry"], record["key"])
            await producer.send_and_wait(topic, key=key, value=encode(name, record))

    consumer = read_committed_consumer(bootstrap, group_id=group, auto_offset_reset="earliest")
    consumer.subscribe([topics.registry_create_requested()])
    await consumer.start()

    async def own() -> None:
        async for message in consumer:
            try:
                _, asked = decode(message.value)
            except CodecError:
                continue
            if asked["tenant"] == tenant:
                await emit("RegistryCreateAnswered", await owner.carry_out(emit, asked, contexts))

    owning = asyncio.create_task(own())
    answers = Answers(bootstrap, emit, producer.partitions_for, timeout=30)
    await answers.start()
    try:
        yield answers
    finally:
        owning.cancel()
        await answers.aclose()
        await consumer.stop()
        await producer.stop()
