"""A worker's mirror of Severa's invoice rows: one `GET /v1/invoicerows?changedSince=` page answers for up to
100 rows of any invoices, where `GET /v1/invoices/{guid}/invoicerows` answers for one invoice.

Rows change while an invoice is a draft, not once it is in a (non-editable) transfer status. So the rows of
an invoice version that entered the transfer status at T are all in the mirror once the mirror has read every
row changed up to T (`as_of` >= T), provided the mirror reaches back to the invoice's creation (`since` <= its
`createdDateTime`: no row of it can be older). Otherwise the caller reads the invoice's rows itself.

Read through, by the transfers of one worker (every worker keeps its own, the poller runs on the leader
only): a transfer whose invoice the mirror cannot answer for yet starts a refresh, and transfers arriving
while one runs wait for it, so under a backlog one listing serves many invoices. Nothing waits for a batch
to fill.

An invoice whose status change is younger than `lag` (the mirror's `as_of`, our clock less the lag, cannot
vouch for it: a read now might still miss a row committed late on Severa's side, or our clock may run ahead of
Severa's) is read per invoice at once when it asks alone, as when idle. The invoices that ask while such a read
(or another fresh invoice's wait) is under way, a backlog's start, share one listing that starts after they ask
instead: the transfer asks only once it holds the poller's event of the status change, so the change, and the
draft's rows committed before it, were visible before that listing began, which shows every row changed since
the previous listing's `as_of` (the rows stamped before it were in the earlier listings, as for any invoice the
mirror answers for).

The listing does not show deleted rows: a row deleted while the invoice was a draft would stay in the
mirror. The mirror therefore answers only when its rows add up to the invoice's `totalExcludingTax`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from connectors.polling import latest_reading, parse_version
from connectors.severa.client import SeveraClient
from foundation.logs import get_logger
from foundation.settings import DEFAULT_SEVERA_TIME_ZONE
from foundation.types import Json

log = get_logger(__name__)


class InvoiceRowMirror:
    """Rows of every invoice changed since `since`, complete up to `as_of`, read through `client`."""

    def __init__(self, client: SeveraClient, *, horizon: timedelta = timedelta(days=2),
                 lag: timedelta = timedelta(seconds=10),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 time_zone: tzinfo | str = DEFAULT_SEVERA_TIME_ZONE) -> None:
        self.client = client
        self.zone = ZoneInfo(time_zone) if isinstance(time_zone, str) else time_zone  # of naive date-times
        self.horizon = horizon  # how far back the mirror reaches (and keeps rows)
        self.lag = lag
        self.clock = clock
        self.since: datetime | None = None  # every row changed at or after this is here (up to as_of)
        self.as_of: datetime | None = None
        self._rows: dict[str, dict[str, Json]] = {}  # invoice guid → row guid → row
        self._refreshing: asyncio.Task[None] | None = None
        self._started = 0  # listings started
        self._read_through = 0  # the number of the newest listing whose rows are in the mirror
        self._fresh = 0  # fresh invoices' asks under way (a per-invoice read, or a wait for a listing)

    async def rows(self, invoice: Json, version: str,
                   read_alone: Callable[[], Awaitable[list[Json]]] | None = None) -> list[Json] | None:
        """The rows of `invoice` at `version` (the version that entered the transfer status), or None when the
        mirror cannot answer for them (the caller then reads them per invoice). `read_alone`: the per-invoice
        read, made here for a fresh invoice that asks alone (the asks arriving meanwhile share a listing);
        None: a fresh invoice is None at once."""
        try:
            changed = parse_version(version, self.zone)
            created = parse_version(str(invoice["createdDateTime"]), self.zone)
            guid = str(invoice["guid"])
        except (KeyError, ValueError):
            return None
        fresh = self.clock() - self.lag < changed and (self.as_of is None or self.as_of < changed)
        if fresh:
            if read_alone is None:
                return None  # too fresh to vouch for: no waiting
            if self._fresh == 0 and self._refreshing is None:
                self._fresh += 1
                try:
                    return await read_alone()  # alone: as when idle (its errors are the caller's)
                finally:
                    self._fresh -= 1
        try:
            if fresh:
                await self._listing_after_this_ask()
            while not fresh and (self.as_of is None or self.as_of < changed):
                await self.refresh()
        except Exception as exc:  # noqa: BLE001 - the per-invoice read (with its own error handling) takes over
            log.warning("invoice row mirror not refreshed; rows read per invoice", error=f"{type(exc).__name__}: "
                        f"{exc}"[:300])
            return None
        if self.since is None or created < self.since:
            return None
        rows = sorted(self._rows.get(guid, {}).values(), key=lambda r: (r.get("sortOrder") or 0, str(r.get("guid"))))
        return rows if rows and _adds_up(rows, invoice) else None

    async def refresh(self) -> None:
        """One listing of the rows changed since the last one; concurrent callers share it."""
        if self._refreshing is None:
            self._refreshing = asyncio.create_task(self._read())
        task = self._refreshing
        try:
            await asyncio.shield(task)
        finally:
            if self._refreshing is task and task.done():
                self._refreshing = None

    async def _listing_after_this_ask(self) -> None:
        """Wait for a listing that starts after this call (the one under way may have begun before the ask)."""
        asked = self._started
        self._fresh += 1
        try:
            while self._read_through <= asked:
                await self.refresh()
        finally:
            self._fresh -= 1

    async def _read(self) -> None:
        self._started += 1
        number = self._started
        started = self.clock()
        since = self.as_of if self.as_of is not None else started - self.horizon
        found: list[Json] = [row async for row in self.client.iter_invoice_rows(changed_since=since)]
        for row in found:
            if row.get("invoiceGuid") and row.get("guid"):
                self._rows.setdefault(str(row["invoiceGuid"]), {})[str(row["guid"])] = row
        self.as_of = started - self.lag
        self.since = max(self.since or since, started - self.horizon)
        self._forget_before(self.since)
        self._read_through = number
        log.debug("invoice row mirror refreshed", rows=len(found), as_of=self.as_of.isoformat())

    def _forget_before(self, since: datetime) -> None:
        """Drop rows older than `since`: no invoice the mirror answers for (created at or after it) has them."""
        for invoice_guid in list(self._rows):
            rows = self._rows[invoice_guid]
            for row_guid in [g for g, r in rows.items() if _changed(r, self.zone) < since]:
                del rows[row_guid]
            if not rows:
                del self._rows[invoice_guid]


def _changed(row: Json, zone: tzinfo) -> datetime:
    try:
        return latest_reading(str(row.get("lastUpdatedDateTime") or row.get("createdDateTime")), zone)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)  # kept: never dropped for a date it does not have


def _adds_up(rows: list[Json], invoice: Json) -> bool:
    """True when the rows' quantity × unit price add up to the invoice's total excluding tax (to the cent per
    row): a row deleted while the invoice was a draft, still in the mirror, shows here."""
    try:
        total = Decimal(str((invoice.get("totalExcludingTax") or {})["amount"]))
        summed = sum((Decimal(str(r.get("quantity") or 0)) * Decimal(str((r.get("unitPrice") or {}).get("amount")
                                                                        or 0)) for r in rows), Decimal(0))
    except (KeyError, TypeError, InvalidOperation):
        return False
    return abs(total - summed) <= Decimal("0.01") * len(rows)
