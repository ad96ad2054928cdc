"""A person created the way two workers create one (routed to the worker that owns its key, over the real
broker): created once, and the bank account in full is in no event, only in Procountor."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from schwifty import IBAN

from foundation.kafka import ensure_topics, idempotent_producer, read_committed_consumer
from sandbox.severa.demo import demo_guid
from schemas import topics
from schemas.codec import CodecError, decode, encode
from streams.registers import Answers, Registers
from streams.transfer import company_contexts
from tests.integration.pollers.kafka_read import read_events

pytestmark = pytest.mark.integration


async def test_person_created_through_the_owning_worker_once_and_its_bank_account_in_no_event(kafka, unique,
                                                                                              travel) -> None:
    tenant = f"person{unique}"
    travel.set_travel(update_persons=True)  # E006, reimbursement 3's user, has no Procountor person yet
    for expense in travel.severa_store.all("projecttravelexpenses"):  # the demo's tickets at 13.5 % VAT
        if expense["travelExpense"]["code"] == "TRAVEL-TICKET":
            travel.severa_store.update("projecttravelexpenses", expense["guid"], {"purchaseVatRate": 13.5})
    await ensure_topics(kafka.bootstrap)
    producer = idempotent_producer(kafka.bootstrap)
    await producer.start()

    async def emit(name: str, record: dict[str, Any]) -> None:  # as the worker's runtime publishes
        travel.events.append((name, record))
        if name in ("RegistryCreateRequested", "RegistryCreateAnswered"):
            topic = {"RegistryCreateRequested": topics.REGISTRY_CREATE_REQUESTED,
                     "RegistryCreateAnswered": topics.REGISTRY_CREATE_ANSWERED}[name]
            key = topics.key(record["tenant"], record["company"], record["registry"], record["key"])
            await producer.send_and_wait(topic, key=key, value=encode(name, record))

    owner = Registers(severa=travel.severa)  # the worker that owns the key's partition (its registry_create agent)
    contexts = company_contexts(travel.companies, travel.procountor)
    consumer = read_committed_consumer(kafka.bootstrap, group_id=f"owner-{unique}", auto_offset_reset="earliest")
    consumer.subscribe([topics.REGISTRY_CREATE_REQUESTED])
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
    answers = Answers(kafka.bootstrap, emit, producer.partitions_for, timeout=30)
    await answers.start()
    try:
        request = {**await travel.request(3), "tenant": tenant}
        result = await travel.transfer(registers=Registers(answers)).handle(request)
    finally:
        owning.cancel()
        await answers.aclose()
        await consumer.stop()
        await producer.stop()

    assert result.state == "succeeded", result.error
    user = travel.severa_store.get("users", demo_guid("user", "E006"))
    person = travel.procountor_store.company("FI").find_person(person_number="E006")
    iban = IBAN(user["bankAccountNumber"]).compact
    assert person["paymentInfo"]["accountNumber"] == iban and travel.travel_invoices(3)[0]["partnerId"] == person["id"]
    assert travel.writes()["POST /persons"] == 1
    routed = [e for topic in (topics.REGISTRY_CREATE_REQUESTED, topics.REGISTRY_CREATE_ANSWERED)
              for e in await read_events(kafka.bootstrap, topic) if e["tenant"] == tenant]
    assert {e["registry"] for e in routed} == {"person"} and len(routed) == 2, routed
    for event in routed + [r for _, r in travel.events]:
        text = json.dumps(event, default=str)
        assert iban not in text and user["bankAccountNumber"] not in text, event
