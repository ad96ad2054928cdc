"""The ledger receipt read before a transfer writes its rows' dimensions, for many invoices in one batch GET.

Invoices carry no dimensions: after the create, a transfer reads the invoice's ledger receipt and PUTs it back
with each row's dimension items. The PUT is per invoice (the receipt's `version` is its optimistic lock), the read
need not be: `GET /ledgerreceipts/{ids}` takes up to 200 comma-separated ids (procountor-api.md §3, batch GET:
only the valid ids are answered, a list when more than one is asked). Under a backlog that read was one
Procountor call per invoice, a quarter of the pace the drain spends.

An ask alone reads its own receipt at once (an idle invoice pays one call, as before). While a read is under way,
the asks arriving meanwhile share the next one. Never stale: an ask is answered only by a read that starts after
it (the receipt as Procountor has it after the ask, as the per-invoice read gave). A receipt the batch does not
answer is read alone, so that its own error (404) is its caller's. Each caller gets a copy of its own: it edits
the receipt it PUTs.
"""

from __future__ import annotations

import asyncio
import copy

from connectors.procountor.asked_together import AskedTogether
from connectors.procountor.client import MAX_BATCH_IDS, ProcountorClient
from foundation.types import Json


class LedgerReceipts(AskedTogether[int, Json]):
    """Ledger receipts of one Procountor company by id, read after each ask, batched under a backlog."""

    def __init__(self, client: ProcountorClient) -> None:
        super().__init__()
        self.client = client
        self.batches = 0  # batch reads made

    async def get(self, receipt_id: int) -> Json:
        """The receipt as Procountor has it after this call began."""
        return await self._ask(receipt_id, lambda: self.client.get_ledger_receipt(receipt_id))

    async def _read_while_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH_IDS], self._waiting[MAX_BATCH_IDS:]
            self.batches += 1
            try:
                found = {int(r["id"]): r for r in await self.client.get_ledger_receipts(i for i, _ in batch)}
            except Exception as exc:  # noqa: BLE001 - each ask gets the error
                self._fail(batch, exc)
                continue
            for receipt_id, future in batch:
                if not future.done() and receipt_id in found:
                    future.set_result(copy.deepcopy(found[receipt_id]))
            for receipt_id, future in batch:
                if not future.done():  # not answered: read alone, so that its own error (a 404) is its caller's
                    await self._read_alone(receipt_id, future)

    async def _read_alone(self, receipt_id: int, future: asyncio.Future[Json]) -> None:
        try:
            receipt = await self.client.get_ledger_receipt(receipt_id)
        except Exception as exc:  # noqa: BLE001 - the caller's error
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(receipt)
