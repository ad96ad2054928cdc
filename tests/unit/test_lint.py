"""ruff and mypy stay clean: the configuration lives in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_ruff_is_clean() -> None:
    result = subprocess.run([str(BIN / "ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:]


def test_mypy_is_clean() -> None:
    packages = [p for p in ("sevpro", "schemas", "streams", "projections", "connectors", "sandbox", "console",
                            "contract") if (ROOT / p).is_dir()]
    result = subprocess.run([str(BIN / "mypy"), *packages], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:]
