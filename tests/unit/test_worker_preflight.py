"""`sevpro worker` refuses settings it cannot run with before it starts: one message, exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from foundation.company import demo_companies_path


def _worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEVPRO_", "KAFKA_"))}
    # KAFKA_BOOTSTRAP_SERVERS points nowhere: a worker that got past its checks would fail differently.
    return subprocess.run([sys.executable, "-m", "sevpro.cli", "worker"], capture_output=True, text=True, timeout=60,
                          env={**base, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "COLUMNS": "400", **env})


def test_missing_api_key_names_the_company_and_the_variable() -> None:
    result = _worker({"SEVPRO_PROCOUNTOR_API_KEY_FI": "a-key-that-must-not-be-printed"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "company 'SE'" in output and "SEVPRO_PROCOUNTOR_API_KEY_SE" in output
    assert "company 'FI'" not in output
    assert "Traceback" not in output and "a-key-that-must-not-be-printed" not in output


def test_invalid_companies_file_names_the_company_and_the_field(tmp_path: Path) -> None:
    text = demo_companies_path().read_text().replace("send_error_email = false", "send_error_email = true", 1)
    broken = tmp_path / "companies.toml"
    broken.write_text(text)
    result = _worker({"SEVPRO_COMPANIES_FILE": str(broken)})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "company '" in output and "error_email" in output and "Traceback" not in output


def test_invalid_setting_names_the_variable_without_its_value() -> None:
    result = _worker({"SEVPRO_TRANSFER_CONCURRENCY": "sixteen", "SEVPRO_PROCOUNTOR_API_KEY_FI": "k1",
                      "SEVPRO_PROCOUNTOR_API_KEY_SE": "k2"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "SEVPRO_TRANSFER_CONCURRENCY" in output and "sixteen" not in output and "Traceback" not in output


def test_a_session_timeout_kafka_would_refuse_is_named() -> None:
    result = _worker({"SEVPRO_SESSION_TIMEOUT_SECONDS": "2", "SEVPRO_PROCOUNTOR_API_KEY_FI": "k1",
                      "SEVPRO_PROCOUNTOR_API_KEY_SE": "k2"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "SEVPRO_SESSION_TIMEOUT_SECONDS" in output and "6" in output and "Traceback" not in output
