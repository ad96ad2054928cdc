"""The projector, replay and reprocess on the real broker.

Topics are shared by the whole session, so every test uses its own tenant and its own store folder; a fresh
store reads every topic from the beginning (other tests' events included), which is also what a replay does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from foundation.kafka import ensure_topics
from projections import testing as ev
from projections import versions
from projections.projector import Projector
from projections.replay import replay
from projections.reprocess import reprocess, retry_failures
from projections.store import ProjectionStore
from schemas import topics
from schemas.codec import encode
from tests.integration.pollers.kafka_read import read_events

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
LINK_KINDS = ("customer", "product", "dimension_item", "invoice", "person", "project_fee")


async def publish(bootstrap: str, events: list[tuple], raw: list[tuple[str, bytes]] = ()) -> list[int]:
    """Send events (and raw garbage) and wait for all; returns the offsets of the raw messages."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, encode(name, record), key=key) for topic, key, name, record in events]
        raw_futures = [await producer.send(topic, value) for topic, value in raw]
        await asyncio.gather(*futures)
        return [(await f).offset for f in raw_futures]
    finally:
        await producer.stop()


async def eventually(probe: Callable[[], Any], within: float = 15, interval: float = 0.05) -> Any:
    """The first truthy value of `probe()`, polled for `within` seconds (then the last falsy value)."""
    value = probe()
    for _ in range(int(within / interval)):
        if value:
            break
        await asyncio.sleep(interval)
        value = probe()
    return value


def fail_then_succeed(tenant: str, source_id: str, number: str, target: str) -> list[tuple]:
    _, _, _, request = req = ev.requested(tenant, source_id, number=number)
    return [
        req,
        ev.outcome(request, "attempting", attempt=1, seconds=1),
        ev.outcome(request, "failed_transient", attempt=1, seconds=2, error=ev.transient_error()),
        ev.outcome(request, "attempting", attempt=2, seconds=30),
        ev.outcome(request, "step", attempt=2, seconds=31, step="invoice", target_id=target, target_number=number),
        ev.outcome(request, "succeeded", attempt=2, seconds=32, target_id=target, target_number=number),
    ]


async def test_fail_then_succeed_id_map_duplicates_and_garbage(kafka, unique, tmp_path) -> None:
    tenant = f"t{unique}"
    events = fail_then_succeed(tenant, "inv-a", "1001", "9001")
    links = [ev.linked(tenant, kind, f"K-{kind}", f"P-{i}", severa_id=f"g-{kind}") for i, kind in enumerate(LINK_KINDS)]
    await publish(kafka.bootstrap, events + links)
    async with Projector(kafka.bootstrap, tmp_path / "proj") as projector:
        assert await projector.catch_up() >= len(events) + len(links)
        store = projector.store
        entry = store.transfer(tenant, "sales-invoice", "inv-a")
        assert entry["state"] == "succeeded" and entry["procountor_id"] == "9001"
        assert [(a["attempt"], a["result"]) for a in entry["attempts"]] == [(1, "failed_transient"), (2, "succeeded")]
        assert entry["attempts"][0]["first_at"] < entry["attempts"][1]["first_at"]
        assert {(m["kind"], m["severa_key"], m["procountor_id"]) for m in store.id_map(tenant=tenant)} == {
            (kind, f"K-{kind}", f"P-{i}") for i, kind in enumerate(LINK_KINDS)}
        assert store.lookup_id(tenant, "acme-fi", "customer", "K-customer") == "P-0"

        # At-least-once: the same events again, plus two messages nobody can decode.
        before = store.counters()
        garbage = await publish(kafka.bootstrap, events + links, raw=[
            (topics.transfer_outcome("sales-invoice"), b"\x00garbage"), (topics.registry_links(), b"")])
        await projector.catch_up()
        after = store.counters()
        assert after["duplicates"] - before["duplicates"] == len(events) + len(links)
        assert after["applied"] == before["applied"] and after["undecodable"] - before["undecodable"] == 2
        rejected = {(r[0], r[2]) for r in store.db.execute("SELECT topic, partition, offset FROM rejected")}
        assert (topics.transfer_outcome("sales-invoice"), garbage[0]) in rejected
        assert len(store.transfer(tenant, "sales-invoice", "inv-a")["attempts"]) == 2


async def test_killed_projector_resumes_with_identical_results(kafka, unique, own_topics, tmp_path) -> None:
    tenant = f"t{unique}"
    await ensure_topics(kafka.bootstrap)
    events = [e for i in range(300) for e in fail_then_succeed(tenant, f"inv-{i}", str(5000 + i), str(70000 + i))]
    await publish(kafka.bootstrap, events)
    root = tmp_path / "killed"
    root.mkdir()
    env = os.environ | {"PYTHONPATH": str(REPO), "SEVPRO_TOPIC_PREFIX": topics.prefix()}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sevpro.cli", "project", "--db", str(root), "--bootstrap", kafka.bootstrap,
        "--batch-size", "5", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill it as soon as it has applied something of this test's events.
        seen = await eventually(lambda: _count(root, tenant), within=30, interval=0.02)
        child.send_signal(signal.SIGKILL)
        await asyncio.wait_for(child.wait(), 10)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert 0 < seen < len(events), f"not killed mid-stream: {seen} of {len(events)} applied"
    async with Projector(kafka.bootstrap, root) as resumed:
        await resumed.catch_up()
        resumed_dump, resumed_counts = resumed.store.dump(), resumed.store.counters()
    async with Projector(kafka.bootstrap, tmp_path / "whole") as whole:
        await whole.catch_up()
        whole_dump, whole_counts = whole.store.dump(), whole.store.counters()
    assert resumed_dump == whole_dump
    assert len(resumed_dump["transfers"]) >= 300
    # Nothing read twice: the killed run and the resumed run together read exactly what one run read.
    assert resumed_counts["records"] == whole_counts["records"]
    assert resumed_counts["duplicates"] == whole_counts["duplicates"]


def _count(root: Path, tenant: str) -> int:
    version = versions.current_version(root)
    if version is None or not versions.version_path(root, version).exists():
        return 0
    try:
        with sqlite3.connect(versions.version_path(root, version), timeout=5) as db:
            return db.execute("SELECT count(*) FROM events WHERE tenant=?", (tenant,)).fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


async def test_replay_equals_live_and_live_follows_the_switch(kafka, unique, tmp_path) -> None:
    tenant = f"t{unique}"
    _, _, _, failed = failed_req = ev.requested(tenant, "inv-f", number="77")
    events = fail_then_succeed(tenant, "inv-s", "76", "900") + [
        failed_req, ev.outcome(failed, "failed_data", error=ev.data_error()),
        ev.linked(tenant, "customer", "C-1", "301", severa_id="g-c1")]
    await publish(kafka.bootstrap, events)
    root = tmp_path / "proj"
    live = Projector(kafka.bootstrap, root, metadata_interval=0.5)
    await live.start()
    await live.catch_up()
    stop = asyncio.Event()
    running = asyncio.create_task(live.run(stop))
    try:
        seen: list[tuple[int, int]] = []
        result = await replay(kafka.bootstrap, root, progress=lambda done, total: seen.append((done, total)))
        assert result.previous == 1 and result.version == 2 and versions.current_version(root) == 2
        assert seen and seen[-1][0] == result.records and seen[-1][0] >= seen[-1][1] > 0
        with ProjectionStore(root, version=1) as old, ProjectionStore(root, version=2) as new:
            old_dump, new_dump = old.dump(), new.dump()
        for table in old_dump:
            assert old_dump[table] == new_dump[table], table
        assert [row[2] for row in new_dump["transfers"] if row[0] == tenant] == ["inv-f", "inv-s"]

        # The live projector is now writing into version 2.
        _, _, _, later = later_req = ev.requested(tenant, "inv-late", number="78", seconds=60)
        await publish(kafka.bootstrap, [later_req])
        with ProjectionStore(root) as reader:
            await eventually(lambda: reader.transfer(tenant, "sales-invoice", "inv-late"))
            assert reader.version == 2
            assert reader.transfer(tenant, "sales-invoice", "inv-late")["state"] == "pending"
            assert {t["severa_id"]: t["state"] for t in reader.transfers(tenant=tenant)} == {
                "inv-s": "succeeded", "inv-f": "failed-data", "inv-late": "pending"}
    finally:
        stop.set()
        await running
        await live.stop()


async def test_reprocess_publishes_requests_with_the_right_ids(kafka, unique, tmp_path) -> None:
    tenant = f"t{unique}"
    _, _, _, a = ra = ev.requested(tenant, "inv-1", number="1")
    _, _, _, b = rb = ev.requested(tenant, "inv-2", number="2")
    events = [ra, rb, ev.outcome(a, "failed_transient", error=ev.transient_error()),
              ev.outcome(b, "failed_transient", error=ev.transient_error()),
              *fail_then_succeed(tenant, "inv-3", "3", "33")]
    await publish(kafka.bootstrap, events)
    async with Projector(kafka.bootstrap, tmp_path / "proj") as projector:
        await projector.catch_up()
        store = projector.store
        sent = await reprocess(kafka.bootstrap, store, state="failed-transient", tenant=tenant)
        assert sorted(r["event_id"] for r in sent) == [f"{a['event_id']}:reprocess:1", f"{b['event_id']}:reprocess:1"]
        await projector.catch_up()
        entry = store.transfer(tenant, "sales-invoice", "inv-1")
        assert entry["state"] == "pending" and entry["reason"] == "reprocess"
        assert entry["request_id"] == f"{a['event_id']}:reprocess:1"
        on_topic = [e for e in await read_events(kafka.bootstrap, topics.transfer_requested("sales-invoice"))
                    if e["tenant"] == tenant and e["reason"] == "reprocess"]
        assert {e["event_id"] for e in on_topic} == {r["event_id"] for r in sent}
        assert all(e["snapshot"] == a["snapshot"] and e["causation_id"] == a["event_id"]
                   for e in on_topic if e["source_id"] == "inv-1")

        # It fails again: the next reprocess is number 2 of the same original request.
        again = store.request(f"{a['event_id']}:reprocess:1")
        await publish(kafka.bootstrap, [ev.outcome(again | {"event_id": again["request_id"]}, "failed_transient",
                                                   seconds=99, error=ev.transient_error())])
        await projector.catch_up()
        second = await reprocess(kafka.bootstrap, store, tenant=tenant, kind="sales-invoice")
        assert [r["event_id"] for r in second] == [f"{a['event_id']}:reprocess:2"]


async def test_topics_created_later_are_picked_up(kafka, unique, tmp_path) -> None:
    tenant, kind = f"t{unique}", f"kind{unique}"
    projector = Projector(kafka.bootstrap, tmp_path / "proj", topics=[topics.transfer_requested(kind)],
                          metadata_interval=0.2)
    await projector.start()
    assert projector.assigned == set()
    stop = asyncio.Event()
    running = asyncio.create_task(projector.run(stop))
    try:
        await publish(kafka.bootstrap, [ev.requested(tenant, "x", kind=kind)])
        await eventually(lambda: projector.store.transfer(tenant, kind, "x"))
        assert projector.store.transfer(tenant, kind, "x")["state"] == "pending"
    finally:
        stop.set()
        await running
        await projector.stop()


async def test_replay_from_a_time_leaves_older_records_out(kafka, unique, tmp_path) -> None:
    tenant = f"t{unique}"
    await publish(kafka.bootstrap, [ev.requested(tenant, "before")])
    await asyncio.sleep(0.05)  # Kafka timestamps are milliseconds: make "since" fall strictly between
    since = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await publish(kafka.bootstrap, [ev.requested(tenant, "after")])
    root = tmp_path / "proj"
    ProjectionStore(root).close()  # version 1 exists and stays current
    result = await replay(kafka.bootstrap, root, since=since, switch=False)
    assert result.version == 2 and versions.current_version(root) == 1
    with ProjectionStore(root, version=2) as rebuilt:
        assert [t["severa_id"] for t in rebuilt.transfers(tenant=tenant)] == ["after"]
        assert rebuilt.meta()["built_since"] == since.isoformat()


def _config_error() -> dict[str, Any]:
    return {"code": "UNAUTHORIZED", "kind": "config", "record": "sales invoice 1", "field": None, "value": None,
            "message": "ProcountorAuthError: Procountor refused the client credentials or API key",
            "solution": "Check the API key"}


async def test_configuration_failures_are_logged_as_such_and_retried_for_the_exact_tenant_only(
        kafka, unique, tmp_path) -> None:
    """`failed_config` is its own state in the log, and the retry on the next cycle re-requests it (with the
    transient failures) for this tenant and its companies, never for a tenant whose name merely starts alike."""
    tenant = f"t{unique}"
    _, _, _, mine = r_mine = ev.requested(tenant, "inv-1", number="1")
    _, _, _, company = r_company = ev.requested(f"{tenant}/FI", "buy-1", number="7", kind="purchase-invoice")
    _, _, _, other = r_other = ev.requested(f"{tenant}2", "inv-9", number="9")
    _, _, _, data = r_data = ev.requested(tenant, "inv-2", number="2")
    await publish(kafka.bootstrap, [
        r_mine, r_company, r_other, r_data,
        ev.outcome(mine, "failed_config", error=_config_error()),
        ev.outcome(company, "failed_transient", error=ev.transient_error()),
        ev.outcome(other, "failed_config", error=_config_error()),
        ev.outcome(data, "failed_data", error=ev.data_error()),
    ])
    async with Projector(kafka.bootstrap, tmp_path / "proj") as projector:
        await projector.catch_up()
        store = projector.store
        entry = store.transfer(tenant, "sales-invoice", "inv-1")
        assert entry["state"] == "failed-config" and entry["last_error"]["code"] == "UNAUTHORIZED"
        assert [e["severa_id"] for e in store.transfers(state="failed-config", tenant=tenant)] == ["inv-1"]

        sent = await retry_failures(kafka.bootstrap, store, tenant)
        assert sorted(r["event_id"] for r in sent) == sorted([f"{mine['event_id']}:reprocess:1",
                                                              f"{company['event_id']}:reprocess:1"])
        await projector.catch_up()
        assert store.transfer(tenant, "sales-invoice", "inv-1")["state"] == "pending"
        assert store.transfer(f"{tenant}2", "sales-invoice", "inv-9")["state"] == "failed-config"
        assert store.transfer(tenant, "sales-invoice", "inv-2")["state"] == "failed-data"
