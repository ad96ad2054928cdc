"""A trigger that meets an answer it did not foresee parks the event on the dead-letter topic and goes on: a
travel reimbursement whose user Severa no longer has (404) stopped the travel trigger, and with it every later
reimbursement of the tenant."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from foundation.kafka import ensure_topics
from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from schemas import topics
from schemas.codec import decode, encode, now
from sevpro.demo import worker_environment
from tests.worker_process import start_worker, stop_worker

pytestmark = pytest.mark.integration
WAITING = "Waiting for transfer to Procountor"


def _observed(tenant: str, reimbursement: dict, guid: str) -> dict:
    snapshot = {**reimbursement, "guid": guid}
    return {"event_id": f"severa:travel_reimbursement:{guid}:v1", "correlation_id": guid, "causation_id": None,
            "tenant": tenant, "source_system": "severa", "entity": "travel_reimbursement", "entity_id": guid,
            "source_version": reimbursement["lastUpdatedDateTime"], "observed_at": now(),
            "snapshot": json.dumps(snapshot), "company": None}


async def test_a_reimbursement_of_a_user_severa_does_not_know_is_parked_and_the_next_one_is_requested(
        kafka, unique, tmp_path: Path) -> None:
    tenant = f"trig{unique}"
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        waiting = next(r for r in severa.app.state.store.all("travelreimbursements")
                       if r["travelReimbursementStatus"]["name"] == WAITING)
        unknown_user = {**waiting, "user": {**waiting["user"], "guid": str(uuid.uuid4())}}
        orphan, good = str(uuid.uuid4()), str(uuid.uuid4())
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"trig-{unique}")
        env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=tenant)
        await ensure_topics(kafka.bootstrap)
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            # One key: one partition, in this order (the orphan first).
            key = topics.key(tenant, f"travel-{unique}")
            for record in (_observed(tenant, unknown_user, orphan), _observed(tenant, waiting, good)):
                await producer.send_and_wait(topics.observed("severa", "travel_reimbursement"), key=key,
                                             value=encode("EntityObserved", record))
        finally:
            await producer.stop()
        worker = start_worker(env, tmp_path / "worker.log", cwd=tmp_path)
        try:
            requested, parked = await _requested_and_parked(kafka.bootstrap, good, orphan, worker)
        finally:
            stop_worker(worker)
    log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
    assert parked is not None and "SeveraNotFound" in parked["reason"], log
    assert requested is not None, log


async def _requested_and_parked(bootstrap: str, good: str, orphan: str,
                                worker: subprocess.Popen[bytes]) -> tuple[dict | None, dict | None]:
    """The TransferRequested of `good`, and the dead letter of `orphan`'s observation (None: not within 120 s)."""
    consumer = AIOKafkaConsumer(topics.transfer_requested("travel-reimbursement"), topics.dead_letter(),
                                bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                isolation_level="read_committed")
    await consumer.start()
    requested = parked = None
    deadline = time.monotonic() + 120
    try:
        while (requested is None or parked is None) and time.monotonic() < deadline and worker.poll() is None:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                for message in batch:
                    _, event = decode(message.value)
                    if message.topic == topics.dead_letter():
                        if orphan.encode() in bytes(event["payload"]):
                            parked = event
                    elif event.get("source_id") == good:
                        requested = event
    finally:
        await consumer.stop()
    return requested, parked
