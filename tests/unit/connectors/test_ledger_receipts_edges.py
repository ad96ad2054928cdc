"""Edge cases of the batched ledger receipt reads (connectors/procountor/ledger_receipts.py): a receipt the batch
does not answer is read alone and its own error is its caller's, a batch's error is each of its callers', two asks
for one receipt get a copy each (each caller edits what it PUTs). Procountor's calls are stubbed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest

from connectors.procountor.errors import ProcountorNotFound
from connectors.procountor.ledger_receipts import LedgerReceipts


class Procountor:
    def __init__(self, receipts: dict[int, dict[str, Any]], fail_batch: bool = False) -> None:
        self.receipts, self.fail_batch = receipts, fail_batch
        self.singles: list[int] = []
        self.batches: list[list[int]] = []

    async def get_ledger_receipt(self, receipt_id: int) -> dict[str, Any]:
        self.singles.append(receipt_id)
        await asyncio.sleep(0.01)
        if receipt_id not in self.receipts:
            raise ProcountorNotFound(f"GET /ledgerreceipts/{receipt_id}: 404", method="GET",
                                     path="/ledgerreceipts/{ids}")
        return dict(self.receipts[receipt_id])

    async def get_ledger_receipts(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        asked = sorted(set(ids))
        self.batches.append(asked)
        await asyncio.sleep(0.01)
        if self.fail_batch:
            raise RuntimeError("the batch failed")
        return [dict(self.receipts[i]) for i in asked if i in self.receipts]


async def test_a_receipt_the_batch_lacks_is_read_alone_and_its_404_is_its_callers() -> None:
    procountor = Procountor({1: {"id": 1, "transactions": []}, 2: {"id": 2, "transactions": []}})
    receipts = LedgerReceipts(procountor)  # type: ignore[arg-type]
    first, second, gone = await asyncio.gather(receipts.get(1), receipts.get(2), receipts.get(9),
                                               return_exceptions=True)
    assert first == {"id": 1, "transactions": []} and second == {"id": 2, "transactions": []}
    assert isinstance(gone, ProcountorNotFound)
    assert procountor.batches == [[2, 9]] and procountor.singles == [1, 9]


async def test_a_batchs_error_is_each_callers() -> None:
    procountor = Procountor({1: {"id": 1}, 2: {"id": 2}, 3: {"id": 3}}, fail_batch=True)
    receipts = LedgerReceipts(procountor)  # type: ignore[arg-type]
    answers = await asyncio.gather(*(receipts.get(i) for i in (1, 2, 3)), return_exceptions=True)
    assert answers[0] == {"id": 1}
    assert [str(a) for a in answers[1:]] == ["the batch failed"] * 2
    with pytest.raises(RuntimeError):  # a later batch is read again (and fails again here): nothing held
        await asyncio.gather(receipts.get(1), receipts.get(2))


async def test_two_asks_for_one_receipt_get_a_copy_each() -> None:
    procountor = Procountor({1: {"id": 1, "transactions": [{"id": 7}]}, 5: {"id": 5, "transactions": []}})
    receipts = LedgerReceipts(procountor)  # type: ignore[arg-type]
    _, one, other = await asyncio.gather(receipts.get(5), receipts.get(1), receipts.get(1))
    one["transactions"][0]["dimensionItemValues"] = ["edited"]
    assert other == {"id": 1, "transactions": [{"id": 7}]}
