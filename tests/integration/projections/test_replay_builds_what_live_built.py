"""`replay` on the real broker (issue 16): a replay, whose build leaves each record's transfer-log row for its end
and reads in small batches (so a record's request and outcomes land in different ones), switches to read models
equal, entry by entry, to what the live projector built one record per transaction from the same topics."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from foundation.kafka import ensure_topics
from projections import testing as ev
from projections import versions
from projections.projector import Projector
from projections.replay import replay
from projections.store import ProjectionStore
from tests.integration.projections.test_projection_projector import publish

pytestmark = pytest.mark.integration


def month(tenant: str) -> list[tuple]:
    """Requests, outcomes (retries, failures, a second version), observations and links of one tenant."""
    events: list[tuple] = []
    for i in range(60):
        snapshot = {"guid": f"inv-{i:02d}", "number": 6000 + i, "totalIncludingTax": 10.0 + i}
        _, _, _, request = req = ev.requested(tenant, f"inv-{i:02d}", number=str(6000 + i), seconds=10 * i,
                                              snapshot=snapshot)
        events += [ev.observed(tenant, "severa", "invoice", f"inv-{i:02d}", snapshot, seconds=10 * i), req,
                   ev.outcome(request, "attempting", seconds=10 * i + 1)]
        if i % 4 == 0:
            events += [ev.outcome(request, "failed_transient", seconds=10 * i + 2, error=ev.transient_error()),
                       ev.outcome(request, "attempting", attempt=2, seconds=10 * i + 3),
                       ev.outcome(request, "succeeded", attempt=2, seconds=10 * i + 4, target_id=str(8000 + i))]
        elif i % 4 == 1:
            events.append(ev.outcome(request, "failed_data", seconds=10 * i + 2, error=ev.data_error()))
        elif i % 4 == 2:
            _, _, _, second = again = ev.requested(tenant, f"inv-{i:02d}", version="v2", number=str(6000 + i),
                                                   seconds=10 * i + 1, reason="reprocess")
            events += [again, ev.outcome(second, "succeeded", seconds=10 * i + 3, target_id=str(8500 + i)),
                       ev.outcome(request, "succeeded", seconds=10 * i + 4, target_id=str(8000 + i))]
        events.append(ev.linked(tenant, "invoice", str(6000 + i), str(8000 + i), severa_id=f"inv-{i:02d}",
                                seconds=10 * i + 5, created=True))
    return events


async def test_a_replay_in_small_batches_builds_what_the_live_projector_built(kafka, unique, own_topics,
                                                                              tmp_path: Path) -> None:
    tenant = f"t{unique}"
    await ensure_topics(kafka.bootstrap)
    events = month(tenant)
    await publish(kafka.bootstrap, events + events[:50])  # some delivered twice
    root = tmp_path / "proj"
    async with Projector(kafka.bootstrap, root, batch_size=1) as live:
        await live.catch_up()
    result = await replay(kafka.bootstrap, root, batch_size=7)
    assert (result.previous, result.version, versions.current_version(root)) == (1, 2, 2)
    assert result.records == len(events) + 50 and result.applied == len(events)
    with ProjectionStore(root, version=1) as before, ProjectionStore(root, version=2) as after:
        assert len(after.dump()["transfers"]) == 60
        assert after.dump() == before.dump()
        assert after.transfers() == before.transfers()
        assert _refs(after.path) == _refs(before.path)


def _refs(path: object) -> list[tuple]:
    with sqlite3.connect(str(path)) as db:
        return db.execute("SELECT * FROM event_refs ORDER BY 1, 2, 3, 4, 5").fetchall()
