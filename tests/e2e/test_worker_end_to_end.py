"""The whole stack: real broker, both sandboxes over sockets, the worker process with pollers and agents."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from foundation.kafka import admin_client
from projections.store import ProjectionStore
from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from schemas import topics
from sevpro.demo import worker_environment
from sevpro.kafka_broker import LocalKafkaBroker
from streams.mapping.purchase_invoice import marked_invoice_id
from streams.notification_text import told_record
from tests.integration.transfer.race_data import race_invoices
from tests.worker_process import start_worker, stop_worker

pytestmark = pytest.mark.integration
WAITING = "Waiting for transfer to Procountor"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
PURCHASES_TO_IMPORT = 5  # the FI demo's purchase invoices in an import status, dimensioned to projects
TRAVELS_TO_TRANSFER = 3  # the demo's travel reimbursements waiting for transfer (E006's fails: no person)


def _writes(server: SandboxServer) -> Counter[str]:
    calls = server.app.state.sandbox.stats.calls
    return Counter({route: n for route, n in calls.items() if route.split(" ")[0] in WRITES and "token" not in route})


def _wait_for_log(home: Path, tenant: str, numbers: set[str], worker: subprocess.Popen[bytes], log: Path,
                  timeout: float = 240) -> list[dict]:
    deadline = time.monotonic() + timeout
    entries: list[dict] = []
    while time.monotonic() < deadline:
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        if (home / "projections").exists():
            with ProjectionStore(home / "projections") as store:
                # The broker is shared with other tests: this test's tenant only.
                entries = store.transfers(kind="sales-invoice", tenant=tenant)
                purchases = store.transfers(kind="purchase-invoice", tenant=f"{tenant}/FI")  # the FI poller's
                travels = store.transfers(kind="travel-reimbursement", tenant=tenant)
            final = ("succeeded", "failed-data")
            if numbers <= {e["severa_number"] for e in entries if e["state"] in final} and all(
                    len(others) == expected and all(o["state"] in final for o in others)
                    for others, expected in ((purchases, PURCHASES_TO_IMPORT), (travels, TRAVELS_TO_TRANSFER))):
                return entries
        time.sleep(0.5)
    raise AssertionError(f"not all transferred: {[(e['severa_number'], e['state']) for e in entries]}\n"
                         + log.read_text(errors="replace")[-3000:])


def _wait_for_emails(home: Path, tenant: str, company: str, worker: subprocess.Popen[bytes], log: Path,
                     timeout: float = 60) -> list[Path]:
    """The outbox's e-mails, once every failed-data record of `company` (any kind) is told about in one."""
    deadline = time.monotonic() + timeout
    records: set[str] = set()
    while time.monotonic() < deadline:
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        with ProjectionStore(home / "projections") as store:
            records = {e["last_error"]["record"]
                       for e in store.transfers(company=company, state="failed-data", tenant=tenant)}
        emails = sorted((home / "outbox").glob("*.eml"))
        told = " ".join(BytesParser(policy=policy.default).parsebytes(path.read_bytes()).get_body(  # type: ignore
            preferencelist=("plain",)).get_content() for path in emails)
        if records and all(told_record(record, "fi") in told for record in records):  # FI: e-mails in Finnish
            return emails
        time.sleep(0.5)
    raise AssertionError(f"no e-mail told about all of {sorted(records)}\n" + log.read_text(errors="replace")[-3000:])


def _project_item(server: SandboxServer, company: str, code: str) -> dict:
    dimensions = server.app.state.store.company(company).dimensions.values()
    return next(i for d in dimensions if d["name"] == "Projects" for i in d["items"] if i["codeName"] == code)


def _created(procountor: SandboxServer, numbers: set[str]) -> list[dict]:
    """The Procountor invoices of both demo companies made from the Severa invoices `numbers`."""
    return [i for c in ("FI", "SE") for i in procountor.app.state.store.company(c).invoices.values()
            if i.get("originalInvoiceNumber") in numbers]


def _moved_in_severa(severa: SandboxServer) -> int:
    return sum(i["status"]["name"] == "Transferred to Procountor" for i in severa.app.state.store.all("invoices"))


def _wait_until(condition: Callable[[], bool], worker: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.5)


def _wait_for_history(home: Path, tenant: str, record: str, event_type: str, timeout: float = 60) -> dict:
    """The first event of `event_type` in the record's history, once the projector has it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ProjectionStore(home / "projections") as store:
            found = [e for e in store.history(record, tenant=tenant) if e["type"] == event_type]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no {event_type} in the history of {record}")


def test_worker_transfers_the_demo_and_a_full_replay_writes_nothing(kafka, unique, tmp_path: Path) -> None:
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        numbers = {str(i["number"]) for i in severa.app.state.store.all("invoices") if i["status"]["name"] == WAITING}
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"e2e-{unique}")
        env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=f"e2e{unique}", SEVPRO_NOTIFY_BATCH_SECONDS="1",
                   SEVPRO_REGISTRY_POLL_SECONDS="2")
        outbox = tmp_path / "home" / "outbox"  # the demo's FI e-mails its errors; without SMTP, as .eml files
        log = tmp_path / "worker.log"
        worker = start_worker(env, log)
        try:
            entries = _wait_for_log(tmp_path / "home", env["SEVPRO_TENANT"], numbers, worker, log)
            emailed = _wait_for_emails(tmp_path / "home", env["SEVPRO_TENANT"], "FI", worker, log)
            # A user closes a project in Severa: its item closes in Procountor (registries polled every 2 s here).
            project = next(p for p in severa.app.state.store.all("projects") if p["number"] == 2026003)
            severa.app.state.store.update("projects", project["guid"], {"isClosed": True})
            _wait_until(lambda: _project_item(procountor, "FI", "2026003").get("status") == "P", worker, log)
        finally:
            stop_worker(worker)
        states = Counter(e["state"] for e in entries)
        assert states == {"succeeded": 8, "failed-data": 4}
        failed = {e["severa_number"]: e["last_error"]["code"] for e in entries if e["state"] == "failed-data"}
        assert failed == {"10005": "REGISTRY_MISMATCH", "10006": "ERROR_BRN_CODE", "10007": "CLOSED_FISCAL_PERIOD",
                          "10008": "SIZE_MUST_BE_BETWEEN_0_AND_100"}
        for number in numbers - set(failed):
            company = "SE" if number in ("10011", "10012") else "FI"
            matches = [i for i in procountor.app.state.store.company(company).invoices.values()
                       if i.get("originalInvoiceNumber") == number]
            assert len(matches) == 1, number
        transferred = [i for i in severa.app.state.store.all("invoices")
                       if i["status"]["name"] == "Transferred to Procountor"]
        assert len(transferred) == 8
        with ProjectionStore(tmp_path / "home" / "projections") as store:
            travels = store.transfers(kind="travel-reimbursement", tenant=env["SEVPRO_TENANT"])
        travel_states = sorted((e["severa_number"], e["state"]) for e in travels)
        assert [state for _, state in travel_states] == ["succeeded", "succeeded", "failed-data"]
        fees = [f for f in severa.app.state.store.all("projectfees") if marked_invoice_id(f)]
        assert len(fees) >= PURCHASES_TO_IMPORT

        # Replay: a new consumer group reads every topic from offset zero, with the read models wiped too,
        # so only the search-before-write guards stand between a replay and a duplicate.
        writes_before = _writes(severa), _writes(procountor)
        (tmp_path / "home" / "projections").rename(tmp_path / "old-projections")
        (tmp_path / "home" / "notifications.sqlite3").rename(tmp_path / "old-notifications.sqlite3")
        env["SEVPRO_APP_ID"] = f"e2e-replay-{unique}"
        replay = start_worker(env, log)
        try:
            replayed = _wait_for_log(tmp_path / "home", env["SEVPRO_TENANT"], numbers, replay, log)
            told = _wait_for_history(tmp_path / "home", env["SEVPRO_TENANT"], "10007", "NotificationSent")
            time.sleep(3)  # let any late write show
        finally:
            stop_worker(replay)
        assert (_writes(severa), _writes(procountor)) == writes_before
        # The error e-mails too: the replaying worker, its notification record wiped, learns from notify.sent.
        assert sorted(outbox.glob("*.eml")) == emailed
        assert "error e-mail sent to billing@kumpula.example" in told["summary"] and "10007" in told["summary"]
        assert Counter(e["state"] for e in replayed) == {"succeeded": 8, "failed-data": 4}
        # Logs never carry secrets: the client secret and the API keys were in the worker's environment.
        text = log.read_text(errors="replace")
        for secret in ("sevpro-demo-secret", "demo-fi-api-key", "demo-se-api-key"):
            assert secret not in text


def test_two_workers_of_a_tenant_one_killed_mid_run_every_invoice_once(kafka, unique, tmp_path: Path) -> None:
    """Two hosts share a tenant's partitions; one dies by SIGKILL while invoices are in flight. The other takes
    its partitions and the pollers over (after the session timeout) and nothing is lost or written twice."""
    # Latency keeps transfers in flight long enough for the kill to land between their steps.
    with SandboxServer(severa_app(seed="demo", latency_ms=20)) as severa, \
            SandboxServer(procountor_app(seed="demo", latency_ms=150)) as procountor:
        numbers = {str(i["number"]) for i in severa.app.state.store.all("invoices") if i["status"]["name"] == WAITING}
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"pair-{unique}")
        env.update(SEVPRO_TENANT=f"pair{unique}", SEVPRO_SESSION_TIMEOUT_SECONDS="6")

        doomed_log, survivor_log = tmp_path / "doomed.log", tmp_path / "survivor.log"
        doomed = start_worker(env | {"SEVPRO_HOME": str(tmp_path / "doomed")}, doomed_log)
        survivor = start_worker(env | {"SEVPRO_HOME": str(tmp_path / "survivor")}, survivor_log)
        try:
            _wait_until(lambda: len(_created(procountor, numbers)) >= 1, doomed, doomed_log, timeout=120)
            os.killpg(doomed.pid, signal.SIGKILL)  # no goodbye to the group: found missing by its session timeout
            doomed.wait()
            at_kill = len(_created(procountor, numbers))
            entries = _wait_for_log(tmp_path / "survivor", env["SEVPRO_TENANT"], numbers, survivor, survivor_log)
        finally:
            stop_worker(doomed)
            stop_worker(survivor)
    assert at_kill < 8, "the kill came after the work was done: the test proves nothing"
    assert Counter(e["state"] for e in entries) == {"succeeded": 8, "failed-data": 4}
    per_number = Counter(i["originalInvoiceNumber"] for i in _created(procountor, numbers))
    assert len(per_number) == 8 and set(per_number.values()) == {1}, per_number
    assert _moved_in_severa(severa) == 8
    fees = [f["description"] for f in severa.app.state.store.all("projectfees") if marked_invoice_id(f)]
    assert len(fees) >= PURCHASES_TO_IMPORT and len(fees) == len(set(fees)), fees


@pytest.mark.timeout(600)  # above the 420 s the worker's log may take under load (the suite's default is 300 s)
def test_faults_on_both_apis_end_with_every_invoice_once(kafka, unique, tmp_path: Path) -> None:
    """500s from both APIs, slow Severa answers, and Procountor calls that time out *after* they were carried
    out: the transient retries finish every transfer, and the searches before each write keep every invoice,
    attachment and Severa status change single."""
    with SandboxServer(severa_app(seed="demo", error_rate=0.15, slow_rate=0.05, slow_ms=2500)) as severa, \
            SandboxServer(procountor_app(seed="demo", error_rate=0.15, timeout_rate=0.08,
                                         timeout_delay_s=2.5)) as procountor:
        numbers = {str(i["number"]) for i in severa.app.state.store.all("invoices") if i["status"]["name"] == WAITING}
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"chaos-{unique}")
        env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=f"chaos{unique}",
                   SEVPRO_HTTP_TIMEOUT_SECONDS="1.5", SEVPRO_TRANSIENT_RETRY_SECONDS="2")
        log = tmp_path / "worker.log"
        worker = start_worker(env, log)
        try:
            entries = _wait_for_log(tmp_path / "home", env["SEVPRO_TENANT"], numbers, worker, log, timeout=420)
        finally:
            stop_worker(worker)
        faults = (severa.app.state.sandbox.stats.injected_errors, procountor.app.state.sandbox.stats.injected_errors,
                  procountor.app.state.sandbox.stats.injected_timeouts)
    assert all(faults), f"the faults did not happen: {faults}"
    # A transient failure never ends as a data error: the same four data errors as without faults.
    failed = {e["severa_number"]: e["last_error"]["code"] for e in entries if e["state"] == "failed-data"}
    assert failed == {"10005": "REGISTRY_MISMATCH", "10006": "ERROR_BRN_CODE", "10007": "CLOSED_FISCAL_PERIOD",
                      "10008": "SIZE_MUST_BE_BETWEEN_0_AND_100"}
    assert Counter(e["state"] for e in entries) == {"succeeded": 8, "failed-data": 4}
    created = _created(procountor, numbers)
    assert sorted(Counter(i["originalInvoiceNumber"] for i in created).values()) == [1] * 8
    assert all(len(i.get("attachments") or []) <= 1 for i in created), [i.get("attachments") for i in created]
    assert _moved_in_severa(severa) == 8


@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java to run a broker of its own")
def test_the_broker_away_for_seconds_mid_run_loses_and_doubles_nothing(unique, tmp_path: Path) -> None:
    """A broker of this test's own (the shared one must stay up) stops while invoices are in flight and comes
    back 8 s later: the worker rides it out, and every invoice ends in Procountor once."""
    # Any free ports, chosen as the broker binds them; its restart below takes the same ones again.
    broker = LocalKafkaBroker(port=0, controller_port=0, name=f"bounce-{unique}")
    broker.reset()
    bootstrap = broker.start().bootstrap
    try:
        with SandboxServer(severa_app(seed="demo", latency_ms=50)) as severa, \
                SandboxServer(procountor_app(seed="demo", latency_ms=150)) as procountor:
            numbers = {str(i["number"]) for i in severa.app.state.store.all("invoices")
                       if i["status"]["name"] == WAITING}
            env = worker_environment(bootstrap, severa.url, procountor.url, f"bounce-{unique}")
            env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=f"bounce{unique}",
                       SEVPRO_TRANSIENT_RETRY_SECONDS="2")

            log = tmp_path / "worker.log"
            worker = start_worker(env, log)
            try:
                _wait_until(lambda: len(_created(procountor, numbers)) >= 1, worker, log, timeout=120)
                broker.stop()
                time.sleep(8)
                assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
                broker.start()
                entries = _wait_for_log(tmp_path / "home", env["SEVPRO_TENANT"], numbers, worker, log)
            finally:
                stop_worker(worker)
    finally:
        broker.stop()
        shutil.rmtree(broker.run_dir, ignore_errors=True)
    assert Counter(e["state"] for e in entries) == {"succeeded": 8, "failed-data": 4}
    assert sorted(Counter(i["originalInvoiceNumber"] for i in _created(procountor, numbers)).values()) == [1] * 8
    assert _moved_in_severa(severa) == 8


def test_worker_started_before_severa_waits_for_it_then_transfers(kafka, unique, tmp_path: Path,
                                                                  reserve_port) -> None:
    severa_port = reserve_port()  # no other program may take it before the sandbox comes up on it
    with SandboxServer(procountor_app(seed="demo")) as procountor:
        env = worker_environment(kafka.bootstrap, f"http://127.0.0.1:{severa_port}", procountor.url, f"late-{unique}")
        env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=f"late{unique}")
        log = tmp_path / "worker.log"
        worker = start_worker(env, log)
        try:
            deadline = time.monotonic() + 90
            while "runtime cannot start yet" not in log.read_text(errors="replace"):
                assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
                time.sleep(0.5)
            with SandboxServer(severa_app(seed="demo"), port=severa_port) as severa:
                numbers = {str(i["number"]) for i in severa.app.state.store.all("invoices")
                           if i["status"]["name"] == WAITING}
                entries = _wait_for_log(tmp_path / "home", env["SEVPRO_TENANT"], numbers, worker, log)
        finally:
            stop_worker(worker)
    assert Counter(e["state"] for e in entries) == {"succeeded": 8, "failed-data": 4}


def test_worker_waiting_for_an_api_stops_cleanly_on_sigterm(kafka, unique, tmp_path: Path, reserve_port) -> None:
    unreachable = f"http://127.0.0.1:{reserve_port()}"  # held: nothing can answer there
    env = worker_environment(kafka.bootstrap, unreachable, unreachable, f"down-{unique}")
    env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=f"down{unique}")
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        deadline = time.monotonic() + 90
        while "runtime cannot start yet" not in log.read_text(errors="replace"):
            assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        os.killpg(worker.pid, signal.SIGTERM)
        # Stopping must not wait for the API: a hang here would need SIGKILL (what _stop falls back to).
        returncode = worker.wait(timeout=60)
    finally:
        stop_worker(worker)
    assert returncode == 0, log.read_text(errors="replace")[-3000:]


def test_demo_command_then_log_json_and_a_replay_in_another_shell(kafka, unique, tmp_path: Path,
                                                                 reserve_port) -> None:
    tenant = f"demo{unique}"  # the broker is shared with other tests: the demo's events are this tenant's
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "SEVPRO_HOME": str(tmp_path / "home"),
           "SEVPRO_TENANT": tenant, "COLUMNS": "200"}
    # Another shell of the same user: the project home, but no KAFKA_BOOTSTRAP_SERVERS.
    other_shell = {k: v for k, v in env.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    ports = [str(reserve_port()) for _ in range(2)]  # held until the demo's sandboxes bind them
    output = tmp_path / "demo.out"
    demo = subprocess.Popen([sys.executable, "-m", "sevpro.cli", "demo", "--severa-port", ports[0],
                             "--procountor-port", ports[1], "--timeout", "150"],
                            env=env, stdout=output.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while "Running." not in output.read_text(errors="replace"):
            assert demo.poll() is None and time.monotonic() < deadline, output.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        text = output.read_text(errors="replace")
        assert f"http://127.0.0.1:{ports[0]}/rest-api" in text and "sevpro-demo-secret" in text
        entries = _sales_log(tenant, other_shell)
        # The README's "`sevpro replay` in another shell" while the demo runs: the demo's broker, all its events.
        replay = subprocess.run([sys.executable, "-m", "sevpro.cli", "replay"], env=other_shell, capture_output=True,
                                text=True, timeout=180)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert _sales_log(tenant, other_shell) == entries  # the replayed version has the same transfer log
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C
            demo.wait(timeout=60)
    assert not (tmp_path / "home" / "demo-kafka.json").exists()  # the demo's broker is no longer offered
    assert sorted(e["severa_number"] for e in entries) == [str(n) for n in range(10002, 10014)]
    for entry in entries:
        if entry["state"] == "failed-data":
            reason = entry["reason_for_failure"]
            assert reason["code"] and reason["field"] and reason["message"] and reason["solution"]
        else:
            assert entry["state"] == "succeeded" and entry["procountor_id"]
    assert sum(e["state"] == "failed-data" for e in entries) == 4


def _sales_log(tenant: str, env: dict[str, str]) -> list[dict]:
    logged = subprocess.run([sys.executable, "-m", "sevpro.cli", "log", "--json", "--tenant", tenant], env=env,
                            capture_output=True, text=True, timeout=60)
    assert logged.returncode == 0, logged.stderr
    return sorted((e for e in json.loads(logged.stdout) if e["kind"] == "sales-invoice"),
                  key=lambda e: e["severa_number"])


def _paced_at_half(log: Path) -> bool:
    """The worker's log says it counted two workers in its group and paces the APIs at half the defaults."""
    return any("workers counted" in line and "workers=2" in line and "procountor_per_second=9.0" in line
               and "severa_per_second=2.5" in line for line in log.read_text(errors="replace").splitlines())


RACE_CUSTOMERS = (3001, 3002, 3003)  # new: no business partner in Procountor yet
RACE_CODES = ("RACE-W0", "RACE-W1", "RACE-P0", "RACE-P1", "RACE-P2", "RACE-P3")  # new: no product either


def _group_members(bootstrap: str, group: str) -> tuple[str, int]:
    """(state, number of members) of a consumer group, as the broker sees it."""
    async def describe() -> tuple[str, int]:
        admin = admin_client(bootstrap)
        await admin.start()
        try:
            [response] = await admin.describe_consumer_groups([group])
            _, _, state, _, _, members = response.groups[0][:6]
            return str(state), len(members)
        finally:
            await admin.close()

    return asyncio.run(describe())


@pytest.mark.timeout(900)
@pytest.mark.parametrize("second_worker", ["in the group from the start", "joining in the middle of the race"])
def test_two_workers_fifty_invoices_of_three_new_customers_one_partner_and_product_each(kafka, unique, tmp_path: Path,
                                                                                        second_worker: str) -> None:
    """Up to 16 transfers at once per worker, two workers of one tenant: fifty invoices of three new customers,
    on six new product codes, moved to the transfer status at once. Every find-or-create of a partner or product
    races, within a worker and across the two; Procountor must end with one of each, and every invoice once.

    Joining in the middle: the group rebalances while the first worker holds most of the fifty (the worst
    moment: it must let go of them within the broker's rebalance timeout, or the broker drops it and the second
    worker carries out the same requests while it still writes; see streams/registers.py)."""
    # Latency keeps every transfer's search and create in flight long enough to overlap the others'.
    with SandboxServer(severa_app(seed="demo", latency_ms=20)) as severa, \
            SandboxServer(procountor_app(seed="demo", latency_ms=150)) as procountor:
        store = severa.app.state.store
        demo_numbers = {str(i["number"]) for i in store.all("invoices") if i["status"]["name"] == WAITING}
        race = race_invoices(store, 50, RACE_CUSTOMERS)
        numbers = {str(i["number"]) for i in race}
        app_id = f"race-{unique}"
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, app_id)
        env.update(SEVPRO_TENANT=f"race{unique}", SEVPRO_INVOICE_POLL_SECONDS="0.5")
        logs = [tmp_path / "first.log", tmp_path / "second.log"]

        def start(n: int) -> subprocess.Popen[bytes]:
            # Its own home (projections), and the registry routing's lines in its log.
            return start_worker(env | {"SEVPRO_HOME": str(tmp_path / f"home{n}")}, logs[n], loglevel="info")

        joining = second_worker.startswith("joining")
        workers = [start(0)] if joining else [start(0), start(1)]
        group = topics.named(app_id)  # the worker's consumer group is under the deployment's prefix
        try:
            # The demo's own invoices first: both workers are in the group, its partitions shared, when the race
            # starts (a worker alone would prove nothing across workers).
            _wait_for_log(tmp_path / "home0", env["SEVPRO_TENANT"], demo_numbers, workers[0], logs[0])
            if not joining:
                _wait_until(lambda: _group_members(kafka.bootstrap, group) == ("Stable", 2), workers[1], logs[1],
                            timeout=120)
            waiting = store.status_by_name("invoicestatuses", WAITING)["guid"]
            for invoice in race:  # a user selects the fifty and moves them on in one go
                store.set_invoice_status(invoice["guid"], waiting)
            if joining:  # once the first worker writes the fifty, it holds the rest of them
                fi_invoices = procountor.app.state.store.company("FI").invoices
                # list() copies at once: the sandbox's thread adds invoices meanwhile.
                _wait_until(lambda: any(i.get("originalInvoiceNumber") in numbers for i in list(fi_invoices.values())),
                            workers[0], logs[0], timeout=120)
                workers.append(start(1))
            entries = _wait_for_log(tmp_path / "home1", env["SEVPRO_TENANT"], demo_numbers | numbers, workers[1],
                                    logs[1], timeout=300)
            assert _group_members(kafka.bootstrap, group) == ("Stable", 2), "a worker left: no race between two"
            # The tenant's API clients are the same credentials on both: each worker paces them at half, so the
            # two together stay within each client's limit (Procountor suspends a client beyond it).
            _wait_until(lambda: all(_paced_at_half(log) for log in logs), workers[1], logs[1], timeout=30)
        finally:
            for worker in workers:
                stop_worker(worker)
        fi = procountor.app.state.store.company("FI")
        partners = Counter((p.get("invoicingInfo") or {}).get("customerNumber") for p in fi.partners.values())
        products = Counter(p.get("code") for p in fi.products.values())
        per_invoice = Counter(i["originalInvoiceNumber"] for i in _created(procountor, numbers | demo_numbers))
    assert {str(n): partners[str(n)] for n in RACE_CUSTOMERS} == {str(n): 1 for n in RACE_CUSTOMERS}, partners
    assert {code: products[code] for code in RACE_CODES} == dict.fromkeys(RACE_CODES, 1), products
    assert Counter(e["state"] for e in entries if e["severa_number"] in numbers) == {"succeeded": 50}
    assert {n for n in numbers if per_invoice[n] != 1} == set(), per_invoice
    assert max(per_invoice.values()) == 1, per_invoice  # the demo's invoices too
