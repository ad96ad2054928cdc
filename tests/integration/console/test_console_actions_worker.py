"""From the console's Retry button to Procountor: the real broker, both sandboxes over sockets, the worker process.

The SE company's Procountor API key has been revoked, so its invoices 10011 and 10012 end failed-config. The
worker retries those on its retry cycle, set to an hour here so that only the console's button can ask. The
Procountor administrator approves the key again, and the accountant presses Retry on 10011 (twice, as impatient
people do): the worker transfers it, once; 10012, not retried by anyone, is still waiting.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from console import testing as sample_log
from console.app import create_app
from projections.store import ProjectionStore
from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sevpro.demo import worker_environment
from tests.worker_process import start_worker, stop_worker

pytestmark = pytest.mark.integration
KIND = "sales-invoice"
NUMBER, UNTOUCHED = "10011", "10012"


def _wait_for(probe: Callable[[], object], worker: subprocess.Popen[bytes], log: Path, what: str,
              timeout: float = 180) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen\n" + log.read_text(errors="replace")[-3000:])


def _entry(home: Path, tenant: str, number: str = NUMBER) -> dict | None:
    if not (home / "projections").exists():
        return None
    with ProjectionStore(home / "projections") as store:
        return next((e for e in store.transfers(kind=KIND, tenant=tenant) if e["severa_number"] == number), None)


def _succeeded(home: Path, tenant: str) -> int:
    if not (home / "projections").exists():
        return 0
    with ProjectionStore(home / "projections") as store:
        return len(store.transfers(kind=KIND, tenant=tenant, state="succeeded"))


def test_retry_from_the_console_is_carried_out_by_the_worker_once(kafka, unique, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"actions-{unique}")
        tenant = f"actions{unique}"
        env.update(SEVPRO_HOME=str(home), SEVPRO_TENANT=tenant, SEVPRO_TRANSIENT_RETRY_SECONDS="3600")
        keys = procountor.app.state.store.api_keys
        se_key = next(key for key, company in keys.items() if company == "SE")
        procountor.app.state.store.revoke_api_key(se_key)
        # The SE invoices wait in Draft until the worker is well under way: its one retry of failures a few
        # seconds after it gets its partitions (streams/agents.py, after a rebalance) is behind it by then.
        invoices = {str(i["number"]): i for i in severa.app.state.store.all("invoices")}
        waiting = invoices[NUMBER]["status"]
        draft = next(i["status"] for i in invoices.values() if i["status"]["name"] == "Draft")
        for number in (NUMBER, UNTOUCHED):
            severa.app.state.store.update("invoices", invoices[number]["guid"], {"status": draft})
        log = tmp_path / "worker.log"
        worker = start_worker(env, log)
        try:
            _wait_for(lambda: _succeeded(home, tenant) >= 3, worker, log, "three invoices transferred")
            for number in (NUMBER, UNTOUCHED):
                severa.app.state.store.update("invoices", invoices[number]["guid"], {"status": waiting})
            for number in (NUMBER, UNTOUCHED):
                _wait_for(lambda n=number: (e := _entry(home, tenant, n)) and e["state"] == "failed-config",
                          worker, log, f"invoice {number} refused for its settings")
            failed = _entry(home, tenant)
            assert failed is not None

            # The Procountor administrator approves the key again; nothing changes in Severa.
            keys[se_key] = "SE"

            app = create_app(home / "projections", kafka.bootstrap, auth=sample_log.auth(), refresh=None)
            with SandboxServer(app) as console, httpx.Client(base_url=console.url, timeout=30) as http:
                assert sample_log.login(http).status_code == 303
                page = http.get(f"/records/{failed['severa_id']}", params={"tenant": tenant})
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert token and 'action="/actions/retry"' in page.text
                form = {"csrf_token": token.group(1), "tenant": tenant, "kind": KIND, "source_id": failed["severa_id"]}
                assert http.post("/actions/retry", data=form).status_code == 303
                # A second click: before the projector has seen the first, the same request id again (one
                # transfer); after, the record is pending or done and the console says there is nothing to retry.
                again = http.post("/actions/retry", data=form)
                assert again.status_code == 303 or (again.status_code == 409 and "Nothing to retry" in again.text)

            done = _wait_for(lambda: (e := _entry(home, tenant)) and e["state"] == "succeeded" and e,
                             worker, log, f"invoice {NUMBER} transferred after the retry")
            assert isinstance(done, dict) and done["reason"] == "reprocess"
            untouched = _entry(home, tenant, UNTOUCHED)
            assert untouched is not None and untouched["state"] == "failed-config" and untouched["reason"] == "status"
            with ProjectionStore(home / "projections") as store:
                history = store.history(failed["severa_id"], tenant=tenant)
        finally:
            stop_worker(worker)
        invoices = [i for i in procountor.app.state.store.company("SE").invoices.values()
                    if i.get("originalInvoiceNumber") == NUMBER]
        assert len(invoices) == 1
        asked = [h for h in history if h["type"] == "TransferRequested" and h["payload"]["reason"] == "reprocess"]
        assert [h["payload"]["requested_by"] for h in asked] == [sample_log.USER]
        assert f"by {sample_log.USER}" in asked[0]["summary"]
        assert done["request_id"] == asked[0]["event_id"]  # the user's request is the one carried out
