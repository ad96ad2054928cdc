"""The read models from events, without Kafka: the store is fed records as the projector would feed it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from projections import store as store_module
from projections import testing as ev
from projections import versions
from projections.store import ProjectionStore
from projections.testing import Feed, Record

TENANT = "t-unit"


@pytest.fixture
def store(tmp_path: Path) -> ProjectionStore:
    with ProjectionStore(tmp_path / "proj") as s:
        yield s


def _fail_then_succeed() -> list[tuple]:
    _, _, _, request = req = ev.requested(TENANT, "inv-1", number="1001")
    return [
        req,
        ev.outcome(request, "attempting", attempt=1, seconds=1),
        ev.outcome(request, "failed_transient", attempt=1, seconds=2, error=ev.transient_error()),
        ev.outcome(request, "attempting", attempt=2, seconds=10),
        ev.outcome(request, "step", attempt=2, seconds=11, step="invoice", target_id="9001", target_number="77"),
        ev.outcome(request, "succeeded", attempt=2, seconds=12, target_id="9001", target_number="77"),
    ]


def test_fail_then_succeed_shows_both_attempts(store: ProjectionStore) -> None:
    store.apply_records(Feed()(*_fail_then_succeed()))
    entry = store.transfer(TENANT, "sales-invoice", "inv-1")
    assert entry is not None
    assert entry["state"] == "succeeded" and entry["procountor_id"] == "9001" and entry["procountor_number"] == "77"
    assert [(a["attempt"], a["result"]) for a in entry["attempts"]] == [(1, "failed_transient"), (2, "succeeded")]
    first, second = entry["attempts"]
    assert first["first_at"] < first["last_at"] < second["first_at"] < second["last_at"]
    assert second["steps"] == ["invoice"]
    assert entry["last_error"]["code"] == "T503"
    assert store.succeeded_request(entry["request_id"]) and not store.succeeded_request("nope")


def test_state_follows_latest_request(store: ProjectionStore) -> None:
    feed = Feed()
    _, _, _, first = r1 = ev.requested(TENANT, "inv-2", version="v1")
    store.apply_records(feed(r1))
    assert store.transfer(TENANT, "sales-invoice", "inv-2")["state"] == "pending"
    store.apply_records(feed(ev.outcome(first, "attempting"), ev.outcome(first, "failed_data", seconds=2,
                                                                         error=ev.data_error())))
    entry = store.transfer(TENANT, "sales-invoice", "inv-2")
    assert entry["state"] == "failed-data"
    assert entry["last_error"] | {} == ev.data_error() | {"kind": "data"}
    # The user corrected the invoice: a newer request for the same record puts it back to pending.
    _, _, _, second = r2 = ev.requested(TENANT, "inv-2", version="v2", seconds=100)
    store.apply_records(feed(r2))
    assert store.transfer(TENANT, "sales-invoice", "inv-2")["state"] == "pending"
    store.apply_records(feed(ev.outcome(second, "skipped", seconds=101, target_id="55", note="already there")))
    entry = store.transfer(TENANT, "sales-invoice", "inv-2")
    assert entry["state"] == "succeeded" and entry["request_id"] == second["event_id"]
    assert entry["source_version"] == "v2" and entry["attempt_count"] == 2
    assert entry["note"] == "already there"  # why nothing was written, for the log
    assert store.history("inv-2", tenant=TENANT)[-1]["summary"] == "attempt 1: skipped (already there) -> Procountor 55"


def test_a_version_made_before_the_note_column_gets_it_on_open(tmp_path: Path) -> None:
    feed = Feed()
    _, _, _, request = req = ev.requested(TENANT, "inv-old")
    with ProjectionStore(tmp_path / "proj") as store:
        store.apply_records(feed(req, ev.outcome(request, "failed_data", error=ev.data_error())))
        for table in ("outcomes", "transfers"):  # as the tables of schema version 1 were
            store.db.execute(f"ALTER TABLE {table} DROP COLUMN note")
        store.db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    with ProjectionStore(tmp_path / "proj") as store:
        assert store.transfer(TENANT, "sales-invoice", "inv-old")["note"] is None
        store.apply_records(feed(ev.outcome(request, "skipped", attempt=2, seconds=5, note="done")))
        entry = store.transfer(TENANT, "sales-invoice", "inv-old")
        assert entry["state"] == "succeeded" and entry["note"] == "done"
        version = store.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        assert version == store_module.SCHEMA_VERSION


def test_duplicates_applied_once_and_garbage_counted(store: ProjectionStore) -> None:
    feed = Feed()
    events = _fail_then_succeed()
    records = feed(*events) + feed(*events)  # every event delivered twice
    records.insert(3, Record(records[0].topic, 0, 999, b"not avro at all"))
    result = store.apply_records(records)
    assert result.applied == len(events) and result.duplicates == len(events) and result.undecodable == 1
    assert store.counters()["undecodable"] == 1
    assert len(store.transfer(TENANT, "sales-invoice", "inv-1")["attempts"]) == 2
    assert store.offsets()[(records[0].topic, 0)] == 999


def test_order_of_topics_does_not_change_the_result(tmp_path: Path) -> None:
    """Outcomes may be read before their request (different topics): the result is the same."""
    events = _fail_then_succeed() + [ev.linked(TENANT, "customer", "C-1", "301", severa_id="g-c1")]
    records, dumps = Feed()(*events), []
    for seed in range(6):
        shuffled = list(records)
        random.Random(seed).shuffle(shuffled)
        with ProjectionStore(tmp_path / f"s{seed}") as s:
            for record in shuffled:
                s.apply_records([record])
            dumps.append(s.dump(TENANT))
            assert s.transfer(TENANT, "sales-invoice", "inv-1")["state"] == "succeeded"
    assert all(d == dumps[0] for d in dumps[1:])


def test_id_map_keeps_the_newest_link(store: ProjectionStore) -> None:
    feed = Feed()
    store.apply_records(feed(ev.linked(TENANT, "customer", "C-9", "400", seconds=5, severa_id="g-9"),
                             ev.linked(TENANT, "customer", "C-9", "399", seconds=1, severa_id="g-9"),
                             ev.linked(TENANT, "product", "P-1", "12", severa_id="g-p1", created=True)))
    assert store.lookup_id(TENANT, "acme-fi", "customer", "C-9") == "400"
    assert store.lookup_severa_id(TENANT, "product", "g-p1") == "12"
    assert store.lookup_id(TENANT, "acme-fi", "customer", "nope") is None
    assert [(m["kind"], m["severa_key"], m["procountor_id"]) for m in store.id_map(tenant=TENANT)] == [
        ("customer", "C-9", "400"), ("product", "P-1", "12")]
    assert [m["kind"] for m in store.id_map(kind="product", tenant=TENANT)] == ["product"]


def test_history_bridges_both_systems(store: ProjectionStore) -> None:
    feed = Feed()
    events = _fail_then_succeed()
    request = events[0][3]
    store.apply_records(feed(
        ev.observed(TENANT, "severa", "invoice", "inv-1", {"guid": "inv-1", "number": 1001}, seconds=-5),
        *events,
        ev.linked(TENANT, "invoice", "1001", "9001", severa_id="inv-1", seconds=13,
                  correlation_id=request["correlation_id"]),
        ev.observed(TENANT, "severa", "invoice", "other", {"guid": "other", "number": 1002}),
        ev.observed("another-tenant", "severa", "invoice", "inv-1", {"guid": "inv-1"}, version="x"),
    ))
    for ref in ("inv-1", "1001", "9001", "77"):
        history = store.history(ref, tenant=TENANT)
        types = [h["type"] for h in history]
        assert types[0] == "EntityObserved" and types[1] == "TransferRequested", ref
        assert types.count("TransferOutcome") == 5 and types[-1] == "IdLinked", ref
        assert all(h["tenant"] == TENANT for h in history)
        assert all(h["correlation_id"] for h in history)
        assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    outcomes = [h for h in store.history("inv-1", tenant=TENANT) if h["type"] == "TransferOutcome"]
    assert all(h["causation_id"] == request["event_id"] for h in outcomes)
    assert store.history("inv-1")[-1]["tenant"] in (TENANT, "another-tenant")
    assert len(store.history("inv-1")) == len(store.history("inv-1", tenant=TENANT)) + 1
    assert store.history("nothing-like-it") == []


def test_transfer_filters(store: ProjectionStore) -> None:
    feed = Feed()
    _, _, _, a = ra = ev.requested(TENANT, "a", company="acme-fi", seconds=0)
    _, _, _, b = rb = ev.requested(TENANT, "b", company="acme-se", seconds=3600)
    store.apply_records(feed(ra, rb, ev.outcome(a, "failed_transient", seconds=10, error=ev.transient_error())))
    assert [t["severa_id"] for t in store.transfers(tenant=TENANT)] == ["b", "a"]
    assert [t["severa_id"] for t in store.transfers(company="acme-se")] == ["b"]
    assert [t["severa_id"] for t in store.transfers(state="failed-transient", tenant=TENANT)] == ["a"]
    assert [t["severa_id"] for t in store.transfers(since=ev.at(60), tenant=TENANT)] == ["b"]
    assert [t["severa_id"] for t in store.transfers(until=ev.at(60), tenant=TENANT)] == ["a"]
    assert [t["severa_id"] for t in store.find_transfers("1001")] == ["a", "b"]


def test_a_tenant_includes_its_companies_purchase_records_and_no_other_tenant(store: ProjectionStore) -> None:
    from projections.reprocess import select

    feed = Feed()
    _, _, _, sale = r1 = ev.requested(TENANT, "s", seconds=0)
    # The Procountor poller of company FI publishes as "<tenant>/FI"; "<tenant>x" is another tenant.
    _, _, _, buy = r2 = ev.requested(f"{TENANT}/FI", "p", kind="purchase-invoice", number="77", seconds=1)
    _, _, _, other = r3 = ev.requested(f"{TENANT}x", "o", seconds=2)
    store.apply_records(feed(r1, r2, r3, *(ev.outcome(r, "failed_transient", seconds=5, error=ev.transient_error())
                                           for r in (sale, buy, other))))
    assert sorted(t["severa_id"] for t in store.transfers(tenant=TENANT)) == ["p", "s"]
    assert [t["severa_id"] for t in store.transfers(tenant=f"{TENANT}/FI")] == ["p"]
    assert [t["severa_id"] for t in store.find_transfers("77", tenant=TENANT)] == ["p"]
    assert store.history("p", tenant=TENANT) and not store.history("p", tenant=f"{TENANT}x")
    assert {e["tenant"] for e in store.events(TENANT)} == {TENANT, f"{TENANT}/FI"}
    assert {row[0] for row in store.dump(TENANT)["transfers"]} == {TENANT, f"{TENANT}/FI"}
    # The worker's retry of transient failures asks for its tenant: the purchase import is retried too.
    assert sorted(r["source_id"] for r in select(store, state="failed-transient", tenant=TENANT)) == ["p", "s"]


def test_reader_follows_the_current_pointer(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    reader = ProjectionStore(root)
    assert reader.version == 1 and reader.transfers() == []
    new = versions.reserve_next(root)
    with ProjectionStore(root, version=new) as builder:
        builder.apply_records(Feed()(ev.requested(TENANT, "x")))
        assert reader.transfers() == []  # not switched yet: readers never see a half-built version
        versions.switch_to(root, new)
    assert [t["severa_id"] for t in reader.transfers()] == ["x"] and reader.version == new
    assert versions.prune(root) == [] and versions.versions(root) == [1, 2]
    reader.close()
