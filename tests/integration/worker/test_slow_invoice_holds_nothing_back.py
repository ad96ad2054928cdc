"""One slow invoice does not hold back the invoices requested after it (the running worker, real broker, both
sandboxes over sockets).

A user moves an invoice to the transfer status while another one's transfer is stuck on a slow Severa answer (its
PDF is held back until the test lets it go). The worker carries out several transfers at once: the later invoice
must not wait until the slow one is done. (Taking the requests in batches and starting the next batch only when the
slowest of the last one had ended made it wait.)"""

from __future__ import annotations

import pytest

from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.store import demo_guid
from sevpro.demo import worker_environment
from tests.integration.worker.single_worker import DRAFT, WAITING, in_procountor, wait_until
from tests.worker_process import start_worker, stop_worker

pytestmark = pytest.mark.integration
HELD_MS = 240_000  # at most: the test lets the PDF go once the later invoice is through


def test_an_invoice_requested_during_a_slow_transfer_is_not_held_behind_it(kafka, unique, tmp_path) -> None:
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        store = severa.app.state.store
        slow, later = demo_guid("invoice", "10002"), demo_guid("invoice", "10013")
        status = {name: store.invoice_status_sub(str(store.status_by_name("invoicestatuses", name)["guid"]))
                  for name in (WAITING, DRAFT)}
        store.update("invoices", later, {"status": status[DRAFT]})  # the user has not asked for it yet
        held = f"/invoices/{slow}/pdf"
        severa.app.state.sandbox.config.slow_paths = {held: HELD_MS}
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"window-{unique}")
        env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=f"window{unique}",
                   SEVPRO_HTTP_TIMEOUT_SECONDS="300")  # the held PDF is slow, not lost
        log = tmp_path / "worker.log"
        worker = start_worker(env, log)
        try:
            # The other demo invoices are done while 10002's PDF is still on its way.
            wait_until(lambda: in_procountor(procountor, "10003") and in_procountor(procountor, "10004"),
                       "the demo invoices were not transferred", worker, log)
            assert not in_procountor(procountor, "10002")
            store.update("invoices", later, {"status": status[WAITING]})
            wait_until(lambda: in_procountor(procountor, "10013"), "10013 was not transferred", worker, log)
            # 10013 went through while 10002's transfer still waited for its PDF.
            assert not in_procountor(procountor, "10002"), "10013 waited until the slow transfer was done"
            severa.app.state.sandbox.config.slow_paths = {}
            wait_until(lambda: in_procountor(procountor, "10002"), "the slow invoice was not transferred", worker, log)
        finally:
            severa.app.state.sandbox.config.slow_paths = {}
            stop_worker(worker)
