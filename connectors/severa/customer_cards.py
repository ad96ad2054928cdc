"""A worker's customer cards (`GET /v1/customers/{guid}` with its `/addresses`) for the sales-invoice transfers:
read once per customer and kept until Severa shows that the customer or one of its addresses changed.

Most invoices go to returning customers; a card read per invoice (or again every minute, as a TTL did) is two
Severa calls of the few a backlog's invoice may spend. What says a card changed (issue 16):

- the registry poller's customer read (the leader's `GET /v1/customers?changedSince=`, which `watching` wraps):
  a customer in it at a version (`lastUpdatedDateTime`) other than its card's drops the card;
- after each such read, one `GET /v1/addresses?changedSince=` (an address is a record of its own, with its own
  `lastUpdatedDateTime` and its `customer`: severa-api.md §5.4; the reference does not say that changing one
  changes the customer's): an address at a version the card does not hold drops its customer's card. The
  addresses are read from the previous such read's start minus `overlap` (a change committed late, or Severa's
  clock behind ours), the first time from when this object was made.

So a change is seen at the poller's next registry read, as the TTL did (both at most a registry period). The
listings show no deletions: a card is read again after `max_age` anyway (a deleted address goes then). On a
worker whose poller reads no customers (not the leader, or the poller stopped: no read for `stale_after`), a
card is read again after `ttl` seconds, as before. A card read under way when a poller read shows its customer
or one of its addresses is not kept (it may have read the card before that change).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.polling import FetchChanged
from connectors.severa.client import SeveraClient
from foundation.logs import get_logger
from foundation.types import Json

log = get_logger(__name__)


@dataclass
class _Card:
    card: Json
    read_at: float  # loop time the read started


def _version(record: Json) -> str:
    return str(record.get("lastUpdatedDateTime") or record.get("createdDateTime") or "")


class CustomerCards:
    """Customer cards with their addresses, kept until the poller's reads show a change (or `ttl` unwatched)."""

    def __init__(self, client: SeveraClient, *, ttl: float = 60.0, stale_after: float = 180.0,
                 max_age: float = 3600.0, overlap: timedelta = timedelta(seconds=30),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.ttl = ttl  # how long a card is kept while no poller read tells of changes
        self.stale_after = stale_after  # seconds after the last watched read that this worker still counts as told
        self.max_age = max_age  # how long a card is kept at most (deletions do not show in the listings)
        self.overlap = overlap
        self.clock = clock
        self._cards: dict[str, _Card] = {}
        self._reading: dict[str, tuple[int, asyncio.Task[Json]]] = {}  # reads under way, by the drops at their start
        self._drops: dict[str, int] = {}  # customer guid → times its card was dropped
        self._last_watched = float("-inf")  # loop time the last watched read ended
        self._addresses_since = clock() - overlap
        self.reads = 0  # cards read from Severa (two calls each)

    async def card(self, guid: str) -> Json:
        """The customer's card (`addresses` added): kept, or read now."""
        now = asyncio.get_running_loop().time()
        kept = self._cards.get(guid)
        watched = now - self._last_watched < self.stale_after
        if kept is not None and now - kept.read_at < (self.max_age if watched else self.ttl):
            return kept.card
        # Transfers asking while a read of the card is under way share it, unless the card was dropped since
        # it began (it may have read the customer before the change).
        drops = self._drops.get(guid, 0)
        under_way = self._reading.get(guid)
        if under_way is None or under_way[0] != drops:
            task = asyncio.create_task(self._read(guid, now, drops))
            under_way = self._reading[guid] = (drops, task)
            task.add_done_callback(lambda done: self._reading.pop(guid, None)
                                   if self._reading.get(guid, (0, None))[1] is done else None)
        return await asyncio.shield(under_way[1])

    async def _read(self, guid: str, now: float, drops: int) -> Json:
        customer = await self.client.get_customer(guid)
        customer["addresses"] = await self.client.get_customer_addresses(guid)
        self.reads += 1
        if self._drops.get(guid, 0) == drops:
            self._cards[guid] = _Card(customer, now)
        return customer

    def drop(self, guid: str) -> None:
        self._drops[guid] = self._drops.get(guid, 0) + 1
        self._cards.pop(guid, None)

    def watching(self, fetch: FetchChanged) -> FetchChanged:
        """The customer poller's `fetch`, telling these cards what each whole read showed."""

        async def watched(since: datetime | None) -> AsyncIterator[Json]:
            started = self.clock()
            async for customer in fetch(since):
                if isinstance(customer, dict) and customer.get("guid"):
                    guid = str(customer["guid"])
                    kept = self._cards.get(guid)
                    if (kept is not None and _version(kept.card) != _version(customer)) or guid in self._reading:
                        self.drop(guid)
                yield customer
            await self._addresses_read(started)

        return watched

    async def _addresses_read(self, started: datetime) -> None:
        try:
            async for address in self.client.iter_addresses(changed_since=self._addresses_since):
                guid = str((address.get("customer") or {}).get("guid") or "") if isinstance(address, dict) else ""
                if guid in self._reading:  # a read under way may have read the address before this change
                    self.drop(guid)
                kept = self._cards.get(guid)
                if kept is None:
                    continue
                held = {str(a.get("guid")): _version(a) for a in kept.card.get("addresses") or []}
                if held.get(str(address.get("guid"))) != _version(address):
                    self.drop(guid)
        except Exception as exc:  # noqa: BLE001 - nothing vouches for the cards now: read each again
            log.warning("customer addresses not read; customer cards read again", error=f"{type(exc).__name__}: "
                        f"{exc}"[:300])
            for guid in list(self._cards):
                self.drop(guid)
            return
        self._addresses_since = started - self.overlap
        self._last_watched = asyncio.get_running_loop().time()
