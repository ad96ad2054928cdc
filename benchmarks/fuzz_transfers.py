"""Fuzz benchmark (issue 11): hostile Severa records through the real worker path; nothing may stay pending.

    python benchmarks/fuzz_transfers.py [--records 10000] [--seed 1] [--timeout 3600]

Runs the whole stack as `sevpro demo` does (its own Kafka broker, both sandboxes with the demo organisation, a
`sevpro worker` subprocess), transfers the demo invoices first (the warm-up, as the drain benchmark does), then
puts `--records` new records into the Severa sandbox: sales invoices cloned from the demo invoices that
transferred, and travel reimbursements cloned from the demo's, each changed by a plan that hypothesis draws:

- valid: unchanged apart from a new number;
- edge: long but allowed texts, 0- and 3-decimal currencies, amounts with many decimals, zero and negative
  quantities, duplicate rows, dates at the ends of the calendar;
- hostile: texts of thousands of characters, control characters and every Unicode plane, huge amounts (whose
  products overflow), missing prices, quantities and dates, dates that are not dates, unknown product codes and
  currencies.

All of them are moved to the transfer status at once. The benchmark waits until every record has a final state
in the transfer log (succeeded, failed with a reason, skipped) or until nothing has moved for `--settle`
seconds, then prints how many went in, succeeded, failed (by code, and whether the failure names the field),
stayed pending, and crashed (an INTERNAL failure: an exception the transfer did not expect), and whether any
invoice is in Procountor twice. Goal: 0 pending, 0 crashes, every failure naming its field, no duplicate.

The sandboxes run without added latency and with generous rate limits, and the worker paces itself to match:
this measures robustness, not speed (the drain benchmark measures speed). A benchmark prints figures; `--check`
also makes the exit code say whether the goal was met (CI's test runs 300 records with it).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling is importable

from sales_invoice_drain import (  # noqa: E402
    AUDIT_FIELDS,
    DRAFT,
    REPO,
    WAITING,
    Stack,
    Watcher,
    clone_invoice,
    console,
    run,
    status_guid,
    warm_up,
)

from sandbox.severa.store import SeveraStore  # noqa: E402

FINAL = ("succeeded", "failed-data", "failed-config", "failed", "skipped")
LONG_AGO = dt.timedelta(days=1)

# --------------------------------------------------------------------------------------------- the plans

CONTROL = st.characters(codec=None, categories=["Cc"])
ANY_PLANE = st.characters(blacklist_categories=["Cs"])  # every plane; lone surrogates cannot be JSON-encoded
TEXT = st.one_of(
    st.text(max_size=40),  # ordinary and odd
    st.text(ANY_PLANE, min_size=1, max_size=200),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=10), CONTROL, st.text(max_size=10)),
    st.integers(100, 20_000).map(lambda n: "Ä" * n),  # over every limit
    st.just(""),
    st.none(),
)
AMOUNT = st.one_of(
    st.decimals(min_value=-10_000, max_value=100_000, places=2).map(float),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),  # many decimals
    st.sampled_from([0.0, -0.0, 1e-9, 1e15, 1e300, -1e300]),  # huge: a price times a quantity overflows
    st.none(),
)
DATE = st.one_of(
    st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2026, 12, 31)).map(dt.date.isoformat),
    st.dates().map(dt.date.isoformat),  # year 1 to 9999: closed, unknown or absurd fiscal periods
    st.sampled_from(["2026-02-30", "not a date", "", "2026-13-01", "26.11.2026"]),
    st.none(),
)
CURRENCY = st.sampled_from(["EUR", "SEK", "JPY", "KWD", "USD", "XXX", ""])
CODE = st.one_of(st.sampled_from(["DEV", "CONSULT", "TRAINING"]), st.text(max_size=50), st.just("²"))

INVOICE_FIELDS = {
    "yourReference": TEXT, "notes": TEXT, "orderNumber": TEXT, "freeText1": TEXT,
    "date": DATE, "dueDate": DATE, "entryDate": DATE, "currency": CURRENCY, "currencyRate": AMOUNT,
    "receiverAddress.addressline": TEXT, "receiverAddress.city": TEXT, "receiverAddress.postalCode": TEXT,
    "receiverCustomerName": TEXT, "paymentTerm": st.one_of(st.integers(-5, 5000), st.none()),
}
ROW_FIELDS = {
    "description": TEXT, "quantity": AMOUNT, "unitPrice": AMOUNT, "vatRate": st.one_of(AMOUNT, st.sampled_from(
        [0.0, 10.0, 14.0, 24.0, 25.5, 6.0, 12.0, 25.0])), "code": CODE, "measurementUnit": st.one_of(TEXT, st.just(
            "h")),
}
TRAVEL_FIELDS = {"title": TEXT, "date": DATE}
EXPENSE_FIELDS = {"description": TEXT, "quantity": AMOUNT, "unitPrice": AMOUNT, "eventDate": DATE,
                  "travelExpense.code": CODE, "measurementUnit": TEXT}


def changes(fields: dict[str, st.SearchStrategy[Any]], most: int) -> st.SearchStrategy[dict[str, Any]]:
    """Up to `most` fields of `fields`, each given a drawn value."""
    return st.lists(st.sampled_from(sorted(fields)), max_size=most, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: fields[name] for name in names}))


@dataclass
class Plan:
    kind: str  # "invoice" or "travel"
    grade: str  # valid, edge or hostile
    template: int
    header: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)  # per template row, in order
    duplicate_rows: int = 0
    drop_rows: bool = False


def plans_strategy(templates: int, travel_templates: int, travel_share: float) -> st.SearchStrategy[Plan]:
    def plan(kind: str, grade: str, template: int, data: st.DataObject) -> Plan:
        if grade == "valid":
            return Plan(kind, grade, template)
        most = 2 if grade == "edge" else 5
        head_fields, row_fields = (INVOICE_FIELDS, ROW_FIELDS) if kind == "invoice" else (TRAVEL_FIELDS,
                                                                                           EXPENSE_FIELDS)
        return Plan(kind, grade, template, header=data.draw(changes(head_fields, most)),
                    rows=data.draw(st.lists(changes(row_fields, most), max_size=4)),
                    duplicate_rows=data.draw(st.integers(0, 2)),
                    drop_rows=grade == "hostile" and data.draw(st.booleans()))

    kind = st.sampled_from(["invoice"] * round(10 * (1 - travel_share)) + ["travel"] * round(10 * travel_share))
    return st.builds(lambda k, g, t, d: plan(k, g, t % (templates if k == "invoice" else travel_templates), d),
                     kind, st.sampled_from(["valid", "edge", "hostile", "hostile"]), st.integers(0, 1000), st.data())


def draw_plans(count: int, seed: int, templates: int, travel_templates: int, travel_share: float) -> list[Plan]:
    """`count` plans, reproducible for a seed: hypothesis runs a test that only collects what it is given."""
    drawn: list[Plan] = []

    @settings(max_examples=count, database=None, phases=[Phase.generate], derandomize=False,
              suppress_health_check=list(HealthCheck), deadline=None)
    @given(plans_strategy(templates, travel_templates, travel_share))
    def collect(plan: Plan) -> None:
        drawn.append(plan)

    # hypothesis draws fewer examples when many are alike; ask again until there are enough
    rounds = 0
    while len(drawn) < count and rounds < 50:
        collect._hypothesis_internal_use_seed = seed + rounds  # type: ignore[attr-defined]
        collect()
        rounds += 1
    return drawn[:count]


# ------------------------------------------------------------------------------------- into the sandbox


def _set(record: dict[str, Any], dotted: str, value: Any) -> None:
    *path, last = dotted.split(".")
    for key in path:
        record = record.setdefault(key, {}) if isinstance(record.get(key), dict) or record.get(key) is None else {}
    record[last] = value


def _money(value: Any, currency: str) -> Any:
    return None if value is None else {"amount": value, "currencyCode": currency, "multiCurrencyInfo": []}


def put_invoice(store: SeveraStore, template: dict[str, Any], plan: Plan, draft: str) -> dict[str, Any]:
    invoice = clone_invoice(store, template, draft)
    currency = str(invoice["currency"]["code"])
    changed = dict(invoice)
    for name, value in plan.header.items():
        if name == "currency":
            currency = value
            changed["currency"] = {**invoice["currency"], "code": value, "guid": None if value else None}
        else:
            _set(changed, name, value)
    store.update("invoices", invoice["guid"], {k: v for k, v in changed.items() if k not in AUDIT_FIELDS})
    rows = store.find("invoicerows", invoiceGuid=invoice["guid"])
    if plan.drop_rows:
        for row in rows:
            store.delete("invoicerows", row["guid"])
        rows = []
    for row, row_changes in zip(rows, plan.rows, strict=False):
        new = {k: v for k, v in row.items() if k not in AUDIT_FIELDS}
        for name, value in row_changes.items():
            if name == "unitPrice":
                new["unitPrice"] = _money(value, currency)
            elif name == "code":
                new["code"] = [value]
            else:
                _set(new, name, value)
        store.update("invoicerows", row["guid"], new)
    for row in rows[:plan.duplicate_rows]:
        store.insert("invoicerows", {k: copy.deepcopy(v) for k, v in row.items() if k not in AUDIT_FIELDS})
    return _drafted_long_ago(store, "invoices", invoice["guid"])


def put_travel(store: SeveraStore, template: dict[str, Any], plan: Plan, number: int) -> dict[str, Any]:
    body = {k: copy.deepcopy(v) for k, v in template.items() if k not in AUDIT_FIELDS}
    body["number"] = number
    body["travelReimbursementStatus"] = dict(store.status_by_name("travelreimbursementstatuses", "Approved"))
    for name, value in plan.header.items():
        _set(body, name, value)
    travel = store.insert("travelreimbursements", body)
    expenses = [e for e in store.all("projecttravelexpenses")
                if (e.get("travelReimbursement") or {}).get("guid") == template["guid"]]
    if plan.drop_rows:
        expenses = []
    copies = [*expenses, *expenses[:plan.duplicate_rows]]
    for index, expense in enumerate(copies):
        new = {k: copy.deepcopy(v) for k, v in expense.items() if k not in AUDIT_FIELDS}
        new["travelReimbursement"] = {**new["travelReimbursement"], "guid": travel["guid"]}
        for name, value in (plan.rows[index] if index < len(plan.rows) else {}).items():
            if name == "unitPrice":
                new["unitPrice"] = _money(value, "EUR")
            else:
                _set(new, name, value)
        store.insert("projecttravelexpenses", new)
    return _drafted_long_ago(store, "travelreimbursements", travel["guid"])


def _drafted_long_ago(store: SeveraStore, kind: str, guid: str) -> dict[str, Any]:
    """Outside the poller's changed-since window, so that only the status change is news."""
    record = store.get(kind, guid)
    assert record is not None
    record["createdDateTime"] = record["lastUpdatedDateTime"] = (
        dt.datetime.now(dt.UTC) - LONG_AGO).isoformat(timespec="microseconds")
    return record


# ------------------------------------------------------------------------------------------------ result


@dataclass
class Result:
    records: dict[str, Plan]  # Severa guid → plan
    entries: dict[str, dict[str, Any]]  # Severa guid → transfer-log entry
    duplicates: list[str]
    seconds: float
    worker_alive: bool

    def state(self, guid: str) -> str:
        """The final state, or: never requested (no entry in the log), retrying (a transient failure that did
        not clear), pending (requested, no outcome yet)."""
        entry = self.entries.get(guid)
        if entry is None:
            return "never requested"
        if entry["state"] == "failed-transient":
            return "retrying"
        return entry["state"] if entry["state"] in FINAL else "pending"

    def crashed(self) -> list[str]:
        return [guid for guid, entry in self.entries.items()
                if (entry.get("last_error") or {}).get("code") == "INTERNAL"]

    def failures_without_field(self) -> list[str]:
        """Data and configuration failures whose error does not name the field (the user cannot fix it)."""
        return [guid for guid, entry in self.entries.items() if entry["state"] in ("failed-data", "failed-config")
                and not (entry.get("last_error") or {}).get("field")]

    def goal_met(self) -> bool:
        states = Counter(self.state(guid) for guid in self.records)
        stuck = states["pending"] + states["never requested"] + states["retrying"]
        return (stuck == 0 and not self.crashed() and not self.failures_without_field()
                and not self.duplicates and self.worker_alive)


def settle(stack: Stack, records: dict[str, Plan], kinds: dict[str, str], quiet_for: float) -> Result:
    """Wait until every record has a final state, or nothing has changed for `quiet_for` seconds."""
    start = last_change = time.monotonic()
    seen: tuple[int, ...] = ()
    entries: dict[str, dict[str, Any]] = {}
    with console.status("fuzz: waiting for every record to end...") as status:
        while True:
            if stack.worker is not None and stack.worker.poll() is not None:
                break
            entries = {e["severa_id"]: e for kind in set(kinds.values()) for e in stack_transfers(stack, kind)
                       if e["severa_id"] in records}
            final = sum(1 for e in entries.values() if e["state"] in FINAL)
            # Retries of a transient failure are not progress: a record that fails for ever must not keep the
            # run waiting.
            progress = (len(entries), final)
            if progress != seen:
                seen, last_change = progress, time.monotonic()
            status.update(f"fuzz: {final}/{len(records)} records ended, {len(entries)} in the log, "
                          f"{time.monotonic() - start:.0f} s")
            if final == len(records) or time.monotonic() - last_change > quiet_for:
                break
            if time.monotonic() > stack.deadline:
                break
            time.sleep(1.0)
    alive = stack.worker is not None and stack.worker.poll() is None
    return Result(records, entries, procountor_duplicates(stack), time.monotonic() - start, alive)


def stack_transfers(stack: Stack, kind: str) -> list[dict[str, Any]]:
    from projections import versions
    from projections.store import ProjectionStore

    root = stack.home / "projections"
    if versions.current_version(root) is None:
        return []
    with ProjectionStore(root) as store:
        return store.transfers(kind=kind)


def procountor_duplicates(stack: Stack) -> list[str]:
    """Severa numbers that are in one Procountor company more than once."""
    found = []
    for code, company in stack.procountor_store.companies.items():
        numbers = Counter(str(i.get("originalInvoiceNumber")) for i in company.invoices.values()
                          if i.get("originalInvoiceNumber"))
        found += [f"{code}: {number} ×{count}" for number, count in numbers.items() if count > 1]
    return found


def report(result: Result) -> None:
    states = Counter(result.state(guid) for guid in result.records)
    grades = Counter((plan.kind, plan.grade) for plan in result.records.values())
    table = Table(title="fuzz: records through the real worker path")
    table.add_column("figure")
    table.add_column("count", justify="right")
    table.add_row("records in", str(len(result.records)))
    for (kind, grade), count in sorted(grades.items()):
        table.add_row(f"  {kind}, {grade}", str(count))
    for state in ("succeeded", "skipped", "failed-data", "failed-config", "failed", "retrying", "pending",
                  "never requested"):
        if states[state] or state in ("succeeded", "pending", "never requested", "retrying"):
            table.add_row(state, str(states[state]))
    table.add_row("crashed (INTERNAL)", str(len(result.crashed())))
    table.add_row("failures not naming a field", str(len(result.failures_without_field())))
    table.add_row("invoices in Procountor twice", str(len(result.duplicates)))
    table.add_row("worker alive at the end", "yes" if result.worker_alive else "NO")
    table.add_row("seconds until settled", f"{result.seconds:.0f}")
    console.print(table)
    codes = Counter((result.entries[g].get("last_error") or {}).get("code") for g in result.entries
                    if result.entries[g]["state"].startswith("failed"))
    if codes:
        by_code = Table(title="failures by code")
        by_code.add_column("code")
        by_code.add_column("count", justify="right")
        for code, count in codes.most_common():
            by_code.add_row(str(code), str(count))
        console.print(by_code)
    stuck = [g for g in result.records if result.state(g) in ("pending", "never requested", "retrying")]
    for title, guids in (("stuck", stuck),
                         ("crashed", result.crashed()), ("failures not naming a field",
                                                         result.failures_without_field())):
        for guid in guids[:5]:
            entry = result.entries.get(guid) or {}
            plan = result.records[guid]
            drawn = json.dumps([plan.header, plan.rows, plan.duplicate_rows, plan.drop_rows], default=str)
            console.print(f"[yellow]{title}[/yellow] ({result.state(guid)}): {plan.kind} {guid} ({plan.grade}) "
                          f"{json.dumps(entry.get('last_error'), default=str)[:300]} plan={drawn[:400]}")
    verdict = "[green]goal met[/green]" if result.goal_met() else "[red]goal NOT met[/red]"
    console.print(f"{verdict}: 0 stuck (pending, never requested, retrying), 0 crashes, every failure naming its "
                  "field, no duplicate")


# ---------------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="records put into Severa")
    parser.add_argument("--seed", type=int, default=1, help="hypothesis seed: the same seed, the same records")
    parser.add_argument("--travel-share", type=float, default=0.2, help="share of travel reimbursements")
    parser.add_argument("--settle", type=float, default=120.0, help="stop waiting after this long without change")
    parser.add_argument("--timeout", type=float, default=3600.0, help="abort after this many seconds in all")
    parser.add_argument("--check", action="store_true", help="exit 3 when the goal is not met")
    args = parser.parse_args(argv)
    # Robustness, not speed: no added latency, generous limits, and a worker paced to match.
    args.latency_ms, args.severa_limit, args.procountor_limit = 0.0, 1000.0, 1000.0
    args.severa_rps, args.procountor_rps, args.concurrency = 500.0, 500.0, None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("SEVPRO_HOME", str(REPO / ".sevpro"))
    stack = Stack(args, deadline=time.monotonic() + args.timeout)
    watcher = Watcher(stack)  # not started: the transfer log is what counts here
    outcome: dict[str, Result] = {}

    def body() -> None:
        stack.start()
        templates = warm_up(stack)
        store = stack.severa_store
        assert store is not None
        travel_templates = [t for t in store.all("travelreimbursements")
                            if any((e.get("travelReimbursement") or {}).get("guid") == t["guid"]
                                   for e in store.all("projecttravelexpenses"))]
        plans = draw_plans(args.records, args.seed, len(templates), len(travel_templates), args.travel_share)
        draft = status_guid(store, DRAFT)
        records: dict[str, Plan] = {}
        kinds: dict[str, str] = {}
        number = 100_000
        with console.status(f"fuzz: putting {len(plans)} records into the Severa sandbox..."):
            for plan in plans:
                if plan.kind == "invoice":
                    record = put_invoice(store, templates[plan.template], plan, draft)
                    kinds[record["guid"]] = "sales-invoice"
                else:
                    number += 1
                    record = put_travel(store, travel_templates[plan.template], plan, number)
                    kinds[record["guid"]] = "travel-reimbursement"
                records[record["guid"]] = plan
        time.sleep(2.0)  # the poller's window moves past the inserts
        waiting = status_guid(store, WAITING)
        travel_waiting = store.status_by_name("travelreimbursementstatuses", WAITING)["guid"]
        for guid, plan in records.items():
            if plan.kind == "invoice":
                store.set_invoice_status(guid, waiting)
            else:
                store.set_travel_reimbursement_status(guid, travel_waiting)
        result = settle(stack, records, kinds, args.settle)
        report(result)
        outcome["result"] = result

    code = run(stack, watcher, body)
    if code == 0 and args.check and not outcome["result"].goal_met():
        return 3
    return code


if __name__ == "__main__":
    sys.exit(main())
