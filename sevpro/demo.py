"""`sevpro demo`: the whole loop on one machine, from a fresh world each time.

Broker (its own data, reset at start), both sandboxes with the demo organisation at their real rate limits,
and a worker process (pollers, agents, projector). Prints where everything is, waits until the demo invoices
have been transferred (or have failed for the seed's reasons), prints the transfer log, and keeps running so
that a user can change data in the Severa sandbox and watch it flow.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from console.auth import default_users_file, save_user
from foundation.company import demo_companies_path
from foundation.paths import project_home
from projections.store import ProjectionStore, default_db_path
from sandbox.procountor.app import create_app as procountor_app
from sandbox.procountor.demo import DEMO_FI_API_KEY, DEMO_SE_API_KEY
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sevpro import children
from sevpro.kafka_broker import LocalKafkaBroker, forget_demo_broker, record_demo_broker

console = Console()
WAITING = "Waiting for transfer to Procountor"


@dataclass
class DemoStack:
    """What a demo has started so far (filled in by `start`); `stop` stops all of it, whatever was reached."""

    bootstrap: str = ""
    severa: SandboxServer | None = None
    procountor: SandboxServer | None = None
    worker: subprocess.Popen[bytes] | None = None
    broker: LocalKafkaBroker | None = None
    worker_log: Path = field(default_factory=lambda: project_home() / "demo-worker.log")

    def stop(self) -> None:
        forget_demo_broker()
        if self.worker is not None:
            if self.worker.poll() is None:
                os.killpg(self.worker.pid, signal.SIGTERM)
                try:
                    self.worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.worker.pid, signal.SIGKILL)
                    self.worker.wait()
            worker_pid_file().unlink(missing_ok=True)
        for server in (self.severa, self.procountor):
            if server is not None:
                server.stop()
        if self.broker is not None:
            self.broker.stop()


def worker_pid_file() -> Path:
    """Where the demo notes its worker's pid, so that a later demo can stop a worker this one left behind."""
    return project_home() / "demo-worker.pid"


def stop_leftovers(broker: LocalKafkaBroker | None) -> list[str]:
    """Stop the broker and the worker an earlier demo left running (one killed before it could stop them);
    what was stopped, in words."""
    stopped = []
    pid = children.read_pid(worker_pid_file())
    if pid is not None and "sevpro" in children.command_line(pid) and "worker" in children.command_line(pid):
        children.stop_group(pid)
        stopped.append(f"the worker an earlier demo left running (pid {pid})")
    worker_pid_file().unlink(missing_ok=True)
    if broker is not None:
        status = broker.status()
        if status.pid is not None:
            broker.stop()
            stopped.append(f"the Kafka broker an earlier demo left running (pid {status.pid})")
    return stopped


DEMO_TENANT = "demo"


def demo_tenant() -> str:
    """The demo's tenant: `demo`, or SEVPRO_TENANT when set (a demo on a broker other tenants share)."""
    return os.environ.get("SEVPRO_TENANT") or DEMO_TENANT


SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET = "sevpro-demo-client", "sevpro-demo-secret"


def worker_environment(bootstrap: str, severa_url: str, procountor_url: str, app_id: str) -> dict[str, str]:
    """The worker's configuration, every setting explicit as an operator sets it: the demo's tenant and
    companies, sandbox URLs and credentials (no worker falls back on these by itself)."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SEVPRO_APP_ID": app_id,
        "SEVPRO_TENANT": demo_tenant(),
        "SEVPRO_COMPANIES_FILE": str(demo_companies_path()),
        "SEVPRO_SEVERA_CLIENT_ID": SANDBOX_CLIENT_ID,
        "SEVPRO_SEVERA_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "SEVPRO_PROCOUNTOR_CLIENT_ID": SANDBOX_CLIENT_ID,
        "SEVPRO_PROCOUNTOR_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "SEVPRO_SEVERA_URL": f"{severa_url}/rest-api",
        "SEVPRO_PROCOUNTOR_URL": f"{procountor_url}/api",
        "SEVPRO_PROCOUNTOR_API_KEY_FI": DEMO_FI_API_KEY,
        "SEVPRO_PROCOUNTOR_API_KEY_SE": DEMO_SE_API_KEY,
    }


def start(stack: DemoStack, severa_port: int | None, procountor_port: int | None, kafka_port: int) -> None:
    """Start the demo into `stack`, part by part (a signal half way leaves `stack` knowing what to stop). A port
    of 0 (or None) is any free one; `print_where` names the ports in use.

    The broker and the worker are tied to this process (they stop when it ends, SIGKILL included, on Linux);
    what an earlier demo left running all the same is stopped first, and said so."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    # The controller's port is nobody's business but the broker's: any free one (port+1 may well be in use).
    broker = None if bootstrap else LocalKafkaBroker(port=kafka_port, controller_port=0, name="demo")
    for leftover in stop_leftovers(LocalKafkaBroker(name="demo") if broker else None):
        console.print(f"stopped {leftover}")
    if broker is not None:
        stack.broker = broker
        broker.reset()  # a fresh world: no topics, offsets or watermarks from an earlier demo
        with console.status(f"starting Kafka on 127.0.0.1:{kafka_port or 'any free port'}..."):
            bootstrap = broker.start(die_with_parent=True).bootstrap
    assert bootstrap is not None
    stack.bootstrap = bootstrap
    # The broker was reset: read models, the notifier's record (offsets of the old topics) and e-mails go too.
    shutil.rmtree(default_db_path(), ignore_errors=True)
    shutil.rmtree(project_home() / "outbox", ignore_errors=True)
    for record in project_home().glob("notifications.sqlite3*"):
        record.unlink()
    stack.severa = SandboxServer(severa_app(seed="demo"), port=severa_port).start()
    stack.procountor = SandboxServer(procountor_app(seed="demo"), port=procountor_port).start()
    stack.worker_log.parent.mkdir(parents=True, exist_ok=True)
    env = worker_environment(bootstrap, stack.severa.url, stack.procountor.url, f"demo-{int(time.time())}")
    env["SEVPRO_NOTIFY_BATCH_SECONDS"] = "5"  # the demo's error e-mails appear within seconds
    stack.worker = subprocess.Popen([sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", "warning"], env=env,
                                    stdout=stack.worker_log.open("wb"), stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=children.die_with_parent())
    worker_pid_file().write_text(str(stack.worker.pid))
    record_demo_broker(bootstrap)  # `sevpro log`, `replay`... in another shell use this broker while the demo runs


DEMO_CONSOLE_USER = "demo"


def console_login() -> tuple[str, str]:
    """A console user for the demo with a new random password (the console refuses to start without users)."""
    password = secrets.token_urlsafe(12)
    save_user(default_users_file(), DEMO_CONSOLE_USER, password)
    return DEMO_CONSOLE_USER, password


def print_where(stack: DemoStack) -> None:
    assert stack.severa is not None and stack.procountor is not None, "start() the demo first"
    console.print(f"Kafka:               [bold]{stack.bootstrap}[/bold]")
    console.print(f"Severa sandbox:      [bold]{stack.severa.url}/rest-api[/bold]  "
                  "client_id sevpro-demo-client, client_secret sevpro-demo-secret (sandbox only)")
    console.print(f"Procountor sandbox:  [bold]{stack.procountor.url}/api[/bold]  "
                  f"client_id sevpro-demo-client, client_secret sevpro-demo-secret, api_key {DEMO_FI_API_KEY} "
                  f"(FI) / {DEMO_SE_API_KEY} (SE)")
    console.print(f"Worker log:          {stack.worker_log}")
    console.print(f"Error e-mails (FI):  {project_home() / 'outbox'}/*.eml")
    user, password = console_login()
    console.print(f"Console:             [bold]sevpro console[/bold] in another shell, then http://127.0.0.1:8090/ "
                  f"user [bold]{user}[/bold] password [bold]{password}[/bold] (new at every demo start; "
                  "`sevpro console user add NAME` for your own)")


def demo_invoice_numbers(stack: DemoStack) -> set[str]:
    assert stack.severa is not None, "start() the demo first"
    store = stack.severa.app.state.store
    return {str(i["number"]) for i in store.all("invoices") if i["status"]["name"] == WAITING}


def wait_for_transfers(stack: DemoStack, numbers: set[str], timeout: float) -> list[dict]:
    """Poll the transfer log until every demo invoice has a final state (or the timeout passes)."""
    assert stack.worker is not None, "start() the demo first"
    deadline = time.monotonic() + timeout
    entries: list[dict] = []
    with console.status("transferring the demo invoices...") as status:
        while time.monotonic() < deadline:
            if stack.worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {stack.worker.returncode}; see {stack.worker_log}")
            if default_db_path().exists():
                with ProjectionStore() as store:
                    entries = store.transfers(kind="sales-invoice", tenant=demo_tenant())
                done = {e["severa_number"] for e in entries if e["state"] in ("succeeded", "failed-data")}
                status.update(f"transferring the demo invoices... {len(done & numbers)}/{len(numbers)}")
                if numbers <= done:
                    break
            time.sleep(0.5)
    return entries
