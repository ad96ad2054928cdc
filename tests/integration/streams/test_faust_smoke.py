"""The faust worker starts on the real broker and moves one Avro event through an agent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.codec import decode, encode, now
from streams import topics

pytestmark = pytest.mark.integration


def start_worker(bootstrap: str, app_id: str, log: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SEVPRO_APP_ID": app_id, **(extra_env or {})}
    return subprocess.Popen([sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", "warning"], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def test_event_goes_through_the_smoke_agent(kafka, unique, tmp_path: Path) -> None:
    worker = start_worker(kafka.bootstrap, f"smoke-{unique}", tmp_path / "worker.log")
    try:
        record = {
            "event_id": f"smoke-in-{unique}", "correlation_id": unique, "causation_id": None, "tenant": "demo",
            "source_system": "severa", "entity": "invoice", "entity_id": unique, "source_version": "1",
            "observed_at": now(), "snapshot": "{}", "company": None,
        }
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        await producer.send_and_wait(topics.SMOKE_IN, key=topics.key("demo", unique),
                                     value=encode("EntityObserved", record))
        await producer.stop()

        consumer = AIOKafkaConsumer(topics.SMOKE_OUT, bootstrap_servers=kafka.bootstrap,
                                    auto_offset_reset="earliest", isolation_level="read_committed")
        await consumer.start()
        found = None
        deadline = time.monotonic() + 90
        try:
            while found is None and time.monotonic() < deadline and worker.poll() is None:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    for message in batch:
                        _, out = decode(message.value)
                        if out["causation_id"] == record["event_id"]:
                            found = out
        finally:
            await consumer.stop()
    finally:
        stop_worker(worker)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert found is not None, f"no smoke output; worker log:\n{log[-3000:]}"
    assert found["event_id"] == f"smoke:{record['event_id']}"
    assert found["entity_id"] == unique
    assert worker.returncode is not None
