"""The demo seed matches the shared demo organisation."""

from __future__ import annotations

from typing import Any

import pytest
from stdnum.fi import ytunnus

from sandbox.procountor.app import create_app
from sandbox.procountor.demo import fi_business_id, se_business_id

pytestmark = pytest.mark.integration


def test_demo_companies_and_registers() -> None:
    store = create_app(seed="demo").state.store
    fi, se = store.company("FI"), store.company("SE")
    assert (fi.info["name"], se.info["name"]) == ("Kumpula Consulting Oy", "Kumpula Consulting AB")
    assert store.api_keys == {"demo-fi-api-key": "FI", "demo-se-api-key": "SE"}

    numbers = sorted(p["invoicingInfo"]["customerNumber"] for p in fi.partners.values())
    assert numbers == [str(n) for n in range(1001, 1009)]
    for n in (1001, 1004, 1008):
        assert fi.find_partner(customer_number=str(n))["invoicingInfo"]["identifier"] == fi_business_id(n)
    mismatch = fi.find_partner(customer_number="1005")["invoicingInfo"]["identifier"]
    assert ytunnus.is_valid(mismatch) and mismatch != fi_business_id(1005)
    assert sorted(p["invoicingInfo"]["customerNumber"] for p in se.partners.values()) == ["2001", "2002", "2003"]
    assert se.find_partner(customer_number="2002")["invoicingInfo"]["identifier"] == se_business_id(2002)

    for company in (fi, se):
        codes = {p["code"] for p in company.products.values()}
        assert {
            "LIC-ANNUAL",
            "SUPPORT-H",
            "WORKSHOP",
            "DEV",
            "PM",
            "DESIGN",
            "DEFAULT-PRODUCT",
            "DEFAULT-WORK",
            "DEFAULT-TRAVEL",
            "KM-ALLOWANCE",
            "DAILY-FULL",
            "DAILY-PART",
            "TRAVEL-TICKET",
        } == codes
        travel = company.find_product(code="DAILY-FULL")
        assert travel["type"] == "TRAVEL" and travel["startDate"] <= "2026-01-01" and travel["endDate"] >= "2026-12-31"
        assert [(y["startDate"], y["isOpen"]) for y in company.fiscal_years] == [
            ("2027-01-01", True),
            ("2026-01-01", True),
            ("2025-01-01", False),
        ]
    assert [i["codeName"] for i in fi.find_dimension("Projects")["items"]] == [
        "2026001",
        "2026002",
        "2026003",
        "2026004",
    ]
    assert [i["codeName"] for i in fi.find_dimension("Cost centers")["items"]] == ["CC-HEL", "CC-TRE"]
    assert [i["codeName"] for i in fi.find_dimension("Business units")["items"]] == ["Kumpula Consulting Oy"]
    assert fi.find_person(person_number="E005") and fi.find_person(person_number="E006") is None


def test_demo_purchase_invoices_are_dimensioned_to_projects() -> None:
    store = create_app(seed="demo").state.store
    fi = store.company("FI")
    purchases = [i for i in fi.invoices.values() if i["type"] == "PURCHASE_INVOICE"]
    assert len(purchases) == 6
    assert {i["status"] for i in purchases} == {"UNFINISHED", "APPROVED", "PAYMENT_QUEUED", "PAID", "MARKED_PAID"}
    projects = fi.find_dimension("Projects")
    names = {i["id"]: i["codeName"] for i in projects["items"]}
    seen = set()
    for invoice in purchases:
        receipt = fi.ledger_receipts[invoice["ledgerReceiptId"]]
        entry = next(t for t in receipt["transactions"] if t["transactionType"] == "ENTRY")
        [value] = entry["dimensionItemValues"]
        assert value["dimensionId"] == projects["id"] and value["value"] == entry["accountingValue"]
        seen.add(names[value["itemId"]])
    assert seen == {"2026001", "2026002", "2026003"}


def test_empty_seed_and_state_file(tmp_path: Any) -> None:
    app = create_app(seed=None)
    fi = app.state.store.company("FI")
    assert fi.fiscal_years and fi.bank_accounts and not fi.partners and not fi.products and not fi.invoices
    path = tmp_path / "procountor.json"
    demo = create_app(seed="demo", state_file=str(path)).state.store
    demo.save(path)
    reloaded = create_app(state_file=str(path)).state.store
    assert reloaded.to_json() == demo.to_json()
