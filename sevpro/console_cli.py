"""`sevpro console`: serve the operations console."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(add_completion=False, help="The operations console.")


@app.command("console")
def console_command(host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default:"
                                                               " the console has no login)."),
                    port: int = typer.Option(8090, min=1, max=65535, help="Port to listen on."),
                    db: Path | None = typer.Option(None, "--db", help="Folder of the projection versions (default:"
                                                   " $SEVPRO_HOME/projections or ./.sevpro/projections)."),
                    bootstrap: str | None = typer.Option(None, "--bootstrap", envvar="KAFKA_BOOTSTRAP_SERVERS",
                                                         help="Kafka bootstrap, to show the projector's lag."),
                    refresh: int = typer.Option(30, help="Overview auto-refresh in seconds (0: off).")) -> None:
    """Transfer log, failures and what to do, ID map, record histories and /metrics, in a browser."""
    import uvicorn

    from console.app import create_app

    typer.echo(f"console on http://{host}:{port}/  (metrics: /metrics, JSON: /api/overview)")
    uvicorn.run(create_app(db, bootstrap, refresh=refresh or None), host=host, port=port, log_level="warning")


if __name__ == "__main__":
    app()
