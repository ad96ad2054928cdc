"""A replay's build (issue 16) computes the transfer-log rows of the records it touched later, in one go, instead of
after every batch: what it ends with must be, entry by entry, what the live projector builds from the same records
(in batches, or one record per transaction), also when the build computes along the way (its limit of records
left for later) and when a person is forgotten in the middle of it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from projections import store as store_module
from projections import testing as ev
from projections.store import ProjectionStore, person_topic
from projections.testing import Feed, Record
from schemas import topics

TENANT = "t-build"
PERSON = "5d0c3f0e-9b1a-4c55-8f5e-2d6f4a1b7c90"
USER = {"guid": PERSON, "firstName": "Maija", "lastName": "Meikäläinen", "code": "E042",
        "email": "maija@kumpula.example", "lastUpdatedDateTime": "2026-11-20T10:00:00Z"}


def records() -> list[Record]:
    """A month of one tenant as the topics hold it: retries, failures, a user who changed their mind (a second
    request), outcomes read before their request, links read newest first, a person named in a failure and then
    forgotten (`sevpro forget`'s tombstone), events delivered twice and two nobody can decode."""
    events: list[tuple] = [ev.observed(TENANT, "severa", "user", PERSON, USER, seconds=1),
                           ev.linked(TENANT, "person", "E042", "701", severa_id=PERSON, created=True, seconds=2)]
    for i in range(30):
        snapshot = {"guid": f"inv-{i:02d}", "number": 4000 + i, "totalIncludingTax": 124.0 + i}
        _, _, _, request = req = ev.requested(TENANT, f"inv-{i:02d}", number=str(4000 + i), seconds=10 * i,
                                              snapshot=snapshot, company="acme-fi" if i % 3 else "acme-se")
        observed = ev.observed(TENANT, "severa", "invoice", f"inv-{i:02d}", snapshot, seconds=10 * i)
        steps = [ev.outcome(request, "attempting", attempt=1, seconds=10 * i + 1),
                 ev.outcome(request, "step", attempt=1, seconds=10 * i + 2, step="customer")]
        if i % 5 == 0:  # a retry that succeeds
            steps += [ev.outcome(request, "failed_transient", attempt=1, seconds=10 * i + 3,
                                 error=ev.transient_error(f"Procountor answered 503 ({i})")),
                      ev.outcome(request, "attempting", attempt=2, seconds=10 * i + 5),
                      ev.outcome(request, "succeeded", attempt=2, seconds=10 * i + 6, target_id=str(9000 + i),
                                 target_number=str(i))]
        elif i % 5 == 1:  # a failure naming the person who is forgotten later
            steps.append(ev.outcome(request, "failed_data", attempt=1, seconds=10 * i + 3, error=ev.data_error(
                code="MISSING_BANK_ACCOUNT", value=None,
                message="the bank account of user E042 (Maija Meikäläinen) is missing")))
        elif i % 5 == 2:  # the user changed their mind: a second version, requested before the first finished
            _, _, _, second = again = ev.requested(TENANT, f"inv-{i:02d}", version="v2", number=str(4000 + i),
                                                   seconds=10 * i + 2, reason="reprocess")
            steps += [again, ev.outcome(second, "succeeded", seconds=10 * i + 4, target_id=str(9500 + i)),
                      ev.outcome(request, "succeeded", seconds=10 * i + 5, target_id=str(9000 + i))]
        elif i % 5 == 3:  # adopted, with a warning and a note
            steps.append(ev.outcome(request, "succeeded", attempt=1, seconds=10 * i + 3, target_id=str(9000 + i),
                                    adopted=True, warning="totals differ", note="found by the duplicate search"))
        # i % 5 == 4: still pending
        events += [observed, *steps, req] if i % 4 == 0 else [observed, req, *steps]
    events += [ev.linked(TENANT, "customer", "C-1", "402", severa_id="g-1", seconds=90),
               ev.linked(TENANT, "customer", "C-1", "401", severa_id="g-1", seconds=30)]
    feed = Feed()
    out = feed(*events) + feed(*events[10:40])  # delivered twice
    out += [Record(topics.transfer_outcome("sales-invoice"), 0, 10_000, b"\x00garbage"),
            Record(topics.registry_links(), 0, 10_000, b"")]
    random.Random(16).shuffle(out)
    # The forget comes after everything naming the person (as `sevpro forget` does), the person's own events after it.
    out.append(Record(person_topic(), 0, 20_000, None, topics.key(TENANT, PERSON)))
    out += feed(ev.observed(TENANT, "severa", "user", PERSON, USER, version="v2", seconds=900),
                ev.linked(TENANT, "person", "E042", "702", severa_id=PERSON, seconds=901))
    later = feed(*[e for i in range(30, 36) for e in _later(i)])
    return out + later


def _later(i: int) -> list[tuple]:
    _, _, _, request = req = ev.requested(TENANT, f"inv-{i:02d}", number=str(4000 + i), seconds=1000 + i)
    return [ev.outcome(request, "attempting", seconds=1001 + i), req,
            ev.outcome(request, "succeeded", seconds=1002 + i, target_id=str(9000 + i))]


def everything(store: ProjectionStore) -> dict[str, Any]:
    return {"dump": store.dump(), "counters": store.counters(), "offsets": sorted(store.offsets().items()),
            "refs": [tuple(r) for r in store.db.execute("SELECT * FROM event_refs ORDER BY 1, 2, 3, 4, 5")],
            "log": store.transfers(), "forgotten": store.forgotten()}


def in_batches(store: ProjectionStore, size: int) -> ProjectionStore:
    batch = records()
    for start in range(0, len(batch), size):
        store.apply_records(batch[start:start + size])
    return store


@pytest.mark.parametrize("left_for_later", [store_module.UNFINISHED_AT_MOST, 4])
def test_a_build_ends_with_what_the_live_projector_built(tmp_path: Path, monkeypatch, left_for_later: int) -> None:
    monkeypatch.setattr(store_module, "UNFINISHED_AT_MOST", left_for_later)
    with ProjectionStore(tmp_path / "one-by-one") as store:
        one_by_one = everything(in_batches(store, 1))
    with ProjectionStore(tmp_path / "live") as store:
        live = everything(in_batches(store, 9))
    assert len(live["dump"]["transfers"]) == 36 and live["counters"]["undecodable"] == 2
    assert "Meikäläinen" not in repr(live)
    with ProjectionStore(tmp_path / "built", version=1, follow=False, building=True) as built:
        in_batches(built, 9).finish_build()
        assert everything(built) == live
        # One record per transaction gives the same read models. (Not the same counters: the forgotten person's
        # own events read in the tombstone's batch count as applied, then go; read one by one, as duplicates.)
        for name in ("dump", "refs", "log", "offsets", "forgotten"):
            assert live[name] == one_by_one[name], name

        # After the build, a batch updates its records' rows at once, as the live projector does.
        built.apply_records(Feed()(ev.outcome(ev.requested(TENANT, "inv-04", number="4004", seconds=40)[3],
                                              "failed_config", seconds=999, error=ev.data_error())))
        assert built.transfer(TENANT, "sales-invoice", "inv-04")["state"] == "failed-config"


def test_a_build_not_finished_is_missing_its_transfer_log(tmp_path: Path) -> None:
    """What finish_build() is for: before it, the records' rows may be missing (nobody reads a build)."""
    with ProjectionStore(tmp_path / "built", version=1, follow=False, building=True) as built:
        built.apply_records(records()[:40])
        assert built.transfers() == []
        built.finish_build()
        assert built.transfers()


def test_a_finished_build_is_in_wal_mode_for_its_readers(tmp_path: Path) -> None:
    """The build keeps its journal in memory (nobody reads it before the switch); readers and the live projector
    after the switch need WAL (readers read while the projector writes)."""
    with ProjectionStore(tmp_path / "live") as live:
        assert live.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with ProjectionStore(tmp_path / "build", version=1, follow=False, building=True) as build:
        assert build.db.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
        build.apply_records(records()[:50])
        build.finish_build()
        assert build.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with ProjectionStore(tmp_path / "build", version=1, follow=False) as reader:
        assert reader.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reader.event_count() > 0


def test_a_build_syncs_its_file_once_at_its_end_and_every_commit_after_it(tmp_path: Path, monkeypatch) -> None:
    """The build's commits are not synced (a build that dies is never switched to); finish_build() syncs the whole
    file before anyone reads it, and the commits after it (the live projector's) are synced as the live ones are."""
    synced: list[int] = []
    real_fsync = store_module.os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(store_module.os, "fsync", fsync)
    with ProjectionStore(tmp_path / "live") as live:
        normal = live.db.execute("PRAGMA synchronous").fetchone()[0]
        assert normal == 1  # NORMAL
    with ProjectionStore(tmp_path / "build", version=1, follow=False, building=True) as build:
        assert build.db.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
        build.apply_records(records()[:50])
        assert synced == []
        build.finish_build()
        assert len(synced) == 1
        assert build.db.execute("PRAGMA synchronous").fetchone()[0] == normal


async def test_the_collectors_settings_come_back_also_after_two_replays_at_once() -> None:
    """A replay thins out the garbage collector's passes while it runs; two at once in one process (overlapping,
    not nested) leave the settings as they found them."""
    import asyncio
    import gc

    from projections import replay as replay_module

    before = gc.get_threshold()
    first_in, second_out = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        with replay_module._fewer_collections():
            first_in.set()
            await second_out.wait()  # the first ends after the second began and before it ends

    async def second() -> None:
        await first_in.wait()
        with replay_module._fewer_collections():
            second_out.set()
            await asyncio.sleep(0)
            assert gc.get_threshold()[0] == 10_000

    await asyncio.gather(first(), second())
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_build_creates_the_readers_indexes_at_its_end(tmp_path: Path) -> None:
    """The indexes only readers use are created by finish_build(), once; the finished version has every index the
    live projector's has."""
    def indexes(store: ProjectionStore) -> set[str]:
        return {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='index'")}

    with ProjectionStore(tmp_path / "live") as live:
        in_batches(live, 9)
        expected = indexes(live)
    assert set(store_module.BUILT_AT_THE_END) <= expected
    with ProjectionStore(tmp_path / "built", version=1, follow=False, building=True) as built:
        in_batches(built, 9)
        assert indexes(built) == expected - set(store_module.BUILT_AT_THE_END)
        built.finish_build()
        assert indexes(built) == expected
        assert built.history("inv-03", tenant=TENANT) == live_history(tmp_path / "live", "inv-03")


def live_history(root: Path, ref: str) -> list[dict[str, Any]]:
    with ProjectionStore(root) as store:
        return store.history(ref, tenant=TENANT)
