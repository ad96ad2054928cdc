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
   tenant has been polled (the Severa sandbox has answered its organisation's invoice listing), the measurement
   runs for `--seconds`: a trickle of `--invoice-rate` invoices per second, each a draft of a random tenant moved
   to the transfer status through the Severa API with that tenant's own token, as a user does.

It prints, per run: tenants, polls per second (the Severa invoice listings answered), poll lag p50/p95 (sampled
every second for every tenant: the time since the sandbox last answered that tenant's invoice listing), invoice
latency p50/p95 (status change → the worker's `succeeded` outcome on Kafka; it includes the wait for the tenant's
next poll, up to 10 s) and the same from the poller's observation of the status change (the part after the poll),
invoices done/sent, the workers' CPU % (of one core, summed), their CPU milliseconds per tenant poll (everything
the workers did, divided by the polls: the figure that holds on a busy machine; 1,000 tenants every 10 s need
100 polls a second, so under 10 ms per poll on one core) and RSS, RSS per tenant, and the speed-up of two workers
over one, and the machine's load average during the measurement (its other work takes CPU from the workers).
The issue's goals:
1,000 tenants on one worker with poll lag p95 ≤ 15 s and invoice latency p95 ≤ 5 s; two workers ≥ 1.8× the tenants
of one at the same lag.

A benchmark prints figures; it asserts nothing. Everything it started stops on exit, Ctrl-C or failure.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from foundation.company import demo_companies_path, load_companies
from foundation.kafka import ensure_topics, read_committed_consumer, transactional_producer
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
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
        self.pool.append(subprocess.Popen(
            [sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", "warning"], cwd=REPO, env=env,
            stdout=(home / "worker.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True))

    def check_workers(self) -> None:
        for index, worker in enumerate(self.pool):
            if worker.poll() is not None:
                raise RuntimeError(f"worker {index} exited with {worker.returncode}; see "
                                   f"{self.home / f'worker-{index}' / 'worker.log'}")

    def stop(self) -> None:
        for worker in self.pool:
            stop_process(worker)
        stop_process(self.severa)
        stop_process(self.procountor)

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
        self.done: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.unreadable: list[str] = []
        self.ready = threading.Event()
        self.stop_event = threading.Event()
        self.topic = topics.transfer_outcome("sales-invoice")
        self.observations = topics.observed("severa", "invoice")

    def run(self) -> None:
        asyncio.run(self._read())

    async def _read(self) -> None:
        consumer = read_committed_consumer(self.bootstrap, auto_offset_reset="latest")
        await consumer.start()
        try:
            consumer.subscribe([self.topic, self.observations])
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
    registration_s: float = float("nan")
    polls_per_second: float = float("nan")
    lags: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # status change → succeeded
    after_poll: list[float] = field(default_factory=list)  # observed in the transfer status → succeeded
    sent: int = 0
    failed: int = 0
    cpu_percent: float = float("nan")
    cpu_ms_per_poll: float = float("nan")  # the workers' CPU per tenant poll: the figure a busy machine keeps
    rss_mb: float = float("nan")
    load: list[float] = field(default_factory=list)  # the machine's 1-minute load average, sampled in the window
    note: str = ""

    @property
    def lag_p95(self) -> float:
        return percentile(self.lags, 0.95)


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
    pids = [pid for worker in run.pool for pid in _tree(worker.pid)]
    trickle = Trickle(run, args.invoice_rate)
    polls_before, cpu_before, window_start = run.poll_count(), cpu_seconds(pids), time.monotonic()
    trickle.start()
    rss: list[float] = []
    with console.status(f"{run.workers} worker(s), {run.tenants} tenants: measuring for {args.seconds:.0f} s..."):
        while time.monotonic() - window_start < args.seconds:
            run.check_workers()
            now, last = time.time(), run.last_polls()
            result.lags += [now - last.get(name, started_wall) for name in run.names]  # never: since the start
            rss.append(rss_mb(pids))
            result.load.append(os.getloadavg()[0])
            time.sleep(1)
    elapsed = time.monotonic() - window_start
    polls, cpu = run.poll_count() - polls_before, cpu_seconds(pids) - cpu_before
    result.polls_per_second, result.cpu_percent = polls / elapsed, 100 * cpu / elapsed
    result.cpu_ms_per_poll = 1000 * cpu / polls if polls else float("nan")
    result.rss_mb = max(rss) if rss else float("nan")
    trickle.stop_event.set()
    trickle.join()
    with console.status("waiting for the invoices in flight..."):
        deadline = time.monotonic() + 60
        while set(trickle.sent) - set(outcomes.done) - set(outcomes.failed) and time.monotonic() < deadline:
            time.sleep(0.5)
    reader_alive = outcomes.is_alive()
    outcomes.stop_event.set()
    outcomes.join(10)
    result.sent = len(trickle.sent)
    result.latencies = [outcomes.done[g] - t for g, t in trickle.sent.items() if g in outcomes.done]
    result.after_poll = [outcomes.done[g] - outcomes.observed[g] for g in trickle.sent
                         if g in outcomes.done and g in outcomes.observed]
    result.failed = len(set(trickle.sent) & set(outcomes.failed))
    if outcomes.unreadable:
        result.note += f" {len(outcomes.unreadable)} records unreadable (first: {outcomes.unreadable[0]})"
    if not reader_alive:
        result.note += " the outcome reader stopped early"
    if trickle.refused:
        result.note += f" {len(trickle.refused)} status changes refused (first: {trickle.refused[0]})"
    return result


def report(results: list[Result], args: argparse.Namespace) -> None:
    table = Table(title=f"Many organisations: pool workers polling every {args.poll_seconds:g} s, "
                        f"{args.invoice_rate:g} invoice/s trickle, {args.latency_ms:g} ms API latency")
    for column in ("tenants", "workers", "first poll of all (s)", "polls/s", "poll lag p50 (s)", "poll lag p95 (s)",
                   "invoices done/sent", "latency p50 (s)", "latency p95 (s)", "after the poll p50/p95 (s)",
                   "CPU % (1 core)", "CPU ms/poll", "RSS (MB)",
                   "RSS/tenant (MB)", "load avg"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(str(r.tenants), str(r.workers), f"{r.first_poll_s:.1f}", f"{r.polls_per_second:.1f}",
                      f"{percentile(r.lags, 0.5):.1f}", f"{r.lag_p95:.1f}",
                      f"{len(r.latencies)}/{r.sent}" + (f" ({r.failed} failed)" if r.failed else ""),
                      f"{percentile(r.latencies, 0.5):.2f}", f"{percentile(r.latencies, 0.95):.2f}",
                      f"{percentile(r.after_poll, 0.5):.2f} / {percentile(r.after_poll, 0.95):.2f}",
                      f"{r.cpu_percent:.0f}", f"{r.cpu_ms_per_poll:.0f}", f"{r.rss_mb:.0f}",
                      f"{r.rss_mb / r.tenants:.2f}",
                      f"{min(r.load):.1f}-{max(r.load):.1f}" if r.load else "nan")
    console.print(table)
    for r in results:
        if r.note:
            console.print(f"[yellow]{r.tenants} tenants, {r.workers} worker(s):[/yellow] {r.note.strip()}")
    by_workers: dict[int, list[Result]] = {}
    for r in results:
        by_workers.setdefault(r.workers, []).append(r)

    def capacity(workers: int) -> int | None:
        """The most tenants polled with lag p95 within the goal."""
        fitting = [r.tenants for r in by_workers.get(workers, []) if r.polled == r.tenants and r.lag_p95 <= LAG_GOAL_S]
        return max(fitting) if fitting else None

    one, two = capacity(1), capacity(2)
    if one and two:
        console.print(f"speed-up: two workers keep poll lag p95 ≤ {LAG_GOAL_S:g} s for {two} tenants, one for {one} "
                      f"({two / one:.2f}×; goal ≥ 1.8×; only the --tenants measured are known)")
    for r in results:
        if r.workers == 2 and (single := next((s for s in by_workers.get(1, []) if s.tenants == r.tenants), None)):
            console.print(f"{r.tenants} tenants: poll lag p95 {single.lag_p95:.1f} s with one worker, "
                          f"{r.lag_p95:.1f} s with two; polls/s {single.polls_per_second:.1f} → "
                          f"{r.polls_per_second:.1f}")
    load = os.getloadavg()
    console.print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
                  "(shared with other work)")


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
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("SEVPRO_HOME", str(REPO / ".sevpro"))  # the Kafka jars, wherever this is started from
    if "pool" not in Settings.model_fields:
        console.print("[red]this branch has no pool worker (SEVPRO_POOL, issue 14) yet: nothing to measure[/red]")
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
        for tenants in args.tenants:
            for workers in args.workers:
                current = Run(tenants, workers, args, bootstrap, home / f"{tenants}-{workers}")
                current.home.mkdir(parents=True)
                results.append(measure(current, args))
                current.stop()
                current = None
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
