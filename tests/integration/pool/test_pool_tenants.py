"""Many tenants on one worker pool (SEVPRO_POOL): real broker, each tenant's own sandboxes over sockets, real
worker processes. Each tenant's invoices reach its own Procountor once, with its own settings and credentials;
an event of a tenant the pool does not serve is not acted on, and said so."""

from __future__ import annotations

import asyncio
import email
import re
import signal
from contextlib import ExitStack
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.codec import encode, now
from tests.integration.pool.deployment import (
    TRANSFERRED,
    WAITING,
    Pool,
    add_tenant,
    dead_letter_reasons,
    polling,
    sevpro,
)

pytestmark = pytest.mark.integration


def _observed_invoice(bootstrap: str, tenant: str, invoice_id: str) -> None:
    """An invoice version of `tenant` on the observed topic, as a poller publishes it."""
    record = {"event_id": f"observed:{tenant}:{invoice_id}", "correlation_id": invoice_id, "causation_id": None,
              "tenant": tenant, "source_system": "severa", "entity": "invoice", "entity_id": invoice_id,
              "source_version": "2026-01-01T00:00:00+00:00", "observed_at": now(), "snapshot": "{}", "company": None}

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topics.observed("severa", "invoice"), key=topics.key(tenant, invoice_id),
                                         value=encode("EntityObserved", record))
        finally:
            await producer.stop()

    asyncio.run(send())


def test_two_tenants_on_one_pool_each_in_its_own_procountor_with_its_own_settings(pool: Pool, unique: str,
                                                                                  tmp_path: Path) -> None:
    with ExitStack() as stack:
        # a: the demo's API clients, invoices left UNFINISHED; b: API clients and key of its own, NOT_SENT.
        a = add_tenant(stack, f"a{unique}", tmp_path, status="UNFINISHED", own_clients=False)
        b = add_tenant(stack, f"b{unique}", tmp_path, status="NOT_SENT", own_clients=True)
        off = f"c{unique}"  # registered, then disabled
        sevpro("tenants", "add", off, "--severa-client-id", "x", "--severa-client-secret", "env:POOL_NOT_SET",
               "--procountor-client-id", "x", "--procountor-client-secret", "env:POOL_NOT_SET", "--by", "test")
        sevpro("tenants", "disable", off, "--by", "test")
        pool.tenants += [a, b]
        a.only_ready(10002)
        b.only_ready(10003)

        worker1, log1 = pool.start_worker()
        pool.wait_until("a's 10002 transferred", lambda: a.severa_status(10002) == TRANSFERRED)
        pool.wait_until("b's 10003 transferred", lambda: b.severa_status(10003) == TRANSFERRED)
        assert a.in_procountor() == {"10002": ["UNFINISHED"]}
        assert b.in_procountor() == {"10003": ["NOT_SENT"]}
        assert polling(log1) == {a.name, b.name}  # one worker: it polls every enabled tenant, and only those

        # Events of a tenant that is not registered, and of a disabled one: not acted on, said, and parked.
        ghost = f"ghost{unique}"
        _observed_invoice(pool.bootstrap, ghost, "g1")
        _observed_invoice(pool.bootstrap, off, "c1")
        pool.wait_until("both refused in the log", lambda: all(
            name in log1.read_text(errors="replace") for name in (f"tenant '{ghost}' is not registered",
                                                                  f"tenant '{off}' is disabled")), timeout=60)
        pool.wait_until("both parked on the dead-letter topic with the reason", lambda: all(
            any(refusal in reason for reason in dead_letter_reasons(pool.bootstrap))
            for refusal in (f"tenant '{ghost}' is not registered", f"tenant '{off}' is disabled")), timeout=60)

        # A second worker joins the pool: the polling is spread (each tenant polled by exactly one worker), and
        # each tenant's next invoice reaches its own Procountor once.
        worker2, log2 = pool.start_worker()
        pool.wait_until("the second worker in the group", lambda: "pool serves" in log2.read_text(errors="replace"))
        pool.wait_until("each tenant polled by one worker", lambda: sorted(
            [*polling(log1), *polling(log2)]) == sorted([a.name, b.name]), timeout=90)
        # Each API client's limit holds across the pool: each worker paces its tenants' clients at half of it,
        # and lets half as many of a tenant's transfers write at once (streams/writers.py: 30 s of Severa's
        # 2.5 a second for 2 calls each).
        halved = re.compile(r"^(?=.*workers counted)(?=.*workers=2)(?=.*procountor_per_second=9\.0)"
                            r"(?=.*writers_per_tenant=37)", re.MULTILINE)
        pool.wait_until("both workers at half the pace", lambda: all(
            halved.search(log.read_text(errors="replace")) for log in (log1, log2)), timeout=60)
        a.set_status(10004, WAITING)
        b.set_status(10009, WAITING)
        pool.wait_until("a's 10004 transferred", lambda: a.severa_status(10004) == TRANSFERRED)
        pool.wait_until("b's 10009 transferred", lambda: b.severa_status(10009) == TRANSFERRED)
        assert a.in_procountor() == {"10002": ["UNFINISHED"], "10004": ["UNFINISHED"]}
        assert b.in_procountor() == {"10003": ["NOT_SENT"], "10009": ["NOT_SENT"]}
        assert worker1.poll() is None and worker2.poll() is None
        pool.stop()
    for _, log in pool.workers:  # credentials are resolved, never logged
        text = log.read_text(errors="replace")
        assert f"b{unique}-severa-secret" not in text and f"b{unique}-procountor-secret" not in text
        assert f"b{unique}-fi-key" not in text


def test_a_killed_workers_tenants_are_polled_by_the_other(pool: Pool, unique: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        a = add_tenant(stack, f"a{unique}", tmp_path, status="UNFINISHED", own_clients=False)
        b = add_tenant(stack, f"b{unique}", tmp_path, status="NOT_SENT", own_clients=True)
        pool.tenants += [a, b]
        a.only_ready(10002)
        b.only_ready(10003)
        (worker1, log1), (worker2, log2) = pool.start_worker(), pool.start_worker()
        pool.wait_until("each tenant polled by one worker", lambda: sorted(
            [*polling(log1), *polling(log2)]) == sorted([a.name, b.name]), timeout=120)
        pool.wait_until("a's 10002 transferred", lambda: a.severa_status(10002) == TRANSFERRED)
        pool.wait_until("b's 10003 transferred", lambda: b.severa_status(10003) == TRANSFERRED)

        # The worker polling a is killed: no goodbye to the group. The other takes a's polling over within the
        # session timeout, and a's next invoice arrives in a's Procountor, once.
        victim, survivor_log = (worker1, log2) if a.name in polling(log1) else (worker2, log1)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        a.set_status(10004, WAITING)
        pool.wait_until("a polled by the survivor", lambda: a.name in polling(survivor_log), timeout=90)
        pool.wait_until("a's 10004 transferred", lambda: a.severa_status(10004) == TRANSFERRED)
        assert a.in_procountor() == {"10002": ["UNFINISHED"], "10004": ["UNFINISHED"]}
        assert b.in_procountor() == {"10003": ["NOT_SENT"]}


def test_a_tenants_settings_change_applies_in_the_pool_without_a_restart_and_its_errors_are_mailed(
        pool: Pool, unique: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        a = add_tenant(stack, f"a{unique}", tmp_path, status="UNFINISHED", own_clients=False)
        b = add_tenant(stack, f"b{unique}", tmp_path, status="UNFINISHED", own_clients=True)
        pool.tenants += [a, b]
        # b's errors are e-mailed (without SMTP: .eml files in the worker's outbox); a's are not.
        sevpro("settings", "set", "--tenant", b.name, "--company", "FI", "send_error_email=true",
               "error_email=billing@b.example", "--by", "test")
        a.only_ready(10002, 10007)
        b.only_ready(10002, 10007)  # 10007 fails in both: its date is in a closed fiscal period
        worker, log = pool.start_worker()
        pool.wait_until("a's 10002 transferred", lambda: a.severa_status(10002) == TRANSFERRED)
        pool.wait_until("b's 10002 transferred", lambda: b.severa_status(10002) == TRANSFERRED)
        outbox = tmp_path / "home1" / "outbox"
        pool.wait_until("b's error e-mailed", lambda: any(outbox.glob("*.eml")), timeout=120)
        mails = [email.message_from_bytes(mail.read_bytes()) for mail in outbox.glob("*.eml")]
        assert [mail["To"] for mail in mails] == ["billing@b.example"]  # b's company's address; a's mails none
        assert "10007" in "".join(str(part.get_payload(decode=True), "utf-8") for part in mails[0].walk()
                                  if not part.is_multipart())

        sevpro("settings", "set", "--tenant", b.name, "--company", "FI", "sales_invoices.procountor_status=NOT_SENT",
               "--by", "bob")
        applied = re.compile(rf"^(?=.*event='company settings applied')(?=.*tenant='{b.name}')(?=.*revision=3)",
                             re.MULTILINE)
        pool.wait_until("b's change applied", lambda: bool(applied.search(log.read_text(errors="replace"))),
                        timeout=60)
        a.set_status(10003, WAITING)
        b.set_status(10003, WAITING)
        pool.wait_until("a's 10003 transferred", lambda: a.severa_status(10003) == TRANSFERRED)
        pool.wait_until("b's 10003 transferred", lambda: b.severa_status(10003) == TRANSFERRED)
        assert a.in_procountor() == {"10002": ["UNFINISHED"], "10003": ["UNFINISHED"]}  # a's settings unchanged
        assert b.in_procountor() == {"10002": ["UNFINISHED"], "10003": ["NOT_SENT"]}
        assert worker.poll() is None  # one process all along
    history = sevpro("settings", "history", "--tenant", b.name, "--company", "FI")
    assert "bob" in history and "NOT_SENT" in history
