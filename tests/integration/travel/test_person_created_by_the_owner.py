"""A person created the way two workers create one (routed to the worker that owns its key, over the real
broker): created once, and the bank account in full is in no event, only in Procountor."""

from __future__ import annotations

import json

import pytest
from schwifty import IBAN

from sandbox.severa.demo import demo_guid
from schemas import topics
from streams.registers import Registers
from streams.transfer import company_contexts
from tests.integration.pollers.kafka_read import read_events
from tests.integration.transfer.race_data import routed

pytestmark = pytest.mark.integration


async def test_person_created_through_the_owning_worker_once_and_its_bank_account_in_no_event(kafka, unique,
                                                                                              travel) -> None:
    tenant = f"person{unique}"
    travel.set_travel(update_persons=True)  # E006, reimbursement 3's user, has no Procountor person yet
    for expense in travel.severa_store.all("projecttravelexpenses"):  # the demo's tickets at 13.5 % VAT
        if expense["travelExpense"]["code"] == "TRAVEL-TICKET":
            travel.severa_store.update("projecttravelexpenses", expense["guid"], {"purchaseVatRate": 13.5})
    owner = Registers(severa=travel.severa)  # the worker that owns the key's partition
    contexts = company_contexts(travel.companies, travel.procountor)
    async with routed(kafka.bootstrap, f"owner-{unique}", tenant, owner, contexts, travel.events) as answers:
        request = {**await travel.request(3), "tenant": tenant}
        result = await travel.transfer(registers=Registers(answers)).handle(request)

    assert result.state == "succeeded", result.error
    user = travel.severa_store.get("users", demo_guid("user", "E006"))
    person = travel.procountor_store.company("FI").find_person(person_number="E006")
    iban = IBAN(user["bankAccountNumber"]).compact
    assert person["paymentInfo"]["accountNumber"] == iban and travel.travel_invoices(3)[0]["partnerId"] == person["id"]
    assert travel.writes()["POST /persons"] == 1
    on_topics = [e for topic in (topics.registry_create_requested(), topics.registry_create_answered())
                 for e in await read_events(kafka.bootstrap, topic) if e["tenant"] == tenant]
    assert {e["registry"] for e in on_topics} == {"person"} and len(on_topics) == 2, on_topics
    for event in on_topics + [r for _, r in travel.events]:
        text = json.dumps(event, default=str)
        assert iban not in text and user["bankAccountNumber"] not in text, event
