"""The faust worker starts on the real broker and moves one Avro event through an agent."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from schemas import topics
from schemas.codec import decode, encode, now
from sevpro.demo import worker_environment
from tests.worker_process import start_worker, stop_worker

pytestmark = pytest.mark.integration


async def test_event_goes_through_the_smoke_agent(kafka, unique, tmp_path: Path) -> None:
    # The whole worker runs (every agent starts its runtime), so it gets what it needs: both APIs and the keys.
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"smoke-{unique}")
        env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=f"smoke{unique}")
        workdir = tmp_path / "workdir"
        workdir.mkdir()
        worker = start_worker(env, tmp_path / "worker.log", cwd=workdir)
        found = await _echo_of_one_event(kafka.bootstrap, unique, worker)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert found is not None, f"no smoke output; worker log:\n{log[-3000:]}"
    assert found["event_id"] == f"smoke:smoke-in-{unique}"
    assert found["entity_id"] == unique
    assert worker.returncode is not None
    # Faust's state folder is under the project home, not left in the working directory.
    assert list(workdir.iterdir()) == []
    assert (tmp_path / "home" / "faust" / f"{topics.named(f'smoke-{unique}')}-data").is_dir()


async def _echo_of_one_event(bootstrap: str, unique: str, worker: subprocess.Popen) -> dict | None:
    """Send one EntityObserved to the smoke input; the worker's echo of it, or None (stops the worker)."""
    try:
        record = {
            "event_id": f"smoke-in-{unique}", "correlation_id": unique, "causation_id": None, "tenant": "demo",
            "source_system": "severa", "entity": "invoice", "entity_id": unique, "source_version": "1",
            "observed_at": now(), "snapshot": "{}", "company": None,
        }
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        await producer.send_and_wait(topics.smoke_in(), key=topics.key("demo", unique),
                                     value=encode("EntityObserved", record))
        await producer.stop()

        consumer = AIOKafkaConsumer(topics.smoke_out(), bootstrap_servers=bootstrap,
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
    return found
