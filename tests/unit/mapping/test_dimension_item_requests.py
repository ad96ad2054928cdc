"""Which dimension items a Severa project, cost center or business unit version asks to check, per company."""

from __future__ import annotations

import json
from typing import Any

from foundation.company import demo_companies_path, load_companies
from streams.dimension_item import KIND, item_code, transfer_requests

COMPANIES = load_companies(demo_companies_path())


def observed(entity: str, snapshot: dict[str, Any], version: str = "2026-11-25T10:00:00") -> dict[str, Any]:
    return {"event_id": f"severa:{entity}:g1:{version}", "tenant": "demo", "entity": entity, "entity_id": "g1",
            "source_version": version, "snapshot": json.dumps(snapshot)}


def test_a_closed_project_asks_each_company_that_transfers_projects() -> None:
    requests = transfer_requests(observed("project", {"number": 2026001, "isClosed": True}), COMPANIES)
    assert [(r["company"], r["kind"], r["source_id"], r["source_number"]) for r in requests] == [
        ("FI", KIND, "FI/project/2026001", "2026001"), ("SE", KIND, "SE/project/2026001", "2026001")]
    assert len({r["event_id"] for r in requests}) == 2  # one idempotency key per company
    assert all(r["causation_id"] == "severa:project:g1:2026-11-25T10:00:00" for r in requests)


def test_codes_are_the_ones_the_transfers_give_items() -> None:
    assert item_code("project", {"number": 2026001, "name": "Data platform"}) == "2026001"
    assert item_code("cost_center", {"identifier": "CC-HEL", "name": "Helsinki"}) == "CC-HEL"
    assert item_code("business_unit", {"name": " Kumpula Consulting Oy "}) == "Kumpula Consulting Oy"
    assert transfer_requests(observed("cost_center", {"name": "", "identifier": ""}), COMPANIES) == []


def test_companies_that_do_not_transfer_the_dimension_are_not_asked() -> None:
    off = {name: company.model_copy(update={
        "sales_invoices": company.sales_invoices.model_copy(update={"transfer_cost_center_dimension": False}),
        "travel_reimbursements": company.travel_reimbursements.model_copy(
            update={"transfer_cost_center_dimension": False})}) for name, company in COMPANIES.items()}
    off["SE"] = COMPANIES["SE"].model_copy(update={"enabled": False})
    assert transfer_requests(observed("cost_center", {"identifier": "CC-HEL", "isActive": False}), off) == []
    assert transfer_requests(observed("customer", {"number": 1001}), COMPANIES) == []
