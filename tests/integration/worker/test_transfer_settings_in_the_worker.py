"""The seed's transfer settings in the running worker: real broker, both sandboxes over sockets, the worker process
with its pollers and agents, a companies file of our own. What is built but was not tested at this level:
- `procountor_status` SENT (approved and sent at once) and NOT_SENT (approved, not sent: Maventa sent it already);
- customer creation switched off (`create_customers = false`): an invoice of a customer Procountor lacks fails
  as MISSING_CUSTOMER and no partner is made;
- the company's main toggle off (`enabled = false`): nothing of that company is transferred or written;
- a cost center and a business unit made inactive in Severa: their items close in Procountor;
- attachments on e-invoices: the invoice PDF is on the ELECTRONIC_INVOICE invoice, sent with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from foundation.company import demo_companies_path
from projections.store import ProjectionStore
from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.store import demo_guid
from sevpro.demo import worker_environment

pytestmark = pytest.mark.integration
WAITING = "Waiting for transfer to Procountor"
FINAL = ("succeeded", "failed-data")
FI_WAITING = {"10002", "10003", "10004", "10005", "10006", "10007", "10008", "10009", "10010", "10013"}
SE_WAITING = {"10011", "10012"}


def companies_file(path: Path, changes: dict[str, dict[str, str]]) -> Path:
    """The demo's companies file with `changes`: per table ("company.FI.sales_invoices"), key → TOML value."""
    table, lines = "", []
    for line in demo_companies_path().read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            table = stripped.strip("[]")
        key = stripped.split("=", 1)[0].strip() if "=" in stripped and not stripped.startswith("#") else None
        if key is not None and key in changes.get(table, {}):
            line = f"{key} = {changes[table].pop(key)}"
        lines.append(line)
    assert not any(changes.values()), f"not in the demo's file: {changes}"
    path.write_text("\n".join(lines) + "\n")
    return path


class Worker:
    def __init__(self, kafka: Any, unique: str, tmp_path: Path, severa: SandboxServer, procountor: SandboxServer,
                 changes: dict[str, dict[str, str]]) -> None:
        self.home, self.log = tmp_path / "home", tmp_path / "worker.log"
        self.tenant = f"settings{unique}"
        self.env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"settings-{unique}")
        self.env.update(SEVPRO_HOME=str(self.home), SEVPRO_TENANT=self.tenant, SEVPRO_REGISTRY_POLL_SECONDS="1",
                        SEVPRO_COMPANIES_FILE=str(companies_file(tmp_path / "companies.toml", changes)))
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Worker:
        self.process = subprocess.Popen([sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", "warning"],
                                        env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process is not None and self.process.poll() is None, self.tail()
            assert time.monotonic() < deadline, f"{what}\n{self.tail()}"
            time.sleep(0.5)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def sales(self) -> dict[str, dict[str, Any]]:
        """The transfer log's sales invoices of this test's tenant (the broker is shared), by Severa number."""
        if not (self.home / "projections").exists():
            return {}
        with ProjectionStore(self.home / "projections") as store:
            return {e["severa_number"]: e for e in store.transfers(kind="sales-invoice", tenant=self.tenant)}

    def done(self, numbers: set[str]) -> bool:
        entries = self.sales()
        return all(n in entries and entries[n]["state"] in FINAL for n in numbers)


def procountor_invoice(procountor: SandboxServer, company: str, number: str) -> dict[str, Any]:
    [found] = [i for i in procountor.app.state.store.company(company).invoices.values()
               if i.get("originalInvoiceNumber") == number]
    return found


def sends(procountor: SandboxServer) -> int:
    """Invoices sent by the API (PUT /invoices/{id}/send), both companies."""
    return sum(n for route, n in procountor.app.state.sandbox.stats.calls.items() if route.endswith("/send"))


def item(procountor: SandboxServer, company: str, dimension: str, code: str) -> dict[str, Any] | None:
    dimensions = procountor.app.state.store.company(company).dimensions.values()
    return next((i for d in dimensions if d["name"] == dimension for i in d["items"] if i["codeName"] == code), None)


def test_sent_without_customer_creation_the_other_company_off_and_items_closed(kafka, unique, tmp_path) -> None:
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        changes = {"company.FI": {"create_customers": "false"},
                   "company.FI.sales_invoices": {"procountor_status": '"SENT"'},
                   "company.SE": {"enabled": "false"}}
        with Worker(kafka, unique, tmp_path, severa, procountor, changes) as worker:
            worker.wait_until(lambda: worker.done(FI_WAITING), "FI's invoices not all transferred")
            # The FI company's business unit Kumpula Labs is active: its item is made at once.
            worker.wait_until(lambda: item(procountor, "FI", "Business units", "Kumpula Labs") is not None,
                              "no item for Kumpula Labs")
            # A user makes a cost center and a business unit inactive in Severa: their items close.
            store = severa.app.state.store
            store.update("costcenters", demo_guid("costcenter", "CC-TRE"), {"isActive": False})
            store.update("businessunits", demo_guid("businessunit", "LABS"), {"isActive": False})
            worker.wait_until(lambda: (item(procountor, "FI", "Cost centers", "CC-TRE") or {}).get("status") == "P"
                              and (item(procountor, "FI", "Business units", "Kumpula Labs") or {}).get("status")
                              == "P", "the items did not close")
            entries = worker.sales()
        assert (item(procountor, "FI", "Cost centers", "CC-HEL") or {}).get("status") is None  # the others stay

        # Customer creation off: the invoices of customers Procountor lacks fail, and no partner is made.
        for number, customer in (("10009", "1009"), ("10010", "1101")):
            assert entries[number]["state"] == "failed-data", entries[number]
            assert entries[number]["last_error"]["code"] == "MISSING_CUSTOMER"
            assert procountor.app.state.store.company("FI").find_partner(customer_number=customer) is None
        # SENT: every FI invoice transferred is sent, the e-invoice with its PDF.
        succeeded = {n for n, e in entries.items() if e["state"] == "succeeded"}
        assert {"10002", "10003", "10004", "10013"} <= succeeded
        assert all(procountor_invoice(procountor, "FI", n)["status"] == "SENT" for n in succeeded)
        assert sends(procountor) == len(succeeded)  # one send each (counted as the NOT_SENT test counts them)
        einvoice = procountor_invoice(procountor, "FI", "10004")  # customer 1003 has e-invoice details
        assert einvoice["invoiceChannel"] == "ELECTRONIC_INVOICE"
        assert [(a["name"], a["sendWithInvoice"]) for a in einvoice["attachments"]] == [("invoice-10004.pdf", True)]
        # The SE company's main toggle is off: none of its invoices is transferred, nothing is written there.
        assert not SE_WAITING & set(entries)
        se = procountor.app.state.store.company("SE")
        assert not [i for i in se.invoices.values() if i.get("originalInvoiceNumber") in SE_WAITING]
        assert se.find_partner(customer_number="2004") is None
        assert all(i["status"]["name"] == WAITING for i in severa.app.state.store.all("invoices")
                   if str(i["number"]) in SE_WAITING)


def test_not_sent_leaves_the_invoices_approved_for_maventa(kafka, unique, tmp_path) -> None:
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        changes = {"company.FI.sales_invoices": {"procountor_status": '"NOT_SENT"'},
                   "company.SE": {"enabled": "false"}}
        wanted = {"10002", "10004"}
        with Worker(kafka, unique, tmp_path, severa, procountor, changes) as worker:
            worker.wait_until(lambda: worker.done(wanted), "10002 and 10004 not transferred")
            entries = worker.sales()
        assert all(entries[n]["state"] == "succeeded" for n in wanted), entries
        for number in wanted:
            assert procountor_invoice(procountor, "FI", number)["status"] == "NOT_SENT"
        einvoice = procountor_invoice(procountor, "FI", "10004")
        assert einvoice["invoiceChannel"] == "ELECTRONIC_INVOICE" and len(einvoice["attachments"]) == 1
        assert sends(procountor) == 0
