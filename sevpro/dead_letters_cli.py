"""`sevpro dead-letters list|redrive`: the records parked on the dead-letter topic, and publishing them again.

A record is parked when it cannot be decoded, when its agent cannot act on it (a trigger's data error), or, in a
pool, when its tenant is not served (unregistered, disabled, credentials that do not resolve, a runtime that does
not start). A pool re-drives the last kind by itself once the tenant is served again; the others wait for an
operator. Re-driving publishes the original bytes to the original topic with the original key
(streams/dead_letters.py): the agents read the record again with every check they make, its tenant's included.
"""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from foundation.types import Json
from sevpro.settings_cli import BootstrapOption, ByOption, fail, on_kafka, who

app = typer.Typer(no_args_is_help=True, help="Records parked on the dead-letter topic: list them, re-drive them.")
console = Console()

TenantOption = typer.Option(None, "--tenant", help="Only this tenant's records.")
CauseOption = typer.Option(None, "--cause", help="not-served, undecodable or unhandled.")


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value or "")


@app.command("list")
def list_command(tenant: str | None = TenantOption, cause: str | None = CauseOption,
                 reason: str | None = typer.Option(None, "--reason", help="Only records whose reason contains this."),
                 all_letters: bool = typer.Option(False, "--all", help="Also the records re-driven since."),
                 as_json: bool = typer.Option(False, "--json", help="One JSON document (payloads left out)."),
                 bootstrap: str | None = BootstrapOption) -> None:
    """The parked records (still parked, unless --all), oldest first per partition."""
    from streams.dead_letters import DeadLetterIndex, Parked

    async def main(servers: str) -> list[Parked]:
        async with DeadLetterIndex(servers) as index:
            await index.catch_up()
            return index.parked(tenant=tenant, cause=cause, still_parked=not all_letters)

    letters = [parked for parked in on_kafka(bootstrap, main)
               if reason is None or reason.lower() in str(parked.letter["reason"]).lower()]
    if as_json:
        document = [{**{k: v for k, v in parked.letter.items() if k != "payload"},
                     "occurred_at": _when(parked.letter["occurred_at"]),
                     "key": (parked.key or b"").decode(errors="replace"),
                     "redriven": [{**r, "occurred_at": _when(r["occurred_at"])} for r in parked.redriven]}
                    for parked in letters]
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if not letters:
        console.print("no parked records" + (" match" if tenant or cause or reason else ""))
        return
    table = Table(title=f"parked records ({len(letters)})")
    for column in ("event id", "tenant", "cause", "topic", "parked at", "reason", "re-driven"):
        table.add_column(column, overflow="fold")
    for parked in letters:
        letter = parked.letter
        redriven = "; ".join(f"{_when(r['occurred_at'])} by {r['redriven_by']}" for r in parked.redriven)
        table.add_row(letter["event_id"], letter.get("tenant") or "", letter.get("cause") or "",
                      letter["source_topic"], _when(letter["occurred_at"]), escape(str(letter["reason"])[:300]),
                      escape(redriven) or "no")
    console.print(table)


@app.command("redrive")
def redrive_command(tenant: str | None = TenantOption, cause: str | None = CauseOption,
                    event_id: list[str] = typer.Option([], "--event-id", help="This record (again: repeat it); "
                                                       "re-driven even if it was before."),
                    by: str | None = ByOption, bootstrap: str | None = BootstrapOption) -> None:
    """Publish parked records again to their topics, with their keys: every record still parked of --tenant
    (and --cause), or the records named by --event-id. Their agents check them again, their tenant included."""
    from streams.dead_letters import DeadLetterIndex, redrive

    if not tenant and not event_id:
        fail("say which records: --tenant T, or --event-id ID (see `sevpro dead-letters list`)")

    async def main(servers: str) -> tuple[list[Json], list[str]]:
        async with DeadLetterIndex(servers) as index:
            await index.catch_up()
            named = set(event_id) if event_id else None
            letters = index.parked(tenant=tenant, cause=cause, event_ids=named, still_parked=named is None)
            unknown = sorted((named or set()) - {parked.event_id for parked in letters})
            if unknown:
                return [], unknown
            why = "sevpro dead-letters redrive" + (f" --tenant {tenant}" if tenant else "")
            return await redrive(servers, letters, by=who(by), why=why), []

    written, unknown = on_kafka(bootstrap, main)
    if unknown:
        fail(f"no parked record {', '.join(unknown)} (of that tenant and cause); nothing was re-driven")
    if not written:
        console.print("no parked records to re-drive")
        return
    for record in written:
        console.print(f"re-driven: {record['dead_letter_id']} → {record['source_topic']}")
    console.print(f"{len(written)} record(s) published again; their agents check them as the originals")
