"""Edge cases of the customer cards that the sandboxes cannot stage at will: a card read while the poller's read
shows its customer changed, a worker whose poller reads no customers, an address listing that fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from connectors.severa.customer_cards import CustomerCards

OLD, NEW = "2026-11-30T10:00:00+00:00", "2026-11-30T11:00:00+00:00"


class Severa:
    """Stand-in client: one customer with one address; `hold` keeps a card read waiting until set."""

    def __init__(self) -> None:
        self.customer = {"guid": "c1", "name": "Aalto", "lastUpdatedDateTime": OLD}
        self.address = {"guid": "a1", "customer": {"guid": "c1"}, "addressline": "Street 1", "lastUpdatedDateTime": OLD}
        self.card_reads = 0
        self.read_began = asyncio.Event()
        self.hold: asyncio.Event | None = None
        self.addresses_fail = False

    async def get_customer(self, guid: str) -> dict[str, Any]:
        self.card_reads += 1
        self.read_began.set()
        read = dict(self.customer)
        if self.hold is not None:
            await self.hold.wait()
        return read

    async def get_customer_addresses(self, guid: str) -> list[dict[str, Any]]:
        return [dict(self.address)]

    async def iter_addresses(self, *, changed_since: Any = None) -> AsyncIterator[dict[str, Any]]:
        if self.addresses_fail:
            raise RuntimeError("Severa is down")
        yield dict(self.address)


def _customers(severa: Severa):
    async def fetch(since: Any) -> AsyncIterator[dict[str, Any]]:
        yield dict(severa.customer)

    return fetch


async def _poll(cards: CustomerCards, severa: Severa) -> None:
    """One read of the customer poller through the cards' watch: the poller still gets what it read."""
    shown = [customer async for customer in cards.watching(_customers(severa))(None)]
    assert shown == [severa.customer]


async def test_a_card_read_while_the_poller_shows_a_change_is_not_kept() -> None:
    """The card read began before the change; the poller's read showing the change ends before the card read
    does: the card is used by the transfer that asked, and read again by the next."""
    severa = Severa()
    cards = CustomerCards(severa, ttl=3600.0)  # type: ignore[arg-type]
    severa.hold = asyncio.Event()
    reading = asyncio.create_task(cards.card("c1"))  # reads OLD (before the change) and waits
    await severa.read_began.wait()
    severa.customer["lastUpdatedDateTime"] = NEW
    await _poll(cards, severa)
    severa.hold.set()
    assert (await reading)["lastUpdatedDateTime"] == OLD
    severa.hold = None

    assert (await cards.card("c1"))["lastUpdatedDateTime"] == NEW
    assert severa.card_reads == 2


async def test_an_unchanged_card_is_kept_while_the_poller_reads_and_an_address_change_drops_it() -> None:
    severa = Severa()
    cards = CustomerCards(severa, ttl=0.0)  # type: ignore[arg-type]
    await cards.card("c1")
    await _poll(cards, severa)
    await cards.card("c1")
    assert severa.card_reads == 1  # watched: kept though the TTL is 0

    severa.address = severa.address | {"addressline": "Street 2", "lastUpdatedDateTime": NEW}
    await _poll(cards, severa)
    assert (await cards.card("c1"))["addresses"][0]["addressline"] == "Street 2"
    assert severa.card_reads == 2


async def test_without_the_pollers_reads_a_card_lasts_its_ttl() -> None:
    """A worker whose poller reads no customers (not the leader): the TTL, as before."""
    severa = Severa()
    cards = CustomerCards(severa, ttl=0.0)  # type: ignore[arg-type]
    await cards.card("c1")
    await cards.card("c1")
    assert severa.card_reads == 2


async def test_a_failed_address_listing_drops_every_card() -> None:
    severa = Severa()
    cards = CustomerCards(severa, ttl=3600.0)  # type: ignore[arg-type]
    await cards.card("c1")
    severa.addresses_fail = True
    await _poll(cards, severa)
    await cards.card("c1")
    assert severa.card_reads == 2


async def test_transfers_asking_together_share_one_read() -> None:
    severa = Severa()
    cards = CustomerCards(severa)  # type: ignore[arg-type]
    await asyncio.gather(*(cards.card("c1") for _ in range(5)))
    assert severa.card_reads == 1
