"""The worker's customer cards (issue 16): a card is read once and kept while the registry poller's customer
reads show no change of the customer or of its addresses; a change they show is on the next invoice. Both
sandboxes over real sockets; the poller's read is the leader's `GET /v1/customers?changedSince=` as
`Poller.poll_due` runs it (here without Kafka), read every 50 ms."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.severa.customer_cards import CustomerCards

pytestmark = pytest.mark.integration
WAITING = "Waiting for transfer to Procountor"
CARD = "GET /v1/customers/{guid}"


class _Poller:
    """The customer poller's reads, watched by `cards`, every 50 ms, of what changed since the poller started
    (not the demo's customers and addresses as seeded: a card read while a poller read shows its customer is not
    kept, and the test counts the card reads)."""

    def __init__(self, stack, cards: CustomerCards) -> None:
        self.read = cards.watching(lambda since: stack.severa.iter_customers(changed_since=since))
        self.since = datetime.now(UTC)
        self.done = 0  # whole reads (with the addresses' read after each)

    async def run(self) -> None:
        while True:
            shown = [customer async for customer in self.read(self.since)]
            assert all(customer.get("guid") for customer in shown), shown  # the poller still gets what it read
            self.done += 1
            await asyncio.sleep(0.05)

    async def one_more_read(self) -> None:
        """Until a read that began after this call has ended."""
        wanted = self.done + 2
        for _ in range(2400):
            if self.done >= wanted:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the customer poller made no read in 120 s")


@contextlib.asynccontextmanager
async def _polling(stack, cards: CustomerCards) -> AsyncIterator[_Poller]:
    poller = _Poller(stack, cards)
    task = asyncio.create_task(poller.run())
    try:
        await poller.one_more_read()
        yield poller
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _card_reads(stack) -> int:
    return stack.severa_server.app.state.sandbox.stats.calls[CARD]


def _aalto(stack) -> dict[str, Any]:
    return next(c for c in stack.severa_store.all("customers") if c["name"] == "Aalto Analytics Oy")


def _to_transfer(stack, number: int, **changes: Any) -> dict[str, Any]:
    """Invoice `number` (a draft of the demo's) with `changes`, moved to the transfer status: its request."""
    store = stack.severa_store
    invoice = stack.invoice(number)
    if changes:
        store.update("invoices", invoice["guid"], changes)
    store.set_invoice_status(invoice["guid"], store.status_by_name("invoicestatuses", WAITING)["guid"])
    return stack.request(number)


async def test_a_customer_changed_between_two_invoices_is_on_the_second(stack) -> None:
    """Aalto Analytics gets an e-invoice address after its invoice 10002 was transferred, within what a TTL of
    an hour would keep: the next invoice of Aalto, 10014, goes as an e-invoice to the new address. Between
    the two, an invoice of an unchanged card reads no card."""
    cards = CustomerCards(stack.severa, ttl=3600.0, overlap=timedelta(0))
    transfer = stack.transfer(customer_cards=cards)
    async with _polling(stack, cards) as poller:
        first = await transfer.handle(stack.request(10002))
        assert first.state == "succeeded", first.error
        [before] = stack.procountor_invoices("FI", 10002)
        assert before["invoiceChannel"] != "ELECTRONIC_INVOICE"
        await poller.one_more_read()
        reads = _card_reads(stack)
        again = await transfer.handle(_to_transfer(stack, 10013))  # Aalto's credit note, unchanged card
        assert again.state == "succeeded", again.error
        assert _card_reads(stack) == reads

        stack.severa_store.update("customers", _aalto(stack)["guid"],
                                  {"eInvoiceAddress": "003730070077", "eInvoiceOperator": "003721291126"})
        await poller.one_more_read()
        second = await transfer.handle(_to_transfer(stack, 10014))

    assert second.state == "succeeded", second.error
    [after] = stack.procountor_invoices("FI", 10014)
    assert after["invoiceChannel"] == "ELECTRONIC_INVOICE", after
    assert after["counterParty"]["einvoiceAddress"]["address"] == "003730070077"


async def test_an_address_changed_alone_is_on_the_next_invoice(stack) -> None:
    """Only Aalto's postal address changes (the customer record does not): the next invoice of Aalto that
    carries no receiver address of its own goes to the new address."""
    cards = CustomerCards(stack.severa, ttl=3600.0, overlap=timedelta(0))
    transfer = stack.transfer(customer_cards=cards)
    store = stack.severa_store
    async with _polling(stack, cards) as poller:
        first = await transfer.handle(stack.request(10002))
        assert first.state == "succeeded", first.error
        customer_version = _aalto(stack)["lastUpdatedDateTime"]
        guid = _aalto(stack)["guid"]
        [address] = [a for a in store.all("addresses") if (a.get("customer") or {}).get("guid") == guid]
        store.update("addresses", address["guid"], {"addressline": "Hämeenkatu 9", "postalCode": "33200"})
        assert _aalto(stack)["lastUpdatedDateTime"] == customer_version
        await poller.one_more_read()
        second = await transfer.handle(_to_transfer(stack, 10014, receiverAddress=None))

    assert second.state == "succeeded", second.error
    [after] = stack.procountor_invoices("FI", 10014)
    assert after["counterParty"]["counterPartyAddress"]["street"] == "Hämeenkatu 9", after["counterParty"]
