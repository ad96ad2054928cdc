"""Commands find a broker; only `sevpro kafka up` and `sevpro demo` start one.

A user with `make demo` running typed `sevpro replay` in another shell: it found nothing on 9092, started an
empty broker, replayed 0 events and switched the read models to that empty version. Now a command uses the
demo's broker (recorded under the project home while the demo runs), or says where it looked and how to point
it at one, and starts nothing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.company import demo_companies_path
from projections import versions
from sevpro.kafka_broker import BrokerNotFound, find_bootstrap, forget_demo_broker, record_demo_broker


def _sevpro(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEVPRO_", "KAFKA_"))}
    return subprocess.run([sys.executable, "-m", "sevpro.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**base, "SEVPRO_HOME": str(home), "COLUMNS": "400", **env})


@pytest.mark.parametrize("command", [["replay"], ["project"], ["worker"]])
def test_without_a_broker_a_command_says_where_it_looked_and_starts_none(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home"
    root = home / "projections"
    root.mkdir(parents=True)
    deployment = {"SEVPRO_TENANT": "acme", "SEVPRO_COMPANIES_FILE": str(demo_companies_path()),
                  "SEVPRO_SEVERA_CLIENT_ID": "id", "SEVPRO_SEVERA_CLIENT_SECRET": "s1",
                  "SEVPRO_PROCOUNTOR_CLIENT_ID": "id", "SEVPRO_PROCOUNTOR_CLIENT_SECRET": "s2",
                  "SEVPRO_PROCOUNTOR_API_KEY_FI": "k1", "SEVPRO_PROCOUNTOR_API_KEY_SE": "k2"}
    result = _sevpro(home, *command, **deployment)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "no Kafka broker found" in output and "Traceback" not in output, output
    for hint in ("KAFKA_BOOTSTRAP_SERVERS", "sevpro demo", "sevpro kafka up", str(home)):
        assert hint in output, (hint, output)
    assert not (home / "kafka").exists(), "a broker was prepared"
    assert versions.current_version(root) is None  # nothing was switched


def _listening() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def test_while_a_demo_runs_commands_use_its_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEVPRO_HOME", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    with _listening() as broker:
        bootstrap = f"127.0.0.1:{broker.getsockname()[1]}"
        record_demo_broker(bootstrap)
        assert find_bootstrap() == bootstrap
        assert find_bootstrap("elsewhere:9092") == "elsewhere:9092"  # --bootstrap still wins
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "cluster:9093")
        assert find_bootstrap() == "cluster:9093"  # and so does the environment
        monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS")
        forget_demo_broker()  # the demo ends
        with pytest.raises(BrokerNotFound):
            find_bootstrap()


def test_a_demo_that_died_without_cleaning_up_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEVPRO_HOME", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with _listening() as broker:
        record_demo_broker(f"127.0.0.1:{broker.getsockname()[1]}", pid=int(dead.stdout))
        with pytest.raises(BrokerNotFound) as error:
            find_bootstrap()
    assert "sevpro demo" in str(error.value)

