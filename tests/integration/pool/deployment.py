"""Helpers of the pool tests: a deployment of several tenants on one worker pool (SEVPRO_POOL), each tenant an
organisation of its own with its own Severa and Procountor sandboxes (its own API clients, secrets and company
API keys), registered with `sevpro tenants add` and configured with `sevpro settings import|set` on this test's
own topics."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from foundation.kafka import ensure_topics
from sandbox.procountor.app import create_app as procountor_app
from sandbox.procountor.demo import DEMO_CLIENT_ID as PROCOUNTOR_DEMO_CLIENT
from sandbox.procountor.demo import DEMO_FI_API_KEY
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.demo import DEMO_CLIENT_ID as SEVERA_DEMO_CLIENT
from schemas import topics
from schemas.codec import encode, now
from sevpro.cli import app
from tests.integration.pollers.kafka_read import read_events

WAITING, DRAFT, TRANSFERRED = "Waiting for transfer to Procountor", "Draft", "Transferred to Procountor"

COMPANIES = """
[company.FI]
country = "FI"
enabled = true
severa_business_unit_name = "Kumpula Consulting Oy"
procountor_api_key_env = "{key_env}"
create_customers = true
create_products = true
default_product_code = "DEFAULT-PRODUCT"
default_work_type_code = "DEFAULT-WORK"
default_travel_expense_code = "DEFAULT-TRAVEL"

[company.FI.sales_invoices]
transfer_status = "Waiting for transfer to Procountor"
after_transfer_status = "Transferred to Procountor"
procountor_status = "{status}"
attachments = "none"
"""


def sevpro(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class Tenant:
    """One organisation: its sandboxes (one Severa organisation, one Procountor company FI) and its name."""

    name: str
    severa: SandboxServer
    procountor: SandboxServer
    secrets: dict[str, str] = field(default_factory=dict)  # environment of the workers: its secrets and key

    def set_status(self, number: int, status: str) -> None:
        """As a user does in Severa: the invoice's status changes (and its lastUpdatedDateTime moves on)."""
        store = self.severa.app.state.store
        guid = next(s["guid"] for s in store.all("invoicestatuses") if s["name"] == status)
        invoice = next(i for i in store.all("invoices") if i["number"] == number)
        store.update("invoices", invoice["guid"], {"status": {"guid": guid, "name": status}})

    def severa_status(self, number: int) -> str:
        return next(i for i in self.severa.app.state.store.all("invoices") if i["number"] == number)["status"]["name"]

    def only_ready(self, *numbers: int) -> None:
        """Of the demo's invoices waiting for transfer, only these stay waiting: the others go back to draft."""
        for invoice in self.severa.app.state.store.all("invoices"):
            if invoice["status"]["name"] == WAITING and invoice["number"] not in numbers:
                self.set_status(invoice["number"], DRAFT)

    def in_procountor(self) -> dict[str, list[str]]:
        """originalInvoiceNumber → the statuses of the invoices carrying it, in this tenant's Procountor."""
        found: dict[str, list[str]] = {}
        for invoice in self.procountor.app.state.store.company("FI").invoices.values():
            if invoice.get("type") == "SALES_INVOICE":
                found.setdefault(str(invoice.get("originalInvoiceNumber")), []).append(invoice["status"])
        return found


def add_tenant(stack: ExitStack, name: str, tmp_path: Path, *, status: str, own_clients: bool) -> Tenant:
    """Start the tenant's sandboxes (demo data), register it and import its company settings. With `own_clients`
    its API clients and company API key are its own (the demo's are refused by its sandboxes)."""
    severa = stack.enter_context(SandboxServer(severa_app(seed="demo")))
    procountor = stack.enter_context(SandboxServer(procountor_app(seed="demo")))
    tenant = Tenant(name, severa, procountor)
    variable = re.sub(r"[^A-Z0-9]", "_", name.upper())
    severa_id, procountor_id, key_env = "sevpro-demo-client", "sevpro-demo-client", "SEVPRO_PROCOUNTOR_API_KEY_FI"
    severa_secret, procountor_secret, api_key = "sevpro-demo-secret", "sevpro-demo-secret", DEMO_FI_API_KEY
    if own_clients:
        severa_id, severa_secret = f"{name}-severa", f"{name}-severa-secret"
        procountor_id, procountor_secret = f"{name}-procountor", f"{name}-procountor-secret"
        key_env, api_key = f"POOL_{variable}_KEY_FI", f"{name}-fi-key"
        severa.app.state.store.api_clients.pop(SEVERA_DEMO_CLIENT)
        severa.app.state.store.add_api_client(severa_id, severa_secret)
        procountor_store = procountor.app.state.store
        procountor_store.clients.pop(PROCOUNTOR_DEMO_CLIENT)
        procountor_store.clients[procountor_id] = procountor_secret
        procountor_store.revoke_api_key(DEMO_FI_API_KEY)
        procountor_store.add_api_key(api_key, "FI", procountor_id)
    secret_file = tmp_path / f"{name}-procountor-secret"
    secret_file.write_text(procountor_secret + "\n")
    tenant.secrets = {f"POOL_{variable}_SEVERA_SECRET": severa_secret, key_env: api_key}
    sevpro("tenants", "add", name, "--severa-client-id", severa_id,
           "--severa-client-secret", f"env:POOL_{variable}_SEVERA_SECRET", "--procountor-client-id", procountor_id,
           "--procountor-client-secret", f"file:{secret_file}", "--severa-url", f"{severa.url}/rest-api",
           "--procountor-url", f"{procountor.url}/api", "--by", "test")
    companies = tmp_path / f"{name}-companies.toml"
    companies.write_text(COMPANIES.format(key_env=key_env, status=status))
    sevpro("settings", "import", str(companies), "--tenant", name, "--by", "test")
    return tenant


@dataclass
class Pool:
    """The deployment: its topic prefix, its tenants, and the pool's worker processes."""

    bootstrap: str
    prefix: str
    name: str
    tmp_path: Path
    tenants: list[Tenant] = field(default_factory=list)
    workers: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # more SEVPRO_* settings of the workers

    def environment(self, home: Path) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("SEVPRO_") and not key.startswith("KAFKA_")}
        env.update(KAFKA_BOOTSTRAP_SERVERS=self.bootstrap, SEVPRO_TOPIC_PREFIX=self.prefix, SEVPRO_POOL=self.name,
                   SEVPRO_HOME=str(home), SEVPRO_SESSION_TIMEOUT_SECONDS="6", SEVPRO_REGISTRY_POLL_SECONDS="5",
                   SEVPRO_NOTIFY_BATCH_SECONDS="1")
        for tenant in self.tenants:
            env.update(tenant.secrets)
        env.update(self.settings)
        return env

    def start_worker(self, **settings: str) -> tuple[subprocess.Popen[bytes], Path]:
        """A pool worker; `settings`: environment variables of its own (SEVPRO_HTTP_TIMEOUT_SECONDS="600")."""
        number = len(self.workers) + 1
        log = self.tmp_path / f"worker{number}.log"
        worker = subprocess.Popen([sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", "info"],
                                  env=self.environment(self.tmp_path / f"home{number}") | settings,
                                  stdout=log.open("ab"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append((worker, log))
        return worker, log

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for _, log in self.workers)

    def wait_until(self, what: str, condition: Callable[[], bool], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for worker, log in self.workers:
                if worker.returncode is None and worker.poll() is not None:
                    raise AssertionError(f"{log.name} ended ({worker.returncode})\n{self.logs()}")
            assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}\n{self.logs()}"
            time.sleep(0.3)

    def stop(self) -> None:
        for worker, _ in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker, _ in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


def no_polling() -> dict[str, str]:
    """Worker settings under which no tenant is polled during a test: one window, twelve hours from now (the
    events a test needs, it publishes itself)."""
    hour = (datetime.now(UTC).hour + 12) % 24
    return {"SEVPRO_SYNC_SCHEDULE": f"Etc/UTC: {hour:02d}:00-{hour:02d}:30/1m"}


def polling(log: Path) -> set[str]:
    """The tenants whose polling this worker holds now, by its log."""
    held: set[str] = set()
    for line in log.read_text(errors="replace").splitlines():
        if match := re.search(r"event='tenant polling (taken|handed over)'.*tenant='([^']+)'", line):
            (held.add if match.group(1) == "taken" else held.discard)(match.group(2))
    return held


def dead_letter_reasons(bootstrap: str) -> list[str]:
    """The reasons of every record of this deployment's dead-letter topic, as it is now."""
    return [letter["reason"] for letter in asyncio.run(read_events(bootstrap, topics.dead_letter()))
            if "reason" in letter]  # not the DeadLetterRedriven records that follow re-driven letters


def publish_observed(bootstrap: str, tenant: Tenant, entity: str, item: dict[str, Any]) -> str:
    """The Severa record's version on its observed topic, as the tenant's poller publishes it (a test without
    polling publishes the events it needs itself); its event id."""
    return publish_all_observed(bootstrap, tenant, entity, [item])[0]


def publish_all_observed(bootstrap: str, tenant: Tenant, entity: str, items: list[dict[str, Any]]) -> list[str]:
    """`publish_observed` of each item, in their order, with one producer; their event ids."""
    records = []
    for item in items:
        entity_id, version = item["guid"], item["lastUpdatedDateTime"]
        records.append({"event_id": f"severa:{entity}:{entity_id}:{version}",
                        "correlation_id": f"severa:{entity}:{entity_id}", "causation_id": None, "tenant": tenant.name,
                        "source_system": "severa", "entity": entity, "entity_id": entity_id,
                        "source_version": version, "observed_at": now(), "snapshot": json.dumps(item, sort_keys=True),
                        "company": None})

    async def send() -> None:
        await ensure_topics(bootstrap)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            for record in records:
                await producer.send_and_wait(topics.observed("severa", entity),
                                             key=topics.key(tenant.name, record["entity_id"]),
                                             value=encode("EntityObserved", record))
        finally:
            await producer.stop()

    asyncio.run(send())
    return [str(record["event_id"]) for record in records]
