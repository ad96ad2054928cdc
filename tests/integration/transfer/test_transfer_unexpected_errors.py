"""Anything unexpected during a transfer ends the attempt with an outcome, never a record `pending` for ever.

Each case is one the transfers did not foresee: the exception used to escape `Transfer.handle`, the agent died
with the record `attempting`, no e-mail went out and nothing was parked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.procountor.client import ProcountorClient
from connectors.severa.client import SeveraClient
from projections.reprocess import reprocess_request
from projections.store import ProjectionStore
from sandbox.procountor.demo import DEMO_CLIENT_ID as P_ID
from sandbox.procountor.demo import DEMO_CLIENT_SECRET as P_SECRET
from sandbox.procountor.demo import DEMO_FI_API_KEY
from sandbox.severa.demo import DEMO_CLIENT_ID as S_ID
from sandbox.severa.demo import DEMO_CLIENT_SECRET as S_SECRET
from schemas import topics
from schemas.codec import encode
from streams.dimension_item import DimensionItemTransfer, transfer_requests
from streams.sales_invoice import KIND, SalesInvoiceTransfer
from streams.transfer import INTERNAL_ATTEMPTS

pytestmark = pytest.mark.integration


class Tampering(httpx.AsyncBaseTransport):
    """A real socket to the sandbox, with the answers to one path rewritten on the way back (a proxy that
    answers with a login page, an API that sends a number JSON cannot hold)."""

    def __init__(self, path_part: str, rewrite: Callable[[bytes], tuple[int, bytes, str]]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.path_part, self.rewrite = path_part, rewrite

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.path_part not in request.url.path:
            return response
        body = await response.aread()
        status, content, content_type = self.rewrite(body)
        return httpx.Response(status, content=content, headers={"content-type": content_type})

    async def aclose(self) -> None:
        await self.inner.aclose()


def _outcomes(stack: Any, request_id: str) -> list[dict[str, Any]]:
    return [r for name, r in stack.events if name == "TransferOutcome" and r["request_id"] == request_id]


@dataclass
class Raw:
    topic: str
    partition: int
    offset: int
    value: bytes


def _transfer(stack: Any, store: ProjectionStore | None = None, **clients: Any) -> SalesInvoiceTransfer:
    """The transfer, its events kept in `stack.events` and, with `store`, projected as the projector does."""
    async def emit(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))
        if store is not None:
            topic = (topics.transfer_outcome(record["kind"]) if name == "TransferOutcome"
                     else topics.transfer_requested(record["kind"]) if name == "TransferRequested"
                     else topics.registry_links())
            store.apply_records([Raw(topic, 0, len(stack.events), encode(name, record))])

    return SalesInvoiceTransfer(clients.get("severa", stack.severa), clients.get("procountor", stack.procountor),
                                stack.companies, emit, transfer_log=store, directory=stack.directory)


def _assert_internal(stack: Any, request: dict[str, Any], result: Any, exception: str) -> dict[str, Any]:
    """The attempt ended failed (retried as transient) with reason INTERNAL naming the record and the exception."""
    assert result.state == "failed_transient"
    states = [o["state"] for o in _outcomes(stack, request["event_id"])]
    assert states[0] == "attempting" and states[-1] == "failed_transient", states
    error = _outcomes(stack, request["event_id"])[-1]["error"]
    assert error["code"] == "INTERNAL" and error["kind"] == "internal"
    assert error["record"] == f"sales invoice {request['source_number']}"
    assert error["message"].startswith(f"{exception}: "), error["message"]
    return error


def _nan_prices(body: bytes) -> tuple[int, bytes, str]:
    """Severa's rows with every unit price NaN (Python's json reads it; httpx refuses to send it on)."""
    rows = json.loads(body)
    for row in rows:
        row["unitPrice"]["amount"] = "NaN-placeholder"
    return 200, json.dumps(rows).replace('"NaN-placeholder"', "NaN").encode(), "application/json"


def _severa_with_nan_rows(stack: Any, invoice_guid: str = "") -> SeveraClient:
    """A Severa client whose answers for the rows of `invoice_guid` (of every invoice: "") carry NaN prices."""
    return SeveraClient(f"{stack.severa_server.url}/rest-api", S_ID, S_SECRET, requests_per_second=500.0,
                        transport=Tampering(f"{invoice_guid}/invoicerows", _nan_prices))


async def test_a_nan_amount_from_severa_ends_the_attempt_as_internal(stack) -> None:
    request = stack.request(10002)
    async with _severa_with_nan_rows(stack) as severa:
        result = await _transfer(stack, severa=severa).handle(request)
    _assert_internal(stack, request, result, "ValueError")
    assert not stack.procountor_invoices("FI", 10002)


async def test_an_html_page_answered_with_200_ends_the_attempt_as_internal(stack) -> None:
    request = stack.request(10002)
    login_page = (200, b"<html><body>Please sign in</body></html>", "text/html")
    async with ProcountorClient(f"{stack.procountor_server.url}/api", P_ID, P_SECRET, DEMO_FI_API_KEY,
                                requests_per_second=500.0,
                                transport=Tampering("/fiscalyears", lambda _: login_page)) as fi:
        result = await _transfer(stack, procountor={**stack.procountor, "FI": fi}).handle(request)
    _assert_internal(stack, request, result, "JSONDecodeError")


async def test_the_agent_goes_on_with_the_next_request_after_an_unexpected_error(stack) -> None:
    first, second = stack.request(10002), stack.request(10003)
    async with _severa_with_nan_rows(stack, first["source_id"]) as severa:
        transfer = _transfer(stack, severa=severa)
        assert (await transfer.handle(first)).state == "failed_transient"
        assert (await transfer.handle(second)).state == "succeeded"
    assert len(stack.procountor_invoices("FI", 10003)) == 1


async def test_a_transient_error_in_the_dimension_item_skip_check_is_a_transient_failure(stack) -> None:
    async def emit(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))

    transfer = DimensionItemTransfer(stack.severa, stack.procountor, stack.companies, emit, transfer_log=None,
                                     directory=stack.directory)
    project = next(p for p in stack.severa_store.all("projects") if p["number"] == 2026001) | {"isClosed": True}
    observed = {"event_id": f"severa:project:{project['guid']}:v9", "tenant": "demo", "entity": "project",
                "entity_id": project["guid"], "source_version": "v9", "snapshot": json.dumps(project)}
    request = next(r for r in transfer_requests(observed, stack.companies) if r["company"] == "FI")
    stack.procountor_server.app.state.sandbox.config.error_rate = 1.0  # Procountor answers 500 to everything
    result = await transfer.handle(request)
    assert result.state == "failed_transient"
    final = _outcomes(stack, request["event_id"])[-1]
    assert final["state"] == "failed_transient" and final["error"]["code"] == "TRANSIENT"


async def test_an_unexpected_error_is_retried_a_bounded_number_of_times_then_waits_for_a_user(
        stack, tmp_path: Path) -> None:
    store = ProjectionStore(tmp_path / "projections")
    try:
        request = stack.request(10002)
        severa = _severa_with_nan_rows(stack)
        transfer = _transfer(stack, store, severa=severa)
        await transfer.emit("TransferRequested", request)
        states = [(await transfer.handle(request)).state]
        # What the worker's retry does while the log shows the record failed-transient: the latest request again.
        while store.transfer("demo", KIND, request["source_id"])["state"] == "failed-transient":
            assert len(states) <= INTERNAL_ATTEMPTS, f"still retried after {states}"
            known = store.requests_of("demo", KIND, request["source_id"])
            request = reprocess_request(known[-1], [r["request_id"] for r in known])
            await transfer.emit("TransferRequested", request)
            states.append((await transfer.handle(request)).state)
        assert states == ["failed_transient"] * (INTERNAL_ATTEMPTS - 1) + ["failed_data"]
        entry = store.transfer("demo", KIND, request["source_id"])
        assert entry["state"] == "failed-data" and entry["last_error"]["code"] == "INTERNAL"
        assert "sevpro reprocess" in entry["last_error"]["solution"]
        await severa.aclose()
    finally:
        store.close()
