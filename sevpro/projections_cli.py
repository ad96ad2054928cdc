"""`sevpro log | show | ids | replay | reprocess | export | project | forget`: the read models on the command line."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from projections.apply import STATES, systems_of
from projections.store import ProjectionStore, read_models_at
from schemas.topics import TRANSFER_KINDS

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Transfer log, ID map and history, built from the Kafka topics.")
console = Console()

STATE_STYLE = {"succeeded": "green", "pending": "yellow", "failed-transient": "magenta", "failed-config": "red",
               "failed-data": "red"}
DB_HELP = ("Folder of the projection versions, or a postgresql:// URL (default: $SEVPRO_READ_MODEL_URL, else"
           " $SEVPRO_HOME/projections or ./.sevpro/projections).")


def _db(db: str | None) -> Path | str:
    """Where the read models are: a folder of versions, made if missing, or a PostgreSQL database that answers;
    one clear line when it cannot be used."""
    from projections.postgres import ReadModelUnreachable, check

    try:
        path = read_models_at(db)
        if isinstance(path, str):
            check(path)
            return path
    except (ValueError, ReadModelUnreachable) as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        console.print(f"[red]error:[/red] the read models' folder {str(path)!r} cannot be used: {exc.strerror}",
                      soft_wrap=True)
        raise typer.Exit(1) from None
    return path


def _bootstrap(bootstrap: str | None) -> str:
    """--bootstrap, else the broker the command line finds; never one started for this command."""
    from sevpro.kafka_broker import BrokerNotFound, find_bootstrap

    try:
        return find_bootstrap(bootstrap)
    except BrokerNotFound as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None


def _on_kafka(bootstrap: str, main: Coroutine[Any, Any, T]) -> T:
    """Run `main`, which talks to Kafka at `bootstrap`; a broker that cannot be reached is one clear line."""
    from aiokafka.errors import KafkaConnectionError

    from foundation.kafka import KafkaSettingsError

    try:
        return asyncio.run(main)
    except KafkaSettingsError as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    except KafkaConnectionError as exc:
        console.print(f"[red]error:[/red] Kafka at {bootstrap} cannot be reached ({exc}); give --bootstrap or "
                      "set KAFKA_BOOTSTRAP_SERVERS", soft_wrap=True)
        raise typer.Exit(1) from None


def _time(value: str | None, option: str) -> datetime | None:
    """ISO date or date-time; without a zone it is UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date or date-time (e.g. 2026-11-01)",
                                 param_hint=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _one_of(allowed: tuple[str, ...]) -> Any:
    """An option callback: None, or one of ``allowed`` (``failed_data`` is taken as ``failed-data``)."""
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        normal = value.strip().replace("_", "-")
        if normal not in allowed:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}")
        return normal
    return check


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _reason(entry: dict[str, Any]) -> dict[str, Any] | None:
    """For failures: what was wrong and what to do (None otherwise)."""
    error = entry["last_error"]
    if not error or not entry["state"].startswith("failed"):
        return None
    return {k: error[k] for k in ("code", "field", "value", "message", "solution")}


def _state(state: str) -> str:
    return f"[{STATE_STYLE.get(state, 'white')}]{state}[/]"


# Options shared by several commands.
DbOption = typer.Option(None, "--db", help=DB_HELP)
BootstrapOption = typer.Option(None, "--bootstrap", help="Kafka bootstrap (default: $KAFKA_BOOTSTRAP_SERVERS).")


@app.command("log")
def log_command(company: str | None = typer.Option(None, help="Only this company."),
                kind: str | None = typer.Option(None, help=", ".join(TRANSFER_KINDS), callback=_one_of(TRANSFER_KINDS)),
                state: str | None = typer.Option(None, help=", ".join(STATES), callback=_one_of(STATES)),
                since: str | None = typer.Option(None, help="Last event at or after (ISO date/time, UTC)."),
                until: str | None = typer.Option(None, help="Last event before (ISO date/time, UTC)."),
                tenant: str | None = typer.Option(None, help="Only this tenant."),
                as_json: bool = typer.Option(False, "--json", help="Every record as JSON, for scripts."),
                db: str | None = DbOption) -> None:
    """The transfer log: one entry per source record, its state, attempts and, for failures, why and what to do."""
    with ProjectionStore(_db(db)) as store:
        entries = store.transfers(company=company, kind=kind, state=state, since=_time(since, "--since"),
                                  until=_time(until, "--until"), tenant=tenant)
    if as_json:
        _print_json([e | {"reason_for_failure": _reason(e)} for e in entries])
        return
    table = Table(title=f"Transfer log{f': {kind}' if kind else ''} ({len(entries)})", show_lines=False)
    # Each kind names its systems: a purchase invoice goes from Procountor to Severa, the others the other way.
    for column in ("company", "kind", "record", "became", "state", "att.", "updated (UTC)", "reason"):
        table.add_column(column, overflow="fold")
    for e in entries:
        reason = _reason(e)
        reason_text = ""
        if reason:
            where = f" {reason['field']}={reason['value']!r}" if reason["field"] else ""
            reason_text = f"[bold]{reason['code']}[/]{where}: {reason['message']}"
            if reason["solution"]:
                reason_text += f"\n[cyan]→ {reason['solution']}[/]"
        elif e["note"]:
            reason_text = f"[dim]nothing to write: {e['note']}[/]"
        if e["warning"]:
            reason_text += ("\n" if reason_text else "") + f"[yellow]warning: {e['warning']}[/]"
        source, target = systems_of(e["kind"])
        became = f"{target} {e['procountor_id']}" if e["procountor_id"] else "-"
        if e["procountor_number"]:
            became += f" (no. {e['procountor_number']})"
        table.add_row(e["company"], e["kind"], f"{source} {e['severa_number'] or e['severa_id']}", became,
                      _state(e["state"]), str(e["attempt_count"]), (e["updated_at"] or "")[:19], reason_text)
    console.print(table)


@app.command("show")
def show_command(record: str = typer.Argument(..., help="Severa guid, Procountor id, or invoice number."),
                 tenant: str | None = typer.Option(None, help="Only this tenant."),
                 as_json: bool = typer.Option(False, "--json"), db: str | None = DbOption) -> None:
    """One record: its transfer-log entry, attempts, and every event that concerns it, in order."""
    with ProjectionStore(_db(db)) as store:
        entries = store.find_transfers(record, tenant=tenant)
        history = store.history(record, tenant=tenant)
    if not entries and not history:
        console.print(f"[yellow]nothing is known about {record!r}[/yellow]")
        raise typer.Exit(1)
    if as_json:
        _print_json({"transfers": entries, "history": history})
        return
    for e in entries:
        console.print(f"[bold]{e['kind']}[/] {e['severa_number'] or ''} (Severa {e['severa_id']}) of "
                      f"{e['tenant']}/{e['company']} → Procountor {e['procountor_id'] or '-'}: {_state(e['state'])}")
        if reason := _reason(e):
            console.print(f"  {reason['code']} {reason['field'] or ''}={reason['value']!r}: {reason['message']}")
            console.print(f"  [cyan]→ {reason['solution']}[/]")
        elif e["note"]:
            console.print(f"  nothing to write: {e['note']}")
        if e["warning"]:
            console.print(f"  [yellow]warning: {e['warning']}[/]")
        attempts = Table("request", "attempt", "first (UTC)", "last (UTC)", "result", "steps")
        for a in e["attempts"]:
            attempts.add_row(a["request_id"], str(a["attempt"]), a["first_at"][:23], a["last_at"][:23], a["result"],
                             ", ".join(a["steps"]))
        console.print(attempts)
    table = Table(title="History", show_lines=False)
    for column in ("at (UTC)", "event", "summary", "event id", "correlation", "causation"):
        table.add_column(column, overflow="fold")
    for h in history:
        table.add_row((h["at"] or "")[:23], h["type"], h["summary"], h["event_id"], h["correlation_id"] or "",
                      h["causation_id"] or "")
    console.print(table)


@app.command("ids")
def ids_command(kind: str | None = typer.Option(None, help="customer, product, dimension_item, invoice, person..."),
                tenant: str | None = typer.Option(None), company: str | None = typer.Option(None),
                as_json: bool = typer.Option(False, "--json"), db: str | None = DbOption) -> None:
    """The ID map: Severa key and guid ↔ Procountor id, per tenant, company and kind."""
    with ProjectionStore(_db(db)) as store:
        links = store.id_map(kind=kind, tenant=tenant, company=company)
    if as_json:
        _print_json(links)
        return
    table = Table(title=f"ID map ({len(links)})")
    for column in ("tenant", "company", "kind", "Severa key", "Severa id", "Procountor id", "how", "linked (UTC)"):
        table.add_column(column, overflow="fold")
    for m in links:
        table.add_row(m["tenant"], m["company"], m["kind"], m["severa_key"], m["severa_id"] or "-",
                      m["procountor_id"], "created" if m["created"] else "matched", (m["linked_at"] or "")[:19])
    console.print(table)


@app.command("replay")
def replay_command(since: str | None = typer.Option(None, help="Start at this time instead of the beginning."),
                   db: str | None = DbOption, bootstrap: str | None = BootstrapOption) -> None:
    """Rebuild every read model from the topics into a new version and switch to it when caught up (never to one
    with fewer events than the current version, unless --since leaves the older ones out)."""
    from projections.replay import ReplayRefused, replay

    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # Twice a second: drawing the bar ten times a second (rich's default) was 4 % of a replay's CPU.
    with Progress(*columns, console=console, refresh_per_second=2) as progress:
        task = progress.add_task("replay", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        servers = _bootstrap(bootstrap)
        try:
            result = _on_kafka(servers, replay(servers, _db(db), since=_time(since, "--since"), progress=update))
        except ReplayRefused as exc:
            progress.stop()
            console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(1) from None
    console.print(f"version {result.version} is current (was {result.previous}): {result.applied} events applied "
                  f"from {result.records} records, {result.undecodable} undecodable skipped")


@app.command("reprocess")
def reprocess_command(state: str = typer.Option("failed-transient", help="Transfer-log state to select.",
                                                callback=_one_of(STATES)),
                      kind: str | None = typer.Option(None, callback=_one_of(TRANSFER_KINDS)),
                      company: str | None = typer.Option(None),
                      tenant: str | None = typer.Option(None),
                      since: str | None = typer.Option(None, help="Last event at or after (ISO, UTC)."),
                      until: str | None = typer.Option(None, help="Last event before (ISO, UTC)."),
                      dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be requested."),
                      by: str | None = typer.Option(None, "--by", help="Who asks, for the audit (the requests'"
                                                    " requested_by); default: your login name."),
                      as_json: bool = typer.Option(False, "--json"),
                      db: str | None = DbOption, bootstrap: str | None = BootstrapOption) -> None:
    """Request the selected transfers again (reason "reprocess"); the transfer agent skips what is done."""
    import getpass

    from projections.reprocess import publish, select

    with ProjectionStore(_db(db)) as store:
        requests = select(store, state=state, kind=kind, company=company, tenant=tenant,
                          since=_time(since, "--since"), until=_time(until, "--until"),
                          requested_by=by or getpass.getuser())
    if requests and not dry_run:  # the broker is looked for (and perhaps started) only when there is work
        servers = _bootstrap(bootstrap)
        _on_kafka(servers, publish(servers, requests))
    if as_json:
        _print_json([{k: v for k, v in r.items() if k != "snapshot"} | {"requested_at": r["requested_at"].isoformat()}
                     for r in requests])
        return
    verb = "would request" if dry_run else "requested"
    for r in requests:
        console.print(f"{verb} {r['event_id']}")
    console.print(f"{len(requests)} transfer(s) {verb} again")


@app.command("forget")
def forget_command(person: str = typer.Argument(..., help="The Severa user's guid (`sevpro ids --kind person` shows"
                                                          " it beside the employee number)."),
                   tenant: str = typer.Option(..., help="The tenant whose user it is."),
                   db: str | None = DbOption, bootstrap: str | None = BootstrapOption) -> None:
    """Erase a person: their data leaves the read models, and a tombstone on the compacted user topic erases
    their snapshots from Kafka and from every projector and later replay."""
    from projections.forget import person_topic_compacted, publish_tombstone
    from projections.store import person_topic

    servers = _bootstrap(bootstrap)
    _on_kafka(servers, publish_tombstone(servers, tenant, person))  # first: nothing is changed if Kafka fails
    with ProjectionStore(_db(db)) as store:
        removed = store.forget_person(tenant, person)
    console.print(f"forgot {person} of tenant {tenant}: {removed.events} of their events and {removed.links} ID map"
                  f" link(s) removed from the read models, {removed.redacted} record(s) that named them redacted;"
                  f" a tombstone is on {person_topic()}")
    if _on_kafka(servers, person_topic_compacted(servers)) is False:
        console.print(f"[yellow]warning:[/yellow] {person_topic()} is not compacted, so Kafka keeps the person's"
                      " older versions: kafka-configs.sh --alter --entity-type topics --entity-name"
                      f" {person_topic()} --add-config cleanup.policy=compact", soft_wrap=True)
    console.print("Also erase the person in Severa and Procountor themselves; the transfers of their travel"
                  " reimbursements are bookkeeping records and stay (README, \"Personal data\").", soft_wrap=True)


@app.command("export")
def export_command(out: Path = typer.Option(Path("sevpro-export"), help="Folder for the .parquet files."),
                   tenant: str | None = typer.Option(None), db: str | None = DbOption) -> None:
    """Write the events, the transfer log, the attempts and the ID map to Parquet files."""
    from projections.export import export

    with ProjectionStore(_db(db)) as store:
        try:
            written = export(store, out, tenant=tenant)
        except OSError as exc:
            console.print(f"[red]error:[/red] the export cannot be written to {str(out)!r}: {exc.strerror}",
                          soft_wrap=True)
            raise typer.Exit(1) from None
    for name, path in written.items():
        console.print(f"{name}: {path}")


@app.command("project")
def project_command(db: str | None = DbOption, bootstrap: str | None = BootstrapOption,
                    batch_size: int = typer.Option(500, help="Records per SQLite transaction.")) -> None:
    """Run the projector in the foreground until Ctrl-C or SIGTERM."""
    from foundation.logs import configure
    from projections.projector import Projector

    configure()

    servers = _bootstrap(bootstrap)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        projector = Projector(servers, _db(db), batch_size=batch_size)
        await projector.start()
        try:
            await projector.run(stop)
        finally:
            await projector.stop()

    _on_kafka(servers, main())


if __name__ == "__main__":
    app()
