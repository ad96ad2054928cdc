"""Current invoices for the checks before a transfer's first write and before its status PATCH, many at once.

Never stale, never waiting for a batch when idle: a caller's invoice is answered only by a read that starts after
it asks (never by one already under way, which may have read the invoice before a user changed it).

- Idle (the client's pacer not saturated), or on a worker that does not poll: one
  `GET /v1/invoices?numbers=...` (up to 100 numbers) for the callers asking together. With no read under way it
  starts at once (an idle invoice pays one call, as `GET /v1/invoices/{guid}` did); while one is under way, the
  callers arriving meanwhile gather for the next one.
- Under a backlog (the pacer saturated) on the worker whose poller reads the invoices: no call of its own. The
  invoice poller's next changed-since read (`watching`), which starts after the ask, answers it: an invoice in
  that read is as the read shows it; an invoice absent from it has not changed since `changedSince`
  (`lastUpdatedDateTime >=`, severa-api.md §3.3), so it is still at the newest version this poller has seen of it
  (every version since the poller started is in some read: the poller's own guarantee); when that is the version
  the caller holds, the caller's snapshot is current. Anything else (a version this poller never saw, no read
  within `PAGE_WAIT`) goes to the `?numbers=` read.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from connectors.polling import FetchChanged, latest_reading
from connectors.severa.client import SeveraClient
from foundation.settings import DEFAULT_SEVERA_TIME_ZONE
from foundation.types import Json

MAX_NUMBERS = 100  # the list's page size: one page answers the whole read
MAX_REMEMBERED = 100_000  # invoice versions kept; beyond, forgotten (their asks then read for themselves)
PAGE_WAIT = 6.0  # seconds an ask waits for the poller's read before it reads for itself (the poller stopped)


@dataclass
class _Ask:
    seq: int
    guid: str
    version: str
    snapshot: Json
    # The invoice as the poller's read showed it, or None: that read cannot vouch for it (read it).
    future: asyncio.Future[Json | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class InvoiceReads:
    """Reads current invoices by guid and number: from the invoice poller's reads under a backlog, else batched
    `?numbers=` reads of the callers that ask while one is under way."""

    def __init__(self, client: SeveraClient, *, busy: Callable[[], bool] | None = None,
                 time_zone: tzinfo | str = DEFAULT_SEVERA_TIME_ZONE, page_wait: float = PAGE_WAIT) -> None:
        self.client = client
        self.busy = busy if busy is not None else client.saturated
        self.zone = ZoneInfo(time_zone) if isinstance(time_zone, str) else time_zone  # of naive date-times
        self.page_wait = page_wait
        self._waiting: list[tuple[str, int, asyncio.Future[Json]]] = []
        self._reader: asyncio.Task[None] | None = None
        self._single: set[asyncio.Task[None]] = set()  # per-guid reads under way (held: tasks are weak)
        self._seq = itertools.count()
        self._page_asks: list[_Ask] = []
        self._latest: dict[str, str] = {}  # invoice guid → the newest version the poller's reads showed
        self._last_page: float = float("-inf")  # loop time the last watched read ended
        self.answered_by_pages = 0  # asks the poller's reads answered (no call of their own)

    async def current(self, guid: str, number: int | None, version: str | None = None,
                      snapshot: Json | None = None) -> Json:
        """The invoice as Severa has it now (read after this call began). `version` and `snapshot`: the version
        the caller holds (`lastUpdatedDateTime`) and that version's record, which the poller's read may confirm."""
        if number is None:
            return await self.client.get_invoice(guid)
        if version is not None and snapshot is not None and self._polling() and self.busy():
            ask = _Ask(next(self._seq), guid, version, snapshot)
            self._page_asks.append(ask)
            try:
                answer = await asyncio.wait_for(asyncio.shield(ask.future), self.page_wait)
            except TimeoutError:
                answer = None
            finally:
                if ask in self._page_asks:
                    self._page_asks.remove(ask)
            if answer is not None:
                return answer
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting.append((guid, int(number), future))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_while_waiting())
        return await future

    def _polling(self) -> bool:
        """This worker's poller read the invoices lately (the leader's does; the other workers' poll nothing)."""
        return asyncio.get_running_loop().time() - self._last_page < self.page_wait

    def watching(self, fetch: FetchChanged) -> FetchChanged:
        """The invoice poller's `fetch`, telling this reader what each whole read showed."""

        async def watched(since: datetime | None) -> AsyncIterator[Json]:
            started = next(self._seq)  # asks numbered below this were made before the read began
            seen: dict[str, Json] = {}
            async for invoice in fetch(since):
                if isinstance(invoice, dict) and invoice.get("guid"):
                    seen[str(invoice["guid"])] = invoice
                yield invoice
            self._read_shown(started, since, seen)

        return watched

    def _read_shown(self, started: int, since: datetime | None, seen: dict[str, Json]) -> None:
        self._last_page = asyncio.get_running_loop().time()
        if len(self._latest) > MAX_REMEMBERED:
            self._latest.clear()
        for guid, invoice in seen.items():
            version = invoice.get("lastUpdatedDateTime") or invoice.get("createdDateTime")
            if version:
                self._latest[guid] = str(version)
        for ask in [a for a in self._page_asks if a.seq < started]:
            answer = seen.get(ask.guid)
            if answer is None and since is not None and self._latest.get(ask.guid) == ask.version:
                try:
                    unchanged = latest_reading(ask.version, self.zone) < since
                except ValueError:
                    unchanged = False
                answer = ask.snapshot if unchanged else None
            self._page_asks.remove(ask)
            if not ask.future.done():
                self.answered_by_pages += answer is not None
                ask.future.set_result(answer)

    async def _read_while_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_NUMBERS], self._waiting[MAX_NUMBERS:]
            try:
                found = await self.client.list_invoices(numbers=sorted({number for _, number, _ in batch}))
                by_guid = {str(invoice.get("guid")): invoice for invoice in found}
            except Exception as exc:  # noqa: BLE001 - each caller gets the error (its transfer's handling)
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for guid, _, future in batch:
                if future.done():
                    continue
                if guid in by_guid:
                    future.set_result(by_guid[guid])
                else:  # not under that number (any more): read it by its guid, which also says 404 if gone
                    task = asyncio.create_task(self._read_one(guid, future))
                    self._single.add(task)
                    task.add_done_callback(self._single.discard)

    async def _read_one(self, guid: str, future: asyncio.Future[Json]) -> None:
        try:
            invoice = await self.client.get_invoice(guid)
        except Exception as exc:  # noqa: BLE001
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(invoice)
