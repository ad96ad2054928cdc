"""`sevpro tenants add|list|show|disable`: the tenants (Severa organisations) registered in a deployment.

A tenant's API clients are recorded with their secrets as references only (env:NAME, file:/path,
secret:<secret manager path>); a value that is not a reference is refused before anything is published.
"""

from __future__ import annotations

import json
import os

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from foundation.settings_events import TenantConfig
from foundation.types import Json
from sevpro.settings_cli import BootstrapOption, ByOption, changes_table, fail, on_kafka, who

app = typer.Typer(no_args_is_help=True, help="The tenants of this deployment, as audited events.")
console = Console()

ReferenceHelp = "A reference, never the secret: env:VARIABLE, file:/path or secret:<secret manager path>."


@app.command("add")
def add(tenant: str = typer.Argument(..., help="The tenant's name (letters, digits, '.', '_', '-')."),
        severa_client_id: str = typer.Option(..., help="The tenant's Severa API client id."),
        severa_client_secret: str = typer.Option(..., help=ReferenceHelp),
        procountor_client_id: str = typer.Option(..., help="The tenant's Procountor API client id."),
        procountor_client_secret: str = typer.Option(..., help=ReferenceHelp),
        display_name: str | None = typer.Option(None, help="A name for people."),
        severa_url: str | None = typer.Option(None, help="The tenant's Severa API (default: SEVPRO_SEVERA_URL)."),
        procountor_url: str | None = typer.Option(
            None, help="The tenant's Procountor API (default: SEVPRO_PROCOUNTOR_URL)."),
        replace: bool = typer.Option(False, "--replace", help="Replace the configuration of a registered tenant."),
        by: str | None = ByOption, bootstrap: str | None = BootstrapOption) -> None:
    """Register a tenant (or, with --replace, change one); refused unless every secret is a reference."""
    from foundation.settings_directory import SettingsWriter, ensure_config_topics
    from foundation.settings_events import SettingsRefused, validate_tenant

    wanted = {"name": tenant, "display_name": display_name, "enabled": True, "severa_client_id": severa_client_id,
              "severa_client_secret": severa_client_secret, "procountor_client_id": procountor_client_id,
              "procountor_client_secret": procountor_client_secret, "severa_url": severa_url,
              "procountor_url": procountor_url}

    def edit(current: TenantConfig | None) -> TenantConfig:
        if current is not None and not replace:
            raise SettingsRefused([f"tenant {tenant!r}: already registered; --replace changes its configuration"])
        return validate_tenant(wanted)

    async def main(servers: str) -> list[Json]:
        validate_tenant(wanted)  # refused before Kafka is even asked
        await ensure_config_topics(servers)
        return await SettingsWriter(servers, changed_by=who(by), origin="sevpro tenants add").change_tenant(tenant,
                                                                                                           edit)

    published = on_kafka(bootstrap, main)
    if not published:
        console.print(f"tenant {tenant!r}: nothing changed, nothing published")
        return
    console.print(changes_table(f"tenant {tenant}", published))


@app.command("disable")
def disable(tenant: str = typer.Argument(...), by: str | None = ByOption,
            bootstrap: str | None = BootstrapOption) -> None:
    """Turn a tenant off: its worker transfers nothing more for it (its settings and history stay)."""
    from foundation.settings_directory import SettingsWriter
    from foundation.settings_events import SettingsRefused

    def edit(current: TenantConfig | None) -> TenantConfig:
        if current is None:
            raise SettingsRefused([f"tenant {tenant!r}: not registered (`sevpro tenants list`)"])
        return current.model_copy(update={"enabled": False})

    async def main(servers: str) -> list[Json]:
        return await SettingsWriter(servers, changed_by=who(by), origin="sevpro tenants disable").change_tenant(
            tenant, edit)

    published = on_kafka(bootstrap, main)
    console.print(f"tenant {tenant!r} " + ("disabled" if published else "was disabled already"))


@app.command("list")
def list_command(bootstrap: str | None = BootstrapOption) -> None:
    """Every tenant of the deployment, with its companies."""
    from foundation.settings_directory import read_directory

    directory = on_kafka(bootstrap, read_directory)
    names = sorted(set(directory.tenants) | set(directory.companies))
    if not names:
        console.print("no tenants registered (`sevpro tenants add`)")
        return
    table = Table(title="tenants")
    for column in ("tenant", "name", "enabled", "companies", "revision", "changed by", "changed at"):
        table.add_column(column)
    for name in names:
        record = directory.tenants.get(name)
        config = json.loads(record["config"]) if record else {}
        table.add_row(name, escape(config.get("display_name") or ""),
                      ("yes" if config["enabled"] else "[red]no[/red]") if record else "(not registered)",
                      ", ".join(sorted(directory.companies.get(name, {}))),
                      str(record["revision"]) if record else "", record["changed_by"] if record else "",
                      record["changed_at"].isoformat(timespec="seconds") if record else "")
    console.print(table)


@app.command("show")
def show(tenant: str = typer.Argument(...), bootstrap: str | None = BootstrapOption) -> None:
    """One tenant: its configuration (secrets as references, and whether each resolves on this host)."""
    from foundation.settings import SettingsError
    from foundation.settings_directory import read_directory
    from foundation.settings_events import resolve_secret

    directory = on_kafka(bootstrap, read_directory)
    config = directory.tenant(tenant)
    companies = sorted(directory.companies.get(tenant, {}))
    if config is None and not companies:
        fail(f"tenant {tenant!r} is not registered (`sevpro tenants list`)")
    table = Table(title=f"tenant {tenant}")
    table.add_column("field")
    table.add_column("value")
    if config is None:
        table.add_row("(configuration)", "not registered: `sevpro tenants add` records its API clients")
    else:
        deployment = _deployment_urls()
        for field, value in config.model_dump().items():
            if field in deployment:  # the API it calls (its own, or the deployment's), never a password in it
                value = _without_password(value) if value else \
                    f"{_without_password(deployment[field])} (the deployment's: SEVPRO_{field.upper()} here)"
            table.add_row(field, escape(str(value)))
        for field, reference in config.references().items():
            try:
                resolve_secret(reference, os.environ)
                found = "[green]resolves on this host[/green]"
            except SettingsError as error:  # the message names the reference, never a value
                found = f"[yellow]{escape(str(error))}[/yellow]"
            table.add_row(f"{field} (here)", found)
    table.add_row("companies", ", ".join(companies) or "none (`sevpro settings import FILE --tenant ...`)")
    console.print(table)


def _deployment_urls() -> dict[str, str]:
    """The API URLs a tenant without its own calls, as this host's settings say (SEVPRO_SEVERA_URL, ...)."""
    from pydantic import ValidationError

    from foundation.settings import Settings

    try:
        settings = Settings()
    except ValidationError:  # other settings of this host are wrong: the defaults, still worth showing
        settings = Settings.model_construct()
    return {"severa_url": settings.severa_url, "procountor_url": settings.procountor_url}


def _without_password(url: str) -> str:
    """An URL as shown: a password written into it (https://user:password@host) replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
