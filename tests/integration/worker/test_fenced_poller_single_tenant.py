"""One tenant's worker polls again after its poll producer was fenced (issue 14, the single-tenant path of
`ae05421`). A tenant's workers elect a leader that polls; around a leader change both may poll for a moment, and
the new leader's start of `poller-<tenant>` fences the old one's producer. If the leadership comes back (or never
left), the worker must poll with a new producer: a fenced producer begins no transaction again, so every later
poll failed and the tenant's invoices were never seen. Real worker process, real broker, both sandboxes over
sockets; the other worker's start of `poller-<tenant>` is the test's."""

from __future__ import annotations

import asyncio

import pytest

from foundation.kafka import transactional_producer
from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.store import demo_guid
from schemas import topics
from sevpro.demo import worker_environment
from tests.integration.worker.single_worker import DRAFT, WAITING, in_procountor, wait_until
from tests.worker_process import start_worker, stop_worker

pytestmark = pytest.mark.integration


async def _fence(bootstrap: str, tenant: str) -> None:
    """What another worker of the tenant polling for a moment does: start the tenant's poll producer."""
    producer = transactional_producer(bootstrap, topics.named(f"poller-{tenant}"))
    await producer.start()
    await producer.stop()


def test_a_tenants_worker_whose_poll_producer_was_fenced_polls_again(kafka, unique, tmp_path) -> None:
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        store = severa.app.state.store
        later = demo_guid("invoice", "10013")
        status = {name: store.invoice_status_sub(str(store.status_by_name("invoicestatuses", name)["guid"]))
                  for name in (WAITING, DRAFT)}
        store.update("invoices", later, {"status": status[DRAFT]})  # the user has not asked for it yet
        tenant = f"fenced{unique}"
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"fenced-{unique}")
        env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=tenant)
        log = tmp_path / "worker.log"
        worker = start_worker(env, log)
        try:
            wait_until(lambda: in_procountor(procountor, "10002"), "the demo's invoice was not transferred", worker,
                       log)
            asyncio.run(_fence(kafka.bootstrap, tenant))
            store.update("invoices", later, {"status": status[WAITING]})  # the user asks for the next one
            wait_until(lambda: in_procountor(procountor, "10013"), "10013 was not transferred after the fence",
                       worker, log, timeout=120)
            assert "poll producer was fenced" in log.read_text(errors="replace")
        finally:
            stop_worker(worker)
