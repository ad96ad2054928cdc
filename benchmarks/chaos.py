"""Chaos benchmark (issue 11): a month-end drain while workers die, the broker restarts and both APIs misbehave.

    python benchmarks/chaos.py [--invoices 1000] [--kills 3] [--seed 7] [--timeout 3600]

Runs the whole stack as the drain benchmark does (its own Kafka broker, both sandboxes with the demo
organisation at the real rate limits, `--latency-ms` on every request) with TWO workers of one tenant, transfers
the demo invoices (warm-up), then moves `--invoices` clones to the transfer status at once, and meanwhile:

- SIGKILLs a worker `--kills` times at random moments (each time a new worker takes the dead one's place);
- stops the broker once, for `--broker-down` seconds, and starts it again;
- makes both sandboxes answer 5 % of requests with 500, makes 5 % of Procountor calls time out *after* the write
  was carried out (the worker's HTTP timeout is 1.5 s, the answer comes after 2.5 s), and every `--burst-every`
  seconds lowers both APIs' rate limits to a fifth for 3 seconds (bursts of 429).

When every clone is in Procountor and marked transferred in Severa (or `--settle` seconds pass without progress)
it prints: duplicates (an invoice in Procountor more than once), lost records (still in Severa's transfer status
and not in Procountor), records that are not in the transfer log (of the surviving worker), the faults that
happened, and the time to drain. Goal: 0, 0, 0.

A benchmark prints figures; it asserts nothing. Everything it started stops on exit, Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling is importable

from sales_invoice_drain import (  # noqa: E402
    DRAFT,
    REPO,
    TRANSFERRED,
    WAITING,
    Stack,
    Watcher,
    clone_invoice,
    console,
    run,
    status_guid,
    warm_up,
)


class Workers:
    """The tenant's two workers; a killed one is replaced by a new process with the same home."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.kills: list[float] = []

    def start(self, name: str) -> None:
        home = self.stack.home / name
        home.mkdir(parents=True, exist_ok=True)
        with (home / "worker.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", "warning"], cwd=REPO,
                env=self.stack.env | {"SEVPRO_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def kill_one(self, rng: random.Random) -> str:
        name = rng.choice(sorted(self.processes))
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self.kills.append(time.monotonic())
        self.start(name)
        return name

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class Chaos(threading.Thread):
    """Kills workers, restarts the broker once and makes 429 bursts at random moments of the drain."""

    def __init__(self, stack: Stack, workers: Workers, args: argparse.Namespace) -> None:
        super().__init__(name="chaos", daemon=True)
        self.stack, self.workers, self.args = stack, workers, args
        self.rng = random.Random(args.seed)
        self.done = threading.Event()
        self.log: list[str] = []
        self.bursts = 0
        self.broker_restarts = 0

    def run(self) -> None:
        start = time.monotonic()
        span = self.args.chaos_span
        kill_at = sorted(self.rng.uniform(5, span) for _ in range(self.args.kills))
        broker_at = self.rng.uniform(10, span)
        next_burst = start + self.args.burst_every
        while not self.done.wait(0.2):
            now = time.monotonic() - start
            if kill_at and now >= kill_at[0]:
                kill_at.pop(0)
                self.log.append(f"{now:.0f} s: SIGKILL worker {self.workers.kill_one(self.rng)}")
            if broker_at is not None and now >= broker_at:
                broker_at = None
                self.restart_broker(now)
            if time.monotonic() >= next_burst:
                next_burst += self.args.burst_every
                self.burst()

    def restart_broker(self, now: float) -> None:
        broker = self.stack.broker
        assert broker is not None
        self.log.append(f"{now:.0f} s: broker stopped for {self.args.broker_down:g} s")
        broker.stop()
        time.sleep(self.args.broker_down)
        broker.start()
        self.broker_restarts += 1

    def burst(self) -> None:
        configs = [self.stack.severa_calls.app.state.sandbox.config,  # type: ignore[union-attr]
                   self.stack.procountor_calls.app.state.sandbox.config]  # type: ignore[union-attr]
        limits = [c.rate_limit_per_second for c in configs]
        for config, limit in zip(configs, limits, strict=True):
            config.rate_limit_per_second = (limit or 10.0) / 5
        time.sleep(3.0)
        for config, limit in zip(configs, limits, strict=True):
            config.rate_limit_per_second = limit
        self.bursts += 1


def stats(stack: Stack) -> dict[str, int]:
    severa = stack.severa_calls.app.state.sandbox.stats  # type: ignore[union-attr]
    procountor = stack.procountor_calls.app.state.sandbox.stats  # type: ignore[union-attr]
    return {"Severa 500s": severa.injected_errors, "Procountor 500s": procountor.injected_errors,
            "Procountor time-outs after the write": procountor.injected_timeouts,
            "Severa 429s": severa.rate_limited, "Procountor 429s": procountor.rate_limited}


def transfer_log_numbers(stack: Stack, names: list[str]) -> set[str]:
    """Severa numbers of sales invoices in any worker's transfer log."""
    from projections import versions
    from projections.store import ProjectionStore

    found: set[str] = set()
    for name in names:
        root = stack.home / name / "projections"
        if versions.current_version(root) is not None:
            with ProjectionStore(root) as store:
                found |= {str(e["severa_number"]) for e in store.transfers(kind="sales-invoice")}
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=1000, help="clones moved to the transfer status at once")
    parser.add_argument("--kills", type=int, default=3, help="workers SIGKILLed during the drain")
    parser.add_argument("--broker-down", type=float, default=8.0, help="seconds the broker stays stopped")
    parser.add_argument("--burst-every", type=float, default=30.0, help="seconds between 429 bursts")
    parser.add_argument("--chaos-span", type=float, default=240.0, help="the faults happen in the first N seconds")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency added to every sandbox request")
    parser.add_argument("--settle", type=float, default=300.0, help="give up after this long without progress")
    parser.add_argument("--seed", type=int, default=7, help="the same seed, the same moments")
    parser.add_argument("--timeout", type=float, default=3600.0, help="abort after this many seconds in all")
    args = parser.parse_args(argv)
    args.severa_rps = args.procountor_rps = args.concurrency = None  # the product's own pacing
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("SEVPRO_HOME", str(REPO / ".sevpro"))
    os.environ.update(SEVPRO_HTTP_TIMEOUT_SECONDS="1.5", SEVPRO_TRANSIENT_RETRY_SECONDS="5")
    stack = Stack(args, deadline=time.monotonic() + args.timeout, home=Path(os.environ["SEVPRO_HOME"]) / "chaos")
    watcher = Watcher(stack)
    workers = Workers(stack)
    chaos = Chaos(stack, workers, args)

    def body() -> None:
        stack.start()
        templates = warm_up(stack)
        # The stack's own worker keeps running as it is; two more of the same tenant join it, and the chaos
        # kills among those two (the stack's worker stays as the benchmark's health check).
        workers.start("a")
        workers.start("b")
        time.sleep(15.0)  # they join the group and the rebalance settles
        store = stack.severa_store
        assert store is not None
        draft = status_guid(store, DRAFT)
        clones = [clone_invoice(store, templates[i % len(templates)], draft) for i in range(args.invoices)]
        numbers = [str(c["number"]) for c in clones]
        time.sleep(2.0)
        sandbox = [stack.severa_calls.app.state.sandbox.config,  # type: ignore[union-attr]
                   stack.procountor_calls.app.state.sandbox.config]  # type: ignore[union-attr]
        sandbox[0].error_rate = sandbox[1].error_rate = 0.05
        sandbox[1].timeout_rate, sandbox[1].timeout_delay_s = 0.05, 2.5
        watcher.start()
        watcher.flip(clones)
        start = time.monotonic()
        chaos.start()
        last, last_change = -1, time.monotonic()
        with console.status("chaos drain...") as status:
            while True:
                done = sum(1 for n in numbers if n in watcher.completed)
                if done != last:
                    last, last_change = done, time.monotonic()
                status.update(f"chaos drain: {sum(1 for n in numbers if n in watcher.in_procountor)}/{len(numbers)}"
                              f" in Procountor, {done} complete, {time.monotonic() - start:.0f} s; "
                              f"{len(chaos.log)} faults so far")
                if done == len(numbers) or time.monotonic() - last_change > args.settle:
                    break
                if time.monotonic() > stack.deadline:
                    break
                time.sleep(0.5)
        drained = time.monotonic() - start
        chaos.done.set()
        chaos.join(timeout=60)
        sandbox[0].error_rate = sandbox[1].error_rate = sandbox[1].timeout_rate = 0.0
        time.sleep(5.0)  # the projectors catch up with the last outcomes
        report(stack, watcher, numbers, chaos, drained)

    return run(stack, watcher, body, workers.stop)


def report(stack: Stack, watcher: Watcher, numbers: list[str], chaos: Chaos, drained: float) -> None:
    wanted = set(numbers)
    created = Counter(str(i.get("originalInvoiceNumber")) for company in stack.procountor_store.companies.values()
                      for i in company.invoices.values() if str(i.get("originalInvoiceNumber")) in wanted)
    store = stack.severa_store
    assert store is not None
    still_waiting = {str(i["number"]) for i in store.all("invoices")
                     if str(i["number"]) in wanted and i["status"]["name"] == WAITING}
    lost = sorted(n for n in still_waiting if n not in created)
    logged = transfer_log_numbers(stack, ["", "a", "b"])  # "": the stack's own worker
    table = Table(title=f"chaos: {len(numbers)} invoices, {len(chaos.workers.kills)} worker kills, "
                        f"{chaos.broker_restarts} broker restart, {chaos.bursts} bursts of 429")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows: list[tuple[str, Any]] = [
        ("invoices in Procountor", len(created)),
        ("duplicates (in Procountor more than once)", sum(1 for c in created.values() if c > 1)),
        ("lost (still waiting in Severa, not in Procountor)", len(lost)),
        ("not in the transfer log", len(wanted - logged)),
        ("marked transferred in Severa", sum(1 for i in store.all("invoices")
                                             if str(i["number"]) in wanted and i["status"]["name"] == TRANSFERRED)),
        ("time to drain", f"{drained:.0f} s"),
        *stats(stack).items(),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for line in chaos.log:
        console.print(f"  {line}")
    if lost:
        console.print(f"[red]lost: {lost[:10]}[/red]")


if __name__ == "__main__":
    sys.exit(main())
