"""`sevpro compare` (the registry comparison report) and `sevpro check` (the checks before enabling).

Companies come from ``Settings().companies_file`` (SEVPRO_COMPANIES_FILE), or with SEVPRO_COMPANY_SETTINGS=topic from
the tenant's company settings in force on the compacted settings topic (read as the worker reads them); URLs and
credentials from the same settings the worker uses (SEVPRO_SEVERA_URL, SEVPRO_PROCOUNTOR_URL, …; each company's API
key from the environment variable its ``procountor_api_key_env`` names). Both commands only read; the work itself is
registry/runs.py's, which the console's pages call too.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from foundation.settings import Settings
from schemas import topics

if TYPE_CHECKING:  # imported by the commands that use them: every other command starts 0.1 s sooner
    from foundation.company import CompanySettings
    from registry.checks import Check
    from registry.compare import Report

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Registry comparison report and the checks before enabling the integration.")
console = Console()

_STYLE = {"ok": "green", "info": "blue", "warning": "yellow", "error": "red", "reminder": "cyan"}

TenantOption = typer.Option(None, "--tenant", help="With SEVPRO_COMPANY_SETTINGS=topic: the tenant whose settings "
                                                   "are read (default: $SEVPRO_TENANT).")


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(2)


def _companies(settings: Settings, names: list[str] | None, tenant: str | None) -> list[CompanySettings]:
    from foundation.company import CompanySettingsError, load_companies

    if settings.company_settings == "topic":
        if settings.companies_file is not None:  # which one counts would be a silent choice (as the worker says)
            _fail("SEVPRO_COMPANY_SETTINGS=topic and SEVPRO_COMPANIES_FILE are both set: keep one")
        companies = _companies_on_topic(tenant or settings.tenant)
    elif settings.companies_file is None:
        _fail("SEVPRO_COMPANIES_FILE is not set: point it at your companies file (or SEVPRO_COMPANY_SETTINGS=topic "
              "to read the tenant's settings from Kafka)")
    else:
        try:
            companies = load_companies(settings.companies_file)
        except (CompanySettingsError, OSError) as error:
            _fail(str(error))
    unknown = sorted(set(names or []) - set(companies))
    if unknown:
        _fail(f"no company {', '.join(unknown)}; known: {', '.join(companies)}")
    return [c for name, c in companies.items() if not names or name in names]


def _companies_on_topic(tenant: str) -> dict[str, CompanySettings]:
    """The tenant's company settings in force, read from the topic by the worker's own reader (every company, on
    or off: the checks are for companies not yet enabled too)."""
    from aiokafka.errors import KafkaError

    from foundation.settings_directory import read_directory
    from foundation.settings_events import SettingsRefused
    from sevpro.kafka_broker import BrokerNotFound, find_bootstrap

    if not tenant:
        _fail("SEVPRO_COMPANY_SETTINGS=topic needs the tenant: give --tenant or set SEVPRO_TENANT")
    try:
        servers = find_bootstrap()
        companies = asyncio.run(read_directory(servers)).company_settings(tenant)
    except BrokerNotFound as error:
        _fail(str(error))
    except KafkaError as error:
        _fail(f"Kafka at {servers} cannot be read ({type(error).__name__}: {error})")
    except SettingsRefused as refused:
        _fail(f"the company settings of tenant {tenant!r} on the topic do not validate: " + "; ".join(refused.problems))
    if not companies:
        _fail(f"tenant {tenant!r} has no company settings on the topic {topics.company_settings()} at {servers}: "
              "`sevpro settings import FILE --tenant " + tenant + "` brings a companies TOML file over")
    return companies


@app.command("compare")
def compare(
    company: list[str] = typer.Option(None, "--company", "-c", help="Only this company (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    show_matched: bool = typer.Option(True, "--matched/--differences-only", help="Also list matched records."),
    tenant: str | None = TenantOption,
) -> None:
    """Registry comparison report: how customers, products, dimensions and users match between the systems."""
    from registry.runs import compare_companies, compare_document

    settings = Settings()
    reports, failed = asyncio.run(compare_companies(settings, _companies(settings, company, tenant)))
    if as_json:
        typer.echo(json.dumps(compare_document(reports, failed), indent=2, ensure_ascii=False))
    else:
        for report in reports:
            _print_report(report, show_matched)
        for message in failed:
            console.print(f"[red]error:[/red] {message}")
    if failed:
        raise typer.Exit(1)


def _print_report(report: Report, show_matched: bool) -> None:
    from registry.compare import REGISTRIES

    console.rule(f"[bold]Company {report.company}[/bold] — registry comparison on {report.today.isoformat()}")
    counts = report.counts()
    for registry, title in REGISTRIES.items():
        findings = [f for f in report.registry(registry) if show_matched or f.severity != "ok"]
        if not findings:
            continue
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts[registry].items()))
        table = Table(title=f"{title} ({summary})", title_justify="left", expand=False)
        for column in ("", "Key", "Record", "Field", "Severa", "Procountor", "Finding"):
            table.add_column(column, overflow="fold")
        for f in findings:
            note = f.message + (f"\n[dim]Fix: {f.fix}[/dim]" if f.fix else "")
            table.add_row(f"[{_STYLE[f.severity]}]{f.severity}[/]", f.key, f.record, f.field or "", f.severa or "",
                          f.procountor or "", note)
        console.print(table)
    differences = report.differences()
    errors = sum(1 for f in differences if f.severity == "error")
    console.print(f"[bold]{report.company}:[/bold] {errors} errors, {len(differences) - errors} warnings\n")


@app.command("check")
def check(
    company: list[str] = typer.Option(None, "--company", "-c", help="Only this company (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    tenant: str | None = TenantOption,
) -> None:
    """The checks before enabling: credentials, API key and dimensions, registries, IBANs, users, and that the
    Kafka topics keep their events. Exits 1 when any check is an error."""
    from registry.checks import exit_code
    from registry.runs import check_companies, check_document
    from sevpro.kafka_broker import BrokerNotFound, find_bootstrap

    settings = Settings()
    companies = _companies(settings, company, tenant)
    try:
        servers, no_bootstrap = find_bootstrap(), ""
    except BrokerNotFound as error:
        servers, no_bootstrap = None, str(error)
    checks = asyncio.run(check_companies(settings, companies, servers, no_bootstrap))
    if as_json:
        typer.echo(json.dumps(check_document(checks), indent=2, ensure_ascii=False))
    else:
        _print_checks(checks)
    raise typer.Exit(exit_code(checks))


def _print_checks(checks: list[Check]) -> None:
    from registry.checks import ITEMS
    from registry.runs import totals

    for name in dict.fromkeys(c.company for c in checks):
        mine = [c for c in checks if c.company == name]
        table = Table(title=f"Company {name}: checks before enabling", title_justify="left")
        for column in ("", "Check", "Record", "Field", "Finding"):
            table.add_column(column, overflow="fold")
        for c in mine:
            note = c.message + (f"\n[dim]Fix: {c.fix}[/dim]" if c.fix else "")
            table.add_row(f"[{_STYLE[c.status]}]{c.status}[/]", ITEMS.get(c.item, c.item), c.record or "",
                          c.field or "", note)
        console.print(table)
        counted = totals(mine)
        verdict = "[red]not ready to enable[/red]" if counted["error"] else "[green]ready to enable[/green]"
        reminders = f", {counted['reminder']} reminders to confirm by hand" if counted["reminder"] else ""
        console.print(f"[bold]{name}:[/bold] {counted['error']} errors, {counted['warning']} warnings{reminders} — "
                      f"{verdict}\n")
