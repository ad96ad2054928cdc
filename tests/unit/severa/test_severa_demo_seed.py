"""Sanity of the Severa demo seed against the shared demo spec (store API only, no HTTP)."""

from __future__ import annotations

import pytest
from schwifty import IBAN
from stdnum.fi import ytunnus
from stdnum.se import orgnr

from sandbox.severa.demo import (
    DEMO_COMPANIES,
    DEMO_CUSTOMERS,
    INVOICE_STATUS_NAMES,
    TRAVEL_STATUS_NAMES,
    project_code,
    seed_demo,
)
from sandbox.severa.store import SeveraStore, demo_guid


@pytest.fixture(scope="module")
def store() -> SeveraStore:
    seeded = SeveraStore()
    seed_demo(seeded)
    return seeded


def _invoice(store: SeveraStore, number: int) -> dict:
    found = store.find_one("invoices", number=number)
    assert found is not None
    return found


def test_counts_and_statuses(store: SeveraStore) -> None:
    assert len(store.all("invoices")) == 36
    assert sorted(i["number"] for i in store.all("invoices")) == list(range(10001, 10037))
    assert len(store.all("customers")) == 20
    assert len(store.all("projects")) == 8 and len(store.all("users")) == 6
    assert [s["name"] for s in store.all("invoicestatuses")] == list(INVOICE_STATUS_NAMES)
    assert [s["name"] for s in store.all("travelreimbursementstatuses")] == list(TRAVEL_STATUS_NAMES)
    assert sorted(p["code"] for p in store.all("products")) == ["HW-LAPTOP", "LIC-ANNUAL", "SUPPORT-H", "WORKSHOP"]
    assert sorted(w["code"] for w in store.all("worktypes")) == ["DESIGN", "DEV", "PM", "TRAINING"]
    assert sorted(t["code"] for t in store.all("travelexpensetypes")) == [
        "DAILY-FULL",
        "DAILY-PART",
        "KM-ALLOWANCE",
        "TRAVEL-TICKET",
    ]
    assert sorted(c["identifier"] for c in store.all("costcenters")) == ["CC-HEL", "CC-STO", "CC-TRE"]
    assert sorted(u["code"] for u in store.all("users")) == [f"E00{i}" for i in range(1, 7)]
    assert sorted(project_code(p["number"]) for p in store.all("projects")) == [f"P-2026-00{i}" for i in range(1, 9)]


def test_twelve_invoices_wait_for_transfer_and_the_rest_are_draft_sent_paid(store: SeveraStore) -> None:
    waiting = demo_guid("invoicestatus", "Waiting for transfer to Procountor")
    assert (
        demo_guid("invoicestatus", "Waiting for transfer to Procountor")
        == store.status_by_name("invoicestatuses", "Waiting for transfer to Procountor")["guid"]
    )
    numbers = sorted(i["number"] for i in store.all("invoices") if i["status"]["guid"] == waiting)
    assert len(numbers) == 12 and {10005, 10006, 10007, 10008} <= set(numbers)
    others = {i["status"]["name"] for i in store.all("invoices") if i["status"]["guid"] != waiting}
    assert others == {"Draft", "Sent", "Paid"}


def test_business_ids_valid_except_1012(store: SeveraStore) -> None:
    for customer in store.all("customers"):
        number, vat = customer["number"], customer["vatNumber"]
        if number >= 2001:
            assert orgnr.is_valid(vat), number
        elif number == 1012:
            assert not ytunnus.is_valid(vat)
        else:
            assert ytunnus.is_valid(vat), number
        assert DEMO_CUSTOMERS[number]["business_id"] == vat
    assert ytunnus.is_valid(DEMO_COMPANIES["FI"].business_id)
    assert orgnr.is_valid(DEMO_COMPANIES["SE"].business_id)
    for account in store.all("bankaccounts"):
        IBAN(account["accountNumber"])  # raises when invalid
    for user in store.all("users"):
        IBAN(user["bankAccountNumber"])


def test_special_invoices(store: SeveraStore) -> None:
    assert _invoice(store, 10005)["customer"]["number"] == 1005
    assert _invoice(store, 10006)["customer"]["number"] == 1012
    assert _invoice(store, 10007)["date"] == "2025-12-15"
    rows = store.find("invoicerows", invoiceGuid=_invoice(store, 10008)["guid"])
    assert [len(r["description"]) for r in rows] == [130]
    credit = _invoice(store, 10013)
    assert credit["isCreditNote"] and credit["reimburseInvoice"]["number"] == 10001
    assert credit["totalExcludingTax"]["amount"] < 0
    assert _invoice(store, 10001)["creditNoteInvoice"]["number"] == 10013
    se = [i for i in store.all("invoices") if i["customer"]["number"] >= 2001]
    assert se and all(i["currency"]["code"] == "SEK" for i in se)
    assert {r["vatRate"] for i in se for r in store.find("invoicerows", invoiceGuid=i["guid"])} == {25.0}
    fi_rows = store.find("invoicerows", invoiceGuid=_invoice(store, 10002)["guid"])
    assert {r["vatRate"] for r in fi_rows} == {25.5}
    codes = {
        c
        for i in (10003, 10004)
        for r in store.find("invoicerows", invoiceGuid=_invoice(store, i)["guid"])
        for c in r["code"]
    }
    assert {"TRAINING", "HW-LAPTOP"} <= codes


def test_customer_channels_and_addresses(store: SeveraStore) -> None:
    c1003 = store.get("customers", demo_guid("customer", 1003))
    assert c1003["eInvoiceAddress"].startswith("0037") and c1003["eInvoiceOperator"]
    assert store.get("customers", demo_guid("customer", 1004))["email"]
    for customer in store.all("customers"):
        if customer["number"] not in (1003, 1004):
            assert not customer["email"] and not customer["eInvoiceAddress"]
        addresses = [a for a in store.all("addresses") if a["customer"]["guid"] == customer["guid"]]
        assert len(addresses) == 1 and addresses[0]["isPostalAddress"]
        expected = "Sweden" if customer["number"] >= 2001 else "Finland"
        assert addresses[0]["country"]["name"] == expected


def test_business_units_and_timestamps(store: SeveraStore) -> None:
    units = {u["name"]: u for u in store.all("businessunits")}
    assert units["Kumpula Consulting Oy"]["vatNumber"] == DEMO_COMPANIES["FI"].business_id
    assert units["Kumpula Consulting AB"]["vatNumber"] == DEMO_COMPANIES["SE"].business_id
    assert units["Kumpula Labs"]["vatNumber"] is None
    assert units["Kumpula Labs"]["companyGuid"] == demo_guid("company", "FI")
    stamps = [r["lastUpdatedDateTime"] for kind in store.collections for r in store.all(kind)]
    assert len(stamps) == len(set(stamps))  # no two writes share a timestamp


def test_seed_is_deterministic() -> None:
    a, b = SeveraStore(), SeveraStore()
    seed_demo(a)
    seed_demo(b)
    for kind in ("invoices", "invoicerows", "customers", "projecttravelexpenses", "travelreimbursements"):
        assert sorted(a.collections[kind]) == sorted(b.collections[kind]), kind


def test_save_and_load_roundtrip(store: SeveraStore, tmp_path) -> None:
    path = tmp_path / "state.json"
    store.save(path)
    loaded = SeveraStore()
    loaded.load(path)
    assert loaded.to_json() == store.to_json()
