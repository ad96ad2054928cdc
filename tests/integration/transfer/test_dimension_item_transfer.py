"""Dimension items follow their Severa source's status, in the Procountor sandbox over a real socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from streams.dimension_item import DimensionItemTransfer, transfer_requests

pytestmark = pytest.mark.integration


def _transfer(stack: Any, contexts: Any = None) -> DimensionItemTransfer:
    async def emit(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))

    return DimensionItemTransfer(stack.severa, stack.procountor, stack.companies, emit, transfer_log=None,
                                 contexts=contexts, directory=stack.directory)


def _request(stack: Any, company: str, number: int, version: str, **changes: Any) -> dict[str, Any]:
    """The request for `company` that a version of Severa project `number` leads to: `changes` are what the user
    did to the project in Severa (they are in the store too, as the transfer reads it again)."""
    project = next(p for p in stack.severa_store.all("projects") if p["number"] == number)
    if changes:
        stack.severa_store.update("projects", project["guid"], changes)
    project = project | changes
    observed = {"event_id": f"severa:project:{project['guid']}:{version}", "tenant": "demo", "entity": "project",
                "entity_id": project["guid"], "source_version": version, "snapshot": json.dumps(project)}
    return next(r for r in transfer_requests(observed, stack.companies) if r["company"] == company)


def _items(stack: Any, company: str, code: str) -> list[dict[str, Any]]:
    projects = next(d for d in stack.procountor_store.company(company).dimensions.values() if d["name"] == "Projects")
    return [i for i in projects["items"] if i["codeName"] == code]


def _item(stack: Any, company: str, code: str) -> dict[str, Any]:
    [item] = _items(stack, company, code)
    return item


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
    assert [(o["state"], o["source_number"], o["target_number"], o["note"]) for o in outcomes] == [
        ("succeeded", "2026001", "2026001", None), ("skipped", "2026001", "2026001", "the item is closed already"),
        ("succeeded", "2026001", "2026001", None)]
    assert outcomes[1]["target_id"] == str(_item(stack, "FI", "2026001")["id"])  # the log links the two


async def test_an_open_project_of_the_company_gets_its_item_at_once(stack: Any) -> None:
    before = stack.writes()
    for number in (2026005, 2026006):  # FI's own business unit, and Kumpula Labs under it
        request = _request(stack, "FI", number, "2026-11-25T10:00:00")
        assert (await _transfer(stack).handle(request)).state == "succeeded"
        item = _item(stack, "FI", str(number))
        assert "status" not in item and item["description"] == next(
            p["name"] for p in stack.severa_store.all("projects") if p["number"] == number)
        assert (await _transfer(stack).handle(request)).state == "skipped"  # there now: nothing to do
    assert stack.writes() == before + 2
    links = [r for name, r in stack.events if name == "IdLinked"]
    assert [(link["kind"], link["severa_key"], link["created"]) for link in links] == [
        ("dimension_item", "Projects:2026005", True), ("dimension_item", "Projects:2026006", True)]


async def test_no_item_for_another_company_s_project_nor_a_closed_one(stack: Any) -> None:
    before = stack.writes()
    other = _request(stack, "FI", 2026007, "2026-11-25T10:00:00")  # a project of the Swedish company
    closed = _request(stack, "FI", 2026005, "2026-11-25T10:00:00", isClosed=True)
    for request in (other, closed):
        assert (await _transfer(stack).handle(request)).state == "skipped"
    assert stack.writes() == before
    assert _items(stack, "FI", "2026007") == [] and _items(stack, "FI", "2026005") == []
    notes = [r["note"] for name, r in stack.events if name == "TransferOutcome"]
    assert notes == ["no item in Procountor; one is created when an invoice of this company first uses it"] * 2


async def test_an_invoice_and_the_project_sync_needing_the_same_new_item_create_it_once(stack: Any) -> None:
    from streams.transfer import company_contexts

    contexts = company_contexts(stack.companies, stack.procountor)  # one worker: one cache, one item lock
    results = await asyncio.gather(
        stack.transfer(contexts=contexts).handle(stack.request(10010)),  # its project is 2026006
        _transfer(stack, contexts).handle(_request(stack, "FI", 2026006, "2026-11-25T10:00:00")))
    assert [r.state for r in results] in (["succeeded", "succeeded"], ["succeeded", "skipped"])
    assert len(_items(stack, "FI", "2026006")) == 1


async def test_a_status_changed_in_procountor_meanwhile_is_read_before_writing(stack: Any) -> None:
    transfer = _transfer(stack)
    closed = _request(stack, "FI", 2026002, "2026-11-25T10:00:00", isClosed=True)
    context = transfer.contexts["FI"]
    await context.ensure_loaded()  # the worker's cache says "active"
    _item(stack, "FI", "2026002")["status"] = "P"  # a user closed it in Procountor's UI
    before = stack.writes()
    assert (await transfer.handle(closed)).state == "succeeded"
    assert stack.writes() == before  # read again before the write: nothing to change


async def test_an_item_made_in_procountor_after_the_cache_was_loaded_is_used_not_made_again(stack: Any) -> None:
    transfer = _transfer(stack)
    context = transfer.contexts["FI"]
    await context.ensure_loaded()  # the worker's cache has no item 2026005
    projects = context.dimensions["Projects"]
    made = await context.client.create_dimension_item(projects["id"], {"codeName": "2026005",
                                                                       "description": "made by a user"})
    before = stack.writes()
    result = await transfer.handle(_request(stack, "FI", 2026005, "2026-11-25T10:00:00"))
    assert result.state == "succeeded"
    assert stack.writes() == before  # looked up again before creating: no second item, no refused duplicate
    assert [i["id"] for i in _items(stack, "FI", "2026005")] == [made["id"]]


async def test_a_project_name_with_special_characters_is_a_data_error_before_any_write(stack: Any) -> None:
    before = stack.writes()
    request = _request(stack, "FI", 2026005, "2026-11-25T10:00:00", name="Rocket 🚀 project")
    result = await _transfer(stack).handle(request)
    assert result.state == "failed_data" and result.error is not None
    assert (result.error.code, result.error.record, result.error.field, result.error.value) == (
        "INVALID_CHARACTERS", "project 2026005", "project.name", "Rocket 🚀 project")
    assert "🚀" in result.error.message and "project's name in Severa" in result.error.solution
    assert stack.writes() == before and _items(stack, "FI", "2026005") == []


async def test_a_request_older_than_the_project_in_severa_writes_nothing(stack: Any) -> None:
    """A replay, or a request delivered after a newer one: the project was closed, then reopened in Severa; the
    stale 'closed' request must not close the item again (the reopened version has its own request)."""
    closed = _request(stack, "FI", 2026001, "2026-11-25T10:00:00", isClosed=True)
    _request(stack, "FI", 2026001, "2026-11-25T11:00:00", isClosed=False)  # the user reopens it
    before = stack.writes()
    result = await _transfer(stack).handle(closed)
    assert result.state == "skipped"
    assert "status" not in _item(stack, "FI", "2026001"), "the item stays open, as the project is"
    assert stack.writes() == before
    [outcome] = [r for name, r in stack.events if name == "TransferOutcome" and r["state"] == "skipped"]
    assert "changed in Severa" in outcome["note"]
