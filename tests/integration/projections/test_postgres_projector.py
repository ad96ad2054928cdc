"""The projector on PostgreSQL, on the real broker: killed mid-stream and resumed, then replayed, its read models
equal those a SQLite projector builds from the same topics (the topics of this test alone)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from foundation.kafka import ensure_topics
from projections import postgres, versions
from projections.projector import Projector
from projections.replay import replay
from projections.store import ProjectionStore
from schemas import topics
from tests.integration.projections.test_postgres_store import many_events
from tests.integration.projections.test_projection_projector import eventually, fail_then_succeed, publish

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def _count(url: str, tenant: str) -> int:
    """Events of `tenant` the killed projector has committed (read as another host would)."""
    try:
        with psycopg.connect(url, autocommit=True) as db:
            version = postgres.pointer(db)
            if version is None:
                return 0
            row = db.execute(f"SELECT count(*) FROM {postgres.schema_of(version)}.events WHERE tenant=%s",
                             (tenant,)).fetchone()
            return int(row[0]) if row else 0
    except psycopg.errors.UndefinedTable:  # the schema is being created
        return 0


async def test_killed_postgres_projector_resumes_and_replays_to_what_sqlite_builds(
        kafka, unique, own_topics, read_model_url, tmp_path) -> None:
    tenant = f"t{unique}"
    await ensure_topics(kafka.bootstrap)
    events = [e for i in range(200) for e in fail_then_succeed(tenant, f"inv-{i}", str(5000 + i), str(70000 + i))]
    await publish(kafka.bootstrap, events + many_events() + many_events()[:20])  # some twice: at-least-once
    env = {k: v for k, v in os.environ.items() if k != "SEVPRO_READ_MODEL_URL"} | {
        "PYTHONPATH": str(REPO), "SEVPRO_TOPIC_PREFIX": topics.prefix(), "SEVPRO_READ_MODEL_URL": read_model_url}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sevpro.cli", "project", "--bootstrap", kafka.bootstrap, "--batch-size", "5",
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill it as soon as it has committed something of this test's events.
        seen = await eventually(lambda: _count(read_model_url, tenant), within=60, interval=0.02)
        child.send_signal(signal.SIGKILL)
        await asyncio.wait_for(child.wait(), 10)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert 0 < seen < len(events), f"not killed mid-stream: {seen} of {len(events)} applied"

    async with Projector(kafka.bootstrap, read_model_url) as resumed:
        assert resumed.store is not None and resumed.store.on_postgres
        await resumed.catch_up()
        resumed_dump, resumed_counts = resumed.store.dump(), resumed.store.counters()
    async with Projector(kafka.bootstrap, tmp_path / "sqlite") as whole:
        assert whole.store is not None
        await whole.catch_up()
        sqlite_dump, sqlite_counts = whole.store.dump(), whole.store.counters()
    assert len(sqlite_dump["transfers"]) == 200 + 42
    assert resumed_dump == sqlite_dump
    # Nothing applied twice, nothing skipped: the killed and the resumed run read exactly what one run read.
    assert resumed_counts == sqlite_counts

    result = await replay(kafka.bootstrap, read_model_url)
    assert (result.previous, result.version) == (1, 2) and versions.current_version(read_model_url) == 2
    with ProjectionStore(read_model_url) as reader:
        assert reader.version == 2 and reader.dump() == sqlite_dump


def test_a_worker_whose_read_model_server_cannot_be_reached_says_so_before_it_starts(kafka) -> None:
    from sandbox.runner import free_port
    from tests.unit.test_worker_preflight import DEPLOYMENT, _worker

    url = f"postgresql://sevpro:db-s3cret@127.0.0.1:{free_port()}/sevpro"
    result = _worker({**DEPLOYMENT, "SEVPRO_PROCOUNTOR_API_KEY_FI": "k1", "SEVPRO_PROCOUNTOR_API_KEY_SE": "k2",
                      "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "SEVPRO_READ_MODEL_URL": url})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "the worker cannot start" in output and "SEVPRO_READ_MODEL_URL" in output
    assert "Traceback" not in output and "db-s3cret" not in output
