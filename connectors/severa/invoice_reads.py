"""Current invoices for the guard before a status PATCH, many in one `GET /v1/invoices?numbers=...` (up to 100
numbers a read) where `GET /v1/invoices/{guid}` reads one.

Never stale, never waiting for a batch: a caller's invoice goes into the next read that starts after it asks
(never into one already under way, which may have read the invoice before a user changed it). When no read is
under way, that read starts at once (the idle invoice pays one call, as before); while one is under way (under a
backlog it waits behind the API's rate limit), the callers arriving meanwhile gather for the next one.
"""

from __future__ import annotations

import asyncio

from connectors.severa.client import SeveraClient
from foundation.types import Json

MAX_NUMBERS = 100  # the list's page size: one page answers the whole read


class InvoiceReads:
    """Reads current invoices by guid and number, batching the callers that ask while a read is under way."""

    def __init__(self, client: SeveraClient) -> None:
        self.client = client
        self._waiting: list[tuple[str, int, asyncio.Future[Json]]] = []
        self._reader: asyncio.Task[None] | None = None
        self._single: set[asyncio.Task[None]] = set()  # per-guid reads under way (held: tasks are weak)

    async def current(self, guid: str, number: int | None) -> Json:
        """The invoice as Severa has it now (read after this call began)."""
        if number is None:
            return await self.client.get_invoice(guid)
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting.append((guid, int(number), future))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_while_waiting())
        return await future

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
