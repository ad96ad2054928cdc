"""After the invoice is created, Procountor's totals are compared with Severa's: a rounding difference of more
than 0.01 per VAT rate is a warning on the transfer log, with both figures, and the invoice stays. Outcomes go
to the real broker and are read back from it; both sandboxes over real sockets (the Procountor sandbox
computes its totals itself, rounding VAT per row as Procountor does); the log is built from the broker's
events and shown with `sevpro show`."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from typer.testing import CliRunner

from foundation.kafka import ensure_topics, idempotent_producer
from projections.store import ProjectionStore
from projections.testing import Feed
from schemas import topics
from schemas.codec import encode
from sevpro.projections_cli import app as projections_cli
from streams.sales_invoice import KIND
from tests.integration.pollers.kafka_read import read_events

pytestmark = pytest.mark.integration


@pytest.fixture
async def broker_emit(kafka, stack):
    """The transfer's emit as the worker wires it: each event acknowledged by the real broker."""
    await ensure_topics(kafka.bootstrap)
    producer = idempotent_producer(kafka.bootstrap)
    await producer.start()

    async def emit(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))
        if name == "TransferOutcome":
            topic, key = topics.transfer_outcome(record["kind"]), topics.key(record["tenant"], record["source_id"])
        else:
            topic, key = topics.registry_links(), topics.key(record["tenant"], record["company"], record["kind"],
                                                            record["severa_key"])
        await producer.send_and_wait(topic, key=key, value=encode(name, record))

    yield emit
    await producer.stop()


def five_rows_of_ten_cents(stack, number: int) -> None:
    """Invoice `number` becomes five rows of 1 x 0.10 EUR at 25.5 %, with the totals Severa states: VAT on the
    invoice total (0.50 x 25.5 % = 0.1275, so 0.13). Procountor rounds each row's VAT (0.0255, so 0.03): 0.15."""
    invoice = stack.invoice(number)
    rows = [r for r in stack.severa_store.all("invoicerows") if r.get("invoiceGuid") == invoice["guid"]]
    template = dict(rows[0])
    for row in rows:
        stack.severa_store.delete("invoicerows", row["guid"])
    for index in range(5):
        stack.severa_store.insert("invoicerows", template | {
            "quantity": 1.0, "unitPrice": {"amount": 0.1, "currencyCode": "EUR"}, "vatRate": 25.5,
            "sortOrder": index, "description": f"Support call {index + 1}"}, guid=str(uuid.uuid4()))
    stack.severa_store.update("invoices", invoice["guid"], {
        "totalExcludingTax": {"amount": 0.5, "currencyCode": "EUR"},
        "totalTax": {"amount": 0.13, "currencyCode": "EUR"},
        "totalIncludingTax": {"amount": 0.63, "currencyCode": "EUR"}})


async def transfer_on_the_broker(kafka, stack, broker_emit, number: int, tenant: str) -> list[dict[str, Any]]:
    request = {**stack.request(number), "tenant": tenant}
    transfer = stack.transfer()
    transfer.emit = broker_emit
    result = await transfer.handle(request)
    assert result.state == "succeeded", result
    events = await read_events(kafka.bootstrap, topics.transfer_outcome(KIND))
    return [e for e in events if e["request_id"] == request["event_id"] and e["tenant"] == tenant]


async def test_a_rounding_difference_is_a_warning_with_both_figures_and_the_invoice_stays(
        kafka, unique, stack, broker_emit, tmp_path) -> None:
    five_rows_of_ten_cents(stack, 10002)
    tenant = f"totals{unique}"
    outcomes = await transfer_on_the_broker(kafka, stack, broker_emit, 10002, tenant)

    [succeeded] = [o for o in outcomes if o["state"] == "succeeded"]
    warning = succeeded["warning"]
    assert warning and "VAT Severa 0.13, Procountor 0.15" in warning and "gross Severa 0.63, Procountor 0.65" in warning
    assert "net" not in warning.split(":", 1)[1]  # 0.50 on both sides
    [created] = stack.procountor_invoices("FI", 10002)
    assert created["invoiceSumInfo"][0]["vatSumTotal"] == 0.15  # Procountor's own figure, and the invoice stays

    # The transfer log built from the broker's events, as `sevpro show` prints it.
    feed = Feed()
    with ProjectionStore(tmp_path / "log") as store:
        store.apply_records(feed(*[(topics.transfer_outcome(KIND), b"", "TransferOutcome", o) for o in outcomes]))
        [entry] = store.find_transfers(succeeded["source_id"], tenant=tenant)
        assert entry["warning"] == warning and entry["state"] == "succeeded"
    shown = CliRunner().invoke(projections_cli, ["show", succeeded["source_id"], "--tenant", tenant,
                                                 "--db", str(tmp_path / "log")], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    assert "warning" in shown.output and "VAT Severa 0.13, Procountor 0.15" in " ".join(shown.output.split())


async def test_totals_that_agree_leave_no_warning(kafka, unique, stack, broker_emit) -> None:
    outcomes = await transfer_on_the_broker(kafka, stack, broker_emit, 10002, f"agree{unique}")
    assert [o.get("warning") for o in outcomes if o["state"] == "succeeded"] == [None]
