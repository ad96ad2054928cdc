"""The duplicate search before a Procountor invoice is created, for many invoices from one listing.

Procountor has no idempotency keys: before creating, a transfer asks which invoices carry its record's number in
`originalInvoiceNumber`. An ask alone is answered by `GET /invoices?originalInvoiceNumber=` (one call, as an idle
invoice always did). Under a backlog (another ask, or a listing, under way) the asks are answered from an index
of the company's invoices of that type by original number, kept by listing `GET /invoices?types=&versionStartDate=`
(200 a page, keyset by id): the first listing reads all of them, each later one only those changed since the
newest `version` it has seen, less an overlap (a stamp may become visible a moment after it was given). The
version changes with every change of an invoice, its creation included, so an invoice created, renumbered or
invalidated since the last listing is in the next one. Stamps are Procountor's own, sent back as they came: the
unstated time zone of its datetimes does not matter.

Never stale: an ask is answered only by a listing that starts after it (as connectors/severa/invoice_reads.py
does for Severa), so an invoice anybody made before the ask is found. The asks that arrive while a listing is
under way, or within `min_interval` of the last one's start, share the next one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from connectors.procountor.asked_together import AskedTogether
from connectors.procountor.client import ProcountorClient
from foundation.types import Json

OVERLAP = timedelta(seconds=10)  # stamps older than the newest seen, read again: visibility may lag the stamp
# Seconds between the starts of two listings: under a backlog, more asks share each. At 0.5 s a 500-invoice drain
# made a listing about every second (0.30 Procountor calls per invoice, its pace's second-largest use after the
# four writes and reads every invoice needs). An ask alone (the idle invoice) searches for itself at once.
MIN_INTERVAL = 2.0
KEPT = ("id", "type", "status", "invoiceNumber", "originalInvoiceNumber", "version")  # what an ask needs


class OriginalNumbers(AskedTogether[str, list[Json]]):
    """Invoices of one type of one Procountor company by `originalInvoiceNumber`, current as of each ask."""

    def __init__(self, client: ProcountorClient, invoice_type: str, *, overlap: timedelta = OVERLAP,
                 min_interval: float = MIN_INTERVAL) -> None:
        super().__init__()
        self.client = client
        self.invoice_type = invoice_type
        self.overlap = overlap
        self.min_interval = min_interval
        self._by_id: dict[int, Json] = {}
        self._ids_by_number: dict[str, set[int]] = {}
        self._since: datetime | None = None  # newest version seen; None: the next listing reads them all
        self._last_start = float("-inf")
        self.listings = 0  # listings made (each one or more pages)

    async def find(self, number: str) -> list[Json]:
        """Invoices (InvoiceBasicInfo: id, type, status, invoiceNumber, originalInvoiceNumber, version) whose
        original number is `number`, as Procountor has them after this call began."""
        return await self._ask(number, lambda: self.client.find_invoices_by_original_number(number,
                                                                                           self.invoice_type))

    async def _read_while_waiting(self) -> None:
        """Listings while asks wait, each answering the asks made before it started."""
        loop = asyncio.get_running_loop()
        while self._waiting:
            pause = self._last_start + self.min_interval - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            batch, self._waiting = self._waiting, []  # taken now: each asked before this listing starts
            self._last_start = loop.time()
            try:
                await self._refresh()
            except Exception as exc:  # noqa: BLE001 - each ask gets the error
                self._fail(batch, exc)
                continue
            for number, future in batch:
                if not future.done():
                    future.set_result(self._hits(number))

    async def _refresh(self) -> None:
        self.listings += 1
        since = None if self._since is None else self._since - self.overlap
        newest, stamped = self._since, True
        async for info in self.client.iter_invoices_changed_since(since, types=self.invoice_type):
            self._put(info)
            stamp = _stamp(info.get("version"))
            if stamp is None:
                stamped = False  # an invoice without a version could change unseen: list them all next time
            elif newest is None or stamp > newest:
                newest = stamp
        self._since = newest if stamped else None

    def _put(self, info: Json) -> None:
        invoice_id = int(info["id"])
        old = self._by_id.get(invoice_id)
        if old is not None:
            self._ids_by_number.get(str(old.get("originalInvoiceNumber") or ""), set()).discard(invoice_id)
        self._by_id[invoice_id] = {key: info.get(key) for key in KEPT}
        self._ids_by_number.setdefault(str(info.get("originalInvoiceNumber") or ""), set()).add(invoice_id)

    def _hits(self, number: str) -> list[Json]:
        return [dict(self._by_id[i]) for i in sorted(self._ids_by_number.get(str(number), ()))]


def _stamp(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=None) if value else None
    except ValueError:
        return None
