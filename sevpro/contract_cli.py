"""`sevpro contract coverage`: operations used, operations in the public API contract, and what the last test
run checked against it (requests, answers, violations).

The record comes from the test run (`tests/conftest.py` saves it to `.sevpro/contract/last-run.json`, or to
`SEVPRO_CONTRACT_RUN`); without one, only the comparison of the clients with the contract is printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from foundation.paths import project_home

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The public API contract (contract/*.yaml) and its coverage.")
console = Console()


def default_run_path() -> Path:
    return Path(os.environ.get("SEVPRO_CONTRACT_RUN") or project_home() / "contract" / "last-run.json")


@app.command("coverage")
def coverage_command(
    run: Path = typer.Option(None, help="A run record (default: the last test run's, .sevpro/contract/last-run.json)."),
    details: bool = typer.Option(False, "--details", help="Also list the checks per operation."),
) -> None:
    """Operations used vs in the contract, requests and answers checked in the last test run, violations.

    Exits 1 when an operation the clients call is missing from the contract, or the run had violations that
    no issue item explains.
    """
    try:
        from contract.coverage import coverage, describe
        from contract.watch import load_run
    except ImportError as exc:  # pyyaml is a development dependency
        console.print(f"[red]error:[/red] the contract needs the development dependencies ({exc.name}): "
                      "pip install -e '.\\[dev]'")
        raise typer.Exit(1) from None
    path = run or default_run_path()
    record = load_run(path) if path.exists() else None
    report = coverage(record)

    table = Table(title="Public API contract coverage", title_justify="left")
    # used: operations the client calls; missing: of those, not in the contract; not run: used, but no
    # request of the run reached them.
    for column in ("system", "used", "in contract", "missing", "requests", "answers", "not run"):
        table.add_column(column, justify="right" if column != "system" else "left")
    for item in report.systems:
        table.add_row(
            item.system,
            str(len(item.used)),
            str(item.in_contract),
            str(len(item.missing)),
            str(sum(item.requests.values())) if record else "-",
            str(sum(item.answers.values())) if record else "-",
            str(len(item.not_exercised)) if record else "-",
        )
    console.print(table)
    for item in report.systems:
        for key in item.missing:
            console.print(f"[red]not in the contract:[/red] {item.system} {key} ({', '.join(item.used[key])})")
        for key in item.unused:
            console.print(f"[yellow]in the contract, no longer used:[/yellow] {item.system} {key}")
        if details:
            for key in item.not_exercised:
                console.print(f"not exercised by the run: {item.system} {key}")
            for key, count in sorted(item.requests.items()):
                console.print(f"  {item.system} {key}: {count} checked")
    if record is None:
        console.print(f"No run record at {path}: run the integration tests first "
                      "(e.g. make test, or pytest tests/integration).")
    else:
        console.print(f"Run record: {path}")
        console.print(f"Violations: {len(report.unexpected)} unexpected, {len(report.expected)} expected "
                      "(known issue items, waiting for their fix); "
                      f"{record.get('exempted', 0)} findings in tests marked contract_exempt (not counted)")
        for violation in report.unexpected:
            console.print(f"[red]violation:[/red] {describe(violation)}")
        for violation in report.expected:
            console.print(f"[yellow]expected:[/yellow] {describe(violation)} - {violation['expected']}")
        for issue in report.stale_known:
            console.print(f"[yellow]no longer seen (remove its mark in contract/expected.py):[/yellow] {issue}")
        for key, count in sorted(report.unmatched.items()):
            console.print(f"not an operation the integration uses (not checked): {key} x{count}")
        for error in report.errors:
            console.print(f"[red]checker error:[/red] {error}")
    if not report.ok:
        raise typer.Exit(1)
