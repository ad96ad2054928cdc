"""`sevpro demo` ended by any signal takes its Kafka broker and worker with it, and a new demo stops what an earlier
one left running (an orphaned worker held the consumer group and polled sandboxes that no longer existed, so a
second `make demo` transferred nothing)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.runner import free_port
from sevpro.demo import worker_environment
from sevpro.kafka_broker import LocalKafkaBroker, port_open

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("java") is None, reason="the demo runs a broker of its own")]
REPOSITORY = Path(__file__).resolve().parents[2]


def _home(tmp_path: Path) -> Path:
    """A project home of the test's own that shares the jar cache (no second Maven download)."""
    home = tmp_path / "home"
    (home / "kafka").mkdir(parents=True)
    jars = REPOSITORY / ".sevpro" / "kafka" / "jars"
    if jars.exists():
        (home / "kafka" / "jars").symlink_to(jars)
    return home


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}  # the demo's own broker
    return {**env, "SEVPRO_HOME": str(home), "COLUMNS": "200"}


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return not stat.read_text().split(") ")[-1].startswith("Z")
    except OSError:
        return False


def _children(pid: int) -> dict[int, str]:
    """The live child processes of `pid` with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().split(") ")[-1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and _alive(int(entry.name)):
            found[int(entry.name)] = command
    return found


def _kafka_port(home: Path) -> int:
    """The port the demo's broker took (it is asked for any free one), 0 until it has chosen."""
    port_file = home / "kafka" / "demo" / "broker.port"
    return int(port_file.read_text().split()[0]) if port_file.exists() else 0


# Every port the demo's servers take is any free one (0), chosen as each binds: a port picked here and handed
# over could be taken by another program meanwhile on a shared machine ('port 42850 already in use').
ANY_PORTS = ["--severa-port", "0", "--procountor-port", "0", "--kafka-port", "0"]


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_the_demo_stopped_by_a_signal_takes_its_broker_and_worker_with_it(tmp_path: Path, stop_signal) -> None:
    home = _home(tmp_path)
    demo = subprocess.Popen(
        [sys.executable, "-m", "sevpro.cli", "demo", *ANY_PORTS, "--timeout", "600"],
        env=_environment(home), stdout=(tmp_path / "demo.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    children: dict[int, str] = {}
    try:
        def both_running() -> bool:
            children.update(_children(demo.pid))
            assert demo.poll() is None, (tmp_path / "demo.log").read_text(errors="replace")[-3000:]
            return (any("kafka.Kafka" in c for c in children.values())
                    and any("worker" in c for c in children.values()) and port_open("127.0.0.1", _kafka_port(home)))

        _wait(both_running, 180, "the demo did not start its broker and worker")
        os.kill(demo.pid, stop_signal)  # to the demo's pid only, as `kill` or a process manager does
        demo.wait(timeout=60)
        _wait(lambda: not any(_alive(pid) for pid in children), 40,
              f"still running 40 s after {stop_signal.name} of the demo: "
              f"{ {pid: c[:80] for pid, c in children.items() if _alive(pid)} }")
    finally:
        _kill_all([demo.pid, *children])


def test_a_new_demo_stops_the_broker_and_worker_an_earlier_one_left(tmp_path: Path, unique) -> None:
    home = _home(tmp_path)
    env = _environment(home)
    # What a demo killed on a system without parent-death signals leaves behind: its broker and its worker.
    broker = LocalKafkaBroker(home=home, port=0, controller_port=0, name="demo")
    broker_pid = broker.start().pid
    unreachable = f"http://127.0.0.1:{free_port()}"
    worker = subprocess.Popen([sys.executable, "-m", "sevpro.cli", "worker"],
                              env={**worker_environment(broker.bootstrap, unreachable, unreachable, f"old-{unique}"),
                                   "SEVPRO_HOME": str(home)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    (home / "demo-worker.pid").write_text(str(worker.pid))
    assert broker_pid is not None
    try:
        demo = subprocess.run(
            [sys.executable, "-m", "sevpro.cli", "demo", "--exit-when-done", "--timeout", "5", *ANY_PORTS],
            env=env, capture_output=True, text=True, timeout=300)
        output = demo.stdout + demo.stderr
        assert demo.returncode == 0, output[-3000:]
        assert f"stopped the worker an earlier demo left running (pid {worker.pid})" in output, output[-3000:]
        assert f"stopped the Kafka broker an earlier demo left running (pid {broker_pid})" in output, output[-3000:]
        worker.wait(timeout=30)
        assert not _alive(broker_pid)
    finally:
        _kill_all([worker.pid, broker_pid])
