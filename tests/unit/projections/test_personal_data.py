"""Personal data in the read models: only what the integration uses of a person is kept, a bank account is
shown masked, never a national identity number; and a person can be forgotten (also when events arrive later,
or in another order, as in a replay)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from foundation.privacy import mask_iban, mask_ibans, minimal_user
from projections import testing as ev
from projections.export import export
from projections.store import ProjectionStore

TENANT = "acme"
GUID = "0b6b8a3e-2f6e-4a57-9d0c-5f1e1f0c2a11"
SSN = "131052-308T"
IBAN = "FI21 1234 5600 0007 85"
USER = {  # a Severa UserOutputModel as the API answers it (severa-api.md §5.10), abridged
    "guid": GUID, "firstName": "Maija", "lastName": "Meikäläinen", "code": "E042", "isActive": True,
    "email": "maija.meikalainen@kumpula.example", "phone": "+358 40 123 4567", "socialSecurityNumber": SSN,
    "bankAccountNumber": IBAN, "address": "Kotikatu 1 A 2", "postalCode": "00100", "city": "Helsinki",
    "birthDate": "1952-10-13T00:00:00", "notes": "on leave in March", "lastUpdatedDateTime": "2026-11-20T10:00:00Z",
    "businessUnit": {"guid": "bu-fi", "name": "Kumpula Consulting Oy", "companyBusinessUnitGuid": "bu-fi",
                     "code": "FI"},
}
PERSONAL = (SSN, IBAN, IBAN.replace(" ", ""), "Kotikatu", "+358 40", "1952-10-13", "on leave")


def _person_events() -> list:
    _, _, _, travel = request = ev.requested(TENANT, "tr-1", kind="travel-reimbursement", number="77",
                                             snapshot={"guid": "tr-1", "number": 77, "user": {"guid": GUID}})
    bad_account = ev.data_error(code="MISSING_BANK_ACCOUNT", field="user.bankAccountNumber",
                                value=IBAN.replace(" ", "")[:-1] + "6",  # not a valid IBAN: still the account
                                message="the bank account of user E042 (Maija Meikäläinen) is not a valid IBAN",
                                solution="Fill in the bank account of user E042 (Maija Meikäläinen) in Severa")
    return [
        ev.observed(TENANT, "severa", "user", GUID, USER, version=USER["lastUpdatedDateTime"]),
        request, ev.outcome(travel, "failed_data", error=bad_account),
        ev.linked(TENANT, "person", "E042", "701", severa_id=GUID, created=True, seconds=2),
        ev.linked(TENANT, "customer", "C-100", "501", severa_id="cust-1", seconds=2),
    ]


def _everything(store: ProjectionStore, tmp_path: Path) -> str:
    """Every place a user or an auditor can read: the read-model tables, history and the Parquet export."""
    parts = [json.dumps(store.dump(), ensure_ascii=False, default=str),
             json.dumps(store.history(GUID), ensure_ascii=False), json.dumps(store.history("tr-1"), ensure_ascii=False)]
    for path in export(store, tmp_path / "export").values():
        parts.append(json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False, default=str))
    return "\n".join(parts)


def test_only_the_fields_the_integration_uses_are_kept_of_a_user(tmp_path: Path) -> None:
    with ProjectionStore(tmp_path / "proj") as store:
        store.apply_records(ev.Feed()(*_person_events()))
        text = _everything(store, tmp_path)
        for value in PERSONAL:
            assert value not in text, value
        observed = next(e for e in store.history(GUID) if e["type"] == "EntityObserved")
        assert json.loads(observed["payload"]["snapshot"]) == {
            "guid": GUID, "firstName": "Maija", "lastName": "Meikäläinen", "code": "E042", "isActive": True,
            "email": "maija.meikalainen@kumpula.example", "lastUpdatedDateTime": "2026-11-20T10:00:00Z",
            "businessUnit": {"guid": "bu-fi", "name": "Kumpula Consulting Oy", "companyBusinessUnitGuid": "bu-fi"}}
        # The bank account in the failure is shown masked, in the log, the history and the export alike.
        entry = store.transfer(TENANT, "travel-reimbursement", "tr-1")
        assert entry is not None and entry["last_error"]["value"] == "FI21 **** **** 0786"


def test_forgetting_a_person_removes_them_from_the_read_models(tmp_path: Path) -> None:
    with ProjectionStore(tmp_path / "proj") as store:
        store.apply_records(ev.Feed()(*_person_events()))
        removed = store.forget_person(TENANT, GUID)
        assert removed.events == 2 and removed.links == 1  # the user's version and the person link
        text = _everything(store, tmp_path)
        for value in (GUID, "Meikäläinen", "maija.meikalainen", "E042", "701"):
            assert value not in text, value
        assert store.history(GUID) == []
        # The travel reimbursement itself is a bookkeeping record and stays, its failure without the name.
        entry = store.transfer(TENANT, "travel-reimbursement", "tr-1")
        assert entry is not None and entry["state"] == "failed-data"
        assert "(forgotten person)" in entry["last_error"]["message"]
        assert [m["kind"] for m in store.id_map(tenant=TENANT)] == ["customer"]  # others' links stay
        assert store.forgotten() == [(TENANT, GUID)]


def test_a_forgotten_persons_events_read_later_are_not_kept(tmp_path: Path) -> None:
    """A replay, or a projector behind: the person's own events (versions, links) come after the forget.
    (The travel transfers' events are bookkeeping records and are kept as read: README, "Personal data".)"""
    feed = ev.Feed()
    events = _person_events()
    with ProjectionStore(tmp_path / "proj") as store:
        store.forget_person(TENANT, GUID)
        store.apply_records(feed(*events))
        assert store.history(GUID) == [] and [m["kind"] for m in store.id_map()] == ["customer"]
        assert "maija.meikalainen@" not in json.dumps(store.dump(), ensure_ascii=False)


def test_a_tombstone_on_the_user_topic_forgets_the_person(tmp_path: Path) -> None:
    """What `sevpro forget` writes, read by the projector (or by a replay, in topic order)."""
    feed = ev.Feed()
    with ProjectionStore(tmp_path / "proj") as store:
        store.apply_records(feed(*_person_events()))
        result = store.apply_records(feed(ev.tombstone(TENANT, "severa", "user", GUID)))
        assert result.undecodable == 0
        assert store.history(GUID) == [] and store.forgotten() == [(TENANT, GUID)]
        # Another tenant's user with the same guid is not touched.
        store.apply_records(feed(ev.observed("other", "severa", "user", GUID, USER, version="v9")))
        assert [e["tenant"] for e in store.history(GUID)] == ["other"]


@pytest.mark.parametrize(("value", "masked"), [
    ("FI21 1234 5600 0007 85", "FI21 **** **** 0785"), ("FI2112345600000785", "FI21 **** **** 0785"),
    ("SE45 5000 0000 0583 9825 7466", "SE45 **** **** 7466"), ("12345", "****"),
])
def test_mask_iban(value: str, masked: str) -> None:
    assert mask_iban(value) == masked


def test_only_real_ibans_are_masked_in_texts() -> None:
    text = "account FI2112345600000785, VAT SE556012345601, reference RF18539007547034"
    assert mask_ibans(text) == "account FI21 **** **** 0785, VAT SE556012345601, reference RF18539007547034"


def test_minimal_user_never_keeps_an_identity_number_or_an_account() -> None:
    kept = minimal_user(USER)
    assert "socialSecurityNumber" not in kept and "bankAccountNumber" not in kept and "address" not in kept
    assert kept["businessUnit"] == {"guid": "bu-fi", "name": "Kumpula Consulting Oy",
                                    "companyBusinessUnitGuid": "bu-fi"}


def _texts(value: object) -> list[str]:
    """Every text in a read-model dump, as stored (a JSON text inside stays as its writer escaped it)."""
    if isinstance(value, dict):
        return [t for item in value.values() for t in _texts(item)]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _texts(item)]
    return [value] if isinstance(value, str) else []


def test_a_name_is_forgotten_also_where_its_writer_escaped_the_letters_outside_ascii(tmp_path: Path) -> None:
    """JSON written with json.dumps' defaults (ensure_ascii) spells "Meikäläinen" as "Meik\\u00e4l\\u00e4inen": a
    snapshot that names the person so is redacted too."""
    escaped = json.dumps("Maija Meikäläinen")[1:-1]
    assert escaped != "Maija Meikäläinen"
    _, _, _, travel = request = ev.requested(TENANT, "tr-2", kind="travel-reimbursement", number="78", snapshot={
        "guid": "tr-2", "number": 78, "user": {"guid": GUID, "name": "Maija Meikäläinen"}})
    assert escaped in travel["snapshot"]
    with ProjectionStore(tmp_path / "proj") as store:
        store.apply_records(ev.Feed()(*_person_events(), request))
        assert any(escaped in text for text in _texts(store.dump()))
        store.forget_person(TENANT, GUID)
        assert not [text for text in _texts(store.dump()) if escaped in text or "Meikäläinen" in text]
        [entry] = [e for e in store.history("tr-2") if e["type"] == "TransferRequested"]
        assert "Meik" not in json.dumps(entry, ensure_ascii=False)
