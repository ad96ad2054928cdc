"""Dimension items follow their Severa source's status, in the Procountor sandbox over a real socket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.dimension_item import DimensionItemTransfer, transfer_requests

pytestmark = pytest.mark.integration


def _transfer(stack: Any) -> DimensionItemTransfer:
    async def emit(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))

    return DimensionItemTransfer(stack.severa, stack.procountor, stack.companies, emit, transfer_log=None)


def _request(stack: Any, company: str, number: int, version: str, **changes: Any) -> dict[str, Any]:
    """The request for `company` that a version of Severa project `number` (with `changes`) leads to."""
    project = next(p for p in stack.severa_store.all("projects") if p["number"] == number) | changes
    observed = {"event_id": f"severa:project:{project['guid']}:{version}", "tenant": "demo", "entity": "project",
                "entity_id": project["guid"], "source_version": version, "snapshot": json.dumps(project)}
    return next(r for r in transfer_requests(observed, stack.companies) if r["company"] == company)


def _item(stack: Any, company: str, code: str) -> dict[str, Any]:
    projects = next(d for d in stack.procountor_store.company(company).dimensions.values() if d["name"] == "Projects")
    return next(i for i in projects["items"] if i["codeName"] == code)


async def test_a_closed_project_closes_its_item_and_a_reopened_one_reopens_it(stack: Any) -> None:
    transfer = _transfer(stack)
    before = stack.writes()
    closed = _request(stack, "FI", 2026001, "2026-11-25T10:00:00", isClosed=True)
    assert (await transfer.handle(closed)).state == "succeeded"
    assert _item(stack, "FI", "2026001")["status"] == "P"
    assert _item(stack, "FI", "2026002").get("status") is None  # the others stay as they were
    assert stack.writes() == before + 1

    # The same request again (a replay without the transfer log): the item is closed already, no write.
    assert (await _transfer(stack).handle(closed)).state == "skipped"
    assert stack.writes() == before + 1

    reopened = _request(stack, "FI", 2026001, "2026-11-25T11:00:00", isClosed=False)
    assert (await transfer.handle(reopened)).state == "succeeded"
    assert "status" not in _item(stack, "FI", "2026001")
    assert stack.writes() == before + 2
    outcomes = [r for name, r in stack.events if name == "TransferOutcome" and r["state"] != "attempting"]
    assert [(o["state"], o["source_number"], o["target_number"]) for o in outcomes] == [
        ("succeeded", "2026001", "2026001"), ("skipped", "2026001", None), ("succeeded", "2026001", "2026001")]


async def test_an_item_not_in_procountor_is_left_to_first_use(stack: Any) -> None:
    before = stack.writes()
    result = await _transfer(stack).handle(_request(stack, "FI", 2026007, "2026-11-25T10:00:00", isClosed=True))
    assert result.state == "skipped"
    assert stack.writes() == before
    assert all(i["codeName"] != "2026007" for d in stack.procountor_store.company("FI").dimensions.values()
               for i in d["items"])


async def test_a_status_changed_in_procountor_meanwhile_is_read_before_writing(stack: Any) -> None:
    transfer = _transfer(stack)
    closed = _request(stack, "FI", 2026002, "2026-11-25T10:00:00", isClosed=True)
    context = transfer.contexts["FI"]
    await context.ensure_loaded()  # the worker's cache says "active"
    _item(stack, "FI", "2026002")["status"] = "P"  # a user closed it in Procountor's UI
    before = stack.writes()
    assert (await transfer.handle(closed)).state == "succeeded"
    assert stack.writes() == before  # read again before the write: nothing to change
