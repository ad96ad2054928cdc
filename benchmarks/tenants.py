"""Many organisations on one worker pool (issue 14): how many tenants one pool worker polls every 10 s, and what
a second worker adds.

    python benchmarks/tenants.py [--tenants 100] [--workers 1 2] [--seconds 120] [--invoice-rate 1]

For each number of tenants and each number of workers, on a fresh deployment (its own topic prefix):

1. ONE Severa sandbox process and ONE Procountor sandbox process (`sevpro sandbox ... --organisations N`) host
   the N organisations, each with its own API clients and data, at their real per-client rate limits and
   `--latency-ms` added to every request.
2. The N tenants are registered as `sevpro tenants add` and `sevpro settings import` register them: a
   TenantConfigured (credentials as `env:` references) and the demo FI company's CompanySettingsChanged (its API
   key variable the tenant's own), built by the same functions and published in a few transactions.
3. `--workers` pool workers (`sevpro worker` with SEVPRO_POOL, SEVPRO_INVOICE_POLL_SECONDS=10) start; once every
   tenant has been polled (the Severa sandbox has answered its organisation's invoice listing), and the workers have
   taken in what those first polls published (the onboarding burst: every invoice, project and user of every
   tenant, each project a dimension-item transfer; "caught up", at most `--catch-up-timeout`), the measurement
   runs for `--seconds`: a trickle of `--invoice-rate` invoices per second, each a draft of a random tenant moved
   to the transfer status through the Severa API with that tenant's own token, as a user does.

It prints, per run: tenants, polls per second (the Severa invoice listings answered), poll lag p50/p95 (sampled
every second for every tenant: the time since the sandbox last answered that tenant's invoice listing), invoice
latency p50/p95 (status change → the worker's `succeeded` outcome on Kafka; it includes the wait for the tenant's
next poll, up to 10 s) and the same from the poller's observation of the status change (the part after the poll,
also by stage: the trigger's request, the transfer agent taking it, the transfer's own calls),
invoices done/sent, the workers' CPU % (of one core, summed), their CPU milliseconds per tenant poll (everything
the workers did, divided by the polls: the figure that holds on a busy machine; 1,000 tenants every 10 s need
100 polls a second, so under 10 ms per poll on one core), the sandboxes' and Kafka's CPU % (what the workers'
calls cost the services), RSS, RSS per tenant, and the speed-up of two workers over one, and the machine's load
average during the measurement (its other work takes CPU from the workers). Each second's lags (p50, p95, and
every tenant beyond 15 s) go to `.sevpro/bench-tenants/<tenants>-<workers>/lags.jsonl`.

On a 2-core machine one worker keeps up with more tenants than the machine can warm up in a short run, so the
tenants one worker can take, and what a second worker adds, are not reached. `--cpu-limit PCT` gives each worker
a fixed budget (PCT % of one core, held by Debian's `cpulimit` with SIGSTOP/SIGCONT), and `--capacity` searches,
for each `--workers`, the `--tenants` values (a binary search: lag grows with the tenants) for the most tenants
within poll lag p95 ≤ 15 s and the fewest beyond, and prints them and the speed-up:

    python benchmarks/tenants.py --cpu-limit 25 --capacity --tenants 40 60 80 120 160 --workers 1 2 --seconds 60

With `--cpu-limit-from window` the budget begins only after the onboarding burst has been taken in (on whole
cores), `--budget-settle` seconds before the measurement: the steady state alone under the budget. Under a budget
from the start, the burst (every tenant's first poll publishes all it has) is still being worked off during the
measurement, and its CPU counts in the figures of a run whose worker polls less.

The issue's goals:
1,000 tenants on one worker with poll lag p95 ≤ 15 s and invoice latency p95 ≤ 5 s; two workers ≥ 1.8× the tenants
of one at the same lag.

A benchmark prints figures; it asserts nothing. Everything it started stops on exit, Ctrl-C or failure, and no
worker is left stopped by its limiter (which is stopped first; the worker is sent SIGCONT with its SIGTERM; a
limiter whose benchmark was killed outright exits and continues its worker).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from foundation.company import demo_companies_path, load_companies
from foundation.kafka import admin_client, ensure_topics, read_committed_consumer, transactional_producer
from foundation.paths import project_home
from foundation.settings import Settings
from foundation.settings_events import TenantConfig, company_settings_changed, tenant_configured
from sandbox.procountor.organisations import credentials as procountor_credentials
from sandbox.runner import free_port
from sandbox.severa.organisations import credentials as severa_credentials
from sandbox.severa.organisations import draft_invoices, invoice_status, organisation_name
from schemas import topics
from schemas.codec import decode, encode
from sevpro.kafka_broker import BrokerError, LocalKafkaBroker

REPO = Path(__file__).resolve().parents[1]
WAITING = "Waiting for transfer to Procountor"
POLL = "GET /v1/invoices"  # the Severa listing that is a tenant's invoice poll (not with `numbers`: a transfer's check)
LAG_GOAL_S, LATENCY_GOAL_S = 15.0, 5.0
console = Console(width=180)  # the table is wide


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def env_name(tenant: str, what: str) -> str:
    return f"BENCH_{tenant.upper()}_{what}"


# ------------------------------------------------------------------------------------------------ processes


def _tree(pid: int) -> list[int]:
    """The process and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM to the process's group, then SIGCONT: a process stopped by a CPU limiter acts on the SIGTERM only
    once continued (SIGKILL, the last resort, ends it stopped or not)."""
    if process is None:
        return
    for signum in (signal.SIGTERM, signal.SIGCONT):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def orphan_guard() -> list[str]:
    """A command prefix that sends the started process SIGTERM if this benchmark dies without its cleanup (SIGKILL):
    a limiter exits then and continues its worker, so no worker is left SIGSTOPped behind."""
    return ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []


def limit_cpu(pid: int, percent: int, log: Path) -> subprocess.Popen[bytes]:
    """`cpulimit` keeps the process within `percent` % of one core: it measures the process's CPU time and stops
    (SIGSTOP) and continues (SIGCONT) it to hold the budget. On exit (SIGTERM) it continues the process; `--lazy`:
    it exits when the process does. Stop it before the process (`stop_limited`)."""
    return subprocess.Popen(
        [*orphan_guard(), "cpulimit", "--pid", str(pid), "--limit", str(percent), "--lazy", "--quiet"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def stop_limited(process: subprocess.Popen[bytes] | None, limiter: subprocess.Popen[bytes] | None) -> None:
    """The limiter first, so that it stops the process no more, then the process (continued by `stop_process`
    also if the limiter died while the process was stopped)."""
    stop_process(limiter)
    stop_process(process)


# ------------------------------------------------------------------------------------------------- the stack


@dataclass
class Run:
    """One deployment: N tenants, k workers."""

    tenants: int
    workers: int
    args: argparse.Namespace
    bootstrap: str
    home: Path
    severa: subprocess.Popen[bytes] | None = None
    procountor: subprocess.Popen[bytes] | None = None
    pool: list[subprocess.Popen[bytes]] = field(default_factory=list)
    limiters: list[subprocess.Popen[bytes]] = field(default_factory=list)  # with --cpu-limit: one per worker
    broker_pid: int | None = None
    severa_url: str = ""
    procountor_url: str = ""
    prefix: str = ""

    @property
    def names(self) -> list[str]:
        return [organisation_name(n) for n in range(1, self.tenants + 1)]

    def start_sandboxes(self) -> None:
        """One process per sandbox, hosting every organisation."""
        for system in ("severa", "procountor"):
            port = free_port()
            log = (self.home / f"{system}.log").open("wb")
            limit = [] if self.args.real_limits else ["--rate-limit", "100000"]
            process = subprocess.Popen(
                [sys.executable, "-m", "sevpro.cli", "sandbox", system, "--port", str(port), "--organisations",
                 str(self.tenants), "--latency-ms", str(self.args.latency_ms), *limit],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            setattr(self, system, process)
            base = f"http://127.0.0.1:{port}"
            setattr(self, f"{system}_url", base)
            deadline = time.monotonic() + 300
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the {system} sandbox exited; see {self.home / f'{system}.log'}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/_sandbox/organisations", timeout=30).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the {system} sandbox did not answer within 300 s")
                time.sleep(0.5)

    def secrets(self) -> dict[str, str]:
        """The tenants' secrets, as the workers' environment holds them (the events only name the variables)."""
        values = {}
        for name in self.names:
            values[env_name(name, "SEVERA_SECRET")] = severa_credentials(name)[1]
            _, secret, api_key = procountor_credentials(name)
            values[env_name(name, "PROCOUNTOR_SECRET")] = secret
            values[env_name(name, "PROCOUNTOR_API_KEY")] = api_key
        return values

    async def register(self) -> float:
        """Every tenant and its company settings, as `sevpro tenants add` and `sevpro settings import` publish
        them; seconds taken."""
        started = time.monotonic()
        settings = Settings()
        await ensure_topics(self.bootstrap, partitions=settings.topic_partitions)
        template = load_companies(demo_companies_path())["FI"]
        fields = set(TenantConfig.model_fields)
        producer = transactional_producer(self.bootstrap, topics.named("bench-registration"))
        await producer.start()
        try:
            for first in range(0, self.tenants, 250):
                await producer.begin_transaction()
                for name in self.names[first:first + 250]:
                    config = {"name": name, "display_name": f"Benchmark organisation {name}", "enabled": True,
                              "severa_client_id": severa_credentials(name)[0],
                              "severa_client_secret": f"env:{env_name(name, 'SEVERA_SECRET')}",
                              "procountor_client_id": procountor_credentials(name)[0],
                              "procountor_client_secret": f"env:{env_name(name, 'PROCOUNTOR_SECRET')}",
                              "severa_url": f"{self.severa_url}/rest-api",
                              "procountor_url": f"{self.procountor_url}/api"}
                    tenant = TenantConfig.model_validate({k: v for k, v in config.items() if k in fields})
                    company = template.model_copy(update={
                        "procountor_api_key_env": env_name(name, "PROCOUNTOR_API_KEY")})
                    at = datetime.now(UTC)
                    for record_name, topic, key, record in (
                            ("TenantConfigured", topics.tenants_configured(), topics.key(name),
                             tenant_configured(tenant, None, changed_by="benchmark", origin="sevpro tenants add",
                                               at=at)),
                            ("CompanySettingsChanged", topics.company_settings(), topics.key(name, "FI"),
                             company_settings_changed(name, company, None, changed_by="benchmark",
                                                      origin="sevpro settings import demo_companies.toml", at=at))):
                        assert record is not None  # None only when nothing would change: here nothing was before
                        value = encode(record_name, record)
                        await producer.send(topic, key=key, value=value)
                        await producer.send(topics.settings_history(), key=topics.key(name), value=value)
                await producer.commit_transaction()
        finally:
            await producer.stop()
        return time.monotonic() - started

    def worker_env(self) -> dict[str, str]:
        return {**os.environ, **self.secrets(),
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "SEVPRO_TOPIC_PREFIX": self.prefix,
                "SEVPRO_POOL": "bench", "SEVPRO_TENANT": "", "SEVPRO_COMPANIES_FILE": "",
                "SEVPRO_SEVERA_URL": f"{self.severa_url}/rest-api",
                "SEVPRO_PROCOUNTOR_URL": f"{self.procountor_url}/api",
                "SEVPRO_INVOICE_POLL_SECONDS": str(self.args.poll_seconds), "SEVPRO_SYNC_SCHEDULE": "continuous"}

    def start_worker(self, index: int) -> None:
        home = self.home / f"worker-{index}"
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in self.worker_env().items() if v != ""} | {"SEVPRO_HOME": str(home)}
        for variable in ("SEVPRO_TENANT", "SEVPRO_COMPANIES_FILE"):
            env.pop(variable, None)
        worker = subprocess.Popen(
            [*orphan_guard(), sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", self.args.worker_loglevel],
            cwd=REPO, env=env, stdout=(home / "worker.log").open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        self.pool.append(worker)
        if self.args.cpu_limit and self.args.cpu_limit_from == "start":
            self.limit_worker(index)

    def limit_worker(self, index: int) -> None:
        home = self.home / f"worker-{index}"
        self.limiters.append(limit_cpu(self.pool[index].pid, self.args.cpu_limit, home / "cpulimit.log"))

    def check_workers(self) -> None:
        for index, worker in enumerate(self.pool):
            if worker.poll() is not None:
                raise RuntimeError(f"worker {index} exited with {worker.returncode}; see "
                                   f"{self.home / f'worker-{index}' / 'worker.log'}")
        for index, limiter in enumerate(self.limiters):
            if limiter.poll() is not None:  # the budget no longer holds: the figures would not be the budget's
                raise RuntimeError(f"the CPU limiter of worker {index} exited with {limiter.returncode}; see "
                                   f"{self.home / f'worker-{index}' / 'cpulimit.log'}")

    def stop(self) -> None:
        for index, worker in enumerate(self.pool):
            stop_limited(worker, self.limiters[index] if index < len(self.limiters) else None)
        stop_process(self.severa)
        stop_process(self.procountor)

    def service_pids(self) -> list[int]:
        """The sandboxes and Kafka: what the workers' polls and transfers also need CPU for."""
        pids = [pid for process in (self.severa, self.procountor) if process for pid in _tree(process.pid)]
        return pids + ([self.broker_pid] if self.broker_pid else [])

    def _organisations(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.severa_url}/_sandbox/organisations", timeout=60).json()["organisations"])

    @staticmethod
    def _polls(calls: dict[str, Any]) -> dict[str, Any]:
        return {call: value for call, value in calls.items()
                if call.partition("?")[0] == POLL and "numbers" not in call.partition("?")[2].split("&")}

    def last_polls(self) -> dict[str, float]:
        """Organisation → time.time() its invoice poll was last answered (absent: never)."""
        return {o["name"]: max(polls.values()) for o in self._organisations()
                if o["name"] and (polls := self._polls(o["last_calls"]))}

    def poll_count(self) -> int:
        return sum(sum(self._polls(o["calls"]).values()) for o in self._organisations() if o["name"])


# ----------------------------------------------------------------------------------------------- the trickle


class Trickle(threading.Thread):
    """Moves a random tenant's draft to the transfer status `rate` times a second, through the Severa API with
    that tenant's own token, noting when."""

    def __init__(self, run: Run, rate: float) -> None:
        super().__init__(name="bench-trickle", daemon=True)
        self.run_, self.rate = run, rate
        self.sent: dict[str, float] = {}  # invoice guid → time.monotonic() of its status change
        self.refused: list[str] = []
        self.stop_event = threading.Event()
        self._drafts: dict[str, list[str]] = {}
        self._tokens: dict[str, dict[str, str]] = {}
        self._waiting: dict[str, str] = {}

    def run(self) -> None:
        names = list(self.run_.names)
        rng = random.Random(14)
        with httpx.Client(base_url=f"{self.run_.severa_url}/rest-api", timeout=60) as client:
            next_at = time.monotonic()
            while not self.stop_event.is_set():
                next_at += rng.expovariate(self.rate)
                if (pause := next_at - time.monotonic()) > 0 and self.stop_event.wait(pause):
                    return
                tenant = rng.choice(names)
                try:
                    self.flip(client, tenant)
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    self.refused.append(f"{tenant}: {exc}")

    def flip(self, client: httpx.Client, tenant: str) -> None:
        if tenant not in self._tokens:  # its drafts and statuses are known: no listing that would count as a poll
            client_id, secret = severa_credentials(tenant)
            token = client.post("/v1/token", json={"client_id": client_id, "client_secret": secret})
            token.raise_for_status()
            self._tokens[tenant] = {"Authorization": f"Bearer {token.json()['access_token']}"}
            self._waiting[tenant] = invoice_status(tenant, WAITING)
            self._drafts[tenant] = draft_invoices(tenant)
        if not self._drafts[tenant]:
            return  # this tenant's drafts are used up
        guid = self._drafts[tenant].pop()
        patch = [{"op": "replace", "path": "/status/guid", "value": self._waiting[tenant]}]
        for _ in range(5):  # the tenant's quota is shared with the worker: a 429 is tried again
            response = client.patch(f"/v1/invoices/{guid}", json=patch, headers=self._tokens[tenant])
            if response.status_code != 429:
                break
            time.sleep(0.2)
        response.raise_for_status()
        self.sent[guid] = time.monotonic()


class Outcomes(threading.Thread):
    """Notes when the poller's observation of each invoice in the transfer status, and its `succeeded` outcome,
    reach Kafka."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(name="bench-outcomes", daemon=True)
        self.bootstrap = bootstrap
        self.observed: dict[str, float] = {}  # invoice guid → time.monotonic() it was seen in the transfer status
        self.requested: dict[str, float] = {}  # the trigger's transfer request
        self.attempting: dict[str, float] = {}  # the transfer's first attempt began
        self.done: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.unreadable: list[str] = []
        self.ready = threading.Event()
        self.stop_event = threading.Event()
        self.topic = topics.transfer_outcome("sales-invoice")
        self.observations = topics.observed("severa", "invoice")
        self.requests = topics.transfer_requested("sales-invoice")

    def run(self) -> None:
        asyncio.run(self._read())

    async def _read(self) -> None:
        consumer = read_committed_consumer(self.bootstrap, auto_offset_reset="latest")
        await consumer.start()
        try:
            consumer.subscribe([self.topic, self.observations, self.requests])
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=200)
            self.ready.set()
            while not self.stop_event.is_set():
                for messages in (await consumer.getmany(timeout_ms=200)).values():
                    for message in messages:
                        try:
                            self._note(message.topic, message.value)
                        except Exception as exc:  # noqa: BLE001 - one odd record must not end the measurement
                            self.unreadable.append(f"{message.topic}: {exc!r}")
        finally:
            await consumer.stop()

    def _note(self, topic: str, value: bytes | None) -> None:
        if value is None:
            return
        _, record = decode(value)
        if topic == self.observations:
            status = (json.loads(record["snapshot"]).get("status") or {}).get("name")
            if status == WAITING:
                self.observed.setdefault(record["entity_id"], time.monotonic())
        elif topic == self.requests:
            self.requested.setdefault(record["source_id"], time.monotonic())
        elif record["state"] == "attempting":
            self.attempting.setdefault(record["source_id"], time.monotonic())
        elif record["state"] == "succeeded":
            self.done.setdefault(record["source_id"], time.monotonic())
        elif record["state"].startswith("failed"):
            self.failed[record["source_id"]] = record["state"]


# ----------------------------------------------------------------------------------------------- measurement


@dataclass
class Result:
    tenants: int
    workers: int
    polled: int = 0
    first_poll_s: float = float("nan")
    caught_up_s: float = float("nan")  # after the first polls: until the workers had taken in what they published
    registration_s: float = float("nan")
    polls_per_second: float = float("nan")
    lags: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # status change → succeeded
    after_poll: list[float] = field(default_factory=list)  # observed in the transfer status → succeeded
    # the part after the poll by stage: observed → requested (the trigger), requested → the first attempt's
    # start (the transfer agent takes the request), attempt → succeeded (the transfer's calls)
    stages: dict[str, list[float]] = field(default_factory=dict)
    sent: int = 0
    failed: int = 0
    cpu_percent: float = float("nan")
    cpu_ms_per_poll: float = float("nan")  # the workers' CPU per tenant poll: the figure a busy machine keeps
    service_cpu_percent: float = float("nan")  # the sandboxes' and Kafka's, of one core
    rss_mb: float = float("nan")
    load: list[float] = field(default_factory=list)  # the machine's 1-minute load average, sampled in the window
    note: str = ""

    @property
    def lag_p95(self) -> float:
        return percentile(self.lags, 0.95)

    @property
    def within_lag(self) -> bool:
        """Every tenant reached in the warm-up, and poll lag p95 within the goal."""
        return self.polled == self.tenants and self.lag_p95 <= LAG_GOAL_S


#: Events on the pool group's topics not yet taken in (committed) below which the workers count as caught up: a
#: few transaction markers per partition, and what the steady polling publishes, are never zero.
CAUGHT_UP_BACKLOG = 100


async def group_backlog(run: Run) -> int:
    """The events the pool's consumer group has not yet committed, over every topic of the run that it reads."""
    group = topics.named("pool-bench")
    admin = admin_client(run.bootstrap)
    consumer = read_committed_consumer(run.bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                     if tp.topic.startswith(run.prefix) and meta.offset >= 0}
        ends = await consumer.end_offsets(list(committed)) if committed else {}
        return sum(max(0, ends[tp] - offset) for tp, offset in committed.items())
    finally:
        await consumer.stop()
        await admin.close()


def warmup_timeout(args: argparse.Namespace, tenants: int) -> float:
    """The bound on the wait for every tenant's first poll."""
    return args.warmup_timeout if args.warmup_timeout is not None else max(300.0, 0.6 * tenants)


def measure(run: Run, args: argparse.Namespace) -> Result:
    result = Result(run.tenants, run.workers)
    run.prefix = f"bench-tenants-{run.tenants}-{run.workers}-{int(time.time())}."
    topics.configure(run.prefix)
    with console.status(f"{run.tenants} organisations in each sandbox..."):
        run.start_sandboxes()
    result.registration_s = asyncio.run(run.register())
    outcomes = Outcomes(run.bootstrap)
    outcomes.start()
    outcomes.ready.wait(60)
    started, started_wall = time.monotonic(), time.time()
    for index in range(run.workers):
        run.start_worker(index)
    with console.status(f"{run.workers} worker(s): waiting for every tenant's first poll..."):
        deadline = started + warmup_timeout(args, run.tenants)
        while len(polled := run.last_polls()) < run.tenants and time.monotonic() < deadline:
            run.check_workers()
            time.sleep(1)
    result.polled = len(polled)
    if result.polled < run.tenants:
        result.note = (f"only {result.polled} of {run.tenants} tenants polled within "
                       f"{warmup_timeout(args, run.tenants):.0f} s")
    else:
        result.first_poll_s = time.monotonic() - started
    with console.status(f"{run.workers} worker(s): taking in what the first polls published..."):
        # Every tenant's first poll publishes all it has (invoices, projects, users...), and each project becomes a
        # dimension-item transfer: an onboarding burst, not the steady state the goals are about. Its own figure.
        caught_up_from, deadline = time.monotonic(), time.monotonic() + args.catch_up_timeout
        while (backlog := asyncio.run(group_backlog(run))) > CAUGHT_UP_BACKLOG and time.monotonic() < deadline:
            run.check_workers()
            time.sleep(2)
        if backlog > CAUGHT_UP_BACKLOG:
            result.note += (f" the workers had {backlog} events of the first polls still to take in after "
                            f"{args.catch_up_timeout:.0f} s (measured meanwhile)")
        else:
            result.caught_up_s = time.monotonic() - caught_up_from
    if args.cpu_limit and args.cpu_limit_from == "window":
        # The onboarding burst ran on whole cores; the budget holds from here, and the polls take a round at the
        # budget's pace before the lags count (a tenant's lag shows the budget only after its next poll).
        for index in range(run.workers):
            run.limit_worker(index)
        with console.status(f"{run.workers} worker(s): {args.cpu_limit} % of a core each from now; "
                            f"{args.budget_settle:.0f} s before the measurement..."):
            settle_until = time.monotonic() + args.budget_settle
            while time.monotonic() < settle_until:
                run.check_workers()
                time.sleep(1)
    pids, services = [pid for worker in run.pool for pid in _tree(worker.pid)], run.service_pids()
    trickle = Trickle(run, args.invoice_rate)
    polls_before, cpu_before, window_start = run.poll_count(), cpu_seconds(pids), time.monotonic()
    service_cpu_before = cpu_seconds(services)
    trickle.start()
    rss: list[float] = []
    with (console.status(f"{run.workers} worker(s), {run.tenants} tenants: measuring for {args.seconds:.0f} s..."),
          (run.home / "lags.jsonl").open("w") as trace):
        while time.monotonic() - window_start < args.seconds:
            run.check_workers()
            now, last = time.time(), run.last_polls()
            lags = {name: now - last.get(name, started_wall) for name in run.names}  # never: since the start
            result.lags += lags.values()
            rss.append(rss_mb(pids))
            result.load.append(os.getloadavg()[0])
            # Each second's lags, to tell a stall of all tenants (a worker's loop) from a few tenants left behind
            late = sorted((name for name, lag in lags.items() if lag > LAG_GOAL_S), key=lags.__getitem__)
            trace.write(json.dumps({"t": round(time.monotonic() - window_start, 1),
                                    "p50": round(percentile(list(lags.values()), 0.5), 1),
                                    "p95": round(percentile(list(lags.values()), 0.95), 1),
                                    "late": {name: round(lags[name], 1) for name in late}}) + "\n")
            time.sleep(1)
    elapsed = time.monotonic() - window_start
    polls, cpu = run.poll_count() - polls_before, cpu_seconds(pids) - cpu_before
    result.polls_per_second, result.cpu_percent = polls / elapsed, 100 * cpu / elapsed
    result.service_cpu_percent = 100 * (cpu_seconds(services) - service_cpu_before) / elapsed
    result.cpu_ms_per_poll = 1000 * cpu / polls if polls else float("nan")
    result.rss_mb = max(rss) if rss else float("nan")
    trickle.stop_event.set()
    trickle.join()
    with console.status("waiting for the invoices in flight..."):
        deadline = time.monotonic() + args.settle
        while set(trickle.sent) - set(outcomes.done) - set(outcomes.failed) and time.monotonic() < deadline:
            time.sleep(0.5)
    reader_alive = outcomes.is_alive()
    outcomes.stop_event.set()
    outcomes.join(10)
    result.sent = len(trickle.sent)
    result.latencies = [outcomes.done[g] - t for g, t in trickle.sent.items() if g in outcomes.done]
    result.after_poll = [outcomes.done[g] - outcomes.observed[g] for g in trickle.sent
                         if g in outcomes.done and g in outcomes.observed]
    marks = (("trigger", outcomes.observed, outcomes.requested), ("to the transfer", outcomes.requested,
                                                                   outcomes.attempting),
             ("the transfer", outcomes.attempting, outcomes.done))
    result.stages = {stage: [end[g] - start[g] for g in trickle.sent if g in start and g in end]
                     for stage, start, end in marks}
    result.failed = len(set(trickle.sent) & set(outcomes.failed))
    if outcomes.unreadable:
        result.note += f" {len(outcomes.unreadable)} records unreadable (first: {outcomes.unreadable[0]})"
    if not reader_alive:
        result.note += " the outcome reader stopped early"
    if trickle.refused:
        result.note += f" {len(trickle.refused)} status changes refused (first: {trickle.refused[0]})"
    return result


def report(results: list[Result], args: argparse.Namespace) -> None:
    budget = f", each worker limited to {args.cpu_limit} % of a core" if args.cpu_limit else ""
    table = Table(title=f"Many organisations: pool workers polling every {args.poll_seconds:g} s, "
                        f"{args.invoice_rate:g} invoice/s trickle, {args.latency_ms:g} ms API latency{budget}")
    for column in ("tenants", "workers", "first poll of all (s)", "caught up (s)", "polls/s", "poll lag p50 (s)",
                   "poll lag p95 (s)",
                   "invoices done/sent", "latency p50 (s)", "latency p95 (s)", "after the poll p50/p95 (s)",
                   "CPU % (1 core)", "CPU ms/poll", "sandboxes+Kafka CPU %", "RSS (MB)", "RSS/tenant (MB)",
                   "load avg"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(str(r.tenants), str(r.workers), f"{r.first_poll_s:.1f}", f"{r.caught_up_s:.1f}",
                      f"{r.polls_per_second:.1f}",
                      f"{percentile(r.lags, 0.5):.1f}", f"{r.lag_p95:.1f}",
                      f"{len(r.latencies)}/{r.sent}" + (f" ({r.failed} failed)" if r.failed else ""),
                      f"{percentile(r.latencies, 0.5):.2f}", f"{percentile(r.latencies, 0.95):.2f}",
                      f"{percentile(r.after_poll, 0.5):.2f} / {percentile(r.after_poll, 0.95):.2f}",
                      f"{r.cpu_percent:.0f}", f"{r.cpu_ms_per_poll:.0f}", f"{r.service_cpu_percent:.0f}",
                      f"{r.rss_mb:.0f}", f"{r.rss_mb / r.tenants:.2f}",
                      f"{min(r.load):.1f}-{max(r.load):.1f}" if r.load else "nan")
    console.print(table)
    for r in results:
        if any(r.stages.values()):
            console.print(f"{r.tenants} tenants, {r.workers} worker(s), after the poll by stage, p50 / p95: "
                          + "; ".join(f"{stage} {percentile(times, 0.5):.2f} / {percentile(times, 0.95):.2f} s"
                                      for stage, times in r.stages.items()))
        if r.note:
            console.print(f"[yellow]{r.tenants} tenants, {r.workers} worker(s):[/yellow] {r.note.strip()}")
    capacity = capacities(results)
    if len(capacity) > 1 or args.capacity:
        report_capacity(capacity, args)
    by_workers: dict[int, list[Result]] = {}
    for r in results:
        by_workers.setdefault(r.workers, []).append(r)
    for r in results:
        if r.workers == 2 and (single := next((s for s in by_workers.get(1, []) if s.tenants == r.tenants), None)):
            console.print(f"{r.tenants} tenants: poll lag p95 {single.lag_p95:.1f} s with one worker, "
                          f"{r.lag_p95:.1f} s with two; polls/s {single.polls_per_second:.1f} → "
                          f"{r.polls_per_second:.1f}")
    load = os.getloadavg()
    console.print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
                  "(shared with other work)")


@dataclass
class Capacity:
    """What the measured --tenants values tell of the tenants k workers keep within the lag goal."""

    workers: int
    within: Result | None  # the most tenants measured within the goal
    beyond: Result | None  # the fewest tenants measured beyond it (more than `within`)


def capacities(results: list[Result]) -> dict[int, Capacity]:
    found: dict[int, Capacity] = {}
    for workers in sorted({r.workers for r in results}):
        runs = sorted((r for r in results if r.workers == workers), key=lambda r: r.tenants)
        within = max((r for r in runs if r.within_lag), key=lambda r: r.tenants, default=None)
        beyond = min((r for r in runs if not r.within_lag and (within is None or r.tenants > within.tenants)),
                     key=lambda r: r.tenants, default=None)
        found[workers] = Capacity(workers, within, beyond)
    return found


def report_capacity(capacity: dict[int, Capacity], args: argparse.Namespace) -> None:
    budget = f"{args.cpu_limit} % of a core" if args.cpu_limit else "none"
    table = Table(title=f"Tenants kept within poll lag p95 ≤ {LAG_GOAL_S:g} s (CPU budget per worker: {budget})")
    for column in ("workers", "most tenants within (lag p95)", "fewest beyond (lag p95)", "speed-up over one"):
        table.add_column(column, justify="right")
    one = capacity.get(1)
    for workers, c in sorted(capacity.items()):
        speed_up = "–"
        if workers > 1 and one and one.within and c.within:
            speed_up = f"{c.within.tenants / one.within.tenants:.2f}×"
            if one.beyond and c.beyond:  # the true figures lie between the measured ones
                speed_up += (f" (between {c.within.tenants / (one.beyond.tenants - 1):.2f}× "
                             f"and {(c.beyond.tenants - 1) / one.within.tenants:.2f}×)")
        table.add_row(str(workers),
                      f"{c.within.tenants} ({c.within.lag_p95:.1f} s)" if c.within else "none measured",
                      (f"{c.beyond.tenants} ({c.beyond.lag_p95:.1f} s"
                       + (f", {c.beyond.polled} polled" if c.beyond.polled < c.beyond.tenants else "") + ")")
                      if c.beyond else "none measured", speed_up)
    console.print(table)
    console.print("goal: two workers ≥ 1.8× the tenants of one at the same lag; only the --tenants measured are "
                  "known (a worker's capacity lies between its two columns)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[100], help="organisations (one run each)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="pool workers (one run each)")
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each measurement")
    parser.add_argument("--invoice-rate", type=float, default=1.0, help="invoices per second, random tenants")
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="SEVPRO_INVOICE_POLL_SECONDS")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency added to every sandbox request")
    parser.add_argument("--real-limits", action=argparse.BooleanOptionalAction, default=True,
                        help="the APIs' per-client rate limits (Severa 10/s, Procountor 20/s)")
    parser.add_argument("--warmup-timeout", type=float, default=None,
                        help="seconds for every tenant's first poll (default: 300, or 0.6 s a tenant above 500: the "
                             "first poll of each publishes all it has, and 1,000 needed more than 300 s)")
    parser.add_argument("--catch-up-timeout", type=float, default=600.0,
                        help="seconds to wait, after every tenant's first poll, for the workers to take in what the "
                             "first polls published (the onboarding burst) before the measurement")
    parser.add_argument("--settle", type=float, default=60.0,
                        help="seconds to wait after the measurement for the invoices in flight")
    parser.add_argument("--worker-loglevel", default="warning",
                        help="the workers' --loglevel (info: tenant polling taken and handed over, in worker.log)")
    parser.add_argument("--cpu-limit", type=int, default=None, metavar="PCT",
                        help="each worker's CPU budget, in %% of one core (Debian's cpulimit: SIGSTOP/SIGCONT), so "
                             "that the tenants one worker can take are reached on a small machine")
    parser.add_argument("--cpu-limit-from", choices=("start", "window"), default="start",
                        help="when the budget begins: with the workers (start), or once the onboarding burst is "
                             "taken in, for the measurement (window: the steady state the goals are about, on "
                             "whole cores before it)")
    parser.add_argument("--budget-settle", type=float, default=30.0,
                        help="with --cpu-limit-from window: seconds under the budget before the measurement")
    parser.add_argument("--capacity", action="store_true",
                        help="search the tenants each --workers keeps within poll lag p95 ≤ 15 s: a binary search "
                             "over the --tenants values (lag grows with the tenants); then the speed-up")
    args = parser.parse_args(argv)
    if args.cpu_limit is not None and not 1 <= args.cpu_limit <= 100:
        parser.error("--cpu-limit is a per cent of one core: 1 to 100")
    return args


def capacity_search(values: list[int], within: Callable[[int], bool]) -> None:
    """A binary search over the sorted tenant counts for the last one within the lag goal (lag grows with the
    tenants): the middle one first, then the middle of the half that holds the boundary, about log2(n) runs
    instead of n (each run's warm-up is the long part)."""
    ordered = sorted(set(values))
    last_within, first_beyond = -1, len(ordered)  # indices: all before the first within, all after beyond
    while first_beyond - last_within > 1:
        middle = (last_within + first_beyond) // 2
        if within(ordered[middle]):
            last_within = middle
        else:
            first_beyond = middle


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("SEVPRO_HOME", str(REPO / ".sevpro"))  # the Kafka jars, wherever this is started from
    if "pool" not in Settings.model_fields:
        console.print("[red]this branch has no pool worker (SEVPRO_POOL, issue 14) yet: nothing to measure[/red]")
        return 2
    if args.cpu_limit and not shutil.which("cpulimit"):
        console.print("[red]--cpu-limit needs cpulimit, which is not installed: `apt-get install -y cpulimit` "
                      "(Debian's package; as root)[/red]")
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # a new topic's leader election: retried, not news
    home = project_home() / "bench-tenants"
    shutil.rmtree(home, ignore_errors=True)
    broker = LocalKafkaBroker(port=free_port(), controller_port=free_port(), name="bench-tenants")
    results: list[Result] = []
    current: Run | None = None
    try:
        broker.reset()
        with console.status("starting Kafka..."):
            bootstrap = broker.start().bootstrap

        def run_once(tenants: int, workers: int) -> Result:
            nonlocal current
            current = Run(tenants, workers, args, bootstrap, home / f"{tenants}-{workers}")
            with contextlib.suppress(OSError, ValueError):
                current.broker_pid = int(broker.pid_file.read_text().strip())
            current.home.mkdir(parents=True)
            results.append(measure(current, args))
            current.stop()
            current = None
            console.print(f"{tenants} tenants, {workers} worker(s): poll lag p95 {results[-1].lag_p95:.1f} s")
            return results[-1]

        if args.capacity:
            for workers in args.workers:
                def within(tenants: int, workers: int = workers) -> bool:
                    return run_once(tenants, workers).within_lag

                capacity_search(args.tenants, within)
        else:
            for tenants in args.tenants:
                for workers in args.workers:
                    run_once(tenants, workers)
        report(results, args)
        return 0
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        return 130
    except (RuntimeError, BrokerError) as exc:
        console.print(f"[red]benchmark failed: {exc}[/red]")
        if results:
            report(results, args)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with console.status("stopping the workers, the sandboxes and Kafka..."):
            if current is not None:
                current.stop()
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
