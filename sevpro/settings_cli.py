"""`sevpro settings show|set|import|history`: company settings as audited events on Kafka.

Every change is validated by the same model as the TOML file (foundation/company.py) before anything is
published; a refusal names the company and the field, and nothing of it reaches the topic. A running worker that
reads its settings from the topic (no SEVPRO_COMPANIES_FILE) applies a change at once, without a restart.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from foundation.types import Json

if TYPE_CHECKING:
    from foundation.company import CompanySettings

app = typer.Typer(no_args_is_help=True, help="Company settings as audited events, applied by running workers live.")
console = Console()

TenantOption = typer.Option(None, "--tenant", help="The tenant (default: $SEVPRO_TENANT).")
CompanyOption = typer.Option(None, "--company", help="One company only (its key, e.g. FI).")
BootstrapOption = typer.Option(None, "--bootstrap", help="Kafka bootstrap (default: $KAFKA_BOOTSTRAP_SERVERS).")
ByOption = typer.Option(None, "--by", help="Who makes the change, for the history (default: your user name).")


def tenant_of(tenant: str | None) -> str:
    """--tenant, else SEVPRO_TENANT; one clear line when neither is given."""
    import os

    value = tenant or os.environ.get("SEVPRO_TENANT", "")
    if not value:
        fail("no tenant: give --tenant or set SEVPRO_TENANT")
    return value


def who(by: str | None) -> str:
    return by or getpass.getuser()


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def refused(problems: list[str]) -> NoReturn:
    console.print("[red]refused, nothing was published:[/red]", soft_wrap=True)
    for line in problems:
        console.print(f"  {escape(line)}", soft_wrap=True)
    raise typer.Exit(2)


def on_kafka(bootstrap: str | None, main: Any) -> Any:
    """Find the broker, run `main(servers)`; refusals, conflicts and an unreachable broker are one clear message."""
    from aiokafka.errors import KafkaConnectionError, KafkaError

    from foundation.company import CompanySettingsError
    from foundation.kafka import KafkaSettingsError
    from foundation.settings_directory import SettingsConflict
    from foundation.settings_events import SettingsRefused
    from sevpro.kafka_broker import BrokerNotFound, find_bootstrap

    try:
        servers = find_bootstrap(bootstrap)
    except BrokerNotFound as exc:
        fail(str(exc))
    try:
        return asyncio.run(main(servers))
    except SettingsRefused as exc:
        refused(exc.problems)
    except CompanySettingsError as exc:
        refused(str(exc).splitlines())
    except SettingsConflict as exc:
        fail(str(exc))
    except KafkaSettingsError as exc:
        fail(str(exc), 2)
    except (KafkaConnectionError, KafkaError) as exc:
        fail(f"Kafka at {servers} cannot be used ({type(exc).__name__}: {exc}); give --bootstrap or set "
             "KAFKA_BOOTSTRAP_SERVERS")


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """FIELD=VALUE pairs. A value is text, read by the model as it reads the TOML file's ("true" a yes/no field,
    "NOT_SENT" a choice); a JSON list or object ([...], {...}) for fields that hold one."""
    values: dict[str, Any] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            raise typer.BadParameter(f"{pair!r}: expected FIELD=VALUE, e.g. sales_invoices.procountor_status=SENT")
        value = value.strip()
        if value[:1] in "[{":
            try:
                values[field.strip()] = json.loads(value)
                continue
            except json.JSONDecodeError:
                raise typer.BadParameter(f"{pair!r}: the value is not valid JSON") from None
        values[field.strip()] = value
    return values


def changes_table(title: str, records: list[Json]) -> Table:
    table = Table(title=title, show_lines=False)
    for column in ("company", "revision", "field", "before", "after"):
        table.add_column(column)
    for record in records:
        for change in record["changes"]:
            table.add_row(record.get("company", record["tenant"]), str(record["revision"]), change["field"],
                          _value(change["before"]), _value(change["after"]))
    return table


def _value(encoded: str | None) -> str:
    return "" if encoded is None else escape(str(json.loads(encoded)))


def _when(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


@app.command("show")
def show(company: str | None = CompanyOption, tenant: str | None = TenantOption,
         as_json: bool = typer.Option(False, "--json", help="The settings as JSON."),
         bootstrap: str | None = BootstrapOption) -> None:
    """The company settings in force (the latest of each company on the topic)."""
    from foundation.settings_directory import read_directory

    name = tenant_of(tenant)
    directory = on_kafka(bootstrap, read_directory)
    records = directory.companies.get(name, {})
    if company is not None:
        if company not in records:
            fail(f"tenant {name!r} has no settings for company {company!r} (companies: "
                 f"{', '.join(sorted(records)) or 'none; `sevpro settings import FILE` brings a TOML file over'})")
        records = {company: records[company]}
    if as_json:
        typer.echo(json.dumps({c: json.loads(r["settings"]) for c, r in sorted(records.items())}, indent=2,
                              ensure_ascii=False))
        return
    if not records:
        console.print(f"tenant {name!r} has no company settings on the topic yet: `sevpro settings import FILE` "
                      "brings today's TOML file over", soft_wrap=True)
        return
    for key, record in sorted(records.items()):
        table = Table(title=f"{name} / {key}: revision {record['revision']}, by {record['changed_by']} at "
                            f"{_when(record['changed_at'])}")
        table.add_column("field")
        table.add_column("value")
        for field, value in sorted(_flat(json.loads(record["settings"])).items()):
            table.add_row(field, escape(json.dumps(value, ensure_ascii=False)))
        console.print(table)


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in data.items():
        found |= _flat(value, f"{prefix}{key}.") if isinstance(value, Mapping) else {f"{prefix}{key}": value}
    return found


@app.command("set")
def set_command(assignments: list[str] = typer.Argument(..., metavar="FIELD=VALUE...",
                                                        help="e.g. sales_invoices.procountor_status=NOT_SENT"),
                company: str = typer.Option(..., "--company", help="The company to change (its key, e.g. FI)."),
                unset: list[str] = typer.Option([], "--unset", help="A field back to its default (repeatable)."),
                tenant: str | None = TenantOption, by: str | None = ByOption,
                bootstrap: str | None = BootstrapOption) -> None:
    """Change fields of one company's settings; validated whole before it is published, applied live."""
    from foundation.settings_directory import set_company

    name = tenant_of(tenant)
    values = parse_assignments(assignments)

    async def main(servers: str) -> list[Json]:
        return await set_company(servers, name, company, values, unset, changed_by=who(by),
                                 origin="sevpro settings set")

    published = on_kafka(bootstrap, main)
    if not published:
        console.print(f"company {company!r} of tenant {name!r}: nothing changed, nothing published")
        return
    console.print(changes_table(f"{name}: changed", published))


@app.command("import")
def import_command(path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                              help="Today's companies TOML file (SEVPRO_COMPANIES_FILE)."),
                   tenant: str | None = TenantOption, by: str | None = ByOption,
                   bootstrap: str | None = BootstrapOption) -> None:
    """Bring a companies TOML file over: every company in it, validated as the worker validates the file."""
    from foundation.company import load_companies
    from foundation.settings_directory import SettingsWriter, ensure_config_topics
    from foundation.settings_events import origin_of

    name = tenant_of(tenant)
    companies = on_kafka_free(lambda: load_companies(path))

    async def main(servers: str) -> tuple[list[Json], list[str]]:
        await ensure_config_topics(servers)
        others: list[str] = []

        def edit(current: dict[str, CompanySettings]) -> dict[str, CompanySettings]:
            others.extend(sorted(set(current) - set(companies)))
            return companies

        writer = SettingsWriter(servers, changed_by=who(by), origin=origin_of("sevpro settings import", path))
        return await writer.change_companies(name, edit), others

    published, others = on_kafka(bootstrap, main)
    if published:
        console.print(changes_table(f"{name}: imported from {path.name}", published))
    unchanged = sorted(set(companies) - {r["company"] for r in published})
    if unchanged:
        console.print(f"unchanged: {', '.join(unchanged)}")
    if others:
        console.print(f"[yellow]note:[/yellow] the topic also has companies the file does not: {', '.join(others)} "
                      "(kept as they are; `sevpro settings set --company C enabled=false` turns one off)",
                      soft_wrap=True)


def on_kafka_free(load: Any) -> Any:
    """A step before Kafka (reading the file): its refusal is the same clear message."""
    from foundation.company import CompanySettingsError

    try:
        return load()
    except CompanySettingsError as exc:
        refused(str(exc).splitlines())


@app.command("history")
def history(company: str | None = CompanyOption, tenant: str | None = TenantOption,
            bootstrap: str | None = BootstrapOption) -> None:
    """Who changed what and when: every change of the tenant and its companies' settings, oldest first."""
    from foundation.settings_directory import read_history

    name = tenant_of(tenant)
    events = on_kafka(bootstrap, lambda servers: read_history(servers, name, company))
    table = Table(title=f"settings history of {name}" + (f" / {company}" if company else ""))
    for column in ("when", "who", "what", "revision", "field", "before", "after", "how"):
        table.add_column(column, overflow="fold")
    for _, record in events:
        what = record.get("company", "(tenant)")
        for index, change in enumerate(record["changes"]):
            first = index == 0
            table.add_row(_when(record["changed_at"]) if first else "", record["changed_by"] if first else "",
                          what if first else "", str(record["revision"]) if first else "", change["field"],
                          _value(change["before"]), _value(change["after"]), escape(record["origin"]) if first else "")
    if not events:
        console.print(f"no settings changes recorded for {name}" + (f" / {company}" if company else ""))
        return
    console.print(table)
