"""A private customer (henkilötunnus on the Severa customer card) transferred against both sandboxes over real
sockets: the business partner is created with identifierType HETU, the invoice carries the code, and no event
of the transfer carries it in clear."""

from __future__ import annotations

import json

import pytest

from streams.registers import Registers
from streams.transfer import company_contexts
from tests.integration.transfer.race_data import race_invoices, routed

pytestmark = pytest.mark.integration

HETU = "131052-308T"
WAITING = "Waiting for transfer to Procountor"


async def test_private_customer_is_created_with_its_personal_code(stack) -> None:
    store = stack.severa_store
    invoice = stack.invoice(10002)
    card = dict(store.get("customers", invoice["customer"]["guid"]))
    card.pop("guid")
    person = store.insert("customers", {**card, "number": 1190, "name": "Maija Meikäläinen", "vatNumber": HETU})
    for address in store.all("addresses"):
        if (address.get("customer") or {}).get("guid") == invoice["customer"]["guid"]:
            copied = {k: v for k, v in address.items() if k != "guid"}
            store.insert("addresses", {**copied, "customer": {**address["customer"], "guid": person["guid"]}})
    ref = {**invoice["customer"], "guid": person["guid"], "name": person["name"]}
    store.update("invoices", invoice["guid"], {"customer": ref, "billingCustomer": ref,
                                               "receiverCustomerName": person["name"], "receiverVatNumber": HETU})

    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error

    partner = stack.procountor_store.company("FI").find_partner(customer_number="1190")
    assert partner is not None and partner["invoicingInfo"]["identifier"] == HETU
    assert partner["invoicingInfo"]["identifierType"] == "HETU"
    [target] = stack.procountor_invoices("FI", 10002)
    assert target["counterParty"]["identifier"] == HETU
    assert stack.events and HETU not in json.dumps(stack.events, default=str)


async def test_creation_asked_of_the_owner_over_the_broker_carries_no_personal_code(kafka, unique, stack) -> None:
    """Across workers the customer to create travels on registry.create.requested and the partner made comes back
    on registry.create.answered: neither carries the henkilötunnus; the owner reads it from Severa itself."""
    store = stack.severa_store
    invoices = race_invoices(store, 2, (3301,))
    customer = store.update("customers", invoices[0]["customer"]["guid"], {"vatNumber": HETU})
    waiting = store.status_by_name("invoicestatuses", WAITING)["guid"]
    for invoice in invoices:
        store.update("invoices", invoice["guid"], {"receiverVatNumber": customer["vatNumber"]})
        store.set_invoice_status(invoice["guid"], waiting)
    tenant = f"private{unique}"
    requests = [{**stack.request(invoice["number"]), "tenant": tenant} for invoice in invoices]
    owner = Registers(severa=stack.severa)
    async with routed(kafka.bootstrap, f"owner-{unique}", tenant, owner,
                      company_contexts(stack.companies, stack.procountor), stack.events) as answers:
        asker = stack.transfer(registers=Registers(answers))
        results = [await asker.handle(request) for request in requests]

    assert [r.state for r in results] == ["succeeded"] * 2, [r.error for r in results if r.error]
    partner = stack.procountor_store.company("FI").find_partner(customer_number="3301")
    assert partner["invoicingInfo"]["identifier"] == HETU and partner["invoicingInfo"]["identifierType"] == "HETU"
    assert all(i["counterParty"]["identifier"] == HETU
               for invoice in invoices for i in stack.procountor_invoices("FI", invoice["number"]))
    routed_events = [r for name, r in stack.events if name.startswith("RegistryCreate")]
    assert routed_events and HETU not in json.dumps(stack.events, default=str)
