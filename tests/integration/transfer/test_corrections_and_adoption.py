"""Only the right writes (issue 10): a correction after the transfer is reported, not dropped; an invoice is
adopted only when it is this integration's own; the attachment is checked before the invoice is created.

Both sandboxes over real sockets; the transfer log is a real projection (SQLite) fed with every event the
transfer emits, as the projector does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from projections.store import ProjectionStore
from sandbox.procountor.demo import example_sales_invoice
from schemas import topics
from schemas.codec import encode
from streams.mapping.errors import SOLUTIONS
from streams.sales_invoice import SalesInvoiceTransfer
from tests.integration.transfer.test_attachment_download_limit import HugePdf

pytestmark = pytest.mark.integration

WAITING = "Waiting for transfer to Procountor"
TRANSFERRED = "Transferred to Procountor"


class _Raw:
    def __init__(self, topic: str, offset: int, value: bytes) -> None:
        self.topic, self.partition, self.offset, self.value = topic, 0, offset, value


@pytest.fixture
def log(tmp_path: Path) -> Iterator[ProjectionStore]:
    store = ProjectionStore(tmp_path / "projections")
    try:
        yield store
    finally:
        store.close()


def _logged(stack, log: ProjectionStore, **kwargs: Any) -> SalesInvoiceTransfer:
    """A transfer whose events reach the transfer log, as the worker's do through Kafka and the projector."""
    offset = [0]

    async def emit(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))
        topic = {"TransferRequested": topics.transfer_requested(record.get("kind", "")),
                 "TransferOutcome": topics.transfer_outcome(record.get("kind", "")),
                 "IdLinked": topics.registry_links()}[name]
        offset[0] += 1
        log.apply_records([_Raw(topic, len(stack.events) * 10 + offset[0], encode(name, record))])

    transfer = SalesInvoiceTransfer(stack.severa, stack.procountor, stack.companies, emit,
                                    directory=stack.directory, transfer_log=log, **kwargs)
    return transfer


async def _requested(stack, transfer: SalesInvoiceTransfer, number: int) -> dict[str, Any]:
    request = stack.request(number)
    await transfer.emit("TransferRequested", request)
    return request


def _final(stack, request: dict[str, Any]) -> dict[str, Any]:
    return [r for n, r in stack.events if n == "TransferOutcome" and r["request_id"] == request["event_id"]][-1]


def _back_to_transfer(stack, number: int, changes: dict[str, Any]) -> None:
    """The user moves the transferred invoice to draft, changes it (or not), and moves it back."""
    store = stack.severa_store
    guid = stack.invoice(number)["guid"]
    store.set_invoice_status(guid, store.status_by_name("invoicestatuses", "Draft")["guid"])
    if changes:
        store.update("invoices", guid, changes)
    store.set_invoice_status(guid, store.status_by_name("invoicestatuses", WAITING)["guid"])


# ------------------------------------------------------------------------------- corrections after a transfer
async def test_a_correction_after_the_transfer_is_reported_not_marked_succeeded(stack, log) -> None:
    transfer = _logged(stack, log)
    first = await _requested(stack, transfer, 10002)
    assert (await transfer.handle(first)).state == "succeeded"
    [target] = stack.procountor_invoices("FI", 10002)

    _back_to_transfer(stack, 10002, {"dueDate": "2026-12-31"})
    second = await _requested(stack, transfer, 10002)
    assert second["event_id"] != first["event_id"]
    writes = stack.writes()
    result = await transfer.handle(second)

    assert result.state == "failed_data"
    error = _final(stack, second)["error"]
    assert (error["code"], error["record"]) == ("ALREADY_TRANSFERRED", "sales invoice 10002")
    assert f"Procountor invoice no. {target['invoiceNumber']}" in error["message"]
    assert target["status"] in error["message"]
    assert error["solution"] == SOLUTIONS["ALREADY_TRANSFERRED"]
    assert "credit note" in error["solution"]
    assert stack.writes() == writes, "the correction writes nothing"
    assert stack.procountor_invoices("FI", 10002) == [target]
    assert log.transfer("demo", "sales-invoice", first["source_id"])["state"] == "failed-data"


async def test_an_unchanged_invoice_moved_back_to_the_transfer_status_is_skipped(stack, log) -> None:
    transfer = _logged(stack, log)
    assert (await transfer.handle(await _requested(stack, transfer, 10002))).state == "succeeded"
    [target] = stack.procountor_invoices("FI", 10002)

    _back_to_transfer(stack, 10002, {})
    again = await _requested(stack, transfer, 10002)
    writes = stack.writes()
    result = await transfer.handle(again)
    assert result.state == "skipped"
    final = _final(stack, again)
    assert final["state"] == "skipped" and f"no. {target['invoiceNumber']}" in final["note"]
    assert stack.writes() == writes
    assert stack.procountor_invoices("FI", 10002) == [target]


# ------------------------------------------------------------------------------------- adoption is verified
async def test_an_invoice_not_written_by_the_integration_is_not_adopted(stack, log) -> None:
    """Someone entered invoice 10002 by hand in Procountor (other rows, another amount): the search by
    originalInvoiceNumber finds it, and it must not become 'ours', be approved, sent or linked."""
    by_hand = await stack.procountor["FI"].create_invoice(example_sales_invoice(originalInvoiceNumber="10002"))
    transfer = _logged(stack, log)
    request = await _requested(stack, transfer, 10002)
    writes = stack.writes()
    result = await transfer.handle(request)

    assert result.state == "failed_data"
    error = _final(stack, request)["error"]
    assert error["code"] == "DUPLICATE_ORIGINAL_NUMBER"
    assert (f"Procountor already has invoice no. {by_hand['invoiceNumber']} with this original number, "
            "not written by this integration") in error["message"]
    assert f"Procountor id {by_hand['id']}" in error["message"] and request["source_id"] in error["message"]
    assert error["solution"] == SOLUTIONS["DUPLICATE_ORIGINAL_NUMBER"]
    assert stack.writes() == writes, "nothing is written"
    assert [i["id"] for i in stack.procountor_invoices("FI", 10002)] == [by_hand["id"]]
    assert stack.procountor_store.company("FI").invoices[by_hand["id"]]["status"] == "UNFINISHED"
    assert stack.severa_store.get("invoices", request["source_id"])["status"]["name"] == WAITING
    assert not [r for n, r in stack.events if n == "IdLinked" and r["kind"] == "invoice"]


async def test_after_a_crash_the_integrations_own_invoice_is_still_adopted(stack, log) -> None:
    """The other side of the check: the invoice an interrupted attempt created matches what this transfer
    would write (counterparty and totals), so it is adopted, never created twice."""
    request = stack.request(10002)

    class Crash(BaseException):
        pass

    async def die_after_create(name: str, record: dict) -> None:
        if name == "TransferOutcome" and record["step"] == "invoice":
            raise Crash

    crashing = stack.transfer()
    crashing.emit = die_after_create
    with pytest.raises(Crash):
        await crashing.handle(request)
    result = await _logged(stack, log).handle(request, attempt_number=2)
    assert result.state == "succeeded", result.error
    assert len(stack.procountor_invoices("FI", 10002)) == 1


async def test_the_attachment_is_checked_before_the_invoice_is_created(stack) -> None:
    """A PDF Procountor would refuse is a data error with nothing written: no invoice left without it."""
    from connectors.severa.client import SeveraClient
    from sandbox.severa.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    request = stack.request(10002)
    writes = stack.writes()
    async with SeveraClient(f"{stack.severa_server.url}/rest-api", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
                            requests_per_second=500.0, transport=HugePdf(declare_length=True)) as severa:
        transfer = SalesInvoiceTransfer(severa, stack.procountor, stack.companies, stack.transfer().emit,
                                        directory=stack.directory)
        result = await transfer.handle(request)
    assert result.state == "failed_data" and result.error is not None and result.error.code == "BAD_ATTACHMENT"
    assert stack.procountor_invoices("FI", 10002) == []
    assert stack.writes() == writes
