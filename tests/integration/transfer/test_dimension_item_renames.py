"""Dimension items follow renames of their Severa source, not only its status; and a project gets its item when
only the purchase-invoice import is on (the import dimensions costs to it). The Procountor sandbox over a real
socket; the ID map is a real projection (SQLite) fed with every event the transfer emits, as the projector
does, since a renamed business unit's item is found by its link (its code is the unit's name)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from projections.store import ProjectionStore
from sandbox.severa.store import demo_guid
from schemas import topics
from schemas.codec import encode
from streams.dimension_item import DimensionItemTransfer, transfer_requests

pytestmark = pytest.mark.integration


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


def _transfer(stack: Any, log: ProjectionStore | None = None) -> DimensionItemTransfer:
    async def emit(name: str, record: dict[str, Any]) -> None:
        stack.events.append((name, record))
        if log is not None:
            topic = {"TransferRequested": topics.transfer_requested(record.get("kind", "")),
                     "TransferOutcome": topics.transfer_outcome(record.get("kind", "")),
                     "IdLinked": topics.registry_links()}[name]
            log.apply_records([_Raw(topic, len(stack.events), encode(name, record))])

    return DimensionItemTransfer(stack.severa, stack.procountor, stack.companies, emit, transfer_log=log,
                                 directory=stack.directory)


def _request(stack: Any, entity: str, guid: str, version: str, company: str = "FI", **changes: Any) -> dict:
    """The request for `company` a version of a Severa project, cost center or business unit leads to: `changes`
    are what the user did in Severa (in the store too, as the transfer reads it again)."""
    kind = {"project": "projects", "cost_center": "costcenters", "business_unit": "businessunits"}[entity]
    if changes:
        stack.severa_store.update(kind, guid, changes)
    source = stack.severa_store.get(kind, guid)
    observed = {"event_id": f"severa:{entity}:{guid}:{version}", "tenant": "demo", "entity": entity,
                "entity_id": guid, "source_version": version, "snapshot": json.dumps(source)}
    return next(r for r in transfer_requests(observed, stack.companies) if r["company"] == company)


def _items(stack: Any, dimension: str, company: str = "FI") -> list[dict[str, Any]]:
    found = next(d for d in stack.procountor_store.company(company).dimensions.values() if d["name"] == dimension)
    return found["items"]


def _project_guid(stack: Any, number: int) -> str:
    return next(p["guid"] for p in stack.severa_store.all("projects") if p["number"] == number)


async def test_a_renamed_project_renames_its_item_description(stack) -> None:
    guid = _project_guid(stack, 2026005)  # open, of the FI company, without an item yet
    assert (await _transfer(stack).handle(_request(stack, "project", guid, "v1"))).state == "succeeded"
    [item] = [i for i in _items(stack, "Projects") if i["codeName"] == "2026005"]
    assert item["description"] == stack.severa_store.get("projects", guid)["name"]

    before = stack.writes()
    renamed = _request(stack, "project", guid, "v2", name="Grid analytics, phase 2")
    assert (await _transfer(stack).handle(renamed)).state == "succeeded"
    [item] = [i for i in _items(stack, "Projects") if i["codeName"] == "2026005"]
    assert item["description"] == "Grid analytics, phase 2" and item.get("status") is None
    assert stack.writes() == before + 1
    # Again (a replay): the item has the name already, nothing is written.
    assert (await _transfer(stack).handle(renamed)).state == "skipped"
    assert stack.writes() == before + 1


async def test_a_renamed_cost_center_renames_its_item_description(stack) -> None:
    [item] = [i for i in _items(stack, "Cost centers") if i["codeName"] == "CC-TRE"]
    item["description"] = "Tampere"  # as the transfers create it: the cost center's name
    renamed = _request(stack, "cost_center", demo_guid("costcenter", "CC-TRE"), "v2", name="Tampere Hervanta")
    assert (await _transfer(stack).handle(renamed)).state == "succeeded"
    [item] = [i for i in _items(stack, "Cost centers") if i["codeName"] == "CC-TRE"]
    assert item["description"] == "Tampere Hervanta"


async def test_an_item_without_a_description_is_not_given_one(stack) -> None:
    # The demo's items were made in Procountor without a description: not the integration's to fill in.
    before = stack.writes()
    request = _request(stack, "project", _project_guid(stack, 2026002), "v2", name="Renamed in Severa")
    assert (await _transfer(stack).handle(request)).state == "skipped"
    assert stack.writes() == before


async def test_a_renamed_business_unit_renames_its_item_not_a_second_one(stack, log) -> None:
    guid = demo_guid("businessunit", "LABS")  # "Kumpula Labs", under the FI company, without an item yet
    created = await _transfer(stack, log).handle(_request(stack, "business_unit", guid, "v1"))
    assert created.state == "succeeded"
    [item] = [i for i in _items(stack, "Business units") if i["codeName"] == "Kumpula Labs"]

    renamed = _request(stack, "business_unit", guid, "v2", name="Kumpula Research")
    assert (await _transfer(stack, log).handle(renamed)).state == "succeeded"
    names = [i["codeName"] for i in _items(stack, "Business units")]
    assert "Kumpula Research" in names and "Kumpula Labs" not in names
    [same] = [i for i in _items(stack, "Business units") if i["codeName"] == "Kumpula Research"]
    assert same["id"] == item["id"] and same["description"] == "Kumpula Research"


async def test_projects_get_items_when_only_the_purchase_invoice_import_is_on(stack) -> None:
    fi = stack.companies["FI"]
    off = {f"transfer_{kind}_dimension": False for kind in ("project", "cost_center", "business_unit")}
    stack.companies["FI"] = fi.model_copy(update={
        "sales_invoices": fi.sales_invoices.model_copy(update=off),
        "travel_reimbursements": fi.travel_reimbursements.model_copy(update=off)})
    assert stack.companies["FI"].purchase_invoices.enabled
    request = _request(stack, "project", _project_guid(stack, 2026005), "v1")
    assert (await _transfer(stack).handle(request)).state == "succeeded"
    assert [i for i in _items(stack, "Projects") if i["codeName"] == "2026005"]
    # Cost centers and business units are not needed by the import: no request for them.
    observed = {"event_id": "e", "tenant": "demo", "entity": "business_unit", "entity_id": "g",
                "source_version": "v1", "snapshot": json.dumps({"guid": "g", "name": "Kumpula Labs"})}
    assert [r for r in transfer_requests(observed, stack.companies) if r["company"] == "FI"] == []
