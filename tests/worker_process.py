"""A `sevpro worker` subprocess for the tests that run the real worker: started in its own process group (so
that stopping it stops whatever it started), its output appended to `log`, and stopped with SIGTERM, then
SIGKILL if it has not ended within 30 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def start_worker(env: dict[str, str], log: Path, *, loglevel: str = "warning",
                 cwd: Path | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", loglevel], env=env,
                            cwd=cwd, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
