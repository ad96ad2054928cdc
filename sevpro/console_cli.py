"""`sevpro console`: serve the operations console; `sevpro console user add|remove`: who may sign in."""

from __future__ import annotations

from pathlib import Path

import typer

# `sevpro console` (sevpro/cli.py adds it under that name): serves when no subcommand is given.
app = typer.Typer(add_completion=False, invoke_without_command=True,
                  help="The operations console (sign-in required), and its users.")
user_app = typer.Typer(no_args_is_help=True, add_completion=False, help="The console's users (argon2 hashes).")
app.add_typer(user_app, name="user")

USERS_FILE_HELP = "Users file (default: $SEVPRO_CONSOLE_USERS_FILE, else $SEVPRO_HOME/console-users)."


@app.callback()
def console_command(ctx: typer.Context,
                    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default; on"
                                                               " any other, serve it behind TLS)."),
                    port: int = typer.Option(8090, min=1, max=65535, help="Port to listen on."),
                    db: str | None = typer.Option(None, "--db", help="Folder of the projection versions, or a"
                                                  " postgresql:// URL (default: $SEVPRO_READ_MODEL_URL, else"
                                                  " $SEVPRO_HOME/projections or ./.sevpro/projections)."),
                    bootstrap: str | None = typer.Option(None, "--bootstrap", envvar="KAFKA_BOOTSTRAP_SERVERS",
                                                         help="Kafka bootstrap: shows the projector's lag,"
                                                              " lets users retry and reprocess, and holds the"
                                                              " company settings with"
                                                              " SEVPRO_COMPANY_SETTINGS=topic."),
                    refresh: int = typer.Option(30, help="Overview auto-refresh in seconds (0: off).")) -> None:
    """Transfer log, failures and what to do, ID map, record histories and /metrics, in a browser."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from console.app import create_app
    from console.auth import UsersFileError, auth_from_settings
    from console.settings_pages import source_from_settings
    from foundation.settings import get_settings
    from projections.postgres import ReadModelUnreachable, check
    from projections.store import read_models_at

    try:
        settings = get_settings()
        auth = auth_from_settings(settings, host)
        # The company settings the worker reads (its file, or its tenant's on the topic): the settings pages change
        # them, the registry pages compare and check them.
        company_settings = source_from_settings(settings.company_settings, settings.tenant, settings.companies_file,
                                                bootstrap)
        if isinstance(location := read_models_at(db), str):
            check(location)  # a server that does not answer is said now, not on every page
    except (UsersFileError, OSError, ValueError, ReadModelUnreachable) as error:
        typer.echo(f"error: the console cannot start: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"console on http://{host}:{port}/  (sign in; metrics: /metrics, JSON: /api/overview, both also"
               " with HTTP Basic credentials)")
    uvicorn.run(create_app(db, bootstrap, auth=auth, refresh=refresh or None, company_settings=company_settings),
                host=host, port=port, log_level="warning")


def _users_file(given: Path | None) -> Path:
    from console.auth import default_users_file
    from foundation.settings import get_settings

    return given or get_settings().console_users_file or default_users_file()


@user_app.command("add")
def user_add(name: str = typer.Argument(..., help="User name (letters, digits, . _ @ -)."),
             users_file: Path | None = typer.Option(None, "--users-file", help=USERS_FILE_HELP),
             password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                          help="Asked for when not given (never put it on a command line).")
             ) -> None:
    """Add a user, or set a new password for one; the file keeps an argon2 hash, never the password."""
    from console.auth import UsersFileError, save_user

    path = _users_file(users_file)
    if len(password) < 10:
        typer.echo("error: use a password of 10 characters or more", err=True)
        raise typer.Exit(2)
    try:
        new = save_user(path, name, password)
    except UsersFileError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{'added' if new else 'new password for'} {name} in {path}")


@user_app.command("remove")
def user_remove(name: str, users_file: Path | None = typer.Option(None, "--users-file", help=USERS_FILE_HELP)
                ) -> None:
    """Remove a user (their sessions end at their next request)."""
    from console.auth import remove_user

    path = _users_file(users_file)
    if not remove_user(path, name):
        typer.echo(f"error: no user {name} in {path}", err=True)
        raise typer.Exit(1)
    typer.echo(f"removed {name} from {path}")


if __name__ == "__main__":
    app()
