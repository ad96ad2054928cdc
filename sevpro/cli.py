"""`sevpro`: the one command line of the project."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from foundation.settings import Settings, get_settings
from schemas.topics import TRANSFER_KINDS
from sevpro.console_cli import app as console_app
from sevpro.contract_cli import app as contract_app
from sevpro.dead_letters_cli import app as dead_letters_app
from sevpro.kafka_broker import BrokerError, LocalKafkaBroker
from sevpro.projections_cli import app as projections_app
from sevpro.projections_cli import log_command
from sevpro.registry_cli import app as registry_app
from sevpro.settings_cli import app as settings_app
from sevpro.tenants_cli import app as tenants_app

if TYPE_CHECKING:  # the worker's commands import it (it brings schwifty and the company model: 0.1 s of a start)
    from foundation.company import CompanySettings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Severa ⇄ Procountor integration on Kafka.")
kafka_app = typer.Typer(no_args_is_help=True, help="The development Kafka broker (KRaft, from Maven Central jars).")
sandbox_app = typer.Typer(no_args_is_help=True, help="The Severa and Procountor API sandboxes.")
app.add_typer(kafka_app, name="kafka")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(contract_app, name="contract")
# log, show, ids, replay, reprocess, export, project: the read models' commands, at the top level.
app.registered_commands.extend(projections_app.registered_commands)
app.add_typer(console_app, name="console")  # the operations web console, and its users
app.registered_commands.extend(registry_app.registered_commands)  # compare, check: before enabling
app.add_typer(tenants_app, name="tenants")  # many organisations: tenants and company settings as events
app.add_typer(settings_app, name="settings")
app.add_typer(dead_letters_app, name="dead-letters")  # parked records: list them, re-drive them
console = Console()


@app.callback()
def _deployment() -> None:
    # Before any command: every topic, group and transactional id carries the deployment's prefix. Settings
    # that do not validate are left to the commands that use them, which say what is wrong.
    from pydantic import ValidationError

    from schemas import topics

    try:
        prefix = get_settings().topic_prefix
    except ValidationError as error:
        if any(item["loc"] == ("topic_prefix",) for item in error.errors()):  # no command may use other names
            _fail("SEVPRO_TOPIC_PREFIX: only letters, digits, '.', '_' and '-' (Kafka's topic name characters)")
        return
    except ValueError:  # a setting that cannot be read (a secret file): the command using it says so
        return
    topics.configure(prefix)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@kafka_app.command("up")
def kafka_up(port: int = typer.Option(9092, min=1, max=65534, help="Client port; the controller uses port+1.")) -> None:
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


def _variable(loc: tuple[int | str, ...]) -> str:
    """The environment variable of a setting: SEVPRO_<NAME>, or its own name for KAFKA_* settings."""
    name = ".".join(map(str, loc)).upper()
    return name if name.startswith("KAFKA_") else f"SEVPRO_{name}"


def _check_worker_settings() -> tuple[Settings, dict[str, CompanySettings] | None]:
    """Refuse to start on settings the worker cannot run with, before it joins the group: one clear message
    (which variable, which company, which field), exit code 2, no traceback; never a crash at the first event,
    and never the demo's companies or sandbox credentials for want of the deployment's own. The companies are
    None with SEVPRO_COMPANY_SETTINGS=topic: they are read from the broker (`_companies_from_topic`)."""
    from pydantic import ValidationError

    from foundation.company import CompanySettingsError, load_companies, procountor_api_keys
    from foundation.kafka import KafkaSettingsError, security_options
    from foundation.settings import SettingsError, missing_for_worker

    try:
        settings = get_settings()
        security_options(settings)
        missing = missing_for_worker(settings)
        if missing:
            raise SettingsError(f"not set: {', '.join(missing)} (each secret also as <NAME>_FILE; the demo's "
                                "settings are only for `sevpro demo`)")
        if settings.pool:  # the tenants, their credentials and settings are on the config topics
            if settings.tenant or settings.companies_file is not None:
                raise SettingsError("SEVPRO_POOL serves every tenant of config.tenants: leave SEVPRO_TENANT and "
                                    "SEVPRO_COMPANIES_FILE unset (or run a single-tenant worker without SEVPRO_POOL)")
            return settings, None
        if settings.company_settings == "topic":
            if settings.companies_file is not None:  # which one counts would be a silent choice
                raise SettingsError("SEVPRO_COMPANY_SETTINGS=topic and SEVPRO_COMPANIES_FILE are both set: keep one "
                                    "(`sevpro settings import FILE` brings the file over to the topic)")
            return settings, None
        assert settings.companies_file is not None
        companies = load_companies(settings.companies_file)
        procountor_api_keys(companies, os.environ)
    except (CompanySettingsError, KafkaSettingsError, SettingsError) as error:
        problem = str(error)
    except OSError as error:
        problem = f"SEVPRO_COMPANIES_FILE: cannot read {error.filename}: {error.strerror}"
    except ValidationError as error:  # the input is left out: it may be a secret
        problem = "; ".join(f"{_variable(item['loc'])}: {item['msg']}"
                            for item in error.errors(include_url=False, include_input=False))
    else:
        return settings, companies
    console.print(f"[red]error:[/red] the worker cannot start: {escape(problem)}", soft_wrap=True)
    raise typer.Exit(2)


def _check_read_models(what: str) -> None:
    """SEVPRO_READ_MODEL_URL, when set, names a PostgreSQL server that answers: else one line and exit 1."""
    from projections.postgres import ReadModelUnreachable, check
    from projections.store import read_models_at

    try:
        if isinstance(location := read_models_at(), str):
            check(location)
    except (ValueError, ReadModelUnreachable) as exc:
        console.print(f"[red]error:[/red] {what}: {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None


def _companies_from_topic(settings: Settings, servers: str) -> dict[str, CompanySettings]:
    """The tenant's company settings in force on the topic, checked as the file's are (API keys included)."""
    import asyncio

    from foundation.company import CompanySettingsError, procountor_api_keys
    from foundation.settings_directory import read_directory
    from foundation.settings_events import SettingsRefused
    from streams.live_settings import effective_companies

    try:
        companies = effective_companies(asyncio.run(read_directory(servers)), settings.tenant)
        if not companies:
            raise CompanySettingsError(
                f"SEVPRO_COMPANY_SETTINGS=topic, but tenant {settings.tenant!r} has no company settings on "
                "the topic: `sevpro settings import FILE` brings a companies TOML file over")
        procountor_api_keys(companies, os.environ)
        return companies
    except SettingsRefused as refused:
        problem = "the company settings on the topic do not validate: " + "; ".join(refused.problems)
    except CompanySettingsError as error:
        problem = str(error)
    console.print(f"[red]error:[/red] the worker cannot start: {escape(problem)}", soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def worker(loglevel: str = typer.Option("info")) -> None:
    """Run the faust worker (agents, pollers, projections) against the resolved broker."""
    import asyncio

    from foundation.kafka import (
        KafkaTopicsError,
        KafkaUnreachable,
        ensure_topics,
        finite_retention,
        reach,
        retention_fix,
    )
    from foundation.logs import configure as configure_logs
    from sevpro.kafka_broker import BrokerNotFound, find_bootstrap
    from sevpro.worker import DeadlineWorker
    from streams.app import app_id
    from streams.bootstrap import bootstrap, bootstrap_pool

    settings, companies = _check_worker_settings()
    try:
        servers = find_bootstrap()
    except BrokerNotFound as exc:
        console.print(f"[red]error:[/red] the worker cannot start: {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        asyncio.run(reach(servers))
    except KafkaUnreachable as exc:
        console.print(f"[red]error:[/red] the worker cannot start: {escape(str(exc))}; check KAFKA_BOOTSTRAP_SERVERS "
                      "and the KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* settings", soft_wrap=True)
        raise typer.Exit(1) from None
    _check_read_models("the worker cannot start")
    try:
        asyncio.run(ensure_topics(servers, partitions=settings.topic_partitions, app_id=app_id(settings),
                                  retention_ms=settings.topic_retention_ms,
                                  replication=settings.topic_replication_factor,
                                  min_insync=settings.topic_min_insync_replicas))
    except KafkaTopicsError as exc:
        console.print(f"[red]error:[/red] the worker cannot start: {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    if settings.pool:
        faust_app = bootstrap_pool(settings, servers)
    else:
        live = companies is None
        if companies is None:
            companies = _companies_from_topic(settings, servers)
        faust_app = bootstrap(settings, companies, servers, live_settings=live)
    for topic, setting in asyncio.run(finite_retention(servers)).items():  # said, not refused: the events are there
        console.print(f"[yellow]warning:[/yellow] topic {topic} deletes events with time ({setting}): "
                      f"{retention_fix(topic)}", soft_wrap=True)
    sys.argv = [sys.argv[0]]
    configure_logs(loglevel)
    DeadlineWorker(faust_app, loglevel=loglevel).execute_from_commandline()


@sandbox_app.command("severa")
def sandbox_severa(port: int = typer.Option(8081, min=1, max=65535), host: str = typer.Option("127.0.0.1"),
                   seed: str | None = typer.Option(None, help="'demo' loads the demo organisation."),
                   latency_ms: float = typer.Option(0.0, help="Added latency per request."),
                   error_rate: float = typer.Option(0.0, help="Fraction of requests answered 500."),
                   rate_limit: float = typer.Option(10.0, help="Requests per second before 429."),
                   state_file: str | None = typer.Option(None, help="Load from and save to this JSON file."),
                   organisations: int = typer.Option(0, min=0, help="Host N more organisations, org0001…, each "
                                                                    "with its own client (orgNNNN-severa).")) -> None:
    """Serve the Severa REST API sandbox (base URL http://HOST:PORT/rest-api)."""
    import uvicorn

    from sandbox.severa.app import create_app

    console.print(f"Severa sandbox on http://{host}:{port}/rest-api "
                  "(client sevpro-demo-client / sevpro-demo-secret)")
    uvicorn.run(create_app(seed=seed, latency_ms=latency_ms, error_rate=error_rate, rate_limit_per_second=rate_limit,
                           state_file=state_file, organisations=organisations), host=host, port=port,
                log_level="warning")


@sandbox_app.command("procountor")
def sandbox_procountor(port: int = typer.Option(8082, min=1, max=65535), host: str = typer.Option("127.0.0.1"),
                       seed: str | None = typer.Option(None, help="'demo' loads the demo companies."),
                       latency_ms: float = typer.Option(0.0, help="Added latency per request."),
                       error_rate: float = typer.Option(0.0, help="Fraction of requests answered 500."),
                       rate_limit: float = typer.Option(20.0, help="Requests per second before 429."),
                       state_file: str | None = typer.Option(None, help="Load from and save to this JSON file."),
                       organisations: int = typer.Option(0, min=0, help="Host N more organisations, org0001…, each "
                                                                        "with its own client and API key."),
                       ) -> None:
    """Serve the Procountor REST API sandbox (base URL http://HOST:PORT/api)."""
    import uvicorn

    from sandbox.procountor.app import create_app

    console.print(f"Procountor sandbox on http://{host}:{port}/api (client sevpro-demo-client / "
                  "sevpro-demo-secret, api keys demo-fi-api-key / demo-se-api-key)")
    uvicorn.run(create_app(seed=seed, latency_ms=latency_ms, error_rate=error_rate, rate_limit_per_second=rate_limit,
                           state_file=state_file, organisations=organisations), host=host, port=port,
                log_level="warning")


@app.command()
def demo(severa_port: int = typer.Option(8081, min=0, max=65535, help="Port of the Severa sandbox (0: any free)."),
         procountor_port: int = typer.Option(8082, min=0, max=65535,
                                             help="Port of the Procountor sandbox (0: any free)."),
         kafka_port: int = typer.Option(9192, min=0, max=65535, help="Port of the demo's own Kafka broker (reset at "
                                        "every start; its controller takes any free port). 0: any free."),
         timeout: float = typer.Option(240.0, help="Seconds to wait for the demo invoices."),
         exit_when_done: bool = typer.Option(False, help="Stop after printing the transfer log.")) -> None:
    """Broker, both sandboxes with demo data, pollers and worker: transfer the demo invoices, print the log."""
    import signal

    from sevpro import demo as demo_module
    from sevpro.kafka_broker import BrokerError

    def interrupted(signum: int, _: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # SIGTERM or SIGHUP (a closed terminal, a process manager) stop the demo as Ctrl-C does: with its children.
    for stop_signal in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(stop_signal, interrupted)
    stack = demo_module.DemoStack()
    try:
        try:
            demo_module.start(stack, severa_port, procountor_port, kafka_port)
        except (BrokerError, RuntimeError, OSError) as exc:
            _fail(str(exc))
            return
        demo_module.print_where(stack)
        numbers = demo_module.demo_invoice_numbers(stack)
        demo_module.wait_for_transfers(stack, numbers, timeout)
        tenant = demo_module.demo_tenant()  # the demo's own, also on a broker other tenants share
        for kind in TRANSFER_KINDS:  # one table per kind: the invoices first, not lost among dimension items
            log_command(company=None, kind=kind, state=None, since=None, until=None, tenant=tenant, as_json=False,
                        db=None)
        if exit_when_done:
            return
        console.print("Running. Change invoices in the Severa sandbox and watch them flow "
                      "(`sevpro log` in another shell). Ctrl-C stops.")
        while stack.worker is not None and stack.worker.poll() is None:
            stack.worker.wait(timeout=3600)
    except KeyboardInterrupt:
        console.print("stopping...")
    except RuntimeError as exc:
        _fail(str(exc))
    finally:
        for stop_signal in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(stop_signal, signal.SIG_IGN)  # a second signal must not cut the stop short
        stack.stop()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
