"""Failover benchmark: how long invoices wait when a worker dies without leaving its group (kill -9).

    python benchmarks/failover.py [--session-timeout 10] [--invoices 40] [--per-second 1] [--kill-after 10]

The stack of `sales_invoice_drain.py` (its own Kafka broker, both sandboxes with the demo organisation at
their real rate limits and `--latency-ms` per request), with two `sevpro worker` processes of one tenant, as two
hosts would run them (each with its own project home):

1. The first worker starts alone, so it is the group's leader (it runs the pollers), and transfers the demo
   invoices (the warm-up). Then the second joins and catches up its own read models.
2. A steady trickle: `--per-second` clones of demo invoices are moved to the transfer status, `--invoices` in
   all. `--kill-after` seconds in, the first worker gets SIGKILL: no goodbye to the group, which notices only
   when its session times out (`--session-timeout`, the product's SEVPRO_SESSION_TIMEOUT_SECONDS).
3. Every invoice's time from status change to existing in Procountor, before, around and after the kill; the
   longest gap in the invoice polls after the kill (the pollers move with the leadership); and, from the
   Procountor store, that no invoice was created twice.

A benchmark prints figures; it asserts nothing. Everything it started stops on exit, Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling is importable

from sales_invoice_drain import (  # noqa: E402
    DRAFT,
    REPO,
    Stack,
    Watcher,
    clone_invoice,
    console,
    percentile,
    run,
    status_guid,
    warm_up,
)


def start_second_worker(stack: Stack) -> tuple[subprocess.Popen[bytes], Path]:
    home = stack.home / "second"
    home.mkdir(parents=True, exist_ok=True)
    log = home / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", "warning"], cwd=REPO,
        env=stack.env | {"SEVPRO_HOME": str(home)}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    return worker, home


def wait_caught_up(stack: Stack, home: Path, numbers: set[str]) -> None:
    """Until the second worker's own read models show every warm-up invoice final: it runs and has joined."""
    from projections import versions
    from projections.store import ProjectionStore

    with console.status("the second worker joins and catches up..."):
        while True:
            stack.check("waiting for the second worker")
            root = home / "projections"
            if versions.current_version(root) is not None:
                with ProjectionStore(root) as store:
                    done = {e["severa_number"] for e in store.transfers(kind="sales-invoice")
                            if e["state"] in ("succeeded", "failed-data")}
                if numbers <= done:
                    return
            time.sleep(0.5)
    time.sleep(3.0)  # the group's rebalance after the join settles


def trickle(stack: Stack, watcher: Watcher, templates: list[dict[str, Any]], args: argparse.Namespace,
            second: subprocess.Popen[bytes], second_home: Path) -> tuple[list[str], float]:
    """Flip the clones one by one at the pace asked; kill the first worker on the way. Returns the numbers and
    the kill time."""
    assert stack.severa_store is not None and stack.worker is not None
    draft = status_guid(stack.severa_store, DRAFT)
    clones = [clone_invoice(stack.severa_store, templates[i % len(templates)], draft) for i in range(args.invoices)]
    time.sleep(2.0)  # the poller's window moves past the clones' creation
    start, killed_at = time.monotonic(), 0.0
    with console.status("trickle...") as status:
        for i, clone in enumerate(clones):
            due = start + i / args.per_second
            while time.monotonic() < due:
                time.sleep(0.01)
            if not killed_at and time.monotonic() - start >= args.kill_after:
                os.killpg(stack.worker.pid, signal.SIGKILL)
                stack.worker.wait()
                killed_at = time.monotonic()
                # From now on the survivor is the stack's worker (its checks, its read models, its stop).
                stack.worker, stack.home = second, second_home
            watcher.flip([clone])
            status.update(f"trickle: {i + 1}/{len(clones)} flipped, {len(watcher.in_procountor)} in Procountor"
                          + (f", first worker killed {time.monotonic() - killed_at:.0f} s ago" if killed_at else ""))
    numbers = [str(c["number"]) for c in clones]
    watcher.wait_for(numbers, "waiting for the trickle's invoices", lambda: watcher.in_procountor)
    return numbers, killed_at


def longest_poll_gap(stack: Stack, since: float, until: float) -> float:
    """The longest time without an invoice poll (the leader's `GET /v1/invoices` list read) in the window."""
    assert stack.severa_calls is not None
    times = [since] + [c.at for c in stack.severa_calls.between(since, until) if c.key == "GET /v1/invoices"] + [until]
    return max(b - a for a, b in zip(times, times[1:], strict=False))


def report(stack: Stack, watcher: Watcher, numbers: list[str], killed_at: float, args: argparse.Namespace) -> None:
    latency = {n: watcher.in_procountor[n] - watcher.flipped[n] for n in numbers}
    before = [latency[n] for n in numbers if watcher.flipped[n] < killed_at - 2.0]
    around = [latency[n] for n in numbers if killed_at - 2.0 <= watcher.flipped[n] < killed_at + args.session_timeout]
    after = [latency[n] for n in numbers if watcher.flipped[n] >= killed_at + args.session_timeout]
    landed_after_kill = [watcher.in_procountor[n] for n in numbers if watcher.in_procountor[n] > killed_at]
    wanted = set(numbers)
    created = Counter(str(i.get("originalInvoiceNumber")) for company in stack.procountor_store.companies.values()
                      for i in company.invoices.values() if str(i.get("originalInvoiceNumber")) in wanted)
    end = max(watcher.in_procountor[n] for n in numbers)

    def spread(values: list[float]) -> str:
        if not values:
            return "-"
        return (f"p50 {statistics.median(values):.2f} s, p95 {percentile(values, 0.95):.2f} s, "
                f"max {max(values):.2f} s ({len(values)} invoices)")

    table = Table(title=f"Failover: {len(numbers)} invoices at {args.per_second:g}/s, first worker SIGKILLed "
                        f"{args.kill_after:g} s in, session timeout {args.session_timeout:g} s, "
                        f"{args.latency_ms:g} ms latency")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("status change → in Procountor, flipped before the kill", spread(before)),
        (f"… flipped from 2 s before the kill to {args.session_timeout:g} s after", spread(around)),
        (f"… flipped later than {args.session_timeout:g} s after the kill", spread(after)),
        ("first invoice in Procountor after the kill", f"{min(landed_after_kill) - killed_at:.2f} s after it"
         if landed_after_kill else "-"),
        ("longest gap in the invoice polls after the kill", f"{longest_poll_gap(stack, killed_at, end):.2f} s"),
        ("invoices created in Procountor / created more than once",
         f"{sum(created.values())} / {sum(1 for c in created.values() if c > 1)}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=40, help="invoices moved to the transfer status, in all")
    parser.add_argument("--per-second", type=float, default=1.0, help="invoices moved per second")
    parser.add_argument("--kill-after", type=float, default=10.0, help="seconds into the trickle of the kill")
    parser.add_argument("--session-timeout", type=float, default=10.0,
                        help="SEVPRO_SESSION_TIMEOUT_SECONDS of both workers (faust's own default is 60)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency added to every sandbox request")
    parser.add_argument("--timeout", type=float, default=600.0, help="abort after this many seconds in all")
    args = parser.parse_args(argv)
    # What Stack reads of the drain benchmark's options: the product's own pacing and concurrency.
    args.severa_rps = args.procountor_rps = args.concurrency = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("SEVPRO_HOME", str(REPO / ".sevpro"))
    os.environ["SEVPRO_SESSION_TIMEOUT_SECONDS"] = str(args.session_timeout)  # both workers inherit it
    stack = Stack(args, deadline=time.monotonic() + args.timeout, home=Path(os.environ["SEVPRO_HOME"]) / "failover")
    watcher = Watcher(stack)
    started: list[subprocess.Popen[bytes]] = []

    def body() -> None:
        stack.start()
        templates = warm_up(stack)
        second, second_home = start_second_worker(stack)
        started.append(second)
        wait_caught_up(stack, second_home, {str(t["number"]) for t in templates})
        watcher.start()
        numbers, killed_at = trickle(stack, watcher, templates, args, second, second_home)
        report(stack, watcher, numbers, killed_at, args)

    def stop_second() -> None:
        for second in started:
            if second is not stack.worker:  # the first worker was not killed yet: the stack stops only that one
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(second.pid, signal.SIGTERM)
                second.wait(timeout=30)

    return run(stack, watcher, body, stop_second)


if __name__ == "__main__":
    sys.exit(main())
