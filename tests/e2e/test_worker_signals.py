"""`sevpro worker` stops on SIGTERM within 10 s, broker or not (three workers whose broker had stopped kept
running more than 25 s after SIGTERM)."""

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
from sevpro.kafka_broker import LocalKafkaBroker

pytestmark = pytest.mark.integration
STOP_WITHIN_S = 10.0


def _wait_for(text: str, log: Path, worker: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.3)


@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java to run a broker of its own")
def test_a_worker_whose_broker_has_gone_stops_on_sigterm_within_10_s(unique, tmp_path: Path) -> None:
    broker = LocalKafkaBroker(port=0, controller_port=0, name=f"gone-{unique}")  # any free ports
    broker.reset()
    bootstrap = broker.start().bootstrap
    unreachable = f"http://127.0.0.1:{free_port()}"  # no API needed: the worker only has to be in its group
    env = worker_environment(bootstrap, unreachable, unreachable, f"gone-{unique}")
    env.update(SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT=f"gone{unique}")
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", "info"], env=env,
                              stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for("runtime cannot start yet", log, worker)  # the agents run, in the consumer group
        broker.stop()
        time.sleep(3)  # the worker notices: its consumer and producer retry the broker
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        signalled = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=STOP_WITHIN_S + 20)
        except subprocess.TimeoutExpired:
            pass
        took = time.monotonic() - signalled
        assert worker.poll() is not None and took <= STOP_WITHIN_S, (
            f"still running {took:.1f} s after SIGTERM\n" + log.read_text(errors="replace")[-3000:])
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        broker.stop()
        shutil.rmtree(broker.run_dir, ignore_errors=True)
