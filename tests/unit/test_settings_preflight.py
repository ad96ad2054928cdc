"""`sevpro worker` with SEVPRO_COMPANY_SETTINGS=topic: the companies file is not required, and both together are
refused rather than one of them chosen quietly."""

from __future__ import annotations

import os
import subprocess
import sys

from foundation.company import demo_companies_path

DEPLOYMENT = {"SEVPRO_TENANT": "acme", "SEVPRO_SEVERA_CLIENT_ID": "id", "SEVPRO_SEVERA_CLIENT_SECRET": "s1",
              "SEVPRO_PROCOUNTOR_CLIENT_ID": "id", "SEVPRO_PROCOUNTOR_CLIENT_SECRET": "s2"}


def _worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEVPRO_", "KAFKA_"))}
    # KAFKA_BOOTSTRAP_SERVERS points nowhere: a worker that got past its checks fails on the broker instead.
    return subprocess.run([sys.executable, "-m", "sevpro.cli", "worker"], capture_output=True, text=True, timeout=60,
                          env={**base, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "COLUMNS": "400", **env})


def test_both_the_file_and_the_topic_are_refused() -> None:
    result = _worker({**DEPLOYMENT, "SEVPRO_COMPANY_SETTINGS": "topic",
                      "SEVPRO_COMPANIES_FILE": str(demo_companies_path())})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "SEVPRO_COMPANY_SETTINGS=topic and SEVPRO_COMPANIES_FILE are both set" in result.stdout


def test_on_the_topic_the_companies_file_is_not_required() -> None:
    result = _worker({**DEPLOYMENT, "SEVPRO_COMPANY_SETTINGS": "topic"})
    output = result.stdout + result.stderr
    assert "SEVPRO_COMPANIES_FILE" not in output and "Traceback" not in output, output
    assert result.returncode == 1 and "127.0.0.1:1" in output  # past the settings: it looked for the broker
