"""`sevpro`: the one command line of the project."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from sevpro.kafka_broker import BrokerError, LocalKafkaBroker

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Severa ⇄ Procountor integration on Kafka.")
kafka_app = typer.Typer(no_args_is_help=True, help="The development Kafka broker (KRaft, from Maven Central jars).")
sandbox_app = typer.Typer(no_args_is_help=True, help="The Severa and Procountor API sandboxes.")
app.add_typer(kafka_app, name="kafka")
app.add_typer(sandbox_app, name="sandbox")
console = Console()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@kafka_app.command("up")
def kafka_up(port: int = typer.Option(9092, help="Client port; the controller uses port+1.")) -> None:
    """Start the broker (resolving the jars on first use); a second `up` is harmless."""
    broker = LocalKafkaBroker(port=port)
    try:
        with console.status(f"starting Kafka on 127.0.0.1:{port} (first run fetches the jars with Maven)..."):
            status = broker.start()
    except BrokerError as exc:
        _fail(str(exc))
        return
    console.print(f"Kafka is running: bootstrap [bold]{status.bootstrap}[/bold] (pid {status.pid})")
    console.print(f"log: {status.log_file}")


@kafka_app.command("down")
def kafka_down() -> None:
    """Stop the broker cleanly; no Java process stays behind."""
    if LocalKafkaBroker().stop():
        console.print("Kafka stopped.")
    else:
        console.print("Kafka was not running.")


@kafka_app.command("status")
def kafka_status() -> None:
    """Say whether the broker runs, where, and where its log is."""
    status = LocalKafkaBroker().status()
    state = "[green]running[/green]" if status.running else "[yellow]stopped[/yellow]"
    console.print(f"Kafka: {state}  bootstrap {status.bootstrap}  pid {status.pid or '-'}")
    console.print(f"log: {status.log_file}")
    console.print(f"data: {status.data_dir}")
    if not status.running:
        raise typer.Exit(3)


@kafka_app.command("reset")
def kafka_reset() -> None:
    """Stop the broker and delete its data (topics, offsets); the jar cache stays."""
    LocalKafkaBroker().reset()
    console.print("Kafka stopped and its data deleted.")


@app.command()
def worker(loglevel: str = typer.Option("info")) -> None:
    """Run the faust worker (agents, pollers, projections) against the resolved broker."""
    from sevpro.kafka_broker import resolve_bootstrap

    broker = resolve_bootstrap()
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    from faust import Worker

    from streams.app import app as faust_app
    from streams.app import load_agents

    load_agents()
    sys.argv = [sys.argv[0]]
    Worker(faust_app, loglevel=loglevel).execute_from_commandline()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
