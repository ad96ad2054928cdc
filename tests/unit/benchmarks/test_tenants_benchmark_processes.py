"""benchmarks/tenants.py under a CPU budget (`--cpu-limit`): `cpulimit` stops (SIGSTOP) and continues (SIGCONT) each
worker to hold it within its budget, so the benchmark must never leave a worker stopped behind: not when it stops
a run, not when the limiter dies while the worker is stopped, not when the benchmark itself is killed. And the
capacity search reports what the measured tenant counts tell, no more."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]
BUSY = [sys.executable, "-c", "while True: pass"]  # a worker that always wants CPU: its limiter must stop it


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_tenants", REPO / "benchmarks" / "tenants.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tenants = _load()
needs_cpulimit = pytest.mark.skipif(shutil.which("cpulimit") is None,
                                    reason="cpulimit is not installed (Debian: apt-get install -y cpulimit)")


def state(pid: int) -> str | None:
    """The process's state letter (T: stopped, Z: ended, not yet reaped), None once gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def wait_for(condition, what: str, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what}")
        time.sleep(0.005)


def busy_worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen(BUSY, start_new_session=True)  # its own group, as the benchmark starts a worker


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:  # whatever the test left: never a stopped or running process after it
        if process.poll() is None:
            for signum in (signal.SIGCONT, signal.SIGKILL):
                os.kill(process.pid, signum)
            process.wait()


def stopped_by_its_limiter(tmp_path: Path, started: list) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """A busy worker under a 5 % budget, once its limiter has stopped it the first time."""
    worker = busy_worker()
    limiter = tenants.limit_cpu(worker.pid, 5, tmp_path / "cpulimit.log")
    started += [worker, limiter]
    wait_for(lambda: state(worker.pid) == "T", "the limiter stopping the busy worker")
    return worker, limiter


@needs_cpulimit
def test_a_limited_worker_is_stopped_by_its_limiter_and_ended_by_sigterm(tmp_path: Path, started: list) -> None:
    worker, limiter = stopped_by_its_limiter(tmp_path, started)

    tenants.stop_limited(worker, limiter)

    assert limiter.returncode is not None
    assert worker.returncode == -signal.SIGTERM  # asked to end, and ended so: not killed after 30 s
    assert state(worker.pid) is None


@needs_cpulimit
def test_a_worker_stopped_when_its_limiter_dies_is_continued_and_ended(tmp_path: Path, started: list) -> None:
    """The limiter killed (SIGKILL: no SIGCONT on its way out) at the moment it had stopped the worker."""
    worker, limiter = stopped_by_its_limiter(tmp_path, started)
    os.killpg(limiter.pid, signal.SIGKILL)
    limiter.wait()
    if state(worker.pid) != "T":  # it was continued just before the kill: stop it as the limiter would have
        os.kill(worker.pid, signal.SIGSTOP)
        wait_for(lambda: state(worker.pid) == "T", "the worker stopped")

    started_at = time.monotonic()
    tenants.stop_limited(worker, limiter)

    assert worker.returncode == -signal.SIGTERM, "a stopped worker must be continued, then end on SIGTERM"
    assert time.monotonic() - started_at < 20  # not the 30 s wait and SIGKILL of a worker that never woke


@needs_cpulimit
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed")
def test_a_benchmark_killed_outright_leaves_no_worker_stopped(tmp_path: Path) -> None:
    """SIGKILL of the benchmark runs none of its cleanup: its limiter must still continue the worker."""
    path = str(REPO / "benchmarks" / "tenants.py")
    script = (f"import subprocess, sys, time, importlib.util\n"
              f"spec = importlib.util.spec_from_file_location('bench_tenants', {path!r})\n"
              f"module = importlib.util.module_from_spec(spec); sys.modules['bench_tenants'] = module\n"
              f"spec.loader.exec_module(module)\n"
              f"worker = subprocess.Popen({BUSY!r}, start_new_session=True)\n"
              f"limiter = module.limit_cpu(worker.pid, 5, __import__('pathlib').Path({str(tmp_path / 'log')!r}))\n"
              f"print(worker.pid, limiter.pid, flush=True)\n"
              f"time.sleep(600)\n")
    benchmark = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE)
    worker_pid = limiter_pid = 0
    try:
        assert benchmark.stdout is not None
        worker_pid, limiter_pid = (int(pid) for pid in benchmark.stdout.readline().split())
        wait_for(lambda: state(worker_pid) == "T", "the limiter stopping the busy worker")

        benchmark.kill()
        benchmark.wait()

        wait_for(lambda: state(limiter_pid) in (None, "Z"), "the orphaned limiter exiting")
        time.sleep(0.5)  # a stopped worker would stay stopped: look at it for a while
        assert state(worker_pid) not in ("T", "t"), "the worker was left SIGSTOPped"
    finally:
        benchmark.kill()
        for pid in (limiter_pid, worker_pid):
            if pid:
                for signum in (signal.SIGCONT, signal.SIGKILL):
                    with contextlib.suppress(ProcessLookupError):  # gone already
                        os.kill(pid, signum)


def test_without_cpulimit_the_budget_is_refused_with_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setenv("SEVPRO_HOME", str(tmp_path))  # main() sets it when absent: not for the tests after this one
    real_which = shutil.which
    monkeypatch.setattr(tenants.shutil, "which", lambda name: None if name == "cpulimit" else real_which(name))
    monkeypatch.setattr(tenants, "LocalKafkaBroker", None)  # nothing may start: calling it would fail the test

    assert tenants.main(["--cpu-limit", "25", "--tenants", "10"]) == 2

    assert "apt-get install -y cpulimit" in capsys.readouterr().out


def test_a_budget_beyond_one_core_is_refused() -> None:
    with pytest.raises(SystemExit):
        tenants.parse_args(["--cpu-limit", "150"])


def result(tenants_: int, workers: int, lag_p95: float, polled: int | None = None):  # type: ignore[no-untyped-def]
    return tenants.Result(tenants_, workers, polled=tenants_ if polled is None else polled, lags=[lag_p95])


def test_capacity_is_the_most_tenants_within_the_lag_and_the_fewest_beyond_it() -> None:
    found = tenants.capacities([
        result(60, 1, 8.0), result(80, 1, 12.0), result(100, 1, 16.0), result(150, 1, 40.0),
        result(100, 2, 9.0), result(150, 2, 14.0, polled=149), result(200, 2, 30.0)])

    assert (found[1].within.tenants, found[1].beyond.tenants) == (80, 100)
    # 150 tenants had a tenant never polled in the warm-up: not within, whatever its lag
    assert (found[2].within.tenants, found[2].beyond.tenants) == (100, 150)


def test_the_capacity_search_finds_the_boundary_in_a_few_runs() -> None:
    """Each run's warm-up is the long part: a binary search over the tenant counts, not one run each."""
    capacity = 230  # the tenants the (pretend) workers keep within the lag
    measured: list[int] = []

    def within(tenants_: int) -> bool:
        measured.append(tenants_)
        return tenants_ <= capacity

    tenants.capacity_search([400, 100, 150, 200, 250, 300, 50, 350], within)

    assert 200 in measured and 250 in measured  # both sides of the boundary measured
    assert len(measured) <= 4  # log2(8) + 1, not 8


def test_the_capacity_search_measures_the_smallest_when_even_that_is_beyond() -> None:
    measured: list[int] = []

    def beyond(tenants_: int) -> bool:
        measured.append(tenants_)
        return False

    tenants.capacity_search([100, 200, 300], beyond)

    assert measured[-1] == 100
