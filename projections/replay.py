"""Rebuild the read models from the topics into a new version, then switch readers to it.

The live projector keeps running meanwhile: it writes the current version until the switch, then follows the
pointer into the new version and continues from that version's own offsets.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from projections import versions
from projections.projector import Projector
from projections.store import BatchResult, ProjectionStore, read_models_at

Progress = Callable[[int, int], None]  # (records done, records known so far)


class ReplayRefused(RuntimeError):
    """The rebuilt version has fewer events than the current one; nothing was switched."""


@dataclass
class ReplayResult:
    version: int
    previous: int | None
    records: int
    applied: int
    undecodable: int


async def replay(bootstrap: str, root: Path | str | None = None, *, since: datetime | None = None,
                 progress: Progress | None = None, switch: bool = True, batch_size: int = 1000) -> ReplayResult:
    """Build version N+1 from the beginning of every topic (or from `since`) and make it current, unless it has
    fewer events than the current one (ReplayRefused; with `since`, fewer is what is asked for).

    Caught up means: the end offsets seen at the start are reached, then once more the ends seen then (events
    published during the rebuild), so that the live projector has little left to do after the switch."""
    with _fewer_collections():
        return await _replay(bootstrap, root, since=since, progress=progress, switch=switch, batch_size=batch_size)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The objects alive at the start (modules, classes: most of the heap) are left out of the garbage collector's
    passes, and a pass comes every 10,000 new objects instead of 700: a replay makes some twenty containers per
    event, and the passes over the whole heap cost 8 % of its CPU (100,008 events: about 0.4 s)."""
    global _replays_running, _thresholds_before
    if _replays_running == 0:  # two replays in one process at once: the first sets, the last restores
        _thresholds_before = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(10_000, *_thresholds_before[1:])
    _replays_running += 1
    try:
        yield
    finally:
        _replays_running -= 1
        if _replays_running == 0:
            gc.set_threshold(*_thresholds_before)
            gc.unfreeze()


_replays_running = 0
_thresholds_before = gc.get_threshold()


async def _replay(bootstrap: str, root: Path | str | None, *, since: datetime | None, progress: Progress | None,
                  switch: bool, batch_size: int) -> ReplayResult:
    root = read_models_at(root)
    previous = versions.current_version(root)
    version = versions.reserve_next(root)
    done = 0
    total = 0

    def advance(batch: BatchResult) -> None:
        nonlocal done
        done += batch.records
        if progress:
            progress(done, max(total, done))

    builder = Projector(bootstrap, root, version=version, since=since, batch_size=batch_size, on_batch=advance)
    async with builder:
        assert builder.store is not None and builder.consumer is not None
        builder.store.set_meta("built_at", datetime.now(UTC).isoformat())
        builder.store.set_meta("built_since", since.isoformat() if since else "beginning")
        if previous is not None:  # forgotten persons stay forgotten, also once their tombstones are compacted
            with ProjectionStore(root, version=previous, follow=False) as old:
                for tenant, person in old.forgotten():
                    builder.store.forget_person(tenant, person)
        end = await builder.end_offsets()
        for tp, offset in end.items():
            total += max(0, offset - await builder.consumer.position(tp))
        if progress:
            progress(0, total)
        await builder.catch_up()
        await builder.catch_up()
        builder.store.finish_build()
        if progress:
            # Offsets also count transaction markers, which are not records: at the end, done is the total.
            progress(done, done)
        totals = builder.totals
        shrank = _shrank(root, previous, builder.store, bootstrap) if switch and since is None else None
        if switch and shrank is None:
            versions.switch_to(root, version)
            versions.prune(root)
    if shrank is not None:
        versions.remove(root, version)
        raise ReplayRefused(shrank)
    return ReplayResult(version, previous, totals.records, totals.applied, totals.undecodable)


def _shrank(root: Path | str, previous: int | None, built: ProjectionStore, bootstrap: str) -> str | None:
    """Why the new version must not replace the current one, if it has fewer events than it.

    Topics truncated by retention, or the wrong (an empty) broker, would otherwise replace a complete transfer log
    with a shorter one. Counted up to the offsets the replay reached: events the live projector applied after
    them are not missing."""
    if previous is None:
        return None
    with ProjectionStore(root, version=previous, follow=False) as current:
        had = current.event_count(upto=built.offsets())
    found = built.event_count()
    if found >= had:
        return None
    return (f"the replay found {found} events on {bootstrap}, fewer events than the {had} of the current version "
            f"{previous} (topics truncated by retention, or another broker?); nothing was switched. To leave the "
            "older events out on purpose, replay with --since DATE")
