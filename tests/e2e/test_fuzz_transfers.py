"""300 hypothesis-drawn invoices and travel reimbursements, valid, edge and hostile, through the real worker path
(benchmarks/fuzz_transfers.py, whose full run is 10,000): none stays pending, none crashes the transfer, every
failure names its field, and no invoice is in Procountor twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(1200)
@pytest.mark.skipif(shutil.which("java") is None, reason="the fuzz run starts a broker of its own (needs Java)")
def test_300_fuzzed_records_end_with_an_outcome_each(tmp_path: Path) -> None:
    # A project home of the test's own (the run's broker, worker and transfer log under <home>/bench): in the
    # repository's, a benchmark run from the same checkout shared them and reset the broker under this run.
    home = tmp_path / "home"
    (home / "kafka").mkdir(parents=True)
    jars = REPO / ".sevpro" / "kafka" / "jars"
    if jars.exists():
        (home / "kafka" / "jars").symlink_to(jars)  # the Kafka jars of the repository's home: no second download
    result = subprocess.run(
        [sys.executable, "benchmarks/fuzz_transfers.py", "--records", "300", "--seed", "5", "--settle", "90",
         "--timeout", "1000", "--check"],
        cwd=REPO, capture_output=True, text=True, timeout=1100,
        env={**os.environ, "COLUMNS": "200", "SEVPRO_HOME": str(home)})
    report = result.stdout[-6000:] + result.stderr[-3000:]
    assert result.returncode == 0, report
    assert "goal met" in result.stdout, report
