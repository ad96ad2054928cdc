"""A settings change reaches a running worker without a restart: real broker, both sandboxes over sockets, the
worker process reading its company settings from the topic (SEVPRO_COMPANY_SETTINGS=topic)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foundation.company import demo_companies_path
from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from schemas import topics
from sevpro import settings_cli
from sevpro.cli import app
from sevpro.demo import worker_environment
from tests.worker_process import start_worker, stop_worker

pytestmark = pytest.mark.integration
WAITING, DRAFT, TRANSFERRED = "Waiting for transfer to Procountor", "Draft", "Transferred to Procountor"
# Two FI invoices of the demo that transfer without a data error (the end-to-end test's succeeded ones).
FIRST, SECOND = 10002, 10003


def _status(severa: SandboxServer, name: str) -> dict:
    status = next(s for s in severa.app.state.store.all("invoicestatuses") if s["name"] == name)
    return {"guid": status["guid"], "name": name}


def _set_status(severa: SandboxServer, number: int, name: str) -> None:
    """As a user does in Severa: the invoice's status changes (and its lastUpdatedDateTime moves on)."""
    invoice = next(i for i in severa.app.state.store.all("invoices") if i["number"] == number)
    severa.app.state.store.update("invoices", invoice["guid"], {"status": _status(severa, name)})


def _severa_status(severa: SandboxServer, number: int) -> str:
    return next(i for i in severa.app.state.store.all("invoices") if i["number"] == number)["status"]["name"]


def _in_procountor(procountor: SandboxServer, number: int) -> list[dict]:
    return [i for i in procountor.app.state.store.company("FI").invoices.values()
            if i.get("originalInvoiceNumber") == str(number)]


def _wait_until(what: str, condition: Callable[[], bool], worker: subprocess.Popen[bytes], log: Path,
                timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert worker.poll() is None, log.read_text(errors="replace")[-4000:]
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}\n" + log.read_text()[-4000:]
        time.sleep(0.3)


def sevpro(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_a_settings_change_reaches_the_running_worker_and_its_history(kafka, unique, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = f"live{unique}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap)
    monkeypatch.setenv("SEVPRO_TENANT", tenant)
    monkeypatch.setattr(settings_cli.console, "width", 400)
    topics.configure(topics.DEFAULT_PREFIX)
    code, out = sevpro("settings", "import", str(demo_companies_path()), "--by", "alice")
    assert code == 0, out

    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        _set_status(severa, SECOND, DRAFT)  # not yet: it is made ready after the change
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"live-{unique}")
        del env["SEVPRO_COMPANIES_FILE"]
        env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=tenant, SEVPRO_COMPANY_SETTINGS="topic")
        log = tmp_path / "worker.log"
        worker = start_worker(env, log, loglevel="info")
        try:
            # The settings imported: left UNFINISHED in Procountor.
            _wait_until(f"invoice {FIRST} transferred", lambda: _severa_status(severa, FIRST) == TRANSFERRED,
                        worker, log)
            assert [i["status"] for i in _in_procountor(procountor, FIRST)] == ["UNFINISHED"]

            code, out = sevpro("settings", "set", "--company", "FI", "sales_invoices.procountor_status=NOT_SENT",
                               "--by", "bob")
            assert code == 0, out
            applied = re.compile(r"event='company settings applied'.*company='FI'.*revision=2")
            _wait_until("the change applied", lambda: bool(applied.search(log.read_text(errors="replace"))),
                        worker, log, timeout=60)

            _set_status(severa, SECOND, WAITING)  # the next invoice follows the new setting
            # Moved on in Severa: the transfer is over, the Procountor side (and its status) done before that.
            _wait_until(f"invoice {SECOND} transferred", lambda: _severa_status(severa, SECOND) == TRANSFERRED,
                        worker, log)
            assert [i["status"] for i in _in_procountor(procountor, SECOND)] == ["NOT_SENT"]
            assert [i["status"] for i in _in_procountor(procountor, FIRST)] == ["UNFINISHED"]  # left as it was
            assert worker.poll() is None  # one process all along: no restart
        finally:
            stop_worker(worker)

    code, out = sevpro("settings", "history", "--company", "FI")
    assert code == 0, out
    change = next(line for line in out.splitlines() if "bob" in line)
    assert "sales_invoices.procountor_status" in change and "UNFINISHED" in change and "NOT_SENT" in change, out
    assert "alice" in out
