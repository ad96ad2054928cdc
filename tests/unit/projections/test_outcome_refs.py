"""An outcome's refs (the record, its number, the request, the Procountor id and number) are read from its row in
`outcomes`, not kept in `event_refs` as well (they were most of a replay's inserts). Every history must be what it
was when they were kept there: at every point of the feed (outcomes read before their request, as a replay
`--since` or the other topic's lag leaves them), in a file written before (whose `event_refs` has them), and for
two tenants whose outcomes share an event id (the outcomes table is keyed by the event id alone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projections import testing as ev
from projections.apply import outcome_refs
from projections.store import ProjectionStore
from projections.testing import Feed
from tests.unit.projections.test_replay_build import TENANT, records


def as_written_before(store: ProjectionStore) -> None:
    """What the store held before: every outcome's refs in event_refs too."""
    store.db.execute("BEGIN")
    for row in store.db.execute("SELECT * FROM outcomes").fetchall():
        store.db.executemany("INSERT OR IGNORE INTO event_refs VALUES (?,?,?,?,?)", [
            ("TransferOutcome", row["event_id"], row["tenant"], realm, ref) for realm, ref in outcome_refs(row)])
    store.db.execute("COMMIT")


def histories(store: ProjectionStore, refs: set[str]) -> dict[tuple[str, str | None], list[dict[str, Any]]]:
    return {(ref, tenant): store.history(ref, tenant=tenant) for ref in sorted(refs) for tenant in (None, TENANT)}


def every_ref(store: ProjectionStore) -> set[str]:
    """Every value a history can be asked for, and a few nobody has."""
    refs = {r[0] for r in store.db.execute("SELECT ref FROM event_refs")}
    for row in store.db.execute("SELECT * FROM outcomes"):
        refs |= {ref for _, ref in outcome_refs(row)}
    return refs | {"", "nothing-like-it", "9000"}


def test_outcomes_keep_no_event_refs_and_every_history_is_as_before(tmp_path: Path) -> None:
    feed = records()
    with ProjectionStore(tmp_path / "now") as now, ProjectionStore(tmp_path / "before") as before:
        for start in range(0, len(feed), 40):
            now.apply_records(feed[start:start + 40])
            before.apply_records(feed[start:start + 40])
            as_written_before(before)
            refs = every_ref(before)
            assert histories(now, refs) == histories(before, refs), f"after {start + 40} records"
        assert now.db.execute("SELECT count(*) FROM event_refs WHERE record_name='TransferOutcome'").fetchone()[0] == 0
        assert before.db.execute("SELECT count(*) FROM event_refs WHERE record_name='TransferOutcome'").fetchone()[0]
        # The Procountor number only the succeeded outcome carries finds the whole transfer.
        assert [e["type"] for e in now.history("5", tenant=TENANT)] == [
            "EntityObserved", "TransferRequested", "TransferOutcome", "TransferOutcome", "TransferOutcome",
            "TransferOutcome", "TransferOutcome"]


def test_two_tenants_outcomes_with_one_event_id_each_in_its_own_history(tmp_path: Path) -> None:
    """The outcomes table keeps the first of two outcomes with one event id; the other tenant's keeps its refs in
    event_refs, so that its history still shows it."""
    _, _, _, first = req_a = ev.requested("tenant-a", "inv-a", number="11", seconds=1)
    _, _, _, second = req_b = ev.requested("tenant-b", "inv-b", number="22", seconds=1)
    events = [req_a, req_b, ev.outcome(first, "succeeded", seconds=2, target_id="901", event_id="same-id"),
              ev.outcome(second, "succeeded", seconds=3, target_id="902", event_id="same-id")]
    with ProjectionStore(tmp_path / "proj") as store:
        store.apply_records(Feed()(*events))
        for tenant, record, target in (("tenant-a", "inv-a", "901"), ("tenant-b", "inv-b", "902")):
            for ref in (record, target):
                history = store.history(ref, tenant=tenant)
                assert [(e["type"], e["tenant"]) for e in history] == [
                    ("TransferRequested", tenant), ("TransferOutcome", tenant)], ref
                assert history[-1]["summary"] == f"attempt 1: succeeded -> Procountor {target}"
        assert [r[0] for r in store.db.execute("SELECT tenant FROM event_refs WHERE record_name='TransferOutcome'"
                                               " GROUP BY tenant")] == ["tenant-b"]
