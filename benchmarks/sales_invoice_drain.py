"""Sales invoice drain benchmark (issue #5): how fast, and with how many API calls, invoices reach Procountor.

    python benchmarks/sales_invoice_drain.py [--invoices 500] [--latency-ms 50]

Runs the whole stack as `sevpro demo` does: its own Kafka broker (reset), both sandboxes with the demo
organisation at their real rate limits (Severa 10 requests/s, Procountor 20 requests/s per API client) and
`--latency-ms` added to every request, and a `sevpro worker` subprocess with the product's own settings.

1. Warm-up: the demo invoices are transferred (this loads every per-worker cache: statuses, fiscal years,
   dimensions, partners, products). The calls made so far are the one-time calls.
2. Idle latency: one invoice at a time (a clone of a demo invoice that transferred) is moved to the transfer
   status, `--idle-runs` times; the median time from the status change to the invoice existing in
   Procountor is the single-invoice latency.
3. Drain: `--invoices` clones are moved to the transfer status at once. We time every invoice's appearance
   in Procountor and its completion (Severa status "Transferred to Procountor"), and count every request
   each sandbox received, by endpoint.

The clones are stamped as drafted a day ago, as if they had waited in Draft long before: the poller's
changed-since window then sees only their status change, which is what the benchmark is about.

A benchmark prints figures; it asserts nothing. Everything it started stops on exit, Ctrl-C or failure, and
the whole run is bounded by `--timeout` seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import itertools
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from foundation.paths import project_home
from projections import versions
from projections.store import ProjectionStore
from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer, free_port
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.store import SeveraStore, finnish_reference
from sevpro.demo import worker_environment
from sevpro.kafka_broker import BrokerError, LocalKafkaBroker

REPO = Path(__file__).resolve().parents[1]
WAITING = "Waiting for transfer to Procountor"
TRANSFERRED = "Transferred to Procountor"
DRAFT = "Draft"
SEVERA_LIMIT, PROCOUNTOR_LIMIT = 10.0, 20.0  # the real APIs' documented limits (requests per second)
FINAL_STATES = ("succeeded", "failed-data", "failed_data")
AUDIT_FIELDS = ("guid", "createdDateTime", "createdBy", "lastUpdatedDateTime", "lastUpdatedBy")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ID = re.compile(r"/\d+(?=/|$)")
IDS = re.compile(r"/\d+(?:,\d+)+(?=/|$)")  # a batch read: `GET /invoices/1,2,3`

console = Console(width=None if sys.stdout.isatty() else 120)


class BenchmarkTimeout(Exception):
    """The run took longer than --timeout allows."""


# ------------------------------------------------------------------------------------------- request log


@dataclass
class Call:
    at: float  # time.monotonic() when the response started
    key: str  # "METHOD /normalised/path"
    status: int


class CallRecorder:
    """ASGI wrapper that records every request a sandbox answers (its own stats cannot tell a duplicate
    search from a poll: both are `GET /invoices`, told apart here by the query)."""

    def __init__(self, app: Any, base: str, tagged_queries: tuple[str, ...] = ()) -> None:
        self.app = app
        self.base = base
        self.tagged_queries = tagged_queries
        self.calls: list[Call] = []

    def key(self, scope: dict[str, Any]) -> str:
        path = scope["path"].removeprefix(self.base)
        path = ID.sub("/{id}", IDS.sub("/{ids}", GUID.sub("{guid}", path)))
        query = scope.get("query_string", b"").decode()
        tags = [q for q in self.tagged_queries if q in query]
        return f"{scope['method']} {path}" + (f"?{'&'.join(tags)}" if tags else "")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 0}

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        self.calls.append(Call(time.monotonic(), self.key(scope), status["code"]))

    def between(self, start: float, end: float) -> list[Call]:
        return [c for c in list(self.calls) if start <= c.at <= end]


def severa_kind(key: str) -> str:
    """token, polling (list reads: only the pollers read lists once the worker runs) or transfer."""
    method, path = key.split(" ", 1)
    if path in ("/v1/token", "/v1/refreshtoken"):
        return "token"
    if method == "GET" and "{guid}" not in path and "{id}" not in path:
        return "polling"
    return "transfer"


def procountor_kind(key: str) -> str:
    method, path = key.split(" ", 1)
    if path == "/oauth/token":
        return "token"
    # The purchase-invoice poller reads /invoices by version, then invoices and receipts in batches, and the
    # dimensions in full; the payments poll lists the sales invoices in a payment status (status=); the transfer's
    # duplicate check reads /invoices by originalInvoiceNumber or lists the sales invoices changed since its last
    # listing (all tagged; previousId= tags a page after the first).
    # A batch read of ledger receipts is the transfers' (the receipts of a backlog's invoices before their row
    # dimensions, issue 16); the purchase-invoice poller's receipts come with its purchase invoices, none here.
    route, _, tags = path.partition("?")
    search = "originalInvoiceNumber=" in tags or ("types=SALES_INVOICE" in tags and "status=" not in tags)
    batch = route.endswith("{ids}") and not route.startswith("/ledgerreceipts")
    if method == "GET" and not search and (route in ("/invoices", "/dimensions") or batch):
        return "polling"
    return "transfer"


# ------------------------------------------------------------------------------------------------ stack


@dataclass
class Stack:
    args: argparse.Namespace
    deadline: float
    home: Path = field(default_factory=lambda: project_home() / "bench")
    broker: LocalKafkaBroker | None = None
    severa: SandboxServer | None = None
    procountor: SandboxServer | None = None
    severa_calls: CallRecorder | None = None
    procountor_calls: CallRecorder | None = None
    severa_store: SeveraStore | None = None
    procountor_store: Any = None
    worker: subprocess.Popen[bytes] | None = None
    second: subprocess.Popen[bytes] | None = None  # --join-after: a second worker of the tenant, joining mid-drain
    env: dict[str, str] = field(default_factory=dict)

    @property
    def worker_log(self) -> Path:
        return self.home / "worker.log"

    def start(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        bootstrap = self._start_broker()
        latency = self.args.latency_ms
        # The real APIs' limits unless a benchmark measures something else (the fuzz: robustness, not speed).
        sev = severa_app(seed="demo", latency_ms=latency,
                         rate_limit_per_second=getattr(self.args, "severa_limit", SEVERA_LIMIT),
                         max_row_count=getattr(self.args, "severa_max_rows", 100))
        proc = procountor_app(seed="demo", latency_ms=latency,
                              rate_limit_per_second=getattr(self.args, "procountor_limit", PROCOUNTOR_LIMIT))
        self.severa_store, self.procountor_store = sev.state.store, proc.state.store
        # By route: the checks' batched read (numbers=) apart from the pollers' changed-since reads, and a list's
        # pages after the first (pageToken=) apart from its first.
        self.severa_calls = CallRecorder(sev, "/rest-api", ("numbers=", "changedSince=", "pageToken="))
        # The duplicate search: by originalInvoiceNumber, or (issue 16) the shared listing of sales invoices.
        # The payments poll (status=) lists sales invoices too: a poll, not the duplicate search.
        self.procountor_calls = CallRecorder(proc, "/api", ("originalInvoiceNumber=", "types=SALES_INVOICE",
                                                            "status=", "previousId="))
        self.severa = SandboxServer(self.severa_calls).start()
        self.procountor = SandboxServer(self.procountor_calls).start()
        self.env = worker_environment(bootstrap, self.severa.url, self.procountor.url,
                                      f"bench-{int(time.time())}")
        self.env["SEVPRO_HOME"] = str(self.home)  # the worker's transfer log, apart from the demo's
        for flag, name in (("severa_rps", "SEVERA_REQUESTS_PER_SECOND"),
                           ("procountor_rps", "PROCOUNTOR_REQUESTS_PER_SECOND"),
                           ("concurrency", "TRANSFER_CONCURRENCY")):
            if getattr(self.args, flag) is not None:
                self.env[f"SEVPRO_{name}"] = str(getattr(self.args, flag))
        self.worker = self._worker(self.env, self.worker_log)

    def _worker(self, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        # With a second worker joining, at info: the workers log how long each rebalance held them.
        level = "info" if getattr(self.args, "join_after", None) is not None else "warning"
        return subprocess.Popen([sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", level], cwd=REPO,
                                env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def second_log(self) -> Path:
        return self.home / "second" / "worker.log"

    def start_second(self) -> None:
        """A second worker of the tenant, with its own project home, as a second host would run it."""
        self.second_log.parent.mkdir(parents=True, exist_ok=True)
        self.second = self._worker(self.env | {"SEVPRO_HOME": str(self.second_log.parent)}, self.second_log)

    def _start_broker(self) -> str:
        """Our own broker on any free ports, chosen as it binds them (chosen again when another program takes one
        between the choice and the bind, which a retry on 'already in use' alone did not catch)."""
        self.broker = LocalKafkaBroker(port=0, controller_port=0, name="bench")
        self.broker.reset()
        try:
            with console.status("starting Kafka on any free port..."):
                return self.broker.start().bootstrap
        except BrokerError as exc:
            raise RuntimeError(str(exc)) from exc

    def stop(self) -> None:
        for worker in (self.second, self.worker):
            if worker is None:
                continue
            # Signal the worker's own process group whatever poll() says: nothing of it may stay behind.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        for server in (self.severa, self.procountor):
            if server is not None:
                server.stop()
        if self.broker is not None:
            self.broker.stop()

    def check(self, what: str) -> None:
        """Between waits: the worker must be alive and the time budget not spent."""
        assert self.worker is not None
        if self.worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {self.worker.returncode} while {what}; "
                               f"see {self.worker_log}")
        if self.second is not None and self.second.poll() is not None:
            raise RuntimeError(f"the second worker exited with {self.second.returncode} while {what}; "
                               f"see {self.second_log}")
        if time.monotonic() > self.deadline:
            raise BenchmarkTimeout(f"still {what} after {self.args.timeout:.0f} s")

    def transfers(self) -> list[dict[str, Any]]:
        root = self.home / "projections"
        if versions.current_version(root) is None:  # the worker's projector has not created it yet
            return []
        with ProjectionStore(root) as store:
            return store.transfers(kind="sales-invoice")


def _free_port_pair() -> int:
    """A port whose successor is free too (the broker's controller listens on port + 1)."""
    for _ in range(50):
        port = free_port()
        if port < 65535 and _bindable(port) and _bindable(port + 1):
            return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# -------------------------------------------------------------------------------------------- invoices


def status_guid(store: SeveraStore, name: str) -> str:
    return str(store.status_by_name("invoicestatuses", name)["guid"])


def clone_invoice(store: SeveraStore, template: dict[str, Any], draft: str) -> dict[str, Any]:
    """A new Draft invoice with the template's customer, projects and rows, under a new number."""
    number = store.next_number("invoice")
    body = {k: copy.deepcopy(v) for k, v in template.items() if k not in AUDIT_FIELDS}
    body |= {"number": number, "referenceNumber": finnish_reference(number), "status": store.invoice_status_sub(draft),
             "isCreditNote": False, "reimburseInvoice": None, "creditNoteInvoice": None, "paymentDate": None}
    invoice = store.insert("invoices", body)
    for row in store.find("invoicerows", invoiceGuid=template["guid"]):
        copied = {k: copy.deepcopy(v) for k, v in row.items() if k not in AUDIT_FIELDS}
        store.insert("invoicerows", copied | {"invoiceGuid": invoice["guid"]})
    # Drafted a day ago: outside the poller's changed-since window, so only the status change is news.
    long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat(timespec="microseconds")
    invoice["createdDateTime"] = invoice["lastUpdatedDateTime"] = long_ago
    return invoice


class Watcher(threading.Thread):
    """Notes when each watched invoice appears in Procountor (by originalInvoiceNumber) and when Severa shows
    it transferred; polls the in-process stores every few milliseconds."""

    def __init__(self, stack: Stack, interval: float = 0.01) -> None:
        super().__init__(name="bench-watcher", daemon=True)
        self.stack = stack
        self.interval = interval
        self.flipped: dict[str, float] = {}  # Severa number → status change time
        self.guids: dict[str, str] = {}  # Severa number → guid
        self.in_procountor: dict[str, float] = {}
        self.completed: dict[str, float] = {}
        self._seen: Counter[str] = Counter()  # invoices read so far per Procountor company
        self.copies: Counter[str] = Counter()  # Severa number → invoices in Procountor with it (1: no duplicate)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._checked = 0.0

    def flip(self, invoices: list[dict[str, Any]]) -> None:
        """Move the invoices to the transfer status, all at once, noting each one's time."""
        store = self.stack.severa_store
        assert store is not None
        waiting = status_guid(store, WAITING)
        with self._lock:
            for invoice in invoices:
                self.guids[str(invoice["number"])] = invoice["guid"]
                store.set_invoice_status(invoice["guid"], waiting)
                self.flipped[str(invoice["number"])] = time.monotonic()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            now = time.monotonic()
            with self._lock:
                for code, company in self.stack.procountor_store.companies.items():
                    fresh = list(company.invoices.values())[self._seen[code]:]
                    self._seen[code] += len(fresh)
                    for invoice in fresh:
                        number = str(invoice.get("originalInvoiceNumber"))
                        if number in self.flipped:
                            self.in_procountor.setdefault(number, now)
                            self.copies[number] += 1
                store = self.stack.severa_store
                assert store is not None
                for number, guid in self.guids.items():
                    if number not in self.completed:
                        record = store.get("invoices", guid) or {}
                        if (record.get("status") or {}).get("name") == TRANSFERRED:
                            self.completed[number] = now

    def stop(self) -> None:
        self._stop_event.set()

    def wait_for(self, numbers: list[str], what: str, done: Callable[[], dict[str, float]]) -> None:
        while not all(n in done() for n in numbers):
            self.stack.check(what)
            failed = self.failures(numbers)
            if failed:
                raise RuntimeError(f"transfers failed while {what}: {failed[:3]}")
            time.sleep(0.05)

    def failures(self, numbers: list[str]) -> list[str]:
        """Watched invoices the transfer log shows failed for data reasons (checked at most every second)."""
        now = time.monotonic()
        if now - self._checked < 1.0:
            return []
        self._checked = now
        wanted = set(numbers)
        return [f"{e['severa_number']}: {(e.get('last_error') or {}).get('message')}"
                for e in self.stack.transfers()
                if e["severa_number"] in wanted and e["state"] in ("failed-data", "failed_data")]


# ---------------------------------------------------------------------------------------------- phases


def warm_up(stack: Stack) -> list[dict[str, Any]]:
    """Wait until every demo invoice in the transfer status has a final state; the successes are templates."""
    store = stack.severa_store
    assert store is not None
    numbers = {str(i["number"]) for i in store.all("invoices") if i["status"]["name"] == WAITING}
    with console.status("warm-up: transferring the demo invoices...") as status:
        while True:
            stack.check("warming up (transferring the demo invoices)")
            entries = {e["severa_number"]: e for e in stack.transfers() if e["severa_number"] in numbers}
            final = [e for e in entries.values() if e["state"] in FINAL_STATES]
            status.update(f"warm-up: transferring the demo invoices... {len(final)}/{len(numbers)}")
            if len(final) == len(numbers):
                break
            time.sleep(0.5)
    templates = []
    for entry in entries.values():
        invoice = store.get("invoices", entry["severa_id"])
        if entry["state"] == "succeeded" and invoice and not invoice.get("isCreditNote"):
            templates.append(invoice)
    if not templates:
        raise RuntimeError("no demo invoice transferred during the warm-up; see " + str(stack.worker_log))
    return sorted(templates, key=lambda i: i["number"])


def print_trace(stack: Stack, number: str, flipped: float, seen: float) -> None:
    """Every call both sandboxes answered from an idle invoice's status change until it was seen in Procountor,
    with the seconds since the change when each answer was sent: where an idle invoice's time goes."""
    assert stack.severa_calls is not None and stack.procountor_calls is not None
    calls = sorted([("Severa", c) for c in stack.severa_calls.between(flipped, seen)]
                   + [("Procountor", c) for c in stack.procountor_calls.between(flipped, seen)],
                   key=lambda pair: pair[1].at)
    console.print(f"idle invoice {number}: in Procountor after {seen - flipped:.2f} s")
    for system, call in calls:
        console.print(f"  {call.at - flipped:6.3f} s  {system:<10} {call.key} {call.status}")


def idle_latency(stack: Stack, watcher: Watcher, templates: list[dict[str, Any]], runs: int,
                 trace: bool = False, spread: float = 1.0) -> list[float]:
    """One invoice at a time on an otherwise idle system: seconds from status change to Procountor. Each run
    starts once the last one's calls are quiet, a moment tied to the invoice poll's rhythm (one read a second),
    so every run would meet the poll at one phase and the median would be that phase's. The runs' status
    changes are instead spread evenly over `spread` seconds (the poll period): run k waits k/runs of it first."""
    assert stack.severa_store is not None
    draft = status_guid(stack.severa_store, DRAFT)
    latencies = []
    for run in range(runs):
        wait_until_quiet(stack)
        invoice = clone_invoice(stack.severa_store, templates[run % len(templates)], draft)
        number = str(invoice["number"])
        time.sleep(spread * run / runs)
        with console.status(f"idle latency: invoice {run + 1}/{runs}..."):
            watcher.flip([invoice])
            watcher.wait_for([number], "waiting for an idle-run invoice", lambda: watcher.completed)
        latencies.append(watcher.in_procountor[number] - watcher.flipped[number])
        if trace:
            print_trace(stack, number, watcher.flipped[number], watcher.in_procountor[number])
        time.sleep(1.0)  # let the poller's next read pass, so that the next run starts idle too
    return latencies


def wait_until_quiet(stack: Stack, quiet_s: float = 3.0, at_most_s: float = 120.0) -> None:
    """Until neither API has had a call but the pollers' for `quiet_s`: an idle run measures one invoice on an
    idle worker, not one that queues behind what the warm-up left (the demo's purchase invoices imported as
    project fees, travel reimbursements, registry creations)."""
    assert stack.severa_calls is not None and stack.procountor_calls is not None
    deadline = time.monotonic() + at_most_s
    while time.monotonic() < deadline:
        since, recorders = time.monotonic() - quiet_s, ((stack.severa_calls, severa_kind),
                                                        (stack.procountor_calls, procountor_kind))
        busy = [c for recorder, kind_of in recorders
                for c in recorder.between(since, time.monotonic()) if kind_of(c.key) == "transfer"]
        if not busy:
            return
        time.sleep(0.5)


@dataclass
class Drain:
    numbers: list[str]
    start: float
    in_procountor_end: float
    completed_end: float
    latencies: list[float]  # status change → in Procountor, per invoice
    duplicates: int  # invoices in Procountor beyond the first with the same Severa number
    load: tuple[float, float]  # the machine's 1-minute load average when the drain began and when it ended


def drain(stack: Stack, watcher: Watcher, templates: list[dict[str, Any]], count: int,
          join_after: float | None = None) -> Drain:
    assert stack.severa_store is not None
    draft = status_guid(stack.severa_store, DRAFT)
    clones = [clone_invoice(stack.severa_store, templates[i % len(templates)], draft) for i in range(count)]
    numbers = [str(c["number"]) for c in clones]
    time.sleep(2.0)  # the poller's window moves past the idle runs' writes before the drain starts
    load_before = os.getloadavg()[0]
    watcher.flip(clones)
    start = min(watcher.flipped[n] for n in numbers)
    with console.status(f"drain: {count} invoices...") as status:
        while not all(n in watcher.completed for n in numbers):
            stack.check(f"draining {count} invoices")
            if join_after is not None and stack.second is None and time.monotonic() - start >= join_after:
                stack.start_second()
            failed = watcher.failures(numbers)
            if failed:
                raise RuntimeError(f"{len(failed)} drain transfers failed, e.g. {failed[:3]}")
            arrived = sum(1 for n in numbers if n in watcher.in_procountor)
            done = sum(1 for n in numbers if n in watcher.completed)
            status.update(f"drain: {arrived}/{count} in Procountor, {done}/{count} complete, "
                          f"{time.monotonic() - start:.0f} s")
            time.sleep(0.25)
    return Drain(numbers, start, max(watcher.in_procountor[n] for n in numbers),
                 max(watcher.completed[n] for n in numbers),
                 [watcher.in_procountor[n] - watcher.flipped[n] for n in numbers],
                 sum(watcher.copies[n] - 1 for n in numbers if watcher.copies[n] > 1),
                 (load_before, os.getloadavg()[0]))


# --------------------------------------------------------------------------------------------- report


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def endpoint_table(stack: Stack, result: Drain) -> tuple[Table, dict[str, dict[str, float]]]:
    """Calls during the drain by endpoint, and per system: transfer calls per invoice, polls, 429s."""
    table = Table(title="Requests during the drain, by endpoint")
    for column in ("system", "endpoint", "kind", "calls", "per invoice", "429"):
        table.add_column(column, justify="right" if column in ("calls", "per invoice", "429") else "left")
    totals: dict[str, dict[str, float]] = {}
    n = len(result.numbers)
    assert stack.severa_calls is not None and stack.procountor_calls is not None
    for system, recorder, kind_of in (("Severa", stack.severa_calls, severa_kind),
                                      ("Procountor", stack.procountor_calls, procountor_kind)):
        calls = recorder.between(result.start, result.completed_end)
        by_key = Counter(c.key for c in calls)
        limited = Counter(c.key for c in calls if c.status == 429)
        sums: dict[str, float] = Counter()
        for key, count in sorted(by_key.items(), key=lambda kv: (kind_of(kv[0]), -kv[1])):
            kind = kind_of(key)
            sums[kind] += count - limited[key]  # a 429 is a retry's cost, counted apart
            table.add_row(system, key, kind, str(count), f"{count / n:.2f}", str(limited[key] or ""))
        sums["429"] = sum(limited.values())
        totals[system] = dict(sums)
    return table, totals


def gaps(stack: Stack, result: Drain) -> None:
    """The shared reads' cadence: seconds between the answers of each repeated list read (its pages apart)."""
    assert stack.severa_calls is not None and stack.procountor_calls is not None
    for system, recorder, keys in (
            ("Severa", stack.severa_calls, ("GET /v1/invoices?changedSince=", "GET /v1/invoices?numbers=")),
            ("Procountor", stack.procountor_calls, ("GET /invoices?types=SALES_INVOICE",))):
        calls = recorder.between(result.start, result.completed_end)
        for key in keys:
            at = [c.at for c in calls if c.key == key]
            between = [b - a for a, b in itertools.pairwise(at)]
            if between:
                console.print(f"{system} {key}: {len(at)} reads, seconds between them: min {min(between):.2f}, "
                              f"median {statistics.median(between):.2f}, max {max(between):.2f}")


def timeline(stack: Stack, watcher: Watcher, result: Drain, paces: tuple[float, float], step: float) -> None:
    """Each API's calls (429s apart) in every `step` seconds of the drain against the worker's pace, and the
    invoices that reached Procountor and completed in it: where the drain leaves either pace unused (its start,
    its tail). A call is one of a list read (`list`) or a transfer's own (the rest)."""
    assert stack.severa_calls is not None and stack.procountor_calls is not None
    table = Table(title=f"The drain by {step:g} s: calls against the worker's pace "
                        f"(Severa {paces[0]:g}/s, Procountor {paces[1]:g}/s)")
    for column in ("from s", "Severa", "(list)", "% of pace", "Procountor", "(search)", "% of pace",
                   "in Procountor", "complete"):
        table.add_column(column, justify="right")
    numbers = set(result.numbers)
    arrived = sorted(at for n, at in watcher.in_procountor.items() if n in numbers)
    completed = sorted(at for n, at in watcher.completed.items() if n in numbers)
    sev = [c for c in stack.severa_calls.between(result.start, result.completed_end) if c.status != 429]
    pro = [c for c in stack.procountor_calls.between(result.start, result.completed_end) if c.status != 429]
    edge = result.start
    while edge < result.completed_end:
        end = min(edge + step, result.completed_end)
        width = end - edge

        def within(calls: list[Call], start: float = edge, stop: float = end) -> list[Call]:
            return [c for c in calls if start <= c.at < stop]

        s, p = within(sev), within(pro)
        s_list = sum(1 for c in s if severa_kind(c.key) == "polling")
        p_search = sum(1 for c in p if "originalInvoiceNumber=" in c.key or "types=SALES_INVOICE" in c.key)
        table.add_row(f"{edge - result.start:.0f}", str(len(s)), str(s_list),
                      f"{100 * len(s) / (paces[0] * width):.0f}", str(len(p)), str(p_search),
                      f"{100 * len(p) / (paces[1] * width):.0f}",
                      str(sum(1 for at in arrived if edge <= at < end)),
                      str(sum(1 for at in completed if edge <= at < end)))
        edge = end
    console.print(table)
    head = result.start + 2 * step
    for system, recorder in (("Severa", stack.severa_calls), ("Procountor", stack.procountor_calls)):
        routes = Counter(c.key for c in recorder.between(result.start, head))
        console.print(f"{system}, the first {2 * step:g} s by route: "
                      + ", ".join(f"{key} {count}" for key, count in routes.most_common()))


def report(stack: Stack, idle: list[float], result: Drain, watcher: Watcher | None = None,
           step: float = 5.0) -> None:
    n = len(result.numbers)
    table, totals = endpoint_table(stack, result)
    console.print(table)
    gaps(stack, result)
    to_procountor = result.in_procountor_end - result.start
    to_complete = result.completed_end - result.start
    sev, pro = totals["Severa"], totals["Procountor"]
    sev_per, pro_per = sev.get("transfer", 0) / n, pro.get("transfer", 0) / n
    poll_rate, pro_poll_rate = sev.get("polling", 0) / to_complete, pro.get("polling", 0) / to_complete
    settings = {k: v for k, v in stack.env.items() if k.endswith(("PER_SECOND", "CONCURRENCY", "POLL_SECONDS"))}
    from foundation.settings import Settings

    configured = Settings(**{k.removeprefix("SEVPRO_").lower(): v for k, v in settings.items()})
    sev_pace, pro_pace = configured.severa_requests_per_second, configured.procountor_requests_per_second
    if watcher is not None and step > 0:
        timeline(stack, watcher, result, (sev_pace, pro_pace), step)
    # What each API allows at the measured calls per invoice, the pollers' share of each quota taken off.
    allowed_limits = min((SEVERA_LIMIT - poll_rate) / sev_per, (PROCOUNTOR_LIMIT - pro_poll_rate) / pro_per)
    allowed_pacing = min((min(sev_pace, SEVERA_LIMIT) - poll_rate) / sev_per,
                         (min(pro_pace, PROCOUNTOR_LIMIT) - pro_poll_rate) / pro_per)
    drained = n / to_complete

    summary = Table(title=f"Sales invoice drain: {n} invoices, {stack.args.latency_ms:g} ms added latency, "
                          f"Severa {SEVERA_LIMIT:g}/s, Procountor {PROCOUNTOR_LIMIT:g}/s")
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    rows = [
        ("invoices", str(n)),
        ("wall time until all in Procountor", f"{to_procountor:.1f} s"),
        ("wall time until all complete (Severa status moved)", f"{to_complete:.1f} s"),
        ("invoices/s until all in Procountor", f"{n / to_procountor:.2f}"),
        ("invoices/s until all complete", f"{drained:.2f}"),
        ("Severa transfer calls per invoice (excl. one-time, polling)", f"{sev_per:.2f}"),
        ("Severa polling calls during the drain (per second)", f"{sev.get('polling', 0):.0f} ({poll_rate:.2f}/s)"),
        ("Severa calls per invoice incl. polling", f"{(sev.get('transfer', 0) + sev.get('polling', 0)) / n:.2f}"),
        ("Procountor transfer calls per invoice (excl. one-time, polling)", f"{pro_per:.2f}"),
        ("Procountor polling calls during the drain (per second)",
         f"{pro.get('polling', 0):.0f} ({pro_poll_rate:.2f}/s)"),
        ("429s received: Severa / Procountor", f"{sev['429']:.0f} / {pro['429']:.0f}"),
        ("invoices in Procountor twice (duplicates)", str(result.duplicates)),
        ("latency status change → in Procountor p50", f"{statistics.median(result.latencies):.2f} s"),
        ("latency status change → in Procountor p95", f"{percentile(result.latencies, 0.95):.2f} s"),
        ("latency status change → in Procountor max", f"{max(result.latencies):.2f} s"),
        (f"idle single invoice → in Procountor, median of {len(idle)}",
         f"{statistics.median(idle):.2f} s ({', '.join(f'{v:.2f}' for v in idle)})"),
        ("rate the API limits allow at these calls/invoice", f"{allowed_limits:.2f} inv/s"),
        (f"rate the worker's pacing allows (Severa {sev_pace:g}/s, Procountor {pro_pace:g}/s)",
         f"{allowed_pacing:.2f} inv/s"),
        ("drain rate / what the API limits allow", f"{100 * drained / allowed_limits:.0f} %"),
        ("drain rate / what the worker's pacing allows", f"{100 * drained / allowed_pacing:.0f} %"),
        ("load average (1 min) when the drain began / ended", f"{result.load[0]:.1f} / {result.load[1]:.1f}"),
        ("worker settings (env)", ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"),
        ("Severa sandbox: most rows a list page gives", str(getattr(stack.args, "severa_max_rows", 100))),
    ]
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)


def rebalances(stack: Stack) -> None:
    """What the workers logged of each rebalance: the transfers writing when it began, and how long it held them
    (faust's rebalance timeout is 60 s: a worker held longer is dropped from the group)."""
    for name, log in (("first worker", stack.worker_log), ("second worker", stack.second_log)):
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()
                 if "worker group rebalanc" in line] if log.exists() else []
        console.print(f"{name}: {len(lines)} rebalance lines" + "".join(f"\n  {line[:200]}" for line in lines))


def one_time_calls(stack: Stack, until: float) -> None:
    assert stack.severa_calls is not None and stack.procountor_calls is not None
    for system, recorder in (("Severa", stack.severa_calls), ("Procountor", stack.procountor_calls)):
        calls = recorder.between(0.0, until)
        console.print(f"{system}: {len(calls)} calls during start-up and the warm-up "
                      f"({sum(1 for c in calls if c.status == 429)} of them 429)")


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=500, help="invoices moved to the transfer status at once")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency added to every sandbox request")
    parser.add_argument("--idle-runs", type=int, default=5, help="single-invoice runs on the idle system")
    parser.add_argument("--idle-spread", type=float, default=1.0,
                        help="seconds over which the idle runs' status changes are spread against the invoice "
                             "poll's rhythm (the product's poll period, 1 s; 0: all at one phase, as before)")
    parser.add_argument("--timeout", type=float, default=900.0, help="abort after this many seconds in all")
    parser.add_argument("--severa-rps", type=float, help="worker's Severa pacing (default: the product's)")
    parser.add_argument("--procountor-rps", type=float, help="worker's Procountor pacing (default: the product's)")
    parser.add_argument("--concurrency", type=int, help="worker's transfer concurrency (default: the product's)")
    parser.add_argument("--severa-max-rows", type=int, default=100,
                        help="the most rows a Severa list page gives (the spec's 100 for most lists; S3 and S7 "
                             "say 1000 for /v1/invoices, severa-api.md §3.2)")
    parser.add_argument("--timeline-step", type=float, default=5.0,
                        help="seconds per line of the drain's timeline of calls against the pace (0: none)")
    parser.add_argument("--join-after", type=float,
                        help="start a second worker this many seconds into the drain, and print how long each "
                             "worker's rebalances held it")
    parser.add_argument("--trace-idle", action="store_true",
                        help="print every API call of each idle run, with its time since the status change")
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(stack: Stack, watcher: Watcher, body: Callable[[], None],
        before_stop: Callable[[], None] = lambda: None) -> int:
    """Run `body`, report how it ended as an exit code, and always stop what was started."""
    # SIGTERM (a CI cancel, `timeout`) takes the same path as Ctrl-C, so the finally below always runs.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        body()
        return 0
    except BenchmarkTimeout as exc:
        console.print(f"[red]benchmark aborted: {exc} (--timeout {stack.args.timeout:.0f}); "
                      f"worker log: {stack.worker_log}[/red]")
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        return 130
    except RuntimeError as exc:
        console.print(f"[red]benchmark failed: {exc}[/red]")
        return 1
    finally:
        # A second Ctrl-C or SIGTERM must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        watcher.stop()
        before_stop()
        with console.status("stopping the workers, the sandboxes and Kafka..."):
            stack.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The repository's .sevpro holds the Kafka jars, wherever the benchmark is started from.
    os.environ.setdefault("SEVPRO_HOME", str(REPO / ".sevpro"))
    stack = Stack(args, deadline=time.monotonic() + args.timeout)
    watcher = Watcher(stack)

    def body() -> None:
        stack.start()
        templates = warm_up(stack)
        one_time_calls(stack, time.monotonic())
        console.print(f"templates: {len(templates)} demo invoices that transferred "
                      f"({', '.join(str(t['number']) for t in templates)})")
        watcher.start()
        idle = idle_latency(stack, watcher, templates, args.idle_runs, trace=args.trace_idle,
                            spread=args.idle_spread)
        console.print(f"idle runs: {', '.join(f'{v:.2f}' for v in idle)} s; load average (1 min) "
                      f"{os.getloadavg()[0]:.1f}")
        result = drain(stack, watcher, templates, args.invoices, args.join_after)
        report(stack, idle, result, watcher, args.timeline_step)
        if args.join_after is not None:
            rebalances(stack)

    return run(stack, watcher, body)


if __name__ == "__main__":
    sys.exit(main())
