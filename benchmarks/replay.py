"""Replay benchmark (issue 16): how fast `sevpro replay` rebuilds the read models from the topics.

    python benchmarks/replay.py [--events 100000] [--db postgresql://user@host:5432/db]
    python benchmarks/replay.py --before ../checkout-of-main --pairs 6    # before/after on one filled broker

Starts its own Kafka broker (reset, on free ports), fills the topics with `--events` events of realistic sizes,
as one busy tenant's month would leave them (per invoice: the observed Severa invoice with its full snapshot, the
transfer request carrying that snapshot, the outcomes of each step and the ID links), then times
`sevpro replay` end to end as a user runs it (a subprocess: start, read every topic, build a new version, switch)
and reads its peak memory and CPU time. Prints events, seconds, events per second, CPU seconds (user + system:
the figure that says what one core does when other work shares the machine), and peak RSS. `--db` replays
into a PostgreSQL database (an empty one: the read models on PostgreSQL) instead of a new SQLite folder.

`--before DIR --pairs N` compares two versions of the code on the same filled broker: N pairs, each the replay of
DIR's code (a checkout, e.g. `git worktree add --detach ../before main`) and of this one, in turn (the before side
first in odd pairs), each into a new SQLite folder; then the CPU seconds of each run and the medians. CPU seconds,
not wall clock: they hold when other work shares the machine.

A benchmark prints figures; it asserts nothing. Everything it started stops on exit, Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling is importable

from sales_invoice_drain import REPO, _free_port_pair  # noqa: E402

from foundation.kafka import ensure_topics, idempotent_producer  # noqa: E402
from projections import testing  # noqa: E402
from schemas.codec import encode  # noqa: E402
from sevpro.kafka_broker import LocalKafkaBroker  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 120)
STEPS = ("customer", "products", "invoice", "dimensions", "attachment", "approved", "severa-status")


def invoice_snapshot(number: int) -> dict[str, Any]:
    """A Severa invoice as the API returns it (about 4 KB of JSON, as the demo's are)."""
    guid = f"00000000-0000-4000-8000-{number:012d}"
    money = {"amount": 1234.5, "currencyCode": "EUR", "multiCurrencyInfo": []}
    person = {"code": None, "name": "REST API", "guid": "18e8b0dd-8d4b-50c3-a2cb-dcbc6b4086b1",
              "firstName": "REST", "lastName": "API"}
    address = {"addressline": "Mannerheimintie 1", "postalCode": "00100", "city": "Helsinki", "state": None,
               "country": "Finland"}
    return {
        "guid": guid, "number": number, "referenceNumber": f"{number}3",
        "status": {"guid": "07df8c19-4145-5852-87f6-63a92480e608", "name": "Waiting for transfer to Procountor",
                   "isSent": False, "isWaitingPayment": False, "isPaid": False},
        "customer": {"name": f"Customer {number % 300} Oy", "guid": f"c-{number % 300}", "number": number % 300},
        "projects": [{"name": f"Project {number % 90}", "guid": f"p-{number % 90}", "number": 2026000 + number % 90}],
        "date": "2026-11-20", "dueDate": "2026-12-04", "entryDate": "2026-11-20", "paymentTerm": 14,
        "overdueInterest": 8.0, "yourReference": f"Order {number}", "currency": {"code": "EUR", "name": "Euro"},
        "currencyRate": 1.0, "receiverAddress": address, "senderAddress": address, "receiverVatNumber": "3007007-7",
        "senderVatNumber": "2617416-4", "isCreditNote": False, "invoiceNumberBusinessUnitGuid": "bu-fi",
        "billingCustomer": {"name": f"Customer {number % 300} Oy", "guid": f"c-{number % 300}"},
        "notes": "Thank you for your business. " * 10, "workHourValueAddedTax": 25.5,
        "createdDateTime": "2026-11-20T08:00:00+00:00", "createdBy": person,
        "lastUpdatedDateTime": "2026-11-25T08:00:00+00:00", "lastUpdatedBy": person,
        "totalExcludingTax": money, "totalTax": money, "totalIncludingTax": money,
        "workHoursTotalExcludingTax": money, "projectFeesTotalExcludingTax": money,
        "rows": [{"description": f"Development work, week {w}", "quantity": 12.5, "unitPrice": money,
                  "vatRate": 25.5, "code": ["DEV"], "salesAccount": {"number": "3000", "name": "Sales"}}
                 for w in range(6)],
    }


def invoice_events(tenant: str, number: int) -> list[tuple[str, bytes, str, dict[str, Any]]]:
    """What one transferred invoice leaves on the topics: 1 observed + 1 request + 9 outcomes + 1 link = 12."""
    snapshot = invoice_snapshot(number)
    guid = snapshot["guid"]
    seconds = number * 0.01
    observed = testing.observed(tenant, "severa", "invoice", guid, snapshot, version=f"v{number}", seconds=seconds)
    request = testing.requested(tenant, guid, number=str(number), version=f"v{number}", seconds=seconds,
                                snapshot=snapshot)
    request_record = request[3]
    outcomes = [testing.outcome(request_record, "attempting", seconds=seconds + 0.1)]
    outcomes += [testing.outcome(request_record, "step", step=step, seconds=seconds + 0.2 + i * 0.01)
                 for i, step in enumerate(STEPS)]
    outcomes.append(testing.outcome(request_record, "succeeded", target_id=str(number), target_number=str(number),
                                    seconds=seconds + 0.5))
    link = testing.linked(tenant, "invoice", str(number), str(number), severa_id=guid, seconds=seconds + 0.4,
                          correlation_id=request_record["correlation_id"])
    return [observed, request, *outcomes, link]


async def fill(bootstrap: str, events: int) -> tuple[int, int]:
    """Publish about `events` events; returns (events, bytes)."""
    await ensure_topics(bootstrap, partitions=4)
    producer = idempotent_producer(bootstrap, linger_ms=20, max_batch_size=1_048_576)
    await producer.start()
    sent = size = 0
    try:
        number = 100_000
        while sent < events:
            pending = []
            for topic, key, name, record in invoice_events("bench", number):
                value = encode(name, record)
                size += len(value)
                pending.append(await producer.send(topic, key=key, value=value))
            sent += len(pending)
            number += 1
            if number % 500 == 0:
                await asyncio.gather(*pending)
                console.print(f"  published {sent} events", end="\r")
        await producer.flush()
    finally:
        await producer.stop()
    return sent, size


def replay_once(bootstrap: str, code: Path, db: str) -> dict[str, Any]:
    """`sevpro replay` of the code in `code` (a checkout) into `db`, as a subprocess: its figures, or a failure."""
    command = [sys.executable, "-m", "sevpro.cli", "replay", "--bootstrap", bootstrap, "--db", db]
    # The checkout's packages, not the ones this environment installed (editable, from this checkout).
    env = {**os.environ, "PYTHONPATH": str(code)}
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as output:
        started = time.monotonic()
        child = subprocess.Popen(command, cwd=code, env=env, stdout=output, stderr=subprocess.STDOUT)
        # The replay's own resource use: RUSAGE_CHILDREN would add the broker's storage format (a JVM run
        # before), several CPU seconds and more memory than the replay itself.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - started
        output.seek(0)
        printed = output.read().decode(errors="replace")
    return {"returncode": os.waitstatus_to_exitcode(status), "output": printed, "seconds": seconds,
            "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024, "load": load}


def compare(bootstrap: str, events: int, before: Path, pairs: int) -> int:
    """`pairs` pairs of replays of the same topics, the code in `before` and this checkout's, in turn."""
    table = Table(title=f"sevpro replay of {events} events, CPU seconds of the process (before: {before})")
    for column in ("pair", "load at the start", "before: CPU s / events per CPU s",
                   "after: CPU s / events per CPU s"):
        table.add_column(column, justify="right")
    cpu: dict[str, list[float]] = {"before": [], "after": []}
    for pair in range(1, pairs + 1):
        order = ["before", "after"] if pair % 2 else ["after", "before"]
        runs: dict[str, dict[str, Any]] = {}
        for side in order:
            db = tempfile.mkdtemp(prefix="sevpro-replay-bench-")
            try:
                runs[side] = replay_once(bootstrap, before if side == "before" else REPO, db)
            finally:
                shutil.rmtree(db, ignore_errors=True)
            if runs[side]["returncode"] != 0:
                console.print(f"[red]sevpro replay ({side}) failed:[/red]\n{runs[side]['output']}")
                return 1
            cpu[side].append(runs[side]["cpu"])
            console.print(json.dumps({"pair": pair, "side": side, "cpu_seconds": round(runs[side]["cpu"], 2),
                                      "events_per_cpu_second": round(events / runs[side]["cpu"]),
                                      "seconds": round(runs[side]["seconds"], 1),
                                      "peak_rss_mb": round(runs[side]["peak_mb"]),
                                      "load": round(runs[side]["load"], 1)}))
        table.add_row(f"{pair} ({order[0]} first)",
                      " / ".join(f"{runs[side]['load']:.1f}" for side in order),
                      *(f"{runs[side]['cpu']:.2f} / {events / runs[side]['cpu']:,.0f}" for side in ("before", "after")))
    medians = {side: statistics.median(values) for side, values in cpu.items()}
    table.add_row("median", "", *(f"{medians[side]:.2f} / {events / medians[side]:,.0f}"
                                  for side in ("before", "after")))
    console.print(table)
    console.print(json.dumps({"events": events, "pairs": pairs,
                              "median_cpu_seconds": {k: round(v, 2) for k, v in medians.items()},
                              "median_events_per_cpu_second": {k: round(events / v) for k, v in medians.items()}}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to publish and replay")
    parser.add_argument("--db", help="postgresql:// URL of an empty database (default: a new SQLite folder)")
    parser.add_argument("--before", type=Path, help="a checkout whose replay to compare with this one's")
    parser.add_argument("--pairs", type=int, default=6, help="with --before: pairs of replays (default 6)")
    args = parser.parse_args(argv)
    if args.before and not (args.before / "sevpro" / "cli.py").is_file():
        parser.error(f"--before {args.before}: not a checkout of this project (no sevpro/cli.py)")
    os.environ.setdefault("SEVPRO_HOME", str(REPO / ".sevpro"))
    broker = LocalKafkaBroker(port=_free_port_pair(), name="bench-replay")
    broker.reset()
    db = Path(tempfile.mkdtemp(prefix="sevpro-replay-bench-"))
    try:
        with console.status("starting Kafka..."):
            bootstrap = broker.start().bootstrap
        started = time.monotonic()
        events, size = asyncio.run(fill(bootstrap, args.events))
        console.print(f"published {events} events ({size / 1e6:.1f} MB) in {time.monotonic() - started:.1f} s")
        if args.before:
            return compare(bootstrap, events, args.before.resolve(), args.pairs)
        with console.status(f"sevpro replay of {events} events..."):
            run = replay_once(bootstrap, REPO, args.db or str(db))
        if run["returncode"] != 0:
            console.print(f"[red]sevpro replay failed ({run['returncode']}):[/red]\n{run['output']}")
            return 1
        seconds, cpu = run["seconds"], run["cpu"]
        table = Table(title="sevpro replay, end to end (process start to switch), into "
                      + ("PostgreSQL" if args.db else "SQLite"))
        table.add_column("figure")
        table.add_column("value", justify="right")
        table.add_row("events", str(events))
        table.add_row("bytes on the topics", f"{size / 1e6:.1f} MB")
        table.add_row("seconds", f"{seconds:.1f}")
        table.add_row("events per second", f"{events / seconds:,.0f}")
        table.add_row("CPU seconds of the replay (user + system)", f"{cpu:.1f}")
        table.add_row("events per CPU second (one core, whatever else the machine runs)", f"{events / cpu:,.0f}")
        table.add_row("peak RSS of the replay", f"{run['peak_mb']:.0f} MB")
        table.add_row("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}")
        console.print(table)
        console.print(json.dumps({"events": events, "seconds": round(seconds, 2),
                                  "events_per_second": round(events / seconds),
                                  "cpu_seconds": round(cpu, 2), "events_per_cpu_second": round(events / cpu),
                                  "peak_rss_mb": round(run["peak_mb"])}))
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        with console.status("stopping Kafka..."):
            broker.stop()
            broker.reset()
        shutil.rmtree(db, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
