"""Each snapshot is stored once (schema version 3): the observed version, the request that carries it and the
request's row name one text by its hash. Everything read from the read models is what it was when each row held
its own copy; forgetting a person redacts the shared text everywhere; a store of schema version 2 (each row its
own copy) is read, written and forgotten in the same way without a rebuild."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from projections import testing as ev
from projections import versions
from projections.export import export
from projections.store import ProjectionStore
from projections.testing import Feed

TENANT = "t-snap"
PERSON = "7f1d9c2e-4b3a-4e8f-9a6d-1c2b3a4d5e6f"
USER = {"guid": PERSON, "firstName": "Maija", "lastName": "Virtanen", "code": "E042",
        "email": "maija@kumpula.example", "lastUpdatedDateTime": "2026-11-20T10:00:00Z"}
# An invoice whose snapshot names the person (its creator), observed and then requested with the same text.
INVOICE = {"guid": "inv-1", "number": 4001, "totalIncludingTax": 124.0,
           "createdBy": {"guid": PERSON, "name": "Maija Virtanen"}, "notes": "ask maija@kumpula.example"}


def _events() -> list[tuple]:
    _, _, _, request = req = ev.requested(TENANT, "inv-1", number="4001", snapshot=INVOICE, seconds=2)
    return [ev.observed(TENANT, "severa", "user", PERSON, USER, seconds=1),
            ev.observed(TENANT, "severa", "invoice", "inv-1", INVOICE, version="v1", seconds=2), req,
            ev.outcome(request, "succeeded", seconds=3, target_id="901", target_number="77"),
            ev.observed(TENANT, "severa", "invoice", "inv-2", {"guid": "inv-2", "number": 4002}, seconds=4)]


def _reads(store: ProjectionStore, tmp_path: Path) -> dict[str, Any]:
    """What users read: history, the request (reprocess), the transfer log and the Parquet export."""
    exported = export(store, tmp_path / f"export-{store.version}")
    return {"history": [store.history(ref, tenant=TENANT) for ref in ("inv-1", "inv-2", "4001", PERSON)],
            "request": store.request(f"{TENANT}:sales-invoice:inv-1:v1"),
            "requests": store.requests_of(TENANT, "sales-invoice", "inv-1"),
            "log": store.transfers(), "events": store.events(),
            "export": {name: pq.read_table(path).to_pylist() for name, path in sorted(exported.items())}}


def as_schema_version_2(path: Path) -> None:
    """Rewrite a version file as schema version 2 wrote it: every event and request with its own snapshot."""
    db = sqlite3.connect(path)
    texts = {(t, h): text for t, h, text in db.execute("SELECT tenant, hash, text FROM snapshots")}
    for rowid, tenant, payload, ref in db.execute(
            "SELECT rowid, tenant, payload, snapshot_ref FROM events WHERE snapshot_ref IS NOT NULL").fetchall():
        whole = json.dumps(json.loads(payload) | {"snapshot": texts[(tenant, ref)]}, sort_keys=True,
                           ensure_ascii=False)
        db.execute("UPDATE events SET payload=? WHERE rowid=?", (whole, rowid))
    for rowid, tenant, ref in db.execute(
            "SELECT rowid, tenant, snapshot_ref FROM requests WHERE snapshot_ref IS NOT NULL").fetchall():
        db.execute("UPDATE requests SET snapshot=? WHERE rowid=?", (texts[(tenant, ref)], rowid))
    for table in ("events", "requests"):
        db.execute(f"ALTER TABLE {table} DROP COLUMN snapshot_ref")
    db.execute("DROP TABLE snapshots")
    db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    db.commit()
    db.close()


def _current_file(root: Path) -> Path:
    version = versions.current_version(root)
    assert version is not None
    return versions.version_path(root, version)


def test_a_snapshot_is_stored_once_and_read_whole(tmp_path: Path) -> None:
    with ProjectionStore(tmp_path / "proj") as store:
        store.apply_records(Feed()(*_events()))
        text = json.dumps(INVOICE)
        assert [r[0] for r in store.db.execute("SELECT text FROM snapshots WHERE text LIKE '%inv-1%'")] == [text]
        stored = [r[0] for r in store.db.execute("SELECT payload FROM events")]
        stored += [r[0] for r in store.db.execute("SELECT snapshot FROM requests") if r[0]]
        assert not any("4001" in row and "createdBy" in row for row in stored)  # no second copy
        # Read whole: the history's payloads, the request (what reprocess sends again), the export.
        observed, requested, _ = store.history("inv-1", tenant=TENANT)
        assert observed["payload"]["snapshot"] == requested["payload"]["snapshot"] == text
        assert list(observed["payload"]) == sorted(observed["payload"])  # keys in order, as when stored whole
        assert store.request(f"{TENANT}:sales-invoice:inv-1:v1")["snapshot"] == text  # type: ignore[index]
        assert "snapshot_ref" not in store.request(f"{TENANT}:sales-invoice:inv-1:v1")  # type: ignore[operator]
        exported = export(store, tmp_path / "export")
        payloads = [json.loads(e["payload"]) for e in pq.read_table(exported["events"]).to_pylist()]
        assert sum(p.get("snapshot") == text for p in payloads) == 2


def test_forgetting_a_person_redacts_a_snapshot_shared_by_two_events(tmp_path: Path) -> None:
    with ProjectionStore(tmp_path / "proj") as store:
        store.apply_records(Feed()(*_events()))
        removed = store.forget_person(TENANT, PERSON)
        # The user's version goes; the observed invoice, its request event and the request row named them.
        assert removed.events == 1 and removed.redacted == 3
        everything = json.dumps([store.dump(), _reads(store, tmp_path)], ensure_ascii=False, default=str)
        for value in ("Virtanen", "maija@kumpula.example", PERSON):
            assert value not in everything, value
        assert "(forgotten person)" in store.request(f"{TENANT}:sales-invoice:inv-1:v1")["snapshot"]  # type: ignore
        # Nothing left in the snapshot storage of the person's own version or of the texts before redaction.
        texts = [r[0] for r in store.db.execute("SELECT text FROM snapshots")]
        assert len(texts) == 2 and not any("Maija" in t for t in texts)
        # The same invoice read again later (a newer projector behind) is kept as read, as before.
        store.apply_records(Feed()(ev.observed(TENANT, "severa", "invoice", "inv-1", INVOICE,
                                             version="v9", seconds=9)))
        latest = store.history("inv-1", tenant=TENANT)[-1]
        assert latest["payload"]["snapshot"] == json.dumps(INVOICE)
        older = [e for e in store.history("inv-1", tenant=TENANT) if e["type"] == "EntityObserved"][0]
        assert "(forgotten person)" in older["payload"]["snapshot"]


def test_a_store_of_schema_version_2_reads_writes_and_forgets_as_before(tmp_path: Path) -> None:
    events = _events()
    feed = Feed()
    first, later = feed(*events[:3]), feed(*events[3:])
    with ProjectionStore(tmp_path / "new") as store:
        store.apply_records(first)
        store.apply_records(later)
        expected = _reads(store, tmp_path)
        store.forget_person(TENANT, PERSON)
        expected_forgotten = _reads(store, tmp_path)
    with ProjectionStore(tmp_path / "old") as store:
        store.apply_records(first)
    as_schema_version_2(_current_file(tmp_path / "old"))
    with ProjectionStore(tmp_path / "old") as store:  # opened by this version: the columns and table added
        assert store.meta()["schema_version"] == "3"
        store.apply_records(later)  # rows of both kinds in one file
        assert store.db.execute("SELECT count(*) FROM events WHERE snapshot_ref IS NULL AND payload LIKE"
                                " '%createdBy%'").fetchone()[0] == 2
        assert _reads(store, tmp_path) == expected
        removed = store.forget_person(TENANT, PERSON)
        assert removed.events == 1 and removed.redacted == 3
        assert _reads(store, tmp_path) == expected_forgotten
        assert "Virtanen" not in json.dumps(store.dump(), ensure_ascii=False)
