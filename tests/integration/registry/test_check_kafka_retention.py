"""`sevpro check` and the worker's start report event topics that delete events with time (retention)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka.admin import NewTopic
from typer.testing import CliRunner

from foundation.kafka import admin_client
from schemas import topics

pytestmark = pytest.mark.integration
WEEK_MS = 7 * 24 * 3600 * 1000


async def _create_with_a_week(bootstrap: str, name: str) -> None:
    """A topic as a cluster's defaults would make it: events deleted after seven days."""
    admin = admin_client(bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs={"retention.ms": str(WEEK_MS)})])
    finally:
        await admin.close()


def test_sevpro_check_and_the_worker_report_finite_retention(kafka, own_topics, tmp_path: Path, demo) -> None:
    from sevpro.registry_cli import app

    short = topics.observed("severa", "invoice")
    asyncio.run(_create_with_a_week(kafka.bootstrap, short))
    env = demo.env() | {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "SEVPRO_TOPIC_PREFIX": own_topics}
    result = CliRunner().invoke(app, ["check", "--json", "--company", "FI"], env=env)
    document = json.loads(result.output)
    [kafka_check] = [c for c in document["checks"] if c["record"] == short]
    assert kafka_check["status"] == "error" and kafka_check["field"] == "retention.ms"
    assert "retention.ms=-1" in kafka_check["fix"] and short in kafka_check["fix"]
    assert result.exit_code == 1

    # The worker says it at start (and runs on: the events are still there today).
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEVPRO_", "KAFKA_"))}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "sevpro.cli", "worker"], stdout=log.open("wb"),
                              stderr=subprocess.STDOUT, start_new_session=True,
                              env={**base, **env, "SEVPRO_HOME": str(tmp_path / "home"), "COLUMNS": "300",
                                   "SEVPRO_TENANT": "keep"})
    try:
        deadline = time.monotonic() + 90
        while short not in log.read_text(errors="replace"):
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        text = log.read_text(errors="replace")
        assert "retention" in text and "deletes events" in text
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
